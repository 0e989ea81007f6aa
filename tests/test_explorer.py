"""The explorer end to end: discovery, pages, images, errors, over real HTTP."""

import json

import pytest
from conftest import EXAMPLES, running_server

import plotserve

EXAMPLE_PLOTS = ["heatmap", "histogram", "scatter", "spectrum", "training", "wave"]


def test_examples_are_discovered(examples):
    assert sorted(examples.server.plots) == EXAMPLE_PLOTS
    index = examples.get("/")
    assert index.status == 200
    for name in EXAMPLE_PLOTS:
        assert f'href="{name}"' in index.text


@pytest.mark.parametrize("name", EXAMPLE_PLOTS)
@pytest.mark.parametrize("client", ["examples", "inprocess"])
def test_every_example_renders_as_png(request, client, name):
    answer = request.getfixturevalue(client).get(f"/{name}.png")
    assert answer.status == 200, answer.headers.get("x-plotserve-error")
    assert answer.headers["content-type"] == "image/png"
    assert int(answer.headers["content-length"]) == len(answer.body)
    image = answer.image()
    plot = request.getfixturevalue(client).server.plots[name]
    if plot.takes_fig or plot.takes_ax:  # plotserve made the figure: the default 8x5 in at 100 dpi
        assert image.size == (800, 500)
    else:  # the plot made its own figure, in the size it chose
        assert image.size[0] >= 400 and image.size[1] >= 300
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is None or len(colours) > 20  # a drawn plot, not a blank canvas


@pytest.mark.parametrize("name", EXAMPLE_PLOTS)
def test_every_example_page_shows_its_image(examples, name):
    page = examples.get(f"/{name}")
    assert page.status == 200
    assert f'data-src="{name}.png' in page.text  # embedded, or fetched by the page once drawn
    assert page.headers["content-type"] == "text/html; charset=utf-8"


@pytest.mark.parametrize("name", EXAMPLE_PLOTS)
@pytest.mark.parametrize("fmt, magic", [("svg", b"<?xml"), ("pdf", b"%PDF-")])
def test_every_example_renders_as_svg_and_pdf(examples, name, fmt, magic):
    answer = examples.get(f"/{name}.{fmt}")
    assert answer.status == 200
    assert answer.body.startswith(magic)


@pytest.mark.parametrize("name", EXAMPLE_PLOTS)
def test_every_example_has_a_json_twin(examples, name):
    answer = examples.get(f"/{name}.json")
    assert answer.status == 200
    data = json.loads(answer.body)
    assert data["name"] == name
    assert {param["name"] for param in data["params"]} == {p.name for p in examples.server.plots[name].params}


def test_unknown_plot_is_404(examples):
    for path in ("/nope", "/nope.png", "/training.bmp", "/training/x", "/do_GET", "/plot_training"):
        assert examples.get(path).status == 404, path
    assert examples.get("/").status == 200


def test_bad_value_reshows_the_form_with_the_message(examples):
    answer = examples.get("/wave?cycles=three")
    assert answer.status == 400
    assert "expected a whole number" in answer.text
    assert 'value="three"' in answer.text


def test_image_of_bad_value_is_an_error_image(examples):
    answer = examples.get("/wave.png?cycles=three")
    assert answer.status == 400
    assert answer.image().size[0] > 100


def test_sources_with_functions_and_handler_subclass(tmp_path):
    source = tmp_path / "mine.py"
    source.write_text(
        "import plotserve\n"
        "def plot_line(ax, n: int = 3):\n    ax.plot(range(n))\n"
        "class Mine(plotserve.PlotRequestHandler):\n"
        "    def plot_bar(self, ax, n: int = 2):\n        ax.bar(range(n), range(n))\n"
    )
    with running_server(str(source), workers=0) as client:
        assert sorted(client.server.plots) == ["bar", "line"]
        assert client.get("/bar.png?n=4").image().size == (800, 500)


def test_examples_list(capsys):
    plotserve.print_plots(plotserve.discover_plots(EXAMPLES))
    out = capsys.readouterr().out
    assert "/training" in out and "smooth: int" in out
