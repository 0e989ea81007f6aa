"""Fidelity: plotserve draws a plot exactly as ``savefig`` does in a fresh Python process.

The corpus (tests/corpus/) is real plotting code from matplotlib's gallery, pandas'
visualization guide and seaborn's examples. Each snippet is rendered by hand in a process of its
own (tests/corpus/render_direct.py) and compared pixel for pixel with ``/NAME.png`` from a real
server, serially and under 8 concurrent clients, in shuffled orders, with workers and in-process.
"""

import concurrent.futures
import inspect
import io
import random
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, running_server
from PIL import Image

import plotserve

CORPUS = ROOT / "tests" / "corpus"
SOURCES = {
    "matplotlib/matplotlib galleries/examples/": CORPUS / "gallery_matplotlib.py",
    "pandas-dev/pandas doc/source/user_guide/visualization.rst": CORPUS / "guide_pandas.py",
    "mwaskom/seaborn examples/": CORPUS / "examples_seaborn.py",
}
GLOBAL_STATE = CORPUS / "global_state.py"


def pixels(png: bytes) -> np.ndarray:
    """A PNG decoded to an RGBA array."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


@pytest.fixture(scope="session")
def corpus() -> dict[str, plotserve.Plot]:
    return plotserve.discover_plots([str(path) for path in SOURCES.values()])


@pytest.fixture(scope="session")
def direct(tmp_path_factory) -> dict[str, np.ndarray]:
    """Every snippet drawn by hand, each in a fresh process, at plotserve's default size and dpi."""
    out = tmp_path_factory.mktemp("direct")
    size = (plotserve.DEFAULT_WIDTH, plotserve.DEFAULT_HEIGHT, plotserve.DEFAULT_DPI)
    command = [sys.executable, str(CORPUS / "render_direct.py"), str(out), *map(str, size), *map(str, SOURCES.values())]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-4000:]
    return {path.stem: pixels(path.read_bytes()) for path in out.glob("*.png")}


@pytest.fixture(scope="module", params=["workers", "inprocess"])
def server(request):
    """The corpus served without a cache, so every request is a render."""
    workers = 2 if request.param == "workers" else 0
    with running_server(*map(str, SOURCES.values()), workers=workers, cache_mb=0, timeout=120) as client:
        yield client


def _differences(client, direct: dict[str, np.ndarray], name: str) -> str | None:
    """None if /NAME.png is pixel-identical to the direct render, else what differs."""
    answer = client.get(f"/{name}.png", timeout=300)
    if answer.status != 200:
        return f"{name}: status {answer.status}"
    served, wanted = pixels(answer.body), direct[name]
    if served.shape != wanted.shape:
        return f"{name}: {served.shape[1]}x{served.shape[0]} px, by hand {wanted.shape[1]}x{wanted.shape[0]}"
    differing = int((served != wanted).any(axis=-1).sum())
    return f"{name}: {differing} pixels differ" if differing else None


def _shuffled(names, seed: int) -> list[str]:
    order = sorted(names)
    random.Random(seed).shuffle(order)  # noqa: S311 (a repeatable order)
    return order


def test_corpus_is_real_code_from_the_three_sources(corpus, direct):
    """At least 40 snippets; each names its source; every one drew by hand."""
    by_source = {source: [] for source in SOURCES}
    for name, plot in corpus.items():
        source = next(source for source, path in SOURCES.items() if plot.source == path.name)
        assert source in inspect.getsource(plot.func), f"plot_{name} does not name its source"
        by_source[source].append(name)
    assert len(corpus) >= 40
    assert all(len(names) >= 15 for names in by_source.values()), {source: len(names) for source, names in by_source.items()}
    assert sorted(direct) == sorted(corpus)


def test_serial_renders_are_identical_to_savefig(server, direct):
    """One request after another, in a shuffled order (one per mode): every picture as drawn by hand."""
    seed = 1 if server.server.renderer.alive() else 2
    failures = [failure for name in _shuffled(direct, seed) if (failure := _differences(server, direct, name))]
    assert not failures, failures


def test_concurrent_renders_are_identical_to_savefig(server, direct):
    """8 clients at once, in another shuffled order (one per mode): every picture as drawn by hand."""
    seed = 3 if server.server.renderer.alive() else 4
    with concurrent.futures.ThreadPoolExecutor(8) as clients:
        results = clients.map(lambda name: _differences(server, direct, name), _shuffled(direct, seed))
        failures = [failure for failure in results if failure]
    assert not failures, failures


RED, BLUE, BLACK = (255, 0, 0, 255), (31, 119, 180, 255), (0, 0, 0, 255)  # "r", the first default colour, "k"
STATE_CHANGERS = ["seaborn_theme", "style_sheet", "prop_cycle", "colour_letter", "units_converter", "colormap", "pandas_option"]


def _check_red_and_black(png: bytes) -> None:
    image = pixels(png)
    # The lines are at 0.75, 0.5 and 0.25 of the axes, which span 0.1 to 0.9 of the 500 px height.
    assert tuple(image[150, 400]) == RED
    assert tuple(image[250, 400]) == BLUE
    assert tuple(image[350, 400]) == BLACK
    assert tuple(image[5, 5]) == (255, 255, 255, 255)  # the figure's own white
    assert (image == RED).all(axis=-1).sum() > 15_000  # a 20 pt line, 640 px long, pure red


@pytest.mark.parametrize("workers", [1, 0], ids=["worker", "inprocess"])
def test_global_state_does_not_leak_between_renders(workers):
    """A plot that changes global state, then one drawing "r-" and color="k": the second is pure
    red and black, and the same pixels as before, in whichever order; so are dates and a pandas time series."""
    with running_server(str(GLOBAL_STATE), workers=workers, cache_mb=0) as client:
        first = {name: client.get(f"/{name}.png") for name in ("red_and_black", "pandas_dates", "dates")}
        assert [answer.status for answer in first.values()] == [200, 200, 200]
        _check_red_and_black(first["red_and_black"].body)
        for changer in STATE_CHANGERS + STATE_CHANGERS[::-1]:
            assert client.get(f"/{changer}.png").status == 200, changer
            for name, before in first.items():
                after = client.get(f"/{name}.png")
                assert after.status == 200
                if name == "red_and_black":
                    _check_red_and_black(after.body)
                assert pixels(after.body).tolist() == pixels(before.body).tolist(), f"{name} after {changer}"


def test_what_holds_no_figure_is_refused(tmp_path):
    """A result that holds no figure still gets the clear error."""
    source = tmp_path / "odd.py"
    source.write_text("def plot_number():\n    return 42\n\ndef plot_words():\n    return ['a', 'b']\n")
    with running_server(str(source), workers=0) as client:
        for name, kind in [("number", "int"), ("words", "list")]:
            answer = client.get(f"/{name}")
            assert answer.status == 500
            assert f"plot_{name} returned {kind}: return a Figure" in answer.text


@pytest.mark.parametrize("workers", [1, 0], ids=["worker", "inprocess"])
def test_colormaps_a_lazy_import_registers_stay(tmp_path, workers):
    """A module imported inside a plot registers its colormaps once per process (as seaborn does):
    they stay after the render, while one the plot registers itself goes (test above)."""
    (tmp_path / f"fidelity_lazy_maps_{workers}.py").write_text(
        "import matplotlib as mpl\nfrom matplotlib.colors import ListedColormap\n\n"
        f"fidelity_lazy_map_{workers} = ListedColormap(['r', 'b'], name='fidelity_lazy_map_{workers}')\n"
        f"mpl.colormaps.register(fidelity_lazy_map_{workers})\n"
    )
    source = tmp_path / "lazy.py"
    source.write_text(
        "def plot_lazy():\n"
        f"    import fidelity_lazy_maps_{workers}  # noqa: F401\n"
        "    import matplotlib.pyplot as plt\n\n"
        f"    return plt.imshow([[0, 1]], cmap='fidelity_lazy_map_{workers}')\n"
    )
    with running_server(str(source), workers=workers, cache_mb=0) as client:
        first, second = client.get("/lazy.png"), client.get("/lazy.png")
        assert (first.status, second.status) == (200, 200), second.body[:300]
        assert pixels(first.body).tolist() == pixels(second.body).tolist()
