"""Screenshots of plotserve's pages, to look at: the index and plot pages at desktop and phone
width, in the light and the dark colour scheme, in headless Chromium.

    python bench/screenshots.py [OUTPUT_DIR]
    python bench/screenshots.py --readme      # remakes docs/screenshot.png, the README's picture

Writes PNGs named like ``training-phone-dark.png`` to OUTPUT_DIR (default: a new temporary
folder) and prints their paths. Nothing is asserted: the tests do that; this is for eyes.
"""

import pathlib
import sys
import tempfile
import threading

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plots"))

import training  # noqa: E402  (plots/training.py)

import plotserve  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
SCHEMES = ("light", "dark")
# (name, path): the index, a plot drawn at the default size, one with its own figure size,
# a form with many kinds of field, a plot that fails, and three pictures side by side.
PAGES = [
    ("index", "/"),
    ("training", "/training"),
    ("heatmap", "/heatmap"),
    ("histogram", "/histogram?seed="),
    ("failing", "/training?log=broken.csv"),
    ("compare", "/training?_compare=smooth&smooth=1&smooth=5&smooth=20"),
]


PICTURES_SHOWN = (
    "() => !document.getElementById('rendering') && [...document.images].every(img => img.hidden || (img.complete && img.naturalWidth > 0))"
)


README_PICTURE = ROOT / "docs" / "screenshot.png"
README_PAGE = "/training?smooth=5"
README_VIEWPORT = {"width": 1100, "height": 720}


def main(output: str | None = None) -> None:
    from playwright.sync_api import sync_playwright

    if output == "--readme":
        return readme()
    folder = pathlib.Path(output or tempfile.mkdtemp(prefix="plotserve-screens-"))
    folder.mkdir(parents=True, exist_ok=True)
    data = pathlib.Path(tempfile.mkdtemp(prefix="plotserve-screens-data-"))
    training.write_training_log(data / training.LOG_NAME, rows=120)
    (data / "broken.csv").write_text("not,a,training,log\n1,2,3,4\n")
    sources = [str(path) for path in sorted((ROOT / "plots").glob("*.py")) if not path.name.startswith("_")]
    server = plotserve.PlotServer(("127.0.0.1", 0), sources, limits=plotserve.Limits(data_dir=data), workers=1, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for viewport_name, viewport in VIEWPORTS.items():
                for scheme in SCHEMES:
                    phone = viewport_name == "phone"
                    context = browser.new_context(
                        viewport=viewport, color_scheme=scheme, device_scale_factor=2 if phone else 1, is_mobile=phone, has_touch=phone
                    )
                    page = context.new_page()
                    for name, path in PAGES:
                        page.goto(base + path)
                        # A live page keeps a request held open for changes: wait for its pictures, not an idle network.
                        page.wait_for_function(PICTURES_SHOWN, timeout=60_000)
                        page.wait_for_timeout(300)
                        target = folder / f"{name}-{viewport_name}-{scheme}.png"
                        page.screenshot(path=str(target), full_page=True)
                        print(target)
                    context.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()


def readme() -> None:
    """The README's picture: the training log's page, desktop width, light scheme, the first screen."""
    from playwright.sync_api import sync_playwright

    data = pathlib.Path(tempfile.mkdtemp(prefix="plotserve-screens-data-"))
    training.write_training_log(data / training.LOG_NAME, rows=120)
    server = plotserve.PlotServer(
        ("127.0.0.1", 0), [str(ROOT / "plots" / "training.py")], limits=plotserve.Limits(data_dir=data), workers=1, quiet=True
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport=README_VIEWPORT, color_scheme="light")
            page.goto(f"http://127.0.0.1:{server.server_address[1]}{README_PAGE}")
            page.wait_for_function(PICTURES_SHOWN, timeout=60_000)
            page.wait_for_timeout(300)
            page.screenshot(path=str(README_PICTURE))
            browser.close()
        print(README_PICTURE)
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main(*sys.argv[1:])
