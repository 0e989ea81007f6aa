"""The plot page, finished: phone layout, the picture at its real size, a failure said once, the
status line, field labels in words, the favicon, copy link, keyboard shortcuts, the dark page, and
a quiet console. Headless Chromium where the browser decides; real HTTP and a real log otherwise."""

import datetime
import email.utils
import io
import json
import re
import socket
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
import training  # plots/training.py, on sys.path through conftest
from conftest import EXAMPLES, ROOT, running_server
from PIL import Image
from test_live import health_when
from test_params import field, parse_html

import plotserve

KINDS = str(ROOT / "tests" / "sources" / "kinds.py")
GALLERY = str(ROOT / "plots" / "gallery.py")
WAIT = 20_000  # ms: a safety net for a loaded machine, not a speed requirement
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
BROKEN_LOG = "not,a,training,log\n1,2,3,4\n"
IMAGE_SHOWN = "() => { const img = document.getElementById('plot'); return img.complete && img.naturalWidth > 0 && !img.hidden; }"
STATUS = re.compile(r"updated (\d\d:\d\d:\d\d) · rendered in \d+ ms · (next check in \d+ s|checking now|watching for changes)")


@pytest.fixture
def live(tmp_path):
    """The examples over a training log of this test's own, rendered in the server process."""
    training.write_training_log(tmp_path / training.LOG_NAME, rows=30)
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=tmp_path), workers=0) as client:
        yield client, tmp_path / training.LOG_NAME


def png_size(body: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(body))
    image.load()
    return image.size


# -- phone width ----------------------------------------------------------------------------------


def test_at_phone_width_the_picture_comes_first_drawn_for_the_screen(context_of, live):
    client, _ = live
    page = context_of(viewport=PHONE, device_scale_factor=1)
    page.goto(client.url + "/training")
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    picture, form = page.locator("#plot").bounding_box(), page.locator("form").bounding_box()
    assert picture["y"] < PHONE["height"] and picture["y"] + picture["height"] < PHONE["height"]  # above the fold, whole
    assert picture["y"] + picture["height"] <= form["y"]  # the form under it
    assert picture["x"] >= 0 and picture["x"] + picture["width"] <= PHONE["width"]  # no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The picture asked for is drawn narrow: shown at nearly its own size, its text stays readable.
    shown = page.evaluate("document.getElementById('plot').currentSrc")
    assert "_width=3.6&_height=2.7" in shown  # 3:4, not a flat 8:5 strip
    natural = page.evaluate("document.getElementById('plot').naturalWidth")
    assert natural == 360 and picture["width"] / natural > 0.9  # a 10 pt label stays over 12 px
    # Every piece of page text is at least 12 px.
    smallest = page.evaluate(
        "() => Math.min(...[...document.querySelectorAll('body *')]"
        ".filter(el => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))"
        ".map(el => parseFloat(getComputedStyle(el).fontSize)))"
    )
    assert smallest >= 12
    # The buttons wrapped under the status line start where it starts: nothing empty takes a place before them.
    status, pause = page.locator("#status").bounding_box(), page.locator("#pause").bounding_box()
    assert pause["y"] > status["y"] and abs(pause["x"] - status["x"]) < 1
    # The refresh keeps asking for the narrow picture.
    with page.expect_request(lambda request: request.resource_type == "fetch" and ".png" in request.url, timeout=WAIT) as fetched:
        page.keyboard.press("r")
    assert unheld(fetched.value.url) == shown
    page.wait_for_timeout(200)
    assert page.errors == []


def test_at_phone_width_in_the_dark_the_picture_and_its_axes_are_the_narrow_dark_ones(context_of, live):
    client, _ = live
    page = context_of(viewport=PHONE, device_scale_factor=1, color_scheme="dark")
    geometry = []
    page.on("request", lambda request: geometry.append(request.url) if "/training.json" in request.url else None)
    page.goto(client.url + "/training")
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    page.wait_for_function("() => document.getElementById('plot').currentSrc.includes('_theme=dark')", timeout=WAIT)
    shown = page.evaluate("document.getElementById('plot').currentSrc")
    assert "_width=3.6" in shown
    page.wait_for_function("() => document.getElementById('plot').dataset.axes !== undefined", timeout=WAIT)
    assert geometry and all("_width=3.6" in url and "_theme=dark" in url for url in geometry)  # the hover reads this picture
    with page.expect_request(lambda request: request.resource_type == "fetch" and ".png" in request.url, timeout=WAIT) as fetched:
        page.keyboard.press("r")
    assert unheld(fetched.value.url) == shown
    assert page.errors == []


def test_at_phone_width_side_by_side_pictures_are_drawn_for_the_screen(context_of, live):
    client, _ = live
    page = context_of(viewport=PHONE, device_scale_factor=1)
    page.goto(client.url + "/training?_compare=smooth&smooth=1&smooth=5")
    page.wait_for_function("() => [...document.querySelectorAll('img[data-src]')].every(i => i.complete && i.naturalWidth > 0)")
    shown = page.eval_on_selector_all("img[data-src]", "all => all.map(i => i.currentSrc)")
    assert len(shown) == 2 and all("_width=3.6&_height=2.7" in url for url in shown)
    assert page.eval_on_selector_all("img[data-src]", "all => all.map(i => i.getAttribute('data-src'))") == [
        "training.png",
        "training.png?smooth=5",
    ]  # each panel is still the plot's own URL for its value; the phone's picture is an alternative
    fetched = []
    page.on("request", lambda request: fetched.append(request.url) if request.resource_type == "fetch" else None)
    with page.expect_response(lambda response: response.request.resource_type == "fetch", timeout=WAIT):
        page.keyboard.press("r")  # every live picture checks now
    checked = "() => [...document.querySelectorAll('.panel .status')].every(s => /^updated .* · watching for changes$/.test(s.textContent))"
    page.wait_for_function(checked, timeout=WAIT)
    assert sorted(url for url in fetched if "_wait=" not in url) == sorted(shown)  # r: a plain check of each, then held again
    assert page.errors == []


def test_at_desktop_width_side_by_side_pictures_are_drawn_for_their_panels(context_of, live):
    client, _ = live
    page = context_of(viewport=DESKTOP, device_scale_factor=1)
    page.goto(client.url + "/training?_compare=smooth&smooth=1&smooth=5")
    page.wait_for_function("() => [...document.querySelectorAll('img[data-src]')].every(i => i.complete && i.naturalWidth > 0)")
    shown = page.eval_on_selector_all("img[data-src]", "all => all.map(i => i.currentSrc)")
    assert len(shown) == 2 and all("_width=3.6&_height=2.7" in url for url in shown)
    # Shown at about its own size, not an 8-inch picture shrunk to half: a 10 pt label stays over 12 px.
    sizes = page.eval_on_selector_all("img[data-src]", "all => all.map(i => [i.naturalWidth, i.getBoundingClientRect().width])")
    assert all(0.8 < shown_width / natural < 1.5 for natural, shown_width in sizes)
    assert page.errors == []


def test_at_desktop_width_the_form_is_beside_the_picture(context_of, live):
    client, _ = live
    page = context_of(viewport=DESKTOP)
    page.goto(client.url + "/training")
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    picture, form = page.locator("#plot").bounding_box(), page.locator("form").bounding_box()
    assert form["x"] + form["width"] <= picture["x"]
    assert "_width" not in page.evaluate("document.getElementById('plot').currentSrc")


# -- the picture at its real size --------------------------------------------------------------------


@pytest.mark.parametrize("name, size", [("heatmap", (600, 500)), ("training", (800, 500)), ("wave", (800, 500))])
def test_the_img_has_the_size_of_the_picture(examples, name, size):
    assert png_size(examples.get(f"/{name}.png").body) == size  # drawn: the page has it at once, however busy the machine
    document = parse_html(examples.get(f"/{name}").text)
    img = document.find("img", id="plot")
    assert (int(img.attrs["width"]), int(img.attrs["height"])) == size


def test_a_plot_without_parameters_says_so_at_the_top_of_its_form(context_of, tmp_path):
    source = tmp_path / "bare.py"
    source.write_text("import matplotlib.pyplot as plt\n\ndef plot_bare():\n    plt.plot([1, 2])\n")
    with running_server(str(source), workers=0) as client:
        page = context_of(viewport=DESKTOP)
        page.goto(client.url + "/bare")
        form, said = page.locator("form").bounding_box(), page.get_by_text("This plot takes no parameters.").bounding_box()
        assert said["y"] - form["y"] <= 20  # the form's padding above it, no paragraph margin on top
        assert page.errors == []


@pytest.mark.parametrize("name", ["wave", "histogram"])  # a figure plotserve made, and one pyplot made
def test_a_small_picture_keeps_its_labels_and_the_default_size_its_margins(examples, name):
    def box(query: str) -> list[float]:
        return json.loads(examples.get(f"/{name}.json?{query}").body)["axes"][0]["box"]

    left, _, _, bottom = box("_width=3.6&_height=2.7")  # the phone's picture, 360 x 270
    assert left >= 55 and 270 - bottom >= 40  # room for the tick labels and the axis label, not cut off
    assert box("") == [100.0, 60.0, 720.0, 445.0]  # at 8 x 5 in, matplotlib's own margins: nothing changed


def test_a_small_figure_of_its_own_size_keeps_matplotlibs_margins(tmp_path):
    source = tmp_path / "small.py"
    source.write_text("import matplotlib.pyplot as plt\n\ndef plot_small():\n    plt.figure(figsize=(4, 3))\n    plt.plot([1, 2])\n")
    with running_server(str(source), workers=0) as client:
        # matplotlib's own margins (0.125, 0.9, 0.11, 0.88) at 400 x 300: the plot's own figure, as it draws it
        assert json.loads(client.get("/small.json").body)["axes"][0]["box"] == [50.0, 36.0, 360.0, 267.0]


def test_a_figure_of_its_own_size_is_shown_at_that_size(context_of, examples):
    page = context_of(viewport=DESKTOP, device_scale_factor=1)
    page.goto(examples.url + "/heatmap")  # a Figure(figsize=(6, 5)) of its own, whatever the request says
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    box = page.locator("#plot").bounding_box()
    assert (box["width"], box["height"]) == (600, 500)
    assert page.evaluate("[document.getElementById('plot').naturalWidth, document.getElementById('plot').naturalHeight]") == [600, 500]


SQUARE = """\
import pathlib
from matplotlib.figure import Figure


def plot_square(source: pathlib.Path = pathlib.Path("square.txt")):
    \"\"\"A Figure of its own size, 6 by 5 inches, that fails while its file says so.\"\"\"
    text = pathlib.Path(source).read_text()
    if text.startswith("bad"):
        raise ValueError("the file says bad")
    fig = Figure(figsize=(6, 5))
    fig.add_subplot().plot([1, 2, 3], [1, len(text), 2])
    return fig
"""


@pytest.mark.parametrize("scale", [1, 2])
def test_a_picture_that_comes_later_gets_its_real_size_too(context_of, tmp_path, scale):
    (tmp_path / "square.py").write_text(SQUARE)
    data = tmp_path / "data"
    data.mkdir()
    (data / "square.txt").write_text("bad")
    with running_server(str(tmp_path / "square.py"), workers=0, limits=plotserve.Limits(data_dir=data)) as client:
        page = context_of(viewport=DESKTOP, device_scale_factor=scale)
        page.goto(client.url + "/square?_refresh=1")
        assert page.locator("#plot").is_hidden()  # failing: the page cannot know the picture's size yet
        for text in ("good", "better and longer"):  # mended, then changed: two pictures swapped in
            (data / "square.txt").write_text(text)
            page.wait_for_function(
                "length => { const img = document.getElementById('plot');"
                " return !img.hidden && img.src.startsWith('blob:') && img.dataset.shown !== img.src"
                " && img.complete && img.naturalWidth > 0 && (img.dataset.shown = img.src); }",
                arg=len(text),
                timeout=WAIT,
            )
            box = page.locator("#plot").bounding_box()
            assert (box["width"], box["height"]) == (600, 500)
            assert page.evaluate("document.getElementById('plot').naturalWidth") == 600 * scale
        assert page.errors == []


# -- a failing plot ------------------------------------------------------------------------------------


def elements_saying(page, text: str) -> int:
    """How many shown elements say ``text`` themselves (not just by containing one that does)."""
    return page.evaluate(
        """text => [...document.querySelectorAll('body *')].filter(el => {
             if (el.offsetParent === null) return false;  // not shown
             const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('');
             return own.includes(text);
           }).length""",
        text,
    )


def test_a_failing_plot_says_so_once(context_of, tmp_path):
    with running_server(KINDS, workers=0, limits=plotserve.Limits(data_dir=tmp_path)) as client:
        page = context_of(viewport=DESKTOP)
        images = []
        page.on("request", lambda request: images.append(request.url) if ".png" in request.url else None)
        answer = page.goto(client.url + "/broken?message=kaboom")
        assert answer.status == 500
        assert elements_saying(page, "the plot failed: kaboom") == 1  # the box's headline; no picture, no status, no second box
        assert page.locator("#failure pre.traceback").count() == 1  # the traceback in the same box
        traceback = page.locator("#failure pre.traceback").inner_text()
        assert traceback.startswith("Traceback (most recent call last):") and "plot_broken" in traceback
        assert page.locator("#plot").is_hidden()
        assert page.inner_text("#status").startswith("plot failed · next check in")
        assert images == []  # the failing plot is not run a second time for an error picture
        assert page.locator(".explore").is_hidden() and page.locator(".downloads").is_hidden()  # nothing to explore yet
        assert page.errors == []


def test_a_plot_that_starts_failing_says_so_once_and_recovers(context_of, live):
    client, log = live
    page = context_of(viewport=DESKTOP)
    page.goto(client.url + "/training?_refresh=1")
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    good = page.evaluate("document.getElementById('plot').src")
    log.write_text(BROKEN_LOG)
    page.wait_for_selector("#failure", timeout=WAIT)
    message = page.inner_text("#failure .headline")
    assert message.startswith("500: KeyError")
    assert elements_saying(page, message.removeprefix("500: ")[:30]) == 1
    assert page.inner_text("#status").startswith("plot failed · ")
    assert "stale" in page.get_attribute("#plot", "class")  # the last good picture, dimmed ...
    assert page.evaluate("document.getElementById('plot').src") == good  # ... not an error picture
    training.write_training_log(log, rows=40)
    assert page.locator(".explore").is_hidden()
    page.wait_for_selector("#failure", state="detached", timeout=WAIT)
    assert STATUS.fullmatch(page.inner_text("#status"))
    assert page.locator(".explore").is_visible() and page.locator(".downloads").is_visible()
    assert "stale" not in (page.get_attribute("#plot", "class") or "")
    assert page.errors == []


# -- the status line ---------------------------------------------------------------------------------


def test_the_status_line_keeps_one_clock_and_one_format(context_of, live):
    client, log = live
    page = context_of(viewport=DESKTOP, timezone_id="Asia/Kolkata")  # a browser far from the server's zone
    page.goto(client.url + "/training?_refresh=2")
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    rendered_at = int(page.get_attribute("#plot", "data-rendered-at")) / 1000
    india = datetime.timezone(datetime.timedelta(hours=5, minutes=30))

    def shown_time() -> str:
        match = STATUS.fullmatch(page.inner_text("#status"))
        assert match, page.inner_text("#status")
        return match.group(1)

    # The script's words from the start: the server's render time, on the browser's clock face.
    page.wait_for_function("() => /watching for changes$/.test(document.getElementById('status').textContent)", timeout=WAIT)
    assert shown_time() == datetime.datetime.fromtimestamp(rendered_at, india).strftime("%H:%M:%S")
    # Unchanged (a 304 to r's check now): same words, still saying what it does next.
    with page.expect_response(lambda response: is_image(response.url) and response.status == 304, timeout=WAIT):
        page.keyboard.press("r")
    page.wait_for_timeout(100)
    assert STATUS.fullmatch(page.inner_text("#status"))
    # Updated: the time is the new picture's, as its Last-Modified says.
    training.append_epoch(log)
    with page.expect_response(lambda response: is_image(response.url) and response.status == 200, timeout=WAIT) as answered:
        pass
    modified = email.utils.parsedate_to_datetime(answered.value.headers["last-modified"])
    page.wait_for_function(
        "expected => document.getElementById('status').textContent.startsWith('updated ' + expected)",
        arg=modified.astimezone(india).strftime("%H:%M:%S"),
        timeout=WAIT,
    )
    assert STATUS.fullmatch(page.inner_text("#status"))
    # Paused, it says so; resumed, it says when it checks again.
    page.click("#pause")
    page.wait_for_function("() => document.getElementById('status').textContent.endsWith(' · paused')", timeout=WAIT)
    assert re.fullmatch(r"updated \d\d:\d\d:\d\d · rendered in \d+ ms · paused", page.inner_text("#status"))
    page.click("#pause")
    page.wait_for_function("() => /watching for changes$/.test(document.getElementById('status').textContent)", timeout=WAIT)
    assert page.errors == []


def test_the_status_line_counts_down_to_the_next_check(context_of, live):
    client, _ = live
    page = context_of(viewport=DESKTOP)
    page.goto(client.url + "/wave?_refresh=30")  # no file to watch: it checks on its period
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    page.wait_for_function("() => document.getElementById('status').textContent.endsWith('next check in 30 s')", timeout=WAIT)
    page.wait_for_function("() => /next check in 2[0-9] s$/.test(document.getElementById('status').textContent)", timeout=WAIT)


def test_the_page_as_sent_has_the_same_words(examples):
    document = parse_html(examples.get("/wave?_refresh=7").text)
    status = document.find("span", id="status").text
    assert STATUS.fullmatch(status) and status.endswith("next check in 7 s")


# -- labels in words ------------------------------------------------------------------------------------

LABELS = [
    ("integer", "whole number", "int"),
    ("floating", "number", "float"),
    ("text", "text", "str"),
    ("flag", "yes/no", "bool"),
    ("day", "date", "datetime.date"),
    ("moment", "date and time", "datetime.datetime"),
    ("datafile", "file", "pathlib.Path"),
    ("literal", "choice", "Literal['sine', 'square']"),
    ("color", "choice", "kinds.Color"),
    ("ints", "whole numbers, comma-separated", "list[int]"),
    ("floats", "numbers, comma-separated", "list[float]"),
    ("strings", "texts, comma-separated", "list[str]"),
    ("optional_int", "whole number, optional", "int | None"),
    ("optional_float", "number, optional", "float | None"),
    ("optional_choice", "choice, optional", "Literal['x', 'y'] | None"),
]


@pytest.fixture(scope="module")
def kinds(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kinds-data")
    (folder / "a.csv").write_text("1 2 3\n")
    with running_server(KINDS, workers=0, limits=plotserve.Limits(data_dir=folder)) as client:
        yield client


@pytest.mark.parametrize("plot, words, python", LABELS, ids=[label[0] for label in LABELS])
def test_labels_say_the_type_in_words_with_the_python_type_in_a_tooltip(kinds, plot, words, python):
    document = parse_html(kinds.get(f"/{plot}").text)
    div, control = field(document, "value")
    kind = div.find("span", cls="type")
    assert kind.text == words
    assert kind.attrs["title"] == f"Python type: {python}"
    assert "placeholder" not in control.attrs  # an empty field is empty: no "None" to read as a value


def test_no_page_shows_none_or_a_python_type_to_read(kinds):
    for plot in kinds.server.plots:
        page = kinds.get(f"/{plot}").text
        assert 'placeholder="None"' not in page
        visible = re.sub(r'title="[^"]*"', "", page)
        assert "list[" not in visible, plot


def test_the_tooltip_is_there_in_the_browser(page, kinds):
    page.goto(kinds.url + "/ints")
    label = page.locator("label[for=field-value] .type")
    assert label.inner_text() == "whole numbers, comma-separated"
    assert label.get_attribute("title") == "Python type: list[int]"


# -- plurals, favicon, a quiet console --------------------------------------------------------------


def test_one_plot_is_one_plot_on_the_index(tmp_path):
    source = tmp_path / "one.py"
    source.write_text("def plot_line(ax):\n    ax.plot([1, 2])\n")
    with running_server(str(source), workers=0) as client:
        assert '<p class="summary">1 plot. ' in client.get("/").text
    with running_server(GALLERY, workers=0) as client:
        assert '<p class="summary">3 plots. ' in client.get("/").text
    assert plotserve.plural(0, "plot") == "0 plots"


def test_the_favicon_is_served_and_linked(context_of, examples):
    for path in ("/-/static/favicon.svg", "/favicon.ico"):
        answer = examples.get(path)
        assert answer.status == 200 and answer.headers["content-type"] == "image/svg+xml"
        assert ET.fromstring(answer.body).tag  # noqa: S314 == "{http://www.w3.org/2000/svg}svg"
    page = context_of(viewport=DESKTOP)
    failures = []
    page.on("response", lambda response: failures.append(response.url) if response.status >= 400 else None)
    for path in ("/", "/wave"):
        page.goto(examples.url + path)
        page.wait_for_load_state("networkidle")
        icon = page.locator("link[rel=icon]")
        assert icon.get_attribute("href") == "-/static/favicon.svg"  # relative: the pages may sit under a prefix
        assert page.evaluate("document.querySelector('link[rel=icon]').href") == examples.url + "/-/static/favicon.svg"
    assert failures == []


def test_an_idle_keep_alive_socket_leaves_no_timeout_in_the_log(capfd, tmp_path):
    class Brief(plotserve.PlotRequestHandler):
        timeout = 0.5  # seconds a silent socket is kept: short, so the test needs not wait 15 s

    source = tmp_path / "one.py"
    source.write_text("def plot_line(ax):\n    ax.plot([1, 2])\n")
    with (
        running_server(str(source), workers=0, handler_class=Brief, quiet=False) as client,
        socket.create_connection(("127.0.0.1", client.port), timeout=10) as sock,
    ):
        sock.sendall(b"GET /-/health.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = b""
        while b'"status"' not in received:
            received += sock.recv(65536)
        # Now say nothing: the server lets the socket go after its timeout.
        started = time.monotonic()
        while sock.recv(65536):
            pass
        assert time.monotonic() - started < 9
    log = capfd.readouterr().err
    assert '"GET /-/health.json HTTP/1.1" 200' in log  # the log was captured ...
    assert "Request timed out" not in log  # ... and the idle socket is not in it


# -- copy link, keys, dark ---------------------------------------------------------------------------


def test_copy_link_puts_the_address_on_the_clipboard(context_of, examples):
    page = context_of(viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"])
    page.goto(examples.url + "/wave?cycles=5&_refresh=30")
    page.click("#copy-link")
    page.wait_for_function("() => document.getElementById('copy-link').textContent === 'Link copied'", timeout=WAIT)
    assert page.evaluate("navigator.clipboard.readText()") == examples.url + "/wave?cycles=5&_refresh=30"
    page.wait_for_function("() => document.getElementById('copy-link').textContent === 'Copy link'", timeout=WAIT)
    assert page.errors == []


def test_copy_link_without_the_clipboard_api_copies_by_hand(context_of, examples):
    page = context_of(viewport=DESKTOP)
    # As on a page served over plain http to another machine: no navigator.clipboard.
    page.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined });"
        "document.addEventListener('copy', event => { const field = event.target;"
        " window.copied = field.value.slice(field.selectionStart, field.selectionEnd); }, true);"
    )
    page.goto(examples.url + "/wave?cycles=6")
    assert page.evaluate("navigator.clipboard") is None
    page.click("#copy-link")
    page.wait_for_function("() => window.copied !== undefined", timeout=WAIT)
    assert page.evaluate("window.copied") == examples.url + "/wave?cycles=6"
    assert page.inner_text("#copy-link") == "Link copied"
    assert page.locator("textarea").count() == 0  # the helper field is gone again
    assert page.errors == []


def unheld(url: str) -> str:
    """A picture's URL without the ``_wait`` of a request the server holds until the view changes."""
    return url.replace("&_wait=25", "").replace("?_wait=25", "")


def is_image(url: str) -> bool:
    """A picture's URL (not the hover's geometry, which is JSON, nor the shared request for news of pictures)."""
    return urllib.parse.urlsplit(url).path.endswith(".png")


def is_picture_fetch(request) -> bool:
    """A check for a new picture."""
    return request.resource_type == "fetch" and is_image(request.url)


def is_held_request(url: str) -> bool:
    """A request the server holds until a view changes: the one of all tabs, or a picture's own (where the page cannot share)."""
    return "/-/changes.json" in url or "_wait=25" in url


def test_keys_r_refreshes_and_p_pauses_but_not_while_typing(context_of, live):
    client, _ = live
    page = context_of(viewport=DESKTOP)
    fetches = []
    page.on("request", lambda request: fetches.append(request.url) if is_picture_fetch(request) or is_held_request(request.url) else None)
    page.goto(client.url + "/training?_refresh=600")
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    watching = "() => /watching for changes$/.test(document.getElementById('status').textContent)"
    page.wait_for_function(watching, timeout=WAIT)
    health_when(client, lambda health: health["waiting"] == 1, "one request, held by the server until the view changes")
    # Playwright hands over the page's request events only while the test is in one of its calls.
    for _ in range(100):
        if any(is_held_request(url) for url in fetches):
            break
        page.wait_for_timeout(50)
    assert any(is_held_request(url) for url in fetches)
    held_again = page.expect_request(lambda request: is_held_request(request.url), timeout=WAIT)
    checked = page.expect_response(lambda response: is_picture_fetch(response.request) and response.status == 304, timeout=WAIT)
    with held_again, checked:
        page.keyboard.press("r")  # checked now, answered at once; then held again
    page.wait_for_function(watching, timeout=WAIT)
    health_when(client, lambda health: health["waiting"] == 1, "held again")
    count = len(fetches)
    # Typed into a field, r and p are letters, not commands.
    page.fill("#field-metrics", "")
    page.type("#field-metrics", "recall, precision")
    page.wait_for_timeout(500)
    assert len(fetches) == count
    assert page.inner_text("#pause") == "Pause"
    assert page.input_value("#field-metrics") == "recall, precision"
    # p pauses and resumes; r still checks once while paused; Ctrl+R is left to the browser.
    page.locator("h1").click()
    page.keyboard.press("p")
    assert page.inner_text("#pause") == "Resume"
    page.wait_for_function("() => document.getElementById('status').textContent.endsWith(' · paused')", timeout=WAIT)
    with page.expect_response(lambda response: is_picture_fetch(response.request), timeout=WAIT):
        page.keyboard.press("r")
    # Checked, and still paused (while the check is under way the line says "checking now").
    page.wait_for_function("() => document.getElementById('status').textContent.endsWith(' · paused')", timeout=WAIT)
    with page.expect_request(lambda request: is_held_request(request.url), timeout=WAIT):  # resumed: held again at once
        page.keyboard.press("p")
    assert page.inner_text("#pause") == "Pause"
    assert page.errors == []


@pytest.mark.parametrize(
    "scheme, paper, surface", [("light", "rgb(246, 247, 249)", "rgb(255, 255, 255)"), ("dark", "rgb(20, 24, 30)", "rgb(29, 35, 43)")]
)
def test_the_page_follows_the_browser_colour_scheme(context_of, examples, scheme, paper, surface):
    page = context_of(viewport=DESKTOP, color_scheme=scheme)
    for path in ("/", "/wave"):
        page.goto(examples.url + path)
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == paper
        selector = ".card" if path == "/" else "form"
        assert page.evaluate(f"getComputedStyle(document.querySelector('{selector}')).backgroundColor") == surface
        ink = page.evaluate("getComputedStyle(document.querySelector('h1')).color")
        brightness = sum(int(part) for part in re.findall(r"\d+", ink)[:3])
        assert (brightness > 600) is (scheme == "dark")  # light text on the dark page, dark on the light one
