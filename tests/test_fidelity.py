"""Fidelity: plotserve draws a plot exactly as ``savefig`` does in a fresh Python process.

The corpus (tests/corpus/) is real plotting code from matplotlib's gallery, pandas'
visualization guide, seaborn's and scikit-learn's examples. Some files are scripts with a module
header (a style sheet, ``sns.set()``, rcParams, ``mpl.rc``) and endings of every kind (saved and
closed, shown and closed, a display, a Series of Axes, an animation). Each file is rendered by
hand in a process of its own (tests/corpus/render_direct.py) and compared pixel for pixel with
``/NAME.png`` from one real server serving all the files in a shuffled order, serially and under 8
concurrent clients, in shuffled orders, with workers and in-process.
"""

import concurrent.futures
import contextlib
import inspect
import io
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, Client, running_server
from PIL import Image

import plotserve

CORPUS = ROOT / "tests" / "corpus"
SOURCES = {
    "matplotlib/matplotlib galleries/examples/": CORPUS / "gallery_matplotlib.py",
    "pandas-dev/pandas doc/source/user_guide/visualization.rst": CORPUS / "guide_pandas.py",
    "mwaskom/seaborn examples/": CORPUS / "examples_seaborn.py",
}
SCRIPTS = sorted(CORPUS.glob("script_*.py"))  # one published file each, its header at module level
GLOBAL_STATE = CORPUS / "global_state.py"


def pixels(png: bytes) -> np.ndarray:
    """A PNG decoded to an RGBA array."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


ALL_FILES = [*SOURCES.values(), *SCRIPTS]


@pytest.fixture(scope="session")
def corpus() -> dict[str, plotserve.Plot]:
    return plotserve.discover_plots([str(path) for path in ALL_FILES])


@pytest.fixture(scope="session")
def direct(tmp_path_factory) -> dict[str, np.ndarray]:
    """Every snippet drawn by hand, each file in a fresh process, at plotserve's default size and
    dpi (or the file's own size); the files the scripts save land in a folder of their own."""
    out, folder = tmp_path_factory.mktemp("direct"), tmp_path_factory.mktemp("direct_cwd")
    size = (plotserve.DEFAULT_WIDTH, plotserve.DEFAULT_HEIGHT, plotserve.DEFAULT_DPI)
    command = [sys.executable, str(CORPUS / "render_direct.py"), str(out), *map(str, size), *map(str, ALL_FILES)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200, cwd=folder)
    assert done.returncode == 0, done.stderr[-4000:]
    return {path.stem: pixels(path.read_bytes()) for path in out.glob("*.png")}


@pytest.fixture(scope="module", params=["workers", "inprocess"])
def server(request, tmp_path_factory):
    """The corpus served without a cache, so every request is a render; the files in a shuffled
    order (each mode its own), in a working directory where the scripts' saved files may land."""
    workers = 2 if request.param == "workers" else 0
    order = _shuffled(map(str, ALL_FILES), 5 if workers else 6)
    folder = tmp_path_factory.mktemp("served_cwd")
    with contextlib.chdir(folder), running_server(*order, workers=workers, cache_mb=0, timeout=120) as client:
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
        if plot.source.startswith("script_"):
            code = inspect.getsource(plot.func).splitlines()
            named = re.fullmatch(r"    # [\w-]+/[\w-]+ \S+\.(py|rst)( \(.+\))?", code[1])
            assert named, f"plot_{name} does not name its repository and path"
            continue
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


A_DARK = """\
import matplotlib.pyplot as plt
plt.style.use("dark_background")
def plot_a(ax):
    ax.plot([0, 1], [0, 1])
"""
B_PLAIN = """\
import matplotlib.pyplot as plt
def plot_b():
    plt.plot([0, 1], [1, 0])
    plt.savefig("b.png")
    plt.close()
"""
WHITE = (255, 255, 255, 255)


def _check_dark_and_plain(client) -> None:
    """/a.png is dark, /b.png white with its line (what plot_b saved, not an empty figure)."""
    dark, plain = client.get("/a.png"), client.get("/b.png")
    assert (dark.status, plain.status) == (200, 200), plain.text[:500]
    dark, plain = pixels(dark.body), pixels(plain.body)
    assert tuple(dark[5, 5]) == BLACK
    assert tuple(plain[5, 5]) == WHITE
    assert (plain == BLUE).all(axis=-1).sum() > 500  # its line, in the first default colour
    assert len(np.unique(plain.reshape(-1, 4), axis=0)) > 10  # axes, ticks, labels: not one colour


@pytest.mark.parametrize("workers", [1, 0], ids=["worker", "inprocess"])
@pytest.mark.parametrize("order", ["a_first", "b_first"])
def test_a_header_holds_for_its_own_file_only(tmp_path, monkeypatch, workers, order):
    """A style sheet in one file's header does not restyle the other file, in either order;
    the figure a plot saved and closed is its picture; its savefig wrote its file where it runs."""
    (tmp_path / "a_dark.py").write_text(A_DARK)
    (tmp_path / "b_plain.py").write_text(B_PLAIN)
    sources = [str(tmp_path / "a_dark.py"), str(tmp_path / "b_plain.py")]
    monkeypatch.chdir(tmp_path)
    with running_server(*(sources if order == "a_first" else sources[::-1]), workers=workers, cache_mb=0) as client:
        _check_dark_and_plain(client)
        _check_dark_and_plain(client)  # and again, each after the other
    assert (tmp_path / "b.png").is_file()


def test_a_header_holds_for_its_own_file_only_under_wsgi(tmp_path):
    """The same through waitress, the WSGI app in a process of its own."""
    from test_wsgi import free_port, stop, wait_until_listening

    (tmp_path / "a_dark.py").write_text(A_DARK)
    (tmp_path / "b_plain.py").write_text(B_PLAIN)
    port = free_port()
    app = 'plotserve.make_app("b_plain.py", "a_dark.py", token=None)'
    code = f"import plotserve, waitress; waitress.serve({app}, listen='127.0.0.1:{port}', threads=4)"
    environment = {k: v for k, v in os.environ.items() if k != "PLOTSERVE_TOKEN"} | {"PYTHONPATH": str(ROOT)}
    log = open(tmp_path / "waitress.log", "w+b")  # noqa: SIM115  (closed by stop())
    process = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_listening(process, port, log)
        _check_dark_and_plain(Client(None, "127.0.0.1", port))
    finally:
        stop(process, log)


@pytest.mark.parametrize("workers", [1, 0], ids=["worker", "inprocess"])
def test_an_edited_header_takes_effect_and_a_removed_one_stops(tmp_path, monkeypatch, workers):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_dark.py").write_text(A_DARK.replace("dark_background", "ggplot"))
    (tmp_path / "b_plain.py").write_text(B_PLAIN)
    with running_server(str(tmp_path / "a_dark.py"), str(tmp_path / "b_plain.py"), workers=workers, cache_mb=0, reload=True) as client:
        assert tuple(pixels(client.get("/a.png").body)[5, 5]) == WHITE  # ggplot: a white figure, grey axes
        assert tuple(pixels(client.get("/a.png").body)[250, 400])[:3] == (229, 229, 229)
        (tmp_path / "a_dark.py").write_text(A_DARK)
        assert client.server.app.reloader.reload()
        _check_dark_and_plain(client)
        (tmp_path / "a_dark.py").write_text(A_DARK.replace('plt.style.use("dark_background")\n', ""))
        assert client.server.app.reloader.reload()
        plain = pixels(client.get("/a.png").body)
        assert tuple(plain[5, 5]) == WHITE and tuple(plain[250, 400]) == WHITE


ENDINGS = """\
import matplotlib.pyplot as plt
import seaborn as sns

plt.rcParams["figure.figsize"] = (9, 4.5)
sns.set_theme(style="darkgrid")


def plot_returned_wins():
    saved = plt.figure(figsize=(3, 3))
    saved.savefig("saved.png")
    fig, ax = plt.subplots()
    ax.plot([1, 2])
    return fig


def plot_shown_then_closed():
    plt.figure(figsize=(4, 3))
    plt.plot([1, 2])
    plt.show()
    plt.close()
    plt.figure(figsize=(2, 2))  # drawn after, never shown


def plot_closed_only(ax):
    ax.plot([1, 2])
    plt.close("all")


def plot_saved_twice():
    fig = plt.figure(figsize=(5, 2))
    fig.savefig("first.png", dpi=300)
    other = plt.figure(figsize=(6, 3))
    other.add_subplot().plot([1, 2])
    other.savefig("second.png", dpi=300, facecolor="red", bbox_inches="tight", pad_inches=0.5)
    plt.close(other)
    plt.close(fig)


def plot_letter(ax):
    ax.plot([0, 1], [0.5, 0.5], "r-", lw=40)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)


def plot_number():
    return 42
"""


@pytest.mark.parametrize("workers", [1, 0], ids=["worker", "inprocess"])
def test_the_picture_is_the_figure_the_plot_left(tmp_path, monkeypatch, workers):
    """A returned figure wins over a saved one; a shown-then-closed figure is the one shown; a
    closed one is drawn; of two saved, the last, with its savefig's frame but the view's dpi; the
    header's figure size holds unless the URL gives one."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "endings.py").write_text(ENDINGS)
    with running_server(str(tmp_path / "endings.py"), workers=workers, cache_mb=0) as client:
        sizes = {}
        for name in ("returned_wins", "shown_then_closed", "closed_only", "saved_twice"):
            answer = client.get(f"/{name}.png")
            assert answer.status == 200, answer.text[:500]
            sizes[name] = answer.image().size
        assert sizes["returned_wins"] == (900, 450)  # the header's size, not 8 x 5 in
        assert sizes["shown_then_closed"] == (400, 300)
        assert sizes["closed_only"] == (900, 450)
        # 6 x 3 in at the view's 100 dpi (not 300), cropped to what is drawn, then padded by 0.5 in of red
        assert sizes["saved_twice"] != (600, 300) and 500 < sizes["saved_twice"][0] < 700
        saved = pixels(client.get("/saved_twice.png").body)
        assert tuple(saved[2, 2]) == tuple(saved[45, 45]) == (255, 0, 0, 255)
        assert client.get("/returned_wins.png?_width=4&_height=3").image().size == (400, 300)  # the URL wins
        assert client.get("/shown_then_closed.png?_width=5&_height=5").image().size == (500, 500)
        darkgrid = pixels(client.get("/returned_wins.png").body)
        assert tuple(darkgrid[225, 450])[:3] == (234, 234, 242)  # seaborn's darkgrid face, from the header
        letter = pixels(client.get("/letter.png").body)  # sns.set_theme() in the header rewrote "r"
        assert tuple(letter[225, 450])[:3] == (196, 78, 82)  # #C44E52, seaborn's "deep" red
        refused = client.get("/number")
        assert refused.status == 500 and "scikit-learn display, pandas Series of Axes, animation" in refused.text
    assert {"saved.png", "first.png", "second.png"} <= {path.name for path in tmp_path.iterdir()}


@pytest.mark.parametrize("workers", [1, 0], ids=["worker", "inprocess"])
def test_an_animation_is_served_moving_too(workers):
    """/NAME.png is its first picture (as direct rendering checks); /NAME.gif and /NAME.webp are
    every frame, linked from its page; a plot with no animation gets a 400 saying so."""
    animation, plain = CORPUS / "script_animation.py", CORPUS / "script_sklearn.py"
    with running_server(str(animation), str(plain), workers=workers, cache_mb=0) as client:
        for fmt, kind in [("gif", "GIF"), ("webp", "WEBP")]:
            answer = client.get(f"/simple_anim.{fmt}")
            assert (answer.status, answer.headers["content-type"]) == (200, f"image/{fmt}")
            moving = Image.open(io.BytesIO(answer.body))
            assert (moving.format, moving.size, moving.n_frames) == (kind, (800, 500), 50)
            first = np.asarray(moving.convert("RGB"))
            moving.seek(25)
            assert (np.asarray(moving.convert("RGB")) != first).any()  # it moves
        refused = client.get("/confusion_matrix_display.gif")
        assert refused.status == 400 and refused.headers["content-type"] == "image/png"
        assert "returned ConfusionMatrixDisplay, not an animation" in refused.headers["x-plotserve-error"]


def test_the_page_links_to_the_moving_picture_of_an_animation_only(page):
    """In Chromium: the page of an animation shows links to its GIF and WebP once its picture is
    drawn (the JSON twin says it is animated); the page of another plot does not."""
    animation, plain = CORPUS / "script_animation.py", CORPUS / "script_sklearn.py"
    with running_server(str(animation), str(plain), workers=1, cache_mb=0) as client:
        page.goto(f"{client.url}/simple_anim")
        links = page.locator("a[data-animated]")
        links.first.wait_for(state="visible", timeout=60_000)
        assert links.evaluate_all("(links) => links.map((link) => link.getAttribute('href'))") == ["simple_anim.gif", "simple_anim.webp"]
        assert page.evaluate("() => fetch('simple_anim.gif').then((r) => r.headers.get('content-type'))") == "image/gif"
        page.goto(f"{client.url}/confusion_matrix_display")
        page.wait_for_function("() => document.getElementById('plot').dataset.axes > 0", timeout=60_000)
        assert page.locator("a[data-animated]").evaluate_all("(links) => links.map((link) => link.hidden)") == [True, True]


def _deflate_header(png: bytes) -> bytes:
    """The two bytes that open the zlib stream of a PNG's first IDAT chunk (its level flags)."""
    at = png.index(b"IDAT") + 4
    return png[at : at + 2]


def test_pngs_are_deflated_quickly_and_stay_about_as_small(server, direct):
    """Every picture's PNG is deflated with zlib's run-length strategy: its stream says "fastest"
    (0x7801) where matplotlib's default says "default" (0x789c). The pixels are the same (the tests
    above); the corpus's files are at most a fifth larger than the default's in all (a tenth, when
    measured), and none is twice as large (a KDE's smooth shading: 1.7x)."""
    served_bytes = default_bytes = 0
    for name in sorted(direct):
        answer = server.get(f"/{name}.png", timeout=300)
        assert answer.status == 200, name
        assert _deflate_header(answer.body) == b"\x78\x01", name
        buffer = io.BytesIO()
        Image.open(io.BytesIO(answer.body)).save(buffer, format="png")  # as matplotlib's savefig encodes
        assert _deflate_header(buffer.getvalue()) == b"\x78\x9c"
        assert len(answer.body) <= 2 * len(buffer.getvalue()), name
        served_bytes, default_bytes = served_bytes + len(answer.body), default_bytes + len(buffer.getvalue())
    assert served_bytes <= 1.2 * default_bytes, (served_bytes, default_bytes)
