"""The live page in headless Chromium: new data appears without a broken image, the refresh
uses conditional requests, and pause, a hidden tab and no JavaScript each behave.
"""

import base64
import io
import re
import urllib.parse

import pytest
from conftest import EXAMPLES, running_server, training
from PIL import Image
from test_live import health_when, moved

import plotserve

pytestmark = pytest.mark.browser

# Watches the plot image at every animation frame, every 50 ms and right after every change to
# its attributes; records each moment it is not a fully loaded picture, and each error event.
WATCH_IMAGE = """() => {
  const img = document.getElementById("plot");
  const watch = window.plotWatch = { checks: 0, broken: [], errors: 0 };
  img.addEventListener("error", () => { watch.errors += 1; });
  function check(where) {
    watch.checks += 1;
    if (!(img.complete && img.naturalWidth > 0)) {
      watch.broken.push(`${where}: complete=${img.complete} naturalWidth=${img.naturalWidth} src=${img.src.slice(0, 60)}`);
    }
  }
  (function frame() { check("frame"); requestAnimationFrame(frame); })();
  setInterval(() => check("interval"), 50);
  new MutationObserver(() => check("mutation")).observe(img, { attributes: true });
}"""

# The pixels the page shows, read back through a canvas (blob: URLs are same-origin).
SHOWN_PIXELS = """() => {
  const img = document.getElementById("plot");
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  canvas.getContext("2d").drawImage(img, 0, 0);
  return canvas.toDataURL("image/png");
}"""

SET_VISIBILITY = """hidden => {
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


# A browser without the Web Locks API and BroadcastChannel (or a page that is not a secure
# context): every picture holds its own request, NAME.png?_wait=25.
WITHOUT_SHARED_APIS = "delete Navigator.prototype.locks; delete window.BroadcastChannel;"


@pytest.fixture(params=["one request for all tabs", "a request per picture"])
def live_page(request, page):
    """A page with the shared request of all tabs, and one with a request per picture, as where those APIs are missing."""
    if request.param == "a request per picture":
        page.add_init_script(WITHOUT_SHARED_APIS)
    return page


@pytest.fixture
def server(log_dir):
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=log_dir), workers=1) as client:
        yield client


def decode(data_url: str) -> bytes:
    """RGB bytes of a data: URL image."""
    image = Image.open(io.BytesIO(base64.b64decode(data_url.partition(",")[2])))
    return image.convert("RGB").tobytes()


def served_pixels(client) -> bytes:
    answer = client.get("/training.png")
    assert answer.status == 200
    return answer.image().convert("RGB").tobytes()


def image_requests(page) -> list:
    """Every request the page makes for the plot image (or for news of it), as it makes them."""
    seen = []
    page.on("request", lambda request: seen.append(request) if "/training.png" in request.url or "/-/changes.json" in request.url else None)
    return seen


def open_live_page(page, client):
    page.goto(f"{client.url}/training?_refresh=1")
    page.wait_for_function("() => { const img = document.getElementById('plot'); return img.complete && img.naturalWidth > 0; }")


def test_page_shows_new_rows_and_never_a_broken_image(page, server, log_dir):
    open_live_page(page, server)
    status = page.locator("#status")
    # Drawn within the page's moment, or fetched by the script after a placeholder; then it watches.
    after = r"(watching for changes|next check in 1 s|checking now)"
    assert re.fullmatch(r"updated \d\d:\d\d:\d\d · rendered in \d+ ms · " + after, status.inner_text())
    page.evaluate(WATCH_IMAGE)
    shown = decode(page.evaluate(SHOWN_PIXELS))
    assert shown == served_pixels(server)

    sources = [page.evaluate("() => document.getElementById('plot').src")]
    for _ in range(3):
        training.append_epoch(log_dir / training.LOG_NAME)
        page.wait_for_function(
            "previous => { const src = document.getElementById('plot').src; return src.startsWith('blob:') && src !== previous; }",
            arg=sources[-1],
            timeout=10_000,
        )
        sources.append(page.evaluate("() => document.getElementById('plot').src"))
        assert re.fullmatch(r"updated \d\d:\d\d:\d\d · rendered in \d+ ms · " + after, status.inner_text())
        assert "failed" not in (status.get_attribute("class") or "")
        before, shown = shown, decode(page.evaluate(SHOWN_PIXELS))
        assert shown != before  # the new epoch is on screen ...
        assert shown == served_pixels(server)  # ... exactly as the server draws it now
    assert len(set(sources)) == 4

    # A log the plot cannot read: the failure box says why, once; the status line that it failed.
    (log_dir / training.LOG_NAME).write_text("not,a,training,log\n1,2,3,4\n")
    page.wait_for_function("() => document.getElementById('status').classList.contains('failed')", timeout=10_000)
    assert status.inner_text().startswith("plot failed · ")
    assert page.inner_text("#failure").startswith("500: ")
    # Mended: the plot comes back.
    training.write_training_log(log_dir / training.LOG_NAME, rows=40)
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('updated')", timeout=10_000)
    assert decode(page.evaluate(SHOWN_PIXELS)) == served_pixels(server)

    watch = page.evaluate("() => window.plotWatch")
    assert watch["broken"] == []
    assert watch["errors"] == 0
    assert watch["checks"] > 50  # the watch really ran, through every swap
    assert page.errors == []


def test_an_idle_page_holds_one_conditional_request_and_pause_drops_it(live_page, server):
    page = live_page
    requests = image_requests(page)
    documents = []
    page.on("request", lambda request: documents.append(request) if request.resource_type == "document" else None)
    open_live_page(page, server)
    health = health_when(server, lambda health: health["waiting"] == 1, "the page's held request")
    etag = page.get_attribute("#plot", "data-etag") or page.evaluate("() => window.plotserveEtag")
    fetches = [request for request in requests if request.resource_type == "fetch"]
    held = fetches[-1]
    if "/-/changes.json" in held.url:  # the shared request of all tabs: each view and its ETag in the query
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(held.url).query)
        assert query["_wait"] == ["25"] and query["view"] == ["training.png"]
        sent = query["etag"][0]
    else:
        assert "_wait=25" in held.url and held.headers.get("if-none-match")
        sent = held.headers["if-none-match"]
    assert sent.startswith('"')
    if etag:
        assert sent == etag
    page.wait_for_timeout(3_000)  # three refresh periods of the old polling page: nothing is asked, nothing drawn
    assert len([request for request in requests if request.resource_type == "fetch"]) == len(fetches)
    assert moved(health, server.health())["renders"] == 0

    page.click("#pause")
    assert page.inner_text("#pause") == "Resume"
    page.wait_for_function("() => document.getElementById('status').textContent.endsWith(' · paused')")
    health_when(server, lambda health: health["waiting"] == 0, "the held request let go")  # its slot is free
    count = len(requests)
    page.wait_for_timeout(1_500)
    assert len(requests) == count

    with page.expect_request(lambda request: "_wait=25" in request.url, timeout=3_000):
        page.click("#pause")
    assert page.inner_text("#pause") == "Pause"
    health_when(server, lambda health: health["waiting"] == 1, "held again")
    assert len(documents) == 1  # with JavaScript, the <noscript> refresh never reloads the page
    assert page.errors == []


def test_hidden_tab_makes_no_requests(live_page, server):
    page = live_page
    requests = image_requests(page)
    open_live_page(page, server)
    health_when(server, lambda health: health["waiting"] == 1, "the page's held request")
    # Headless Chromium keeps every tab visible (Playwright has no API to hide one), so the
    # page is told it is hidden the way a browser tells it: document.hidden and the event.
    page.evaluate(SET_VISIBILITY, True)
    health_when(server, lambda health: health["waiting"] == 0, "the hidden page let go of its request")
    count = len(requests)
    page.wait_for_timeout(3_000)
    assert len(requests) == count
    with page.expect_request(lambda request: request.resource_type == "fetch", timeout=2_000):
        page.evaluate(SET_VISIBILITY, False)  # visible again: refreshed at once, not a period later
    assert page.errors == []


def test_without_javascript_the_page_reloads_itself(browser, server):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        loads = []
        page.on("request", lambda request: loads.append(request) if request.resource_type == "document" else None)
        page.goto(f"{server.url}/training?_refresh=1")
        assert page.locator("noscript").count() >= 1
        for _ in range(2):
            with page.expect_request(lambda request: request.resource_type == "document", timeout=5_000):
                pass
        assert len(loads) >= 3
        assert all(request.url.endswith("/training?_refresh=1") for request in loads)
    finally:
        context.close()


def test_a_page_opened_on_a_failing_plot_recovers_by_itself(page, server, log_dir):
    (log_dir / training.LOG_NAME).write_text("not,a,training,log\n1,2,3,4\n")
    page.goto(f"{server.url}/training?_refresh=1")
    # The traceback, on the page: in its HTML, or put there by its script when the render took longer than the page waits.
    page.wait_for_function("() => document.querySelectorAll('#failure pre.traceback').length === 1", timeout=10_000)
    assert page.locator("#status").get_attribute("class") == "status failed"
    assert page.locator("#plot").is_hidden()  # no error picture besides the box: the error is said once

    training.write_training_log(log_dir / training.LOG_NAME, rows=40)
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('updated')", timeout=10_000)
    assert page.locator("#failure").count() == 0
    assert decode(page.evaluate(SHOWN_PIXELS)) == served_pixels(server)
    assert page.errors == []
