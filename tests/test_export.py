"""--export: a self-contained HTML report, a PDF with a page per view, a folder of images with an
index; views from --view (repeatable) or every plot; failures in the report and in the exit status.

Every export runs the real command line in a subprocess; the HTML is opened in Chromium with every
network request refused, the PDF is counted with pdfinfo and drawn with pdftoppm (poppler-utils).
"""

import io
import pathlib
import re
import shutil
import subprocess
import sys

import psutil
import pytest
from conftest import ROOT
from PIL import Image

PLOTSERVE = str(ROOT / "plotserve.py")
EXPORTS = str(ROOT / "tests" / "sources" / "exports.py")
WAVES = str(ROOT / "plots" / "waves.py")


def export(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    """Run plotserve with two workers and a 3 s limit; the answer carries the process id as .pid."""
    command = [sys.executable, PLOTSERVE, "--workers", "2", "--timeout", "3", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    try:
        stdout, stderr = process.communicate(timeout=180)
    finally:
        process.kill()
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    result.pid = process.pid
    return result


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: apt-get install -y poppler-utils")
    return path


@pytest.mark.parametrize("fmt, mime", [("png", "image/png"), ("svg", "image/svg+xml")])
def test_html_report_is_self_contained_and_every_image_decodes(tmp_path, browser, fmt, mime):
    result = export(
        "--format",
        fmt,
        WAVES,
        EXPORTS,
        "--export",
        "report.html",
        "-V",
        "wave?frequency=3",
        "--view",
        "line?slope=-2&label=down",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote report.html: 2 views" in result.stderr
    text = (tmp_path / "report.html").read_text()
    assert "<script" not in text and "<link" not in text and text.count(f'src="data:{mime};base64,') == 2
    context = browser.new_context(offline=True)
    page = context.new_page()
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto((tmp_path / "report.html").as_uri())
    images = page.eval_on_selector_all("img", "all => all.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(images) == 2 and all(done and width > 0 and height > 0 for done, width, height in images)
    assert [url for url in asked if not url.startswith(("file:", "data:"))] == []
    sections = page.eval_on_selector_all("section.view", "all => all.map(s => s.innerText)")
    assert "Wave" in sections[0] and "frequency\t3" in sections[0] and re.search(r"drawn \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", sections[0])
    assert "slope\t-2" in sections[1] and "label\tdown" in sections[1] and "How steep it is." not in sections[1]
    assert page.evaluate("getComputedStyle(document.querySelector('section.view')).borderTopStyle") == "solid"  # the stylesheet is in
    context.close()


def test_without_views_every_plot_that_needs_no_parameter_and_failures_named(tmp_path):
    result = export(EXPORTS, "--export", "report.html", cwd=tmp_path)
    assert result.returncode == 1
    assert "hang failed: 504" in result.stderr and "pid failed: 500" in result.stderr and "line failed" not in result.stderr
    assert "3 views, 2 failed" in result.stderr
    text = (tmp_path / "report.html").read_text()
    assert text.count('<section class="view failed"') == 2 and text.count('<section class="view"') == 1
    assert "took longer than the 3 s limit" in text
    pid = int(re.search(r"drawn by process (\d+)", text).group(1))
    assert pid != result.pid  # drawn in a render process of the pool, which is gone with the command
    assert not psutil.pid_exists(pid)


def test_pdf_has_a_vector_page_per_view_and_a_page_for_a_failure(tmp_path):
    result = export(
        WAVES, EXPORTS, "--export", "report.pdf", "-V", "wave", "-V", "spectrum", "-V", "line?slope=0.5", "-V", "line?slope=x", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "line?slope=x failed: slope: expected a number" in result.stderr
    info = subprocess.run([poppler("pdfinfo"), "report.pdf"], capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert re.search(r"^Pages:\s+4$", info, re.M)
    fonts = subprocess.run([poppler("pdffonts"), "report.pdf"], capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert "DejaVu" in fonts  # text as text: vector pages, not pictures
    drawn = subprocess.run(
        [poppler("pdftoppm"), "-f", "1", "-l", "1", "-r", "50", "-png", "report.pdf"], capture_output=True, cwd=tmp_path, check=True
    )
    image = Image.open(io.BytesIO(drawn.stdout)).convert("RGB")
    assert image.size == (400, 250)
    colours = image.getcolors(1 << 16)
    inked = sum(count for count, colour in colours if colour != (255, 255, 255))
    assert 0.02 < inked / (image.width * image.height) < 0.6 and len(colours) > 20


def test_folder_export_writes_each_image_and_an_index(tmp_path):
    views = ["-V", "wave", "-V", "wave?frequency=2&kind=square", "--view=spectrum", "-V", "/wave.png?_compare=noise&noise=0&noise=0.5"]
    result = export(WAVES, "--export", "out/", "--format", "svg", *views, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    files = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert files == [
        "index.html",
        "spectrum.png",
        "spectrum.svg",
        "wave-kind=square_frequency=2.png",
        "wave-kind=square_frequency=2.svg",
        "wave-noise=0.5.png",
        "wave-noise=0.5.svg",
        "wave-noise=0.png",
        "wave-noise=0.svg",
        "wave.png",
        "wave.svg",
    ]
    index = (tmp_path / "out" / "index.html").read_text()
    for name in files[1:]:
        assert f'href="{name}"' in index
    assert index.count('<section class="view"') == 5
    assert Image.open(tmp_path / "out" / "wave.png").size == (800, 500)
    assert (tmp_path / "out" / "wave.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "out" / "wave-noise=0.png").read_bytes() == (tmp_path / "out" / "wave.png").read_bytes()  # the default


def test_export_refuses_a_target_it_cannot_write(tmp_path):
    result = export(WAVES, "--export", "report.docx", cwd=tmp_path)
    assert result.returncode == 1 and "--export takes FILE.html, FILE.pdf or a folder ending in /" in result.stderr
