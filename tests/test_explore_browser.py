"""Exploring the picture in headless Chromium: hover reads data coordinates, a dragged box zooms
by URL, Reset, double-click, Esc and Back undo it, the toggles apply, and a dark browser gets dark
pictures. Pictures are decoded, not just fetched."""

import io
import json
import math
import re
import socketserver
import threading
import urllib.parse
import wsgiref.simple_server

import matplotlib.dates
import numpy as np
import pandas as pd
import pytest
import training
from conftest import EXAMPLES
from PIL import Image
from playwright.sync_api import expect

import plotserve

pytestmark = pytest.mark.browser

WAIT = 20_000  # ms: a safety net on a loaded machine, not a speed requirement
READY = "img => img.complete && img.naturalWidth > 0 && img.dataset.axes !== undefined && Number(img.dataset.axes) > 0"
NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"


def open_plot(page, client, path):
    """Go to a plot page and wait until its picture is shown and its geometry known."""
    page.goto(client.url + path)
    page.wait_for_function(READY, arg=page.locator("#plot").element_handle(), timeout=WAIT)
    return shown_geometry(page, client)


def shown_geometry(page, client):
    """The JSON twin's axes for the picture the page shows."""
    src = page.locator("#plot").evaluate("img => img.currentSrc")
    path = urllib.parse.urlsplit(src)
    answer = client.get(path.path.replace(".png", ".json") + "?" + path.query)
    return json.loads(answer.body)["axes"]


def to_fraction(axis, value):
    """Where a value sits along an axis, 0 at limits[0] and 1 at limits[1], through its scale."""
    low, high = axis["limits"]
    if axis["scale"] == "log":
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


def page_point(page, axes, x, y):
    """Page coordinates (CSS pixels) of data (x, y) in an Axes of the shown picture."""
    box = page.locator("#plot").bounding_box()
    natural = page.locator("#plot").evaluate("img => [img.naturalWidth, img.naturalHeight]")
    left, top, right, bottom = axes["box"]
    image_x = left + to_fraction(axes["x"], x) * (right - left)
    image_y = bottom - to_fraction(axes["y"], y) * (bottom - top)
    return box["x"] + image_x * box["width"] / natural[0], box["y"] + image_y * box["height"] / natural[1]


def css_pixel(page, axes, name):
    """One CSS pixel along an axis, in data units (linear axes)."""
    box = page.locator("#plot").bounding_box()
    natural = page.locator("#plot").evaluate("img => img.naturalWidth")
    left, top, right, bottom = axes["box"]
    low, high = axes[name]["limits"]
    span = (right - left) if name == "x" else (bottom - top)
    return abs(high - low) / span * natural / box["width"]


def coordinates(page):
    """The numbers the page shows under the image, by name: {'x': [...], 'y': [...]}."""
    text = page.locator("#coords").text_content()
    found = {}
    for name, value in re.findall(rf"\b(x|y)\d? = (\d{{4}}-\d\d-\d\d(?: [\d:]+)?|{NUMBER})", text):
        found.setdefault(name, []).append(value)
    return text, found


def picture(client, page):
    """The picture the page shows, decoded."""
    src = urllib.parse.urlsplit(page.locator("#plot").evaluate("img => img.currentSrc"))
    answer = client.get(f"{src.path}?{src.query}")
    assert answer.status == 200
    return Image.open(io.BytesIO(answer.body)).convert("RGB")


def is_line_blue(pixel) -> bool:
    red, _, blue = pixel
    return blue > 150 and red < 120 and blue - red > 60


def test_hover_reads_a_known_point_back(page, examples):
    (axes,) = open_plot(page, examples, "/wave")
    page.mouse.move(*page_point(page, axes, 0.25, 1.0))  # the sine's first crest
    text, found = coordinates(page)
    assert text.startswith("x = ") and ", y = " in text
    assert float(found["x"][0]) == pytest.approx(0.25, abs=css_pixel(page, axes, "x"))
    assert float(found["y"][0]) == pytest.approx(1.0, abs=css_pixel(page, axes, "y"))
    page.mouse.move(1, 1)  # off the Axes: the hint again
    assert page.locator("#coords").text_content() == "drag a box to zoom"
    assert page.errors == []


def test_hover_on_a_log_axis_with_a_twin(page, examples, data_dir):
    loss = pd.read_csv(data_dir / training.LOG_NAME).set_index("epoch")["loss"]
    loss_axes, score_axes = open_plot(page, examples, "/training?logy=true")
    assert loss_axes["y"]["scale"] == "log" and score_axes["y"]["scale"] == "linear"
    page.mouse.move(*page_point(page, loss_axes, 37, loss[37]))
    _, found = coordinates(page)
    assert float(found["x"][0]) == pytest.approx(37, abs=css_pixel(page, loss_axes, "x"))
    low, high = loss_axes["y"]["limits"]
    box = page.locator("#plot").bounding_box()
    natural = page.locator("#plot").evaluate("img => img.naturalHeight")
    # One CSS pixel on a log axis is a factor, not a step.
    factor = (high / low) ** (natural / box["height"] / (loss_axes["box"][3] - loss_axes["box"][1]))
    shown = float(found["y"][0])
    assert loss[37] / factor <= shown <= loss[37] * factor
    # The twin's y (the score axis, 0 to 1) at the same height.
    fraction = to_fraction(loss_axes["y"], loss[37])
    assert ", y2 = " in page.locator("#coords").text_content()
    assert float(found["y"][1]) == pytest.approx(fraction, abs=css_pixel(page, score_axes, "y") + 1e-3)


def test_hover_on_a_date_axis_shows_dates(page, examples):
    axes = open_plot(page, examples, "/scatter")[0]
    low, high = (np.datetime64(text[:23]) for text in axes["x"]["dates"])
    middle = low + (high - low) / 2
    page.mouse.move(*page_point(page, axes, matplotlib.dates.date2num(middle), 12))
    text, found = coordinates(page)
    shown = np.datetime64(found["x"][0])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", found["x"][0]), text
    assert abs((shown - middle.astype("datetime64[D]")).astype(int)) <= 1
    assert float(found["y"][0]) == pytest.approx(12, abs=css_pixel(page, axes, "y"))


def test_hover_on_a_colorbar_reads_its_value(page, examples):
    image_axes, colorbar = open_plot(page, examples, "/heatmap")
    assert colorbar["kind"] == "colorbar"
    low, high = colorbar["y"]["limits"]
    middle = (low + high) / 2
    page.mouse.move(*page_point(page, colorbar, sum(colorbar["x"]["limits"]) / 2, middle))
    text = page.locator("#coords").text_content()
    assert re.fullmatch(rf"value = {NUMBER}", text), text  # no meaningless x across the bar
    assert float(text.split(" = ")[1]) == pytest.approx(middle, abs=css_pixel(page, colorbar, "y"))
    page.mouse.move(*page_point(page, image_axes, 0.3, 0.5))  # on the image: x and y
    assert re.fullmatch(rf"x = {NUMBER}, y = {NUMBER}", page.locator("#coords").text_content())


def test_the_picture_follows_the_browser_switching_to_dark(page, examples):
    open_plot(page, examples, "/wave")
    assert "_theme" not in page.locator("#plot").evaluate("img => img.currentSrc")
    with page.expect_navigation(timeout=WAIT):
        page.emulate_media(color_scheme="dark")
    page.wait_for_function(READY, arg=page.locator("#plot").element_handle(), timeout=WAIT)
    assert "_theme=dark" in page.locator("#plot").evaluate("img => img.currentSrc")
    assert _luminance(page.locator("#plot").screenshot()) < 60


def _drag(page, start, end):
    with page.expect_navigation(timeout=WAIT):
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=3)
        assert page.locator("#zoombox").is_visible()  # the box being dragged is drawn
        page.mouse.move(*end, steps=3)
        page.mouse.up()
    page.wait_for_function(READY, arg=page.locator("#plot").element_handle(), timeout=WAIT)


def _limits(url, name):
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).get(name)
    return values and [float(value) for value in values[0].split(",")]


def test_drag_a_box_zooms_and_reset_double_click_esc_and_back_undo_it(page, examples):
    (axes,) = open_plot(page, examples, "/wave?cycles=4")
    _drag(page, page_point(page, axes, 0.5, -0.5), page_point(page, axes, 1.5, 0.5))
    xlim, ylim = _limits(page.url, "_xlim"), _limits(page.url, "_ylim")
    assert xlim == pytest.approx([0.5, 1.5], abs=2 * css_pixel(page, axes, "x"))
    assert ylim == pytest.approx([-0.5, 0.5], abs=2 * css_pixel(page, axes, "y"))
    assert "cycles=4" in page.url and "_axes" not in page.url
    zoomed_url = page.url

    # The new picture shows the zoomed range: where the sine is below -0.5 (x = 0.75) no line is drawn.
    (zoomed,) = shown_geometry(page, examples)
    assert zoomed["x"]["limits"] == pytest.approx(xlim) and zoomed["y"]["limits"] == pytest.approx(ylim)
    image = picture(examples, page)
    left, top, right, bottom = zoomed["box"]

    def blue_in_column(x):
        column = round(left + to_fraction(zoomed["x"], x) * (right - left))
        return sum(is_line_blue(image.getpixel((column, row))) for row in range(round(top) + 2, round(bottom) - 2))

    assert blue_in_column(0.75) == 0 and blue_in_column(1.0) > 0
    assert page.locator("#reset").is_visible()

    # A drag along x alone zooms x only: the y zoom stays as it was.
    _drag(page, page_point(page, zoomed, 0.8, 0), page_point(page, zoomed, 1.2, 0.001))
    assert _limits(page.url, "_xlim") == pytest.approx([0.8, 1.2], abs=2 * css_pixel(page, zoomed, "x"))
    assert _limits(page.url, "_ylim") == ylim

    with page.expect_navigation(timeout=WAIT):
        page.go_back()
    assert page.url == zoomed_url

    with page.expect_navigation(timeout=WAIT):
        page.click("#reset")
    assert page.url == examples.url + "/wave?cycles=4"
    page.wait_for_function(READY, arg=page.locator("#plot").element_handle(), timeout=WAIT)
    assert shown_geometry(page, examples)[0]["x"]["limits"] == [0, 4]  # 4 cycles of 1 Hz: the plot's own limits
    with page.expect_navigation(timeout=WAIT):
        page.go_back()
    assert page.url == zoomed_url

    page.wait_for_function(READY, arg=page.locator("#plot").element_handle(), timeout=WAIT)
    with page.expect_navigation(timeout=WAIT):
        page.dblclick("#plot")
    assert page.url == examples.url + "/wave?cycles=4"
    with page.expect_navigation(timeout=WAIT):
        page.go_back()
    with page.expect_navigation(timeout=WAIT):
        page.keyboard.press("Escape")
    assert page.url == examples.url + "/wave?cycles=4"
    assert page.errors == []


def test_drag_in_a_second_axes_names_it(page, examples):
    signal, spectrum = open_plot(page, examples, "/spectrum")
    _drag(page, page_point(page, spectrum, 1.5, -40), page_point(page, spectrum, 3, 0))
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
    assert query["_axes"] == ["1"]
    assert _limits(page.url, "_xlim") == pytest.approx([1.5, 3], abs=2 * css_pixel(page, spectrum, "x"))
    after = shown_geometry(page, examples)
    assert after[1]["x"]["limits"] == pytest.approx(_limits(page.url, "_xlim"))
    assert after[0]["x"]["limits"] == signal["x"]["limits"]  # the other Axes is left alone


def test_toggles_apply_at_once_and_keep_the_zoom(page, examples):
    open_plot(page, examples, "/wave?_xlim=0.5,2.5")
    with page.expect_navigation(timeout=WAIT):
        page.check("input[name=_logy]")
    assert "_logy=true" in page.url and "_xlim=0.5%2C2.5" in page.url
    page.wait_for_function(READY, arg=page.locator("#plot").element_handle(), timeout=WAIT)
    (axes,) = shown_geometry(page, examples)
    assert axes["y"]["scale"] == "log" and axes["x"]["limits"] == [0.5, 2.5]
    with page.expect_navigation(timeout=WAIT):
        page.check("input[name=_grid]")
    assert "_logy=true" in page.url and "_grid=true" in page.url
    with page.expect_navigation(timeout=WAIT):
        page.uncheck("input[name=_logy]")
    assert "_logy" not in page.url and "_grid=true" in page.url


def _luminance(png: bytes) -> float:
    return float(np.asarray(Image.open(io.BytesIO(png)).convert("L")).mean())


def test_a_dark_browser_gets_dark_pictures(browser, examples):
    context = browser.new_context(color_scheme="dark")
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        (axes,) = open_plot(page, examples, "/wave")
        assert "_theme=dark" in page.locator("#plot").evaluate("img => img.currentSrc")
        assert _luminance(page.locator("#plot").screenshot()) < 60  # what the page shows is dark
        assert _luminance(_png(picture(examples, page))) < 60
        page.mouse.move(*page_point(page, axes, 0.25, 1.0))  # hover reads the dark picture too
        assert float(coordinates(page)[1]["x"][0]) == pytest.approx(0.25, abs=css_pixel(page, axes, "x"))
        page.close()

        page, sources = _index(context, examples)  # the index's thumbnails too
        page.on("pageerror", lambda error: errors.append(str(error)))
        assert all("_theme=dark" in source for source in sources), sources
        assert _luminance(page.locator("a.card[href=wave] img").screenshot()) < 60  # a plot that fills its card

        open_plot(page, examples, "/wave?_theme=light")  # the URL's choice beats the browser's
        assert "_theme" not in page.locator("#plot").evaluate("img => img.currentSrc")
        assert _luminance(page.locator("#plot").screenshot()) > 200
        assert errors == []
    finally:
        context.close()

    light = browser.new_context(color_scheme="light")
    try:
        page = light.new_page()
        open_plot(page, examples, "/wave")
        assert "_theme" not in page.locator("#plot").evaluate("img => img.currentSrc")
        assert _luminance(page.locator("#plot").screenshot()) > 200
        page.close()
        _, sources = _index(light, examples)
        assert not any("_theme" in source for source in sources), sources
    finally:
        light.close()


def _index(context, examples):
    """The index in a page of its own (the plot page's scripts, which may reload it, are gone), once
    its six thumbnails have loaded; and their sources."""
    page = context.new_page()
    answer = page.goto(examples.url + "/")
    # Playwright's goto now and then gives no response for a navigation that did happen: the URL says.
    assert answer is None or answer.status == 200, (answer.status, page.url, page.content()[:2000])
    expect(page).to_have_url(examples.url + "/", timeout=WAIT)
    expect(page.locator("a.card img")).to_have_count(6, timeout=WAIT)
    page.wait_for_function(
        "() => [...document.querySelectorAll('a.card img')].every(img => img.complete && img.naturalWidth > 0)", timeout=WAIT
    )
    return page, page.locator("a.card img").evaluate_all("images => images.map(img => img.currentSrc)")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_bad_zoom_reshows_the_form_with_its_message(page, examples):
    response = page.goto(examples.url + "/wave?cycles=4&_xlim=2,1")
    assert response.status == 400
    assert "_xlim: LO must be less than HI" in page.locator(".problem").text_content()
    assert page.input_value("#field-cycles") == "4"
    with page.expect_navigation(timeout=WAIT):
        page.click("form button[type=submit]")  # the bad zoom is not part of the form: plotting again drops it
    assert "_xlim" not in page.url


@pytest.fixture(scope="module")
def prefixed(data_dir):
    """The WSGI app mounted under /sub/ (the prefix moved to SCRIPT_NAME, as a proxy's mount does)."""
    app = plotserve.make_app(*EXAMPLES, data_dir=str(data_dir))

    def mounted(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/sub/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"outside /sub/"]
        environ["SCRIPT_NAME"], environ["PATH_INFO"] = "/sub", path[len("/sub") :]
        return app(environ, start_response)

    class Quiet(wsgiref.simple_server.WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = wsgiref.simple_server.make_server("127.0.0.1", 0, mounted, server_class=ThreadingWSGIServer, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sub"
    finally:
        server.shutdown()
        server.server_close()
        app.close()


class ThreadingWSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True


def test_zoom_and_reset_work_under_a_proxy_prefix(page, prefixed):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(prefixed + "/wave")
    page.wait_for_function(READY, arg=page.locator("#plot").element_handle(), timeout=WAIT)  # the JSON twin was found
    box = page.locator("#plot").bounding_box()
    with page.expect_navigation(timeout=WAIT):
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=4)
        page.mouse.up()
    assert page.url.startswith(prefixed + "/wave?_xlim=") and "_ylim=" in page.url
    page.wait_for_function(READY, arg=page.locator("#plot").element_handle(), timeout=WAIT)
    with page.expect_navigation(timeout=WAIT):
        page.click("#reset")
    assert page.url == prefixed + "/wave"
    assert requests and all(url.startswith(prefixed + "/") for url in requests)  # nothing asked outside the prefix
