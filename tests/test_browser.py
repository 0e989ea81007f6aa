"""End to end in headless Chromium: from the index to a live plot, and a form with every kind
of input, including the server's own validation messages (the form has novalidate)."""

import datetime
import pathlib
import urllib.parse

import pytest
import training  # plots/training.py, on sys.path through conftest
from conftest import EXAMPLES, ROOT, running_server
from test_live import health_when, moved

import plotserve

pytestmark = pytest.mark.browser

KINDS = str(ROOT / "tests" / "sources" / "kinds.py")
WAIT = 20_000  # ms to wait for something the page should do; a loaded CI machine is slow

IMAGE_LOADED = "img => img.complete && img.naturalWidth > 0"


def submit(page):
    """Click the form's Plot button and wait for the page it leads to; returns the response."""
    with page.expect_navigation() as navigation:
        page.click("form button[type=submit]")
    return navigation.value


def test_from_the_index_to_a_live_plot(page, tmp_path):
    log = training.write_training_log(tmp_path / training.LOG_NAME, rows=30)
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=tmp_path), workers=0) as client:
        page.goto(client.url + "/")
        assert page.locator("a.card").count() == 6
        page.wait_for_function(
            "() => [...document.querySelectorAll('a.card img')].every(img => img.complete && img.naturalWidth > 0)", timeout=WAIT
        )
        with page.expect_navigation():
            page.click('a.card[href="training"]')
        assert page.url == client.url + "/training"
        page.wait_for_function(IMAGE_LOADED, arg=page.locator("#plot").element_handle(), timeout=WAIT)  # embedded, or fetched once drawn

        page.fill("#field-smooth", "5")  # a range slider
        page.check("#field-logy")
        page.fill("#field-last", "25")
        page.fill("input[name=_refresh]", "1")
        response = submit(page)
        assert response.status == 200
        assert page.url == client.url + "/training?smooth=5&logy=true&last=25&_refresh=1"
        image = page.locator("#plot")
        image.wait_for(timeout=WAIT)
        page.wait_for_function(IMAGE_LOADED, arg=image.element_handle(), timeout=WAIT)
        assert image.get_attribute("data-src") == "training.png?smooth=5&logy=true&last=25"  # the view it shows, drawn in place or fetched
        assert page.input_value("#field-smooth") == "5" and page.is_checked("#field-logy")

        # The log grows: the page fetches the new picture and swaps it in, without reloading.
        page.evaluate("window.notReloaded = true")
        shown = []
        for _ in range(2):
            training.append_epoch(log)
            page.wait_for_function(
                "seen => { const img = document.getElementById('plot');"
                " return img.src.startsWith('blob:') && !seen.includes(img.src) && img.complete && img.naturalWidth > 0; }",
                arg=shown,
                timeout=WAIT,
            )
            shown.append(image.evaluate("img => img.src"))
            assert page.text_content("#status").startswith("updated ")
        assert page.evaluate("window.notReloaded") is True
        assert len(set(shown)) == 2
        # Nothing changes now: the server holds the page's conditional request, and the picture stays.
        before = health_when(client, lambda health: health["waiting"] == 1, "the page's held request")
        assert image.evaluate("img => img.src") == shown[-1]
        assert moved(before, client.health())["renders"] == 0
        assert page.text_content("#status").startswith("updated ")

        page.click("#pause")
        page.wait_for_function("() => document.getElementById('status').textContent.endsWith(' · paused')", timeout=WAIT)
        assert page.text_content("#pause") == "Resume"
    assert page.errors == []


@pytest.fixture
def survey_server(tmp_path):
    (tmp_path / "a.csv").write_text("1 2 3\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("4 5\n")
    with running_server(KINDS, workers=0, limits=plotserve.Limits(data_dir=tmp_path)) as client:
        yield client, tmp_path


def last_survey(client) -> dict:
    record = client.server.plots["survey"].func.__globals__["RECEIVED"]
    return [values for name, values in record if name == "survey"][-1]


def test_a_form_with_every_kind_of_input(page, survey_server):
    client, data = survey_server
    page.goto(client.url + "/survey")
    assert page.get_attribute("form", "novalidate") is not None
    assert "Fill in log to see the plot." in page.text_content("section.figure")
    # The file picker lists the data directory.
    options = page.locator("#field-log option").evaluate_all("options => options.map(option => option.value)")
    assert options == ["", "a.csv", "sub/b.txt"]
    assert page.get_attribute("#field-start", "type") == "date"
    assert page.get_attribute("#field-points", "type") == "number"

    page.select_option("#field-log", "sub/b.txt")
    page.select_option("#field-style", "bars")
    page.select_option("#field-color", "GREEN")
    page.uncheck("#field-grid")
    page.fill("#field-start", "2024-03-05")
    page.fill("#field-points", "7")
    page.fill("#field-weights", "0.5, 2")
    response = submit(page)
    assert response.status == 200
    query = urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query)
    assert query == [
        ("log", "sub/b.txt"),
        ("style", "bars"),
        ("color", "GREEN"),
        ("grid", "false"),
        ("start", "2024-03-05"),
        ("points", "7"),
        ("weights", "0.5, 2"),
    ]
    page.wait_for_function(IMAGE_LOADED, arg=page.locator("#plot").element_handle(), timeout=WAIT)
    received = last_survey(client)
    color = client.server.plots["survey"].func.__globals__["Color"]
    log = received.pop("log")
    assert isinstance(log, pathlib.Path)  # naming the file the server opened, which is the one chosen
    assert log.checked == data.resolve() / "sub" / "b.txt" and log.name == "b.txt"
    assert received == {
        "style": "bars",
        "color": color.GREEN,
        "grid": False,
        "start": datetime.date(2024, 3, 5),
        "points": 7,
        "weights": [0.5, 2.0],
    }

    # Values the browser would refuse itself reach the server, which says what is wrong with each.
    page.fill("#field-points", "1")
    page.fill("#field-weights", "1, x")
    response = submit(page)
    assert response.status == 400
    messages = page.locator(".field.invalid .message")
    assert messages.count() == 2
    assert "must be at least 2" in page.text_content(".field:has(#field-points) .message")
    assert "item 2: expected a number, got 'x'" in page.text_content(".field:has(#field-weights) .message")
    assert page.input_value("#field-points") == "1"  # what was typed stays
    assert page.input_value("#field-weights") == "1, x"
    assert page.input_value("#field-log") == "sub/b.txt"
    assert page.input_value("#field-style") == "bars"
    assert page.input_value("#field-color") == "GREEN"
    assert page.input_value("#field-start") == "2024-03-05"
    assert not page.is_checked("#field-grid")
    assert page.locator("#plot").count() == 0

    # Put it right, and the plot is back.
    page.fill("#field-points", "3")
    page.fill("#field-weights", "1")
    page.check("#field-grid")
    assert submit(page).status == 200
    page.wait_for_function(IMAGE_LOADED, arg=page.locator("#plot").element_handle(), timeout=WAIT)
    assert last_survey(client)["points"] == 3 and last_survey(client)["grid"] is True
    assert page.errors == []


def test_a_script_in_a_value_does_not_run(page, survey_server):
    client, _ = survey_server
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    payload = '<script>window.pwned = 1; alert(1)</script><img src=x onerror="window.pwned = 2">'
    for path, field in (("/text?value=", "value"), ("/strings?value=", "value"), ("/broken?message=", "message")):
        page.goto(client.url + path + urllib.parse.quote(payload))
        assert page.input_value(f"#field-{field}") == payload
        assert page.evaluate("window.pwned") is None
    assert dialogs == []
    assert page.errors == []


def test_a_rejected_value_stays_in_the_field_as_typed(page, survey_server):
    """Chromium blanks a number or date input it cannot read: the server shows those as text."""
    client, _ = survey_server
    typed = {"count": "eleven", "day": "2024-13-01", "ratio": "1,5", "ints": "1, x"}
    response = page.goto(client.url + "/many?" + urllib.parse.urlencode(typed))
    assert response.status == 400
    for name, text in typed.items():
        assert page.input_value(f"#field-{name}") == text, name
        assert page.locator(f".field:has(#field-{name}) .message").count() == 1, name
    page.fill("#field-count", "4")
    page.fill("#field-day", "2024-02-29")
    page.fill("#field-ratio", "1.5")
    page.fill("#field-ints", "1, 2")
    assert submit(page).status == 200
    assert page.get_attribute("#field-day", "type") == "date"
    assert page.get_attribute("#field-count", "type") == "range"
    assert page.errors == []
