"""Decimation: a long plain line is drawn from the first, last, lowest and highest point of each
pixel column (M4), and the picture stays the picture of all its points.

Every picture is asked of a real server (one worker process) and compared, decoded, with the same
figure drawn by matplotlib alone (``savefig`` of every point) or with ``_decimate=0``.
"""

import io
import json
import re
import sys
import urllib.parse

import numpy as np
import pytest
from conftest import ROOT, running_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from PIL import Image

sys.path.insert(0, str(ROOT / "tests" / "sources"))

import long_lines

import plotserve

SOURCE = str(ROOT / "tests" / "sources" / "long_lines.py")
VISIBLE = 25  # a pixel differs when one of its channels differs by more than this (of 255): 10%


@pytest.fixture(scope="module")
def served():
    with running_server(SOURCE, workers=1, timeout=120, cache_mb=64) as client:
        yield client


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def by_hand(draw, points: int, xlim=None) -> np.ndarray:
    """The figure drawn and saved by matplotlib alone, every point, at plotserve's default size."""
    figure = Figure(figsize=(plotserve.DEFAULT_WIDTH, plotserve.DEFAULT_HEIGHT), dpi=plotserve.DEFAULT_DPI)
    ax = figure.add_subplot()
    draw(ax, points)
    if xlim:
        ax.set_xlim(xlim)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=plotserve.DEFAULT_DPI, metadata={"Software": None})
    return pixels(buffer.getvalue())


def share_differing(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float((np.abs(a - b).max(axis=-1) > VISIBLE).mean())


def png(client, name: str, **query) -> np.ndarray:
    answer = client.get(f"/{name}.png?{urllib.parse.urlencode(query)}", timeout=300)
    assert answer.status == 200, answer.headers.get("x-plotserve-error")
    return pixels(answer.body)


def axes(client, name: str, **query) -> list[dict]:
    answer = client.get(f"/{name}.json?{urllib.parse.urlencode(query)}", timeout=300)
    assert answer.status == 200, answer.body[:300]
    return json.loads(answer.body)["axes"]


def test_a_5m_point_walk_looks_like_all_its_points(served):
    wanted = by_hand(long_lines.draw_walk, 5_000_000)
    assert share_differing(png(served, "walk"), wanted) <= 0.005
    (geometry,) = axes(served, "walk")
    width = geometry["box"][2] - geometry["box"][0]
    assert geometry["points"]["total"] == 5_000_000
    # 4 points per column, COLUMNS_PER_PIXEL columns per pixel, and a column each side of the Axes
    assert 0 < geometry["points"]["drawn"] <= 4 * (plotserve.COLUMNS_PER_PIXEL * width + 4)
    (series,) = geometry["series"]
    assert (series["points"], series["drawn"]) == (5_000_000, geometry["points"]["drawn"])


def test_a_walk_of_a_few_points_a_column_looks_like_all_its_points(served):
    """20,000 points, about 8 a column: the runs are searched all at once (not one call each), and
    the picture is still the picture of every point."""
    wanted = by_hand(long_lines.draw_walk, 20_000)
    assert share_differing(png(served, "walk", points=20_000), wanted) <= 0.005
    (geometry,) = axes(served, "walk", points=20_000)
    assert geometry["points"]["total"] == 20_000 and 0 < geometry["points"]["drawn"] < 20_000


def _walk(draw, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A random walk of ``size`` points, with NaN, infinite, repeated and signed-zero values mixed in."""
    y = np.cumsum(np.random.default_rng(draw(st.integers(0, 2**32 - 1))).standard_normal(size))
    for value in draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0]), max_size=40)):
        y[draw(st.integers(0, size - 1))] = value
    if draw(st.booleans()):
        y = np.round(y)  # ties: the first of equal lowest points is the one kept
    return np.arange(size, dtype=float), y


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), size=st.integers(2_000, 60_000), log=st.booleans())
def test_both_ways_of_finding_each_column_extremes_keep_the_same_points(data, size, log):
    """The lowest and highest point of every run of a column, found one run at a time (argmin and
    argmax) or all at once (one pass over the points): the same indices, breaks and ties included."""
    x, y = _walk(data.draw, size)
    figure = Figure(figsize=(plotserve.DEFAULT_WIDTH, plotserve.DEFAULT_HEIGHT), dpi=plotserve.DEFAULT_DPI)
    ax = figure.add_subplot()
    if log:
        y = np.abs(y) - 2  # some points not drawn on a log axis
        ax.set_yscale("log")
    ax.plot(x, y)
    found = []
    for loop_above in (0, sys.maxsize):  # each run on its own; all at once
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(plotserve, "RUN_LOOP_ABOVE", loop_above)
            found.append(plotserve._m4_indices(ax, x, y, plotserve.COLUMNS_PER_PIXEL))
    one_by_one, at_once = found
    assert (one_by_one is None) == (at_once is None)
    if one_by_one is not None:
        assert np.array_equal(one_by_one, at_once)


def test_decimate_0_draws_every_point(served):
    wanted = by_hand(long_lines.draw_walk, 5_000_000)
    assert (png(served, "walk", _decimate="0") == wanted).all()
    (geometry,) = axes(served, "walk", _decimate="0")
    assert geometry["points"] == {"total": 5_000_000, "drawn": 5_000_000}


def _to_pixel(geometry: dict, x: float, y: float) -> tuple[float, float]:
    left, top, right, bottom = geometry["box"]
    (x0, x1), (y0, y1) = geometry["x"]["limits"], geometry["y"]["limits"]
    return left + (x - x0) / (x1 - x0) * (right - left), bottom - (y - y0) / (y1 - y0) * (bottom - top)


def _line_rows(image: np.ndarray, column: int) -> np.ndarray:
    """Rows of a column where the line's blue (C0) is drawn over the white background."""
    strip = image[:, column - 2 : column + 3]
    blue = (strip[..., 2] - strip[..., 0] > 60).any(axis=1)
    return np.flatnonzero(blue)


def test_a_one_sample_spike_reaches_its_height(served):
    (geometry,) = axes(served, "walk")
    column, row = _to_pixel(geometry, long_lines.SPIKE_AT, long_lines.SPIKE)
    rows = _line_rows(png(served, "walk"), round(column))
    assert abs(rows.min() - row) <= 2, (rows.min(), row)
    top_elsewhere = _line_rows(png(served, "walk"), round(column) - 40).min()
    assert top_elsewhere > row + 50  # the spike stands out: the walk nearby is far below it


@pytest.mark.parametrize("name", ["two", "gaps", "log", "log_dips", "inverted", "dates"])
def test_decimated_views_look_like_all_their_points(served, name):
    draw = getattr(long_lines, f"draw_{name}")
    wanted = by_hand(draw, plotserve.discover_plots([SOURCE])[name].params[0].default)
    assert (png(served, name, _decimate="false") == wanted).all()
    assert share_differing(png(served, name), wanted) <= 0.005
    (geometry,) = axes(served, name)
    assert geometry["points"]["drawn"] < geometry["points"]["total"] / 100


def test_a_gap_stays_a_gap(served):
    points = 2_000_000
    (geometry,) = axes(served, "gaps")
    start, _ = _to_pixel(geometry, points // 2, 0)
    end, _ = _to_pixel(geometry, points // 2 + points // 50, 0)
    image = png(served, "gaps")
    top, bottom = round(geometry["box"][1]) + 2, round(geometry["box"][3]) - 2
    inside = image[top:bottom, round(start) + 2 : round(end) - 1]
    assert inside.shape[1] >= 8
    assert (inside == 255).all()  # nothing drawn across the NaNs


@pytest.mark.parametrize("name", ["markers", "steps", "dashed", "shuffled"])
def test_lines_decimation_leaves_alone_are_pixel_identical(served, name):
    assert (png(served, name) == png(served, name, _decimate="0")).all()
    (geometry,) = axes(served, name)
    assert geometry["points"]["drawn"] == geometry["points"]["total"] > 0


def test_a_narrow_zoom_draws_the_raw_points(served):
    xlim = (2_000_000, 2_001_000)
    zoomed = png(served, "walk", _xlim="2000000,2001000")
    assert (zoomed == png(served, "walk", _xlim="2000000,2001000", _decimate="0")).all()
    assert (zoomed == by_hand(long_lines.draw_walk, 5_000_000, xlim)).all()
    (geometry,) = axes(served, "walk", _xlim="2000000,2001000")
    assert geometry["points"]["drawn"] == 5_000_000  # handed to matplotlib whole, which draws what is in view


def test_a_wider_zoom_is_decimated_from_the_full_data(served):
    query = {"_xlim": "2000000,2400000"}
    wanted = by_hand(long_lines.draw_walk, 5_000_000, (2_000_000, 2_400_000))
    assert share_differing(png(served, "walk", **query), wanted) <= 0.005
    (geometry,) = axes(served, "walk", **query)
    assert geometry["points"]["drawn"] < 10_000


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_vector_formats_are_decimated_too(served, fmt):
    small = served.get(f"/walk.{fmt}", timeout=300)
    full = served.get(f"/walk.{fmt}?_decimate=0", timeout=300)
    assert small.status == full.status == 200
    assert len(small.body) * 3 < len(full.body)
    if fmt == "svg":
        vertices = len(re.findall(rb"L -?[\d.]+ -?[\d.]+", small.body))
        assert 1000 < vertices < 20_000


def test_decimate_is_a_view_option(served):
    bad = served.get("/walk.png?_decimate=maybe")
    assert bad.status == 400 and "_decimate" in bad.headers["x-plotserve-error"]
    data = json.loads(served.get("/walk.json?points=1000&_decimate=off").body)
    assert data["image"] == "walk.png?points=1000&_decimate=false"
    page = served.get("/walk?points=1000&_decimate=no").text
    assert '<input type="hidden" name="_decimate" value="false" form="plot-form">' in page  # the form keeps it
    assert json.loads(served.get("/walk.json?points=1000").body)["image"] == "walk.png?points=1000"
