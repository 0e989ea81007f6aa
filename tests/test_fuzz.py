"""Property-based: whatever query string or path arrives, plotserve answers with a 2xx, 3xx or 4xx.

The one kind of 5xx allowed is the plot's own failure: the example plots raise ValueError on
some values (a negative seed, a noise level that overflows), and plotserve reports that as a 500
(504 for a render over the time limit) with an X-Plotserve-Error header. A 5xx without that
header is plotserve's own failure, and a finding.
"""

import collections
import string
import urllib.parse

import pytest
from conftest import EXAMPLES, running_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import plotserve

PLOT_ERRORS: collections.Counter = collections.Counter()  # what the plots raised, for the report
STATUSES: collections.Counter = collections.Counter()  # how the answers spread: the fuzzing reaches the plots
SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def server(data_dir):
    """The example plots in worker processes with a short time limit: a slow view cannot stall the run."""
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=data_dir), workers=2, timeout=10) as client:
        yield client


def check(client, path: str) -> None:
    """Ask for a path; the answer must be a 2xx-4xx, or a plot's own failure; the server stays healthy."""
    answer = client.get(path, timeout=60)
    STATUSES[answer.status] += 1
    mode = path.split("?")[0].rpartition(".")[2] if "." in path.split("?")[0] else "page"
    if answer.status >= 500:
        assert "x-plotserve-error" in answer.headers, (path, answer.status, answer.body[:500])
        assert answer.status in (500, 504), (path, answer.status)
        assert mode != "json", path  # the JSON twin never runs the plot
        PLOT_ERRORS[answer.headers["x-plotserve-error"].split(":")[0]] += 1
    else:
        assert answer.status in (200, 303, 304, 400, 403, 404), (path, answer.status)
    if answer.status == 200 and mode == "png":
        answer.image()  # a 200 image is a whole image
    assert client.health()["status"] == "ok"


PARAMS = {name: [param.name for param in plot.params] for name, plot in plotserve.discover_plots(EXAMPLES).items()}
PLOT_NAMES = sorted(PARAMS)
MODES = st.sampled_from(["", ".png", ".json"])
INTERESTING = [
    "", "0", "1", "-1", "3", "20", "nan", "NaN", "inf", "-inf", "1e308", "-1e308", "1e-308", "true", "false", "on", "maybe",
    "../x", "/etc/passwd", "~", "~root", "s3://x", "file:///etc/passwd", "C:\\x", "\\\\server\\share", "training_log.csv",
    "sine", "square", "NORMAL", "normal", "HANN", "hann", "viridis", "2024-01-01", "2024-02-30", "2024-01-01T12:00",
    "1,2,3", "1, 2.5, 4", ",,,", "1,nan", "%", "%00", "\x00", "\r\n", "<script>", "\"'><", "9" * 41, "0x10", "1_000", " 5 ",
    "٣", "1e3", "precision", "loss,recall", "Ünïcödé ✓ 画",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(INTERESTING),
    st.text(max_size=30),
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@st.composite
def structured_queries(draw) -> str:
    """A plot, a mode and a list of name=value pairs, names mostly the plot's own."""
    name = draw(st.sampled_from(sorted(PARAMS)))
    others = st.one_of(
        st.sampled_from(["_width", "_height", "_dpi", "_refresh", "_form", "token", "self", "fig", "ax", "__class__", "mode"]),
        st.text(max_size=15),
    )
    # Mostly the plot's own parameters, so that many queries are valid and reach the plot.
    names = st.integers(0, 9).flatmap(lambda roll: st.sampled_from(PARAMS[name]) if roll < 8 and PARAMS[name] else others)
    pairs = draw(st.lists(st.tuples(names, VALUES), max_size=4))
    return f"/{name}{draw(MODES)}?{urllib.parse.urlencode(pairs)}"


@settings(SETTINGS, max_examples=200)
@given(path=structured_queries())
def test_structured_queries(server, path):
    check(server, path)


RAW_QUERIES = st.one_of(
    st.text(max_size=80).map(lambda text: urllib.parse.quote(text, safe="=&%+;,/:")),  # stray % and all
    st.binary(max_size=40).map(lambda data: "".join(f"%{byte:02X}" for byte in data)),  # any bytes, UTF-8 or not
    st.binary(max_size=20).map(lambda data: "x=" + "".join(f"%{byte:02x}" for byte in data)),
    st.text(alphabet=string.ascii_letters + string.digits + "=&%._-+;", max_size=60),
)


@SETTINGS
@given(name=st.sampled_from(PLOT_NAMES), mode=MODES, query=RAW_QUERIES)
def test_raw_query_strings(server, name, mode, query):
    check(server, f"/{name}{mode}?{query}")


RAW_PATHS = st.one_of(
    st.text(max_size=40).map(lambda text: urllib.parse.quote(text, safe="/.%")),
    st.binary(max_size=30).map(lambda data: "".join(f"%{byte:02X}" for byte in data)),
    st.lists(
        st.sampled_from([*PLOT_NAMES, "..", ".", "", "%2e%2e", "%2f", "-", "static", "index.json", "do_GET", "plot_wave"]), max_size=4
    ).map("/".join),
)


@SETTINGS
@given(path=RAW_PATHS, suffix=st.sampled_from(["", ".png", ".json", ".svg", ".gif", ".png/..", "%00"]))
def test_arbitrary_paths(server, path, suffix):
    check(server, "/" + path.lstrip("/") + suffix if not path.startswith("//") else path + suffix)


def test_still_healthy_after_the_fuzzing(server):
    assert server.health()["status"] == "ok"
    assert server.get("/wave.png?cycles=4").image().size == (800, 500)
    assert server.health()["workers_alive"] == 2
    print("answers while fuzzing:", dict(STATUSES), "plot errors:", dict(PLOT_ERRORS))
    assert STATUSES[200] >= 20 and STATUSES[400] >= 20  # the fuzzing reached the plots, and the checks
