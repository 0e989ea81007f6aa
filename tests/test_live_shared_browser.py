"""Many tabs in one browser, in headless Chromium: ten tabs of one log and a comparison of eight
panels all follow an appended row on one held request, a twentieth tab still loads, and closing
the tab that holds the request hands it to another at once.
"""

import time

import pytest
from conftest import EXAMPLES, running_server, training
from test_live import health_when, moved

import plotserve

pytestmark = pytest.mark.browser

COMPARISON = "/training?_compare=smooth&" + "&".join(f"smooth={n}" for n in range(2, 10))  # and smooth=1 is /training
# The pictures a page shows, once they are all loaded: their src, or null while one is not.
PICTURES = """() => {
  const shown = [...document.querySelectorAll("img[data-src]")];
  return shown.every(img => img.complete && img.naturalWidth > 0) ? shown.map(img => img.src) : null;
}"""
# Every picture of the page is a new one (a blob: the page swapped in), none of those it showed before.
ALL_NEW = """before => {
  const now = [...document.querySelectorAll("img[data-src]")].map(img => img.src);
  return now.length === before.length && now.every((src, i) => src.startsWith("blob:") && src !== before[i]);
}"""
HOLDER = "() => document.documentElement.dataset.liveRequest || null"


@pytest.fixture
def server(log_dir):
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=log_dir), workers=2) as client:
        yield client


@pytest.fixture
def context(browser):
    context = browser.new_context()  # one browser, one profile: six connections to the server at most
    yield context
    context.close()


def open_tab(context, url: str):
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(url)
    page.wait_for_function(PICTURES, timeout=30_000)
    return page


def holders(pages) -> list:
    return [page for page in pages if page.evaluate(HOLDER)]


def test_ten_tabs_and_eight_panels_follow_a_change_on_one_held_request(context, server, log_dir):
    tabs = [open_tab(context, f"{server.url}/training") for _ in range(10)]
    tabs.append(open_tab(context, server.url + COMPARISON))
    # One held request for the nine views of eleven tabs (ten show the same one).
    before = health_when(server, lambda health: health["waiting"] == 1 and health["watched_views"] == 9, "one request for nine views")
    assert len(holders(tabs)) == 1
    shown = [page.evaluate(PICTURES) for page in tabs]
    training.append_epoch(log_dir / training.LOG_NAME)
    for page, pictures in zip(tabs, shown, strict=True):
        page.wait_for_function(ALL_NEW, arg=pictures, timeout=20_000)
    assert moved(before, server.health())["renders"] == 9  # once per view, however many tabs show it
    health_when(server, lambda health: health["waiting"] == 1 and health["watched_views"] == 9, "held again, for all")

    # Nine more tabs: the twentieth still loads, its page, script and picture, and joins the request.
    tabs += [open_tab(context, f"{server.url}/training?smooth={n}") for n in range(10, 19)]
    assert len(tabs) == 20
    health_when(server, lambda health: health["waiting"] == 1 and health["watched_views"] == 18, "one request for eighteen views")
    assert all(page.errors == [] for page in tabs)


def test_closing_the_tab_that_holds_the_request_hands_it_to_another(context, server, log_dir):
    tabs = [open_tab(context, f"{server.url}/training?smooth={n}") for n in range(1, 5)]
    health_when(server, lambda health: health["waiting"] == 1 and health["watched_views"] == 4, "one request for four views")
    [holder] = holders(tabs)
    tabs.remove(holder)
    closed_at = time.time() * 1000
    holder.close()
    # Another tab holds it now, from within a second of the close (both clocks are this machine's).
    taken = health_when(server, lambda health: health["waiting"] == 1 and health["watched_views"] == 3, "held by another tab")
    [successor] = holders(tabs)
    assert float(successor.evaluate(HOLDER)) - closed_at < 1000
    shown = [page.evaluate(PICTURES) for page in tabs]
    training.append_epoch(log_dir / training.LOG_NAME)
    for page, pictures in zip(tabs, shown, strict=True):
        page.wait_for_function(ALL_NEW, arg=pictures, timeout=20_000)
    assert moved(taken, server.health())["renders"] == 3
    assert all(page.errors == [] for page in tabs)


def test_a_hidden_tab_hands_the_request_over(context, server):
    tabs = [open_tab(context, f"{server.url}/training?smooth={n}") for n in range(1, 3)]
    health_when(server, lambda health: health["waiting"] == 1 and health["watched_views"] == 2, "one request for two views")
    [holder] = holders(tabs)
    # Headless Chromium keeps every tab visible: the page is told the way a browser tells it.
    holder.evaluate("""() => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
      document.dispatchEvent(new Event("visibilitychange"));
    }""")
    # The other tab holds it now, for its own view alone: the hidden one asks for nothing.
    health_when(server, lambda health: health["waiting"] == 1 and health["watched_views"] == 1, "held by the shown tab")
    assert holders(tabs) == [tab for tab in tabs if tab is not holder]
