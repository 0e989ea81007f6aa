"""Exploring the picture over HTTP: the view options (_xlim, _ylim, _axes, _logx, _logy, _grid,
_theme) are checked like parameters, applied after the plot draws, cached per view, and the JSON
twin's "axes" match what matplotlib says of the same figure."""

import html
import io
import json
import urllib.parse

import matplotlib
import numpy as np
import pytest
import training
from conftest import EXAMPLES, running_server
from matplotlib.figure import Figure
from PIL import Image

import plotserve

BAD_VIEWS = [
    ("_xlim", "1", "expected LO,HI"),
    ("_xlim", "2,1", "LO must be less than HI"),
    ("_xlim", "0.5,0.5", "LO must be less than HI"),
    ("_xlim", "a,b", "expected a number or a date"),
    ("_xlim", "1,nan", "expected a number or a date"),
    ("_xlim", "-inf,1", "expected a number or a date"),
    ("_xlim", "1,2,3", "expected LO,HI"),
    ("_xlim", "1,2026-01-01", "not one of each"),
    ("_ylim", "2026-02-01,2026-01-01", "LO must be less than HI"),
    ("_ylim", "1e999,2e999", "expected a number or a date"),
    ("_axes", "-1", "between 0 and"),
    ("_axes", "first", "expected a whole number"),
    ("_logx", "maybe", "expected true or false"),
    ("_logy", "2", "expected true or false"),
    ("_grid", "<b>", "expected true or false"),
    ("_theme", "blue", "must be one of: light, dark"),
]


@pytest.mark.parametrize("name, value, message", BAD_VIEWS)
def test_a_bad_view_option_is_a_400_naming_it(examples, name, value, message):
    query = urllib.parse.urlencode({name: value, "cycles": "4"})
    page = examples.get(f"/wave?{query}")
    assert page.status == 400
    assert html.escape(f"{name}: ") in page.text and html.escape(message) in page.text
    assert 'id="plot-form"' in page.text and 'value="4"' in page.text  # the form is shown again, filled in
    assert "<b>" not in page.text
    image = examples.get(f"/wave.png?{query}")
    assert image.status == 400
    assert name in image.headers["x-plotserve-error"]
    assert image.image().size[0] > 100  # an error picture, not a broken image
    data = json.loads(examples.get(f"/wave.json?{query}").body)
    assert message in data["errors"][name]
    assert data["axes"] == []  # nothing drawn for a bad view


def test_repeated_view_option_is_a_400(examples):
    answer = examples.get("/wave.json?_xlim=0,1&_xlim=1,2")
    assert answer.status == 400
    assert json.loads(answer.body)["errors"]["_xlim"] == "given more than once"


def _axes(client, path):
    answer = client.get(path)
    assert answer.status == 200, answer.body[:300]
    return json.loads(answer.body)["axes"]


def test_zoom_is_applied_after_the_plot_draws(examples):
    (axes,) = _axes(examples, "/wave.json?_xlim=0.5,1.5&_ylim=-0.5,0.5")
    assert axes["x"] == {"scale": "linear", "limits": [0.5, 1.5]}
    assert axes["y"] == {"scale": "linear", "limits": [-0.5, 0.5]}
    (whole,) = _axes(examples, "/wave.json?_xlim=0.5,1.5")  # one axis zoomed, the other as the plot set it
    assert whole["x"]["limits"] == [0.5, 1.5] and whole["y"]["limits"] == [-1.2, 1.2]


def test_zoomed_picture_shows_the_zoomed_range(examples):
    """The sine dips below -0.5 between x = 0.58 and 0.92: zoomed to y in [-0.5, 0.5], those columns have no line."""
    plain, zoomed = (examples.get(f"/wave.png?{query}").image().convert("RGB") for query in ("", "_xlim=0.5,1.5&_ylim=-0.5,0.5"))
    (axes,) = _axes(examples, "/wave.json?_xlim=0.5,1.5&_ylim=-0.5,0.5")
    left, top, right, bottom = axes["box"]

    def line_pixels(image, x_fraction):
        column = round(left + x_fraction * (right - left))
        return sum(_is_line_blue(image.getpixel((column, row))) for row in range(round(top) + 2, round(bottom) - 2))

    assert line_pixels(zoomed, 0.25) == 0  # x = 0.75, where the sine is -1: off the zoomed picture
    assert line_pixels(zoomed, 0.5) > 0  # x = 1.0, the sine crosses 0 in the middle
    assert line_pixels(plain, 0.25) > 0  # the same column unzoomed shows the wave


def _is_line_blue(pixel) -> bool:
    red, _, blue = pixel
    return blue > 150 and red < 120 and blue - red > 60  # matplotlib's C0, #1f77b4, antialiased


def test_dates_zoom_a_date_axis(examples):
    axes = _axes(examples, "/scatter.json?_xlim=2026-03-01,2026-06-01T12:00")
    assert axes[0]["x"]["scale"] == "date"
    assert axes[0]["x"]["dates"] == ["2026-03-01T00:00:00.000+00:00", "2026-06-01T12:00:00.000+00:00"]
    days = matplotlib.dates.date2num(np.datetime64("2026-03-01"))
    assert axes[0]["x"]["limits"][0] == pytest.approx(days)
    assert axes[1]["kind"] == "colorbar"


@pytest.mark.parametrize("client", ["examples", "inprocess"])  # the refusal crosses the worker's pipe as a 400
def test_dates_on_a_number_axis_and_a_missing_axes_are_400s(request, client):
    client = request.getfixturevalue(client)
    answer = client.get("/wave.png?_xlim=2026-01-01,2026-02-01")
    assert answer.status == 400
    assert answer.headers["x-plotserve-error"] == "_xlim gives dates, but that axis of Axes 0 shows numbers"
    answer = client.get("/wave?_xlim=0,1&_axes=3")
    assert answer.status == 400
    assert "_axes=3: the figure has 1 Axes, numbered from 0" in answer.text and 'id="plot-form"' in answer.text
    assert client.get("/wave.png?_xlim=0,1").status == 200


def test_zoom_of_a_second_axes(examples):
    axes = _axes(examples, "/spectrum.json?_xlim=1,2&_ylim=-30,5&_axes=1")
    assert axes[0]["x"]["limits"] != [1.0, 2.0]
    assert axes[1]["x"]["limits"] == [1.0, 2.0] and axes[1]["y"]["limits"] == [-30.0, 5.0]


def test_log_and_grid_toggles(examples):
    axes = _axes(examples, "/scatter.json?_logy=true&_grid=1")
    assert axes[0]["y"]["scale"] == "log" and axes[0]["y"]["base"] == 10
    assert axes[0]["x"]["scale"] == "date"
    assert axes[1]["y"]["scale"] == "linear"  # the colorbar is left alone
    (wave,) = _axes(examples, "/wave.json?_logx=true")  # time starts at 0: the log axis starts above it
    assert wave["x"]["scale"] == "log" and 0 < wave["x"]["limits"][0] < wave["x"]["limits"][1] == 3
    plain, gridded = (examples.get(f"/histogram.png?{query}").image().convert("L") for query in ("", "_grid=true"))
    assert np.count_nonzero(np.asarray(plain) != np.asarray(gridded)) > 500  # grid lines were drawn


def test_view_options_are_part_of_the_canonical_url(examples):
    answer = examples.get("/wave?_form=1&cycles=4&_logy=true&_grid=&_xlim=0.50000,1.5&_theme=light")
    assert answer.status == 303
    assert answer.headers["location"] == "./wave?cycles=4&grid=false&_xlim=0.5%2C1.5&_logy=true&_theme=light"
    data = json.loads(examples.get("/wave.json?_xlim=0.5,1.5&_theme=light&_theme=").body)
    assert data["errors"] == {"_theme": "given more than once"}
    data = json.loads(examples.get("/wave.json?_xlim=0.5,1.5&_theme=light&_axes=0").body)
    assert data["image"] == "wave.png?_xlim=0.5%2C1.5"  # light is the image's default, and so is Axes 0


def test_each_view_is_cached_and_the_json_reuses_the_picture(tmp_path):
    with running_server(*EXAMPLES, workers=1) as client:
        for _ in range(2):
            assert client.get("/wave.png?_xlim=0.5,1.5").status == 200
            assert client.get("/wave.png?_xlim=0.500,1.50&_axes=0").status == 200  # the same view, spelt otherwise
            assert client.get("/wave.json?_xlim=0.5,1.5").status == 200
        assert client.health()["renders"] == 1
        assert client.get("/wave.png?_xlim=0.5,1.6").status == 200
        assert client.get("/wave.png?_xlim=0.5,1.5&_theme=dark").status == 200
        assert client.health()["renders"] == 3


def test_dark_theme_draws_a_dark_picture_with_its_own_etag(examples):
    light, dark = (examples.get(f"/wave.png?{query}") for query in ("", "_theme=dark"))
    assert light.headers["etag"] != dark.headers["etag"]
    assert np.asarray(light.image().convert("L")).mean() > 200
    assert np.asarray(dark.image().convert("L")).mean() < 50
    assert examples.get("/wave.png?_theme=light").headers["etag"] == light.headers["etag"]
    page = examples.get("/wave?_theme=dark").text
    assert 'src="wave.png?_theme=dark"' in page and 'data-theme="dark"' in page


def test_a_zoomed_page_links_back_relatively_and_its_form_keeps_the_view(examples):
    page = examples.get("/wave?cycles=4&_xlim=0.5,1.5&_axes=0&_grid=true&_theme=dark").text
    assert 'id="reset" href="wave?cycles=4&amp;_grid=true&amp;_theme=dark"' in page  # relative: works under any prefix
    assert '<input type="hidden" name="_xlim" value="0.5,1.5" form="plot-form">' in page
    assert '<input type="hidden" name="_theme" value="dark" form="plot-form">' in page
    assert '<input type="checkbox" name="_grid" value="true" form="plot-form" checked>' in page
    assert 'id="reset"' not in examples.get("/wave?cycles=4&_grid=true").text


# -- geometry against matplotlib's own ------------------------------------------------------------


def _figure_in_process(name, data_dir, dpi):
    """The example drawn here, as plotserve draws it (its defaults, 8x5 in), at ``dpi``."""
    plot = plotserve.discover_plots(EXAMPLES)[name]
    values = plotserve.parse_query(plot, [], plotserve.Limits(data_dir=data_dir)).values
    with matplotlib.rc_context({"figure.figsize": (8, 5), "figure.dpi": dpi}):
        given = Figure(figsize=(8, 5), dpi=dpi)
        result = plot.call(fig=given, **values) if plot.takes_fig else plot.call(**values)
        figure = result if isinstance(result, Figure) else given
        figure.savefig(io.BytesIO(), dpi=dpi)
    return figure


@pytest.mark.parametrize(
    "name, kinds",
    [
        ("spectrum", ["rectilinear", "rectilinear"]),  # several Axes
        ("scatter", ["rectilinear", "colorbar"]),  # a colorbar, dates
        ("heatmap", ["rectilinear", "colorbar"]),  # a colorbar, the plot's own 6x5 figure
        ("training", ["rectilinear", "rectilinear"]),  # twinx
    ],
)
@pytest.mark.parametrize("dpi", [100, 150])
def test_json_geometry_matches_get_window_extent(examples, data_dir, name, kinds, dpi):
    answer = examples.get(f"/{name}.png?_dpi={dpi}")
    width, height = answer.image().size
    axes = _axes(examples, f"/{name}.json?_dpi={dpi}")
    figure = _figure_in_process(name, data_dir, dpi)
    assert [record["kind"] for record in axes] == kinds
    assert len(axes) == len(figure.axes)
    assert figure.bbox.width == pytest.approx(width, abs=1) and figure.bbox.height == pytest.approx(height, abs=1)
    for record, ax in zip(axes, figure.axes, strict=True):
        extent = ax.get_window_extent()  # display pixels, origin bottom left
        expected = [extent.x0, height - extent.y1, extent.x1, height - extent.y0]
        assert record["box"] == pytest.approx(expected, abs=1), (record["index"], record["box"], expected)
        assert record["x"]["limits"] == pytest.approx(ax.get_xlim()) and record["y"]["limits"] == pytest.approx(ax.get_ylim())
        assert record["x"]["scale"] in (ax.get_xscale(), "date") and record["y"]["scale"] == ax.get_yscale()
    if name == "training":  # the twin shares the box and the x axis, not the y
        assert axes[0]["box"] == axes[1]["box"] and axes[0]["x"] == axes[1]["x"]
        assert axes[1]["y"]["limits"] == [0, 1] != axes[0]["y"]["limits"]
    if name == "heatmap":
        assert (width, height) == (6 * dpi, 5 * dpi)


def test_geometry_finds_the_line_in_the_picture(examples):
    """The sine's crest (x = 0.25, y = 1) sits where the geometry puts it, to a pixel or two."""
    image = examples.get("/wave.png").image().convert("RGB")
    (axes,) = _axes(examples, "/wave.json")
    left, top, right, bottom = axes["box"]
    column = round(left + (0.25 - 0) / 3 * (right - left))
    row = round(bottom - (1 - -1.2) / 2.4 * (bottom - top))
    blue_rows = [y for y in range(round(top), round(bottom)) if _is_line_blue(image.getpixel((column, y)))]
    assert blue_rows and min(abs(y - row) for y in blue_rows) <= 2


def test_json_of_a_failing_plot_says_why_and_has_no_axes(examples):
    data = json.loads(examples.get("/wave.json?noise=-1").body)
    assert data["axes"] == [] and "noise must not be negative" in data["render_error"]


def test_symlog_and_logit_scales_are_described(tmp_path):
    source = tmp_path / "scales.py"
    source.write_text(
        "def plot_scales(fig):\n"
        "    a, b = fig.subplots(1, 2)\n"
        "    a.plot([-100, 100], [0.01, 0.99]); a.set_xscale('symlog', linthresh=2, base=10, linscale=0.5); a.set_yscale('logit')\n"
        "    b.set_yscale('log', base=2); b.set_ylim(1, 64)\n"
    )
    with running_server(str(source), workers=0) as client:
        first, second = _axes(client, "/scales.json")
    assert first["x"] == {"scale": "symlog", "limits": pytest.approx(first["x"]["limits"]), "base": 10, "linthresh": 2, "linscale": 0.5}
    assert first["y"]["scale"] == "logit"
    assert second["y"] == {"scale": "log", "limits": [1, 64], "base": 2}


def test_error_image_stays_light(examples):
    bad = examples.get("/wave.png?_theme=dark&cycles=x")
    assert bad.status == 400 and np.asarray(bad.image().convert("L")).mean() > 150
    assert Image.open(io.BytesIO(bad.body)).format == "PNG"


def test_a_zoomed_view_of_a_growing_log_stays_live(tmp_path):
    log = training.write_training_log(tmp_path / training.LOG_NAME, rows=30)
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=tmp_path), workers=0) as client:
        path = "/training.png?_xlim=20,40&_ylim=0,1.5"
        first = client.get(path)
        assert client.get(path, headers={"If-None-Match": first.headers["etag"]}).status == 304
        for _ in range(5):
            training.append_epoch(log)
        second = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert second.status == 200 and second.headers["etag"] != first.headers["etag"]
        loss, _ = _axes(client, "/training.json?_xlim=20,40&_ylim=0,1.5")
        assert loss["x"]["limits"] == [20, 40] and loss["y"]["limits"] == [0, 1.5]  # still zoomed
        assert np.count_nonzero(np.asarray(first.image().convert("L")) != np.asarray(second.image().convert("L"))) > 0
        assert client.health()["renders"] == 2  # the JSON's geometry came from the cached picture
