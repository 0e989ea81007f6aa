"""Live the moment anything changes, in headless Chromium: an appended log reaches an open page
with default settings, ten pages cost one render per change, a slow plot's page answers at once
and counts, a slow failure shows its traceback without a reload, slow thumbnails show the same
placeholder, and an edited plot file redraws the page (a broken edit is shown, then mended).
"""

import re

import pytest
from conftest import EXAMPLES, running_server, training
from test_live import health_when, moved
from test_live_browser import SHOWN_PIXELS, decode
from test_live_push import FIRST, SLOW, reloads, source  # noqa: F401  (source is a fixture)

import plotserve

pytestmark = pytest.mark.browser

IMAGE_SHOWN = "() => { const img = document.getElementById('plot'); return !img.hidden && img.complete && img.naturalWidth > 0; }"
SRC_CHANGED = "previous => { const src = document.getElementById('plot').src; return src.startsWith('blob:') && src !== previous; }"


def src(page) -> str:
    return page.evaluate("() => document.getElementById('plot').src")


@pytest.fixture
def server(log_dir):
    with running_server(*EXAMPLES, SLOW, limits=plotserve.Limits(data_dir=log_dir), workers=2) as client:
        yield client


def test_an_appended_log_reaches_the_open_page_with_default_settings(page, server, log_dir):
    documents = []
    page.on("request", lambda request: documents.append(request) if request.resource_type == "document" else None)
    page.goto(f"{server.url}/training")  # no _refresh: the defaults a new user gets
    page.wait_for_function(IMAGE_SHOWN)
    before = health_when(server, lambda health: health["waiting"] == 1, "the page's held request")
    for change in range(3):
        shown = src(page)
        training.append_epoch(log_dir / training.LOG_NAME)
        page.wait_for_function(SRC_CHANGED, arg=shown, timeout=15_000)  # well before the 5 s period, let alone 60
        assert decode(page.evaluate(SHOWN_PIXELS)) == server.get("/training.png").image().convert("RGB").tobytes()
        assert moved(before, server.health())["renders"] == change + 1  # one render per change
    assert len(documents) == 1
    assert page.errors == []


def test_ten_open_pages_cost_one_render_per_change(browser, server, log_dir):
    # One context per page, as ten people (or ten browsers) would have: each has its own connections.
    contexts = [browser.new_context() for _ in range(10)]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.goto(f"{server.url}/training?smooth=2")
            page.wait_for_function(IMAGE_SHOWN)
        before = health_when(server, lambda health: health["waiting"] == 10, "ten held requests")
        assert before["watched_views"] == 1
        for change in range(2):
            shown = [src(page) for page in pages]
            training.append_epoch(log_dir / training.LOG_NAME)
            for page, previous in zip(pages, shown, strict=True):
                page.wait_for_function(SRC_CHANGED, arg=previous, timeout=20_000)
            assert moved(before, server.health())["renders"] == change + 1
        health_when(server, lambda health: health["waiting"] == 10, "all ten held again")
    finally:
        for context in contexts:
            context.close()


def test_the_page_of_a_slow_plot_answers_at_once_and_counts_until_the_picture(page, server):
    before = server.health()
    page.goto(f"{server.url}/sleepy?seconds=3", wait_until="domcontentloaded")
    assert moved(before, server.health())["renders"] == 0  # the page is here, the render is not done
    placeholder = page.locator("#rendering")
    assert placeholder.is_visible()
    box = placeholder.bounding_box()
    assert abs(box["width"] / box["height"] - 8 / 5) < 0.02  # the size of the picture to come
    page.wait_for_function("() => /^rendering\u2026 [1-9] s$/.test(document.getElementById('rendering')?.textContent)")
    page.wait_for_function(IMAGE_SHOWN, timeout=30_000)
    assert page.locator("#rendering").count() == 0
    # Drawn; and since sleepy reads no file, its next ask (at once) is answered 304 and it goes by its period.
    assert re.fullmatch(r"updated \d\d:\d\d:\d\d · rendered in \d+ ms · .+", page.inner_text("#status"))
    change = moved(before, server.health())
    # One render: the page started it; its image request (and the JSON twin the explorer reads) joined it.
    assert change["renders"] == 1 and change["shared_renders"] >= 1
    assert page.errors == []


def test_a_slow_failure_shows_its_traceback_without_a_reload(page, server):
    documents = []
    page.on("request", lambda request: documents.append(request) if request.resource_type == "document" else None)
    before = server.health()
    page.goto(f"{server.url}/sleepy_failure?seconds=2", wait_until="domcontentloaded")
    assert page.locator("#failure").count() == 0 and page.locator("#rendering").is_visible()
    page.wait_for_selector("#failure pre.traceback", timeout=30_000)
    assert "the <b>sensor</b> went away" in page.inner_text("#failure")  # escaped: shown as text
    assert page.locator("#failure b").count() == 0
    assert page.locator("#status").get_attribute("class") == "status failed"
    assert page.locator("#failure").count() == 1 and page.locator("#plot").is_hidden()  # said once: no error image too
    assert len(documents) == 1
    change = moved(before, server.health())
    assert change["errors"] == 1 and change["renders"] == 0
    assert page.errors == []


def test_index_thumbnails_of_slow_plots_show_the_counting_placeholder(page, server):
    page.goto(server.url + "/")
    # The two sleepy plots' cards (others may show one too for a moment, on a busy machine).
    page.wait_for_function("() => document.querySelectorAll('a.card[href^=sleepy] .rendering').length === 2", timeout=10_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.card .rendering')].every(box => /^rendering\u2026 \\d+ s$/.test(box.textContent))"
    )
    page.wait_for_function("() => document.querySelectorAll('.card .rendering').length === 0", timeout=30_000)
    loaded = page.evaluate("() => [...document.querySelectorAll('img.thumb')].every(img => img.complete && img.naturalWidth > 0)")
    assert loaded
    assert page.errors == []


def test_an_edit_redraws_the_open_page_and_a_broken_edit_is_shown_then_mended(page, source):  # noqa: F811
    with running_server(str(source), limits=plotserve.Limits(data_dir=source.parent), workers=1, reload=True) as client:
        page.goto(f"{client.url}/file")  # a view of a file: its page holds a request (plots with none go by the period)
        page.wait_for_function(IMAGE_SHOWN)
        health_when(client, lambda health: health["waiting"] == 1, "the page's held request")
        first = decode(page.evaluate(SHOWN_PIXELS))
        shown = src(page)
        source.write_text(source.read_text().replace("ax.set_title(path.read_text())", "ax.set_title(path.read_text(), color='red')"))
        page.wait_for_function(SRC_CHANGED, arg=shown, timeout=15_000)
        edited = decode(page.evaluate(SHOWN_PIXELS))
        assert edited != first and edited == client.get("/file.png").image().convert("RGB").tobytes()

        source.write_text(source.read_text() + "\ndef broken(:\n")
        line = len(source.read_text().splitlines())
        banner = page.locator("#source-error")
        banner.wait_for(timeout=15_000)
        assert f"edited_plots.py:{line}: SyntaxError" in banner.inner_text()
        assert decode(page.evaluate(SHOWN_PIXELS)) == edited  # the last good picture stays

        shown = src(page)
        source.write_text(source.read_text().replace("\ndef broken(:\n", "\n").replace("color='red'", "color='blue'"))
        banner.wait_for(state="detached", timeout=15_000)
        page.wait_for_function(SRC_CHANGED, arg=shown, timeout=15_000)
        assert decode(page.evaluate(SHOWN_PIXELS)) == client.get("/file.png").image().convert("RGB").tobytes()
        reloads(client, 2)
        assert page.errors == []
