"""The log page of a folder of runs in headless Chromium: at desktop and phone width, its run
checkboxes and its smoothing slider, which change the picture and the URL; the stall line.

Set PLOTSERVE_SCREENSHOTS=DIR to keep the screenshots the tests take, to look at them.
"""

import html
import json
import os
import pathlib
import re
import time
import urllib.parse

import numpy as np
import pandas as pd
import pytest
from conftest import running_server

import plotserve

WAIT = 20_000  # ms: a safety net for a loaded machine, not a speed requirement
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
IMAGE_SHOWN = "() => { const img = document.getElementById('plot'); return img.complete && img.naturalWidth > 0 && !img.hidden; }"


@pytest.fixture
def runs(tmp_path):
    """Three runs of a noisy training log, and a server of their folder."""
    rng = np.random.default_rng(0)
    for number, name in enumerate(("lr=0.1", "lr=0.01", "lr=0.001")):
        steps = np.arange(300)
        loss = np.exp(-steps / (60 + 40 * number)) + rng.normal(0, 0.05, len(steps))
        frame = pd.DataFrame({"step": steps, "loss": loss, "accuracy": 1 - loss / 2, "lr": 0.1 / 10**number})
        (tmp_path / "runs" / name).mkdir(parents=True)
        frame.to_csv(tmp_path / "runs" / name / "metrics.csv", index=False)
    with running_server(str(tmp_path / "runs"), limits=plotserve.Limits(data_dir=tmp_path), workers=1) as client:
        yield client, tmp_path


def screenshot(page, name: str) -> None:
    folder = os.environ.get("PLOTSERVE_SCREENSHOTS")
    if folder:
        pathlib.Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(pathlib.Path(folder) / f"{name}.png"), full_page=True)


def query_of(page) -> dict:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.url).query))


@pytest.mark.parametrize("viewport, name", [(DESKTOP, "desktop"), (PHONE, "phone")])
def test_the_log_page_fits_the_screen_with_a_checkbox_per_run(context_of, runs, viewport, name):
    client, _ = runs
    page = context_of(viewport=viewport)
    page.goto(client.url + "/runs")
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    screenshot(page, f"logs-{name}")
    labels = page.locator(".runs label.run").all_inner_texts()
    assert [label.strip() for label in labels] == ["lr=0.001", "lr=0.01", "lr=0.1"]
    assert page.locator(".runs input:checked").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]  # no sideways scrolling
    picture = page.locator("#plot").bounding_box()
    assert picture["x"] >= 0 and picture["x"] + picture["width"] <= viewport["width"]
    if name == "phone":  # three panels in one column, each about 3:2: a picture taller than wide, not three slivers
        width, height = page.evaluate("[document.getElementById('plot').naturalWidth, document.getElementById('plot').naturalHeight]")
        assert height > 1.5 * width
    # The alt text names the series (the page came before its picture: the script fills them in).
    page.wait_for_function("() => document.getElementById('plot').alt.includes('lr=0.001, lr=0.01, lr=0.1')", timeout=WAIT)
    assert page.locator("a[download='runs.csv']").count() == 1
    assert page.errors == []


def test_the_thumbnail_is_a_grid_in_the_index_card_and_the_phone_picture_a_taller_column(runs):
    client, _ = runs
    thumbnail = next(src for src in re.findall(r'src="([^"]+)"', client.get("/").text) if src.startswith("runs.png?"))
    assert client.get("/" + html.unescape(thumbnail)).image().size == (320, 200)  # the card's 8:5, not a tall column
    width, height = client.get("/runs.png?_width=3.6&_height=2.7").image().size
    assert width == 360 and height > 1.5 * width  # three panels under each other


def test_the_run_checkboxes_line_up_in_columns(context_of, tmp_path):
    frame = pd.DataFrame({"step": range(10), "loss": range(10)})
    names = ("a", "baseline", "lr=0.001", "warmup_long_name", "b", "seed=12345", "c")
    for name in names:
        (tmp_path / "runs" / name).mkdir(parents=True)
        frame.to_csv(tmp_path / "runs" / name / "metrics.csv", index=False)
    with running_server(str(tmp_path / "runs"), limits=plotserve.Limits(data_dir=tmp_path), workers=1) as client:
        page = context_of(viewport=DESKTOP)
        page.goto(client.url + "/runs")
        page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
        boxes = page.eval_on_selector_all(".runs input", "all => all.map(i => i.getBoundingClientRect()).map(r => [r.x, r.y])")
        lefts, tops = {round(x) for x, _ in boxes}, {round(y) for _, y in boxes}
        assert len(boxes) == len(names) and len(tops) > 1  # several rows
        first_row = sum(1 for _, y in boxes if round(y) == min(tops))
        assert len(lefts) == first_row  # each row's boxes under the first row's: columns, not a ragged flow
        form = page.locator("form").bounding_box()
        assert all(form["x"] <= x < form["x"] + form["width"] for x in lefts)
        assert page.errors == []


def test_the_run_checkboxes_change_the_picture_and_the_url(context_of, runs):
    client, _ = runs
    page = context_of(viewport=DESKTOP)
    page.goto(client.url + "/runs")
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    before = page.evaluate("document.getElementById('plot').currentSrc")
    with page.expect_navigation(timeout=WAIT):
        page.locator(".runs label.run", has_text="lr=0.01").first.locator("input").uncheck()
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    assert query_of(page)["runs"] == "lr=0.001, lr=0.1"
    assert page.locator(".runs input:checked").count() == 2
    shown = page.evaluate("document.getElementById('plot').currentSrc")
    assert shown != before
    series = json.loads(client.get(shown.replace(".png", ".json")).body)["axes"][0]["series"]
    assert [entry["label"] for entry in series] == ["lr=0.001", "lr=0.1"]
    # Ticking it again is every run: the default, and the short URL.
    with page.expect_navigation(timeout=WAIT):
        page.locator(".runs label.run", has_text="lr=0.01").first.locator("input").check()
    assert "runs" not in query_of(page)
    screenshot(page, "logs-runs")
    assert page.errors == []


def test_the_slider_smooths(context_of, runs):
    client, _ = runs
    page = context_of(viewport=DESKTOP)
    page.goto(client.url + "/runs")
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    with page.expect_navigation(timeout=WAIT):
        page.locator("#smooth").fill("0.9")  # a range input: fill sets it and fires input and change
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    assert query_of(page)["_smooth"] == "0.9"
    assert page.input_value("#smooth") == "0.9" and page.inner_text("output[for=smooth]") == "0.9"
    shown = page.evaluate("document.getElementById('plot').currentSrc")
    assert "_smooth=0.9" in shown
    data = client.get(shown.replace(".png", ".csv")).text
    assert "lr=0.1 (raw)" in data
    screenshot(page, "logs-smoothed")
    with page.expect_navigation(timeout=WAIT):
        page.locator("#smooth").fill("0")
    assert "_smooth" not in query_of(page)
    assert page.errors == []


def test_a_stalled_view_says_so_in_the_toolbar_and_the_title(context_of, runs):
    client, folder = runs
    an_hour_ago = time.time() - 3600
    for path in (folder / "runs").glob("*/metrics.csv"):
        os.utime(path, (an_hour_ago, an_hour_ago))
    page = context_of(viewport=DESKTOP)
    page.goto(client.url + "/runs")
    page.wait_for_function(IMAGE_SHOWN, timeout=WAIT)
    page.wait_for_function("() => document.querySelector('.toolbar .stall')?.textContent.startsWith('no change for 1 h')", timeout=WAIT)
    assert page.title().startswith("(no change for 1 h) ")
    screenshot(page, "logs-stalled")
    assert page.errors == []
