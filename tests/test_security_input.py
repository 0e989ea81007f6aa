"""Hostile input: every bad value, name, file, size or request gets a clear 4xx and leaks nothing.

After each one the server must still be serving: every test ends by asking it for its health.
"""

import collections
import os
import pathlib
import re
import secrets
import subprocess
import sys
import urllib.parse

import pytest
from conftest import ROOT, exchange, running_server

import plotserve

SOURCES = ROOT / "tests" / "sources"
SEC_FILES = str(SOURCES / "sec_files.py")
SEC_FAULTS = str(SOURCES / "sec_faults.py")
TRAINING = str(ROOT / "plots" / "training.py")
FRAMES = str(SOURCES / "frames.py")
SECRET = "SECRET-" + secrets.token_hex(8)  # lives in a file outside the data directory
FILE_CAP = 4096  # bytes: Limits(max_file_bytes=...) for the file tests


def status_of(raw: bytes) -> int:
    assert raw.startswith(b"HTTP/1."), raw[:100]
    return int(raw.split(b" ", 2)[1])


def assert_healthy(client) -> None:
    """The server still answers, and answers correctly."""
    assert client.health()["status"] == "ok"
    answer = client.get("/index.json")
    assert answer.status == 200 and b'"plots"' in answer.body


def assert_nothing_leaked(answer) -> None:
    """No traceback, no server-side path, no secret in a refusal."""
    text = answer.body.decode("utf-8", "replace") + " ".join(answer.headers.values())
    assert "Traceback" not in text
    assert str(ROOT) not in text
    assert SECRET not in text


# -- values -------------------------------------------------------------------------------------

BAD_VALUES = [
    ("wave", "cycles=three"),
    ("wave", "cycles=3.5"),
    ("wave", "frequency=nan"),
    ("wave", "frequency=NaN"),
    ("wave", "frequency=inf"),
    ("wave", "frequency=-inf"),
    ("wave", "frequency=Infinity"),
    ("wave", "noise=1e999"),
    ("wave", "noise=-1e999"),
    ("histogram", "n=" + "9" * 5000),
    ("histogram", "n=-" + "9" * 5000),
    ("wave", "noise=0." + "1" * 5000),
    ("histogram", "n=1.5"),
    ("histogram", "n=0x10"),
    ("histogram", "n=1e3"),
    ("histogram", "n="),
    ("wave", "cycles=3&cycles=4"),
    ("wave", "grid=true&grid=false"),
    ("wave", "_dpi=100&_dpi=100"),
    ("wave", "self=1"),
    ("wave", "fig=1"),
    ("wave", "ax=1"),
    ("wave", "__class__=1"),
    ("wave", "__globals__=x"),
    ("wave", "_private=1"),
    ("wave", "kind.__class__=1"),
    ("scatter", "self=x"),
    ("training", "fig=x"),
    ("wave", "%ff%fe=1"),
    ("wave", "title=%ff%fe"),
    ("wave", "title=%c0%af"),  # an overlong encoding of /
    ("wave", "title=%ed%a0%80"),  # a lone surrogate
    ("wave", "kind=__class__"),
    ("wave", "kind=SINE"),
    ("spectrum", "window=__class__"),
    ("spectrum", "window=Window.HANN"),
    ("histogram", "distribution=__init__"),
    ("wave", "grid=maybe"),
    ("scatter", "start=2024-13-45"),
    ("scatter", "start=../../etc"),
    ("spectrum", "frequencies=nan"),
    ("spectrum", "frequencies=1,inf"),
    ("spectrum", "frequencies=1,,x"),
    ("training", "smooth=0"),
    ("training", "smooth=51"),
    ("training", "last=abc"),
    ("wave", "&".join(f"p{i}=1" for i in range(201))),  # more fields than anyone types
]


@pytest.mark.parametrize("plot, query", BAD_VALUES, ids=[f"{plot}?{query[:40]}" for plot, query in BAD_VALUES])
def test_bad_values_are_400_in_every_mode(inprocess, plot, query):
    before = inprocess.health()
    for suffix in ("", ".png", ".svg", ".json"):
        answer = inprocess.get(f"/{plot}{suffix}?{query}")
        assert answer.status == 400, (suffix, answer.text[:300] if suffix in ("", ".json") else answer.headers)
        assert_nothing_leaked(answer)
        if suffix == ".png":  # an image asked for gets an image that says what is wrong, unreadable query or not
            assert answer.headers["content-type"] == "image/png" and answer.headers["x-plotserve-error"]
            assert answer.image().size == (800, 500)
        if suffix == ".json":
            assert answer.headers["content-type"].startswith("application/json") and answer_json(answer)["errors"]
    after = inprocess.health()
    assert after["renders"] == before["renders"] and after["errors"] == before["errors"]  # nothing reached a plot
    assert_healthy(inprocess)


def test_a_bad_value_names_the_field_and_what_was_expected(inprocess):
    answer = inprocess.get("/wave.json?cycles=three&frequency=nan&self=1")
    errors = answer_json(answer)["errors"]
    assert errors["cycles"] == "expected a whole number, got 'three'"
    assert errors["frequency"] == "expected a finite number"
    assert "unknown parameter 'self'" in errors[""]


def answer_json(answer):
    import json

    return json.loads(answer.body)


# -- names that are not plots --------------------------------------------------------------------

NOT_PLOTS = [
    "/do_GET",
    "/do_HEAD",
    "/__init__",
    "/__class__",
    "/send_error",
    "/respond",
    "/plot_",
    "/plot_training",
    "/PLOT_X",
    "/Training",
    "/training.__globals__",
    "/training.__class__",
    "/training.png/../x",
    "/training.png.png",
    "/training.PNG",
    "/training.bmp",
    "//training",
    "///training.png",
    "/./training",
    "/training/",
    "/%2e%2e/",
    "/..%2f..%2fetc%2fpasswd",
    "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/training%00.png",
    "/training%00",
    "/training.json%00",
    "/training%2fx",
    "/-/static/../../plotserve.py",
    "/-/static/",
    "/-/health",
    "/plotserve.py",
    "/.git/config",
    "/index.json/..",
    "/%zz",
    "/\xff\xfe",  # raw bytes that are not UTF-8, sent as they are
    "/?mode=plot&graph=do_GET",
    "/?mode=__class__&graph=plot_training",
    "/?mode=plot&graph=plot___init__",
]
MALFORMED = ["/%ff", "/%c0%af", "/training%ff.png", "/%ed%a0%80", "/%80training"]


@pytest.mark.parametrize("path", NOT_PLOTS + MALFORMED)
def test_names_that_are_not_plots_are_404(inprocess, path):
    raw = exchange(inprocess.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode("latin-1"))
    assert status_of(raw) == (400 if path in MALFORMED else 404)
    assert b"Traceback" not in raw and str(ROOT).encode() not in raw
    assert_healthy(inprocess)


# -- file parameters --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A data directory full of traps, a secret outside it, and a server whose plots read files."""
    import training

    base = tmp_path_factory.mktemp("files")
    outside, data = base / "outside", base / "data"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text(f"epoch,loss\n1,{SECRET}\n")
    data.mkdir()
    training.write_training_log(data / training.LOG_NAME, rows=20)
    (data / "at_cap.bin").write_bytes(b"x" * FILE_CAP)
    (data / "big.bin").write_bytes(b"x" * (FILE_CAP + 1))
    (data / "sub").mkdir()
    (data / "sub" / "inner.csv").write_text("epoch,loss\n1,0.5\n")
    os.mkfifo(data / "fifo")  # open() would wait for a writer forever
    (data / "link_out").symlink_to(outside / "secret.txt")
    (data / "link_dir_out").symlink_to(outside)
    (data / "link_zero").symlink_to("/dev/zero")
    (data / "link_in").symlink_to(data / training.LOG_NAME)
    (data / "loop").symlink_to(data / "loop")
    (data / ".env").write_text(f"epoch,loss\n1,{SECRET}\n")  # hidden: never read, never listed
    (data / ".git").mkdir()
    (data / ".git" / "config").write_text(f"epoch,loss\n1,{SECRET}\n")
    (data / "link_hidden").symlink_to(data / ".env")
    os.link(outside / "secret.txt", data / "hard_out")  # a second name for a file outside
    limits = plotserve.Limits(data_dir=data, max_file_bytes=FILE_CAP)
    module = plotserve.load_source(SEC_FILES)
    with running_server(SEC_FILES, TRAINING, FRAMES, workers=0, limits=limits) as client:
        client.calls = module.CALLS
        client.reads = module.READS
        client.base = base
        yield client


def _refused_names() -> list[tuple[str, int]]:
    """(value as typed in the query, expected status): 403 reaches out, 400 names nothing usable."""
    return [
        ("..", 403),
        ("../", 403),
        ("../outside/secret.txt", 403),
        ("%2e%2e%2foutside%2fsecret.txt", 403),  # decoded once, as every query value is
        ("..%2Foutside%2Fsecret.txt", 403),
        ("sub/../../outside/secret.txt", 403),
        ("%252e%252e%252foutside%252fsecret.txt", 400),  # decoded once, it names no file
        ("/etc/passwd", 403),
        ("{base}/outside/secret.txt", 403),
        ("~", 403),
        ("~root", 403),
        ("~/secret.txt", 403),
        ("link_out", 403),
        ("link_dir_out/secret.txt", 403),
        ("link_zero", 403),
        ("http://127.0.0.1:1/x.csv", 403),
        ("https://example.com/x.csv", 403),
        ("file:///etc/passwd", 403),
        ("file:secret.txt", 403),
        ("s3://bucket/x.csv", 403),
        ("filecache::s3://bucket/x.csv", 403),
        ("simplecache::file://{base}/outside/secret.txt", 403),
        ("memory://x", 403),
        ("gs://bucket/x", 403),
        ("%5c%5cserver%5cshare%5cx.csv", 403),
        ("//server/share/x.csv", 403),
        ("C:%5cx.csv", 403),
        ("C:/x.csv", 403),
        ("c:x.csv", 403),
        ("..%5coutside%5csecret.txt", 403),
        (".env", 403),
        ("./.env", 403),
        ("sub/../.env", 403),
        (".git/config", 403),
        ("link_hidden", 403),
        ("hard_out", 403),
        ("fifo", 400),
        ("sub", 400),
        ("sub/", 400),
        (".", 400),
        ("", 400),
        ("loop", 400),
        ("big.bin", 400),
        ("training_log.csv%00", 400),
        ("training_log.csv%00.png", 400),
        ("training_log.csv/../../outside/secret.txt", 403),
        ("nothing-here.csv", 400),
        ("a" * 2000, 400),
    ]


REFUSED = _refused_names()


@pytest.mark.parametrize("value, status", REFUSED, ids=[value[:40] or "empty" for value, _ in REFUSED])
def test_file_parameters_are_refused_before_the_plot_runs(files, value, status):
    value = value.format(base=urllib.parse.quote(str(files.base)))
    calls = len(files.calls)
    for plot in ("read", "training"):
        for suffix in ("", ".png", ".json"):
            answer = files.get(f"/{plot}{suffix}?log={value}", timeout=20)  # a FIFO opened would hang here
            assert answer.status == status, (plot, suffix, answer.headers.get("x-plotserve-error"))
            assert_nothing_leaked(answer)
            if suffix == ".png":
                assert answer.image().size == (800, 500)
    assert len(files.calls) == calls  # the plot was never called: nothing opened the file
    assert_healthy(files)


def test_the_refusal_says_why(files):
    errors = {}
    for value in ("../outside/secret.txt", "big.bin", "fifo", "s3://bucket/x", "~root", ".", "sub/.."):
        errors[value] = answer_json(files.get(f"/read.json?log={value}"))["errors"]["log"]
    assert errors["../outside/secret.txt"] == "that file is outside the data directory"
    assert errors["big.bin"] == f"file is over the {FILE_CAP} byte limit"
    assert errors["fifo"] == errors["."] == errors["sub/.."] == "not a regular file"
    assert errors["s3://bucket/x"].startswith("URLs, drive and network paths are not accepted")
    assert errors["~root"].startswith("~ paths are not accepted")
    assert answer_json(files.get("/read.json?log=.env"))["errors"]["log"] == "hidden files (names starting with .) are not accepted"
    assert answer_json(files.get("/read.json?log=hard_out"))["errors"]["log"] == "files with more than one hard link are not accepted"


def test_refusals_do_not_tell_whether_a_file_exists_outside(files):
    answers = {}
    for value in ("/etc/passwd", "/etc/no-such-file-here", "../outside/secret.txt", "../outside/no-such-file", "../../../x"):
        answer = files.get(f"/read.json?log={value}")
        answers[value] = (answer.status, answer_json(answer)["errors"]["log"])
    assert set(answers.values()) == {(403, "that file is outside the data directory")}, answers


@pytest.mark.parametrize("value", ["training_log.csv", "link_in", "sub/inner.csv", "at_cap.bin", "./sub/../training_log.csv"])
def test_files_inside_the_data_directory_are_read(files, value):
    calls = len(files.calls)
    answer = files.get(f"/read.png?log={value}")
    assert answer.status == 200, answer.headers.get("x-plotserve-error")
    assert answer.image().size == (300, 200)
    assert len(files.calls) == calls + 1
    given = files.calls[-1]
    assert isinstance(given, pathlib.Path)  # a path, which names the file the server opened
    expected = (files.base / "data" / value).resolve()
    assert given.relative == pathlib.PurePosixPath(expected.relative_to(files.base / "data").as_posix())
    assert given.name == expected.name  # its own name, for titles
    assert files.reads[-1] == (expected.name, expected.read_bytes())


@pytest.mark.parametrize("swapped, plot", [("file", "read"), ("folder", "read"), ("file", "echo")])
def test_a_file_swapped_for_a_link_after_the_check_is_never_read(files, swapped, plot):
    """A writer in the data directory flips a checked name between a real file and a link to one outside.

    ``read`` takes a file parameter and records what it read; ``echo`` takes a table (a DataFrame
    parameter, parsed by plotserve) and fails with a summary of it, its first value included.
    """
    data, outside = files.base / "data", files.base / "outside"
    name = f"swap-{plot}.csv" if swapped == "file" else f"swapdir-{plot}/inner.csv"
    real = data / f"real-{swapped}-{plot}"
    (outside / "table.csv").write_text(f"secret\n{SECRET}\n")
    if swapped == "file":
        real.write_text("epoch,loss\n1,0.25\n")
    else:
        real.mkdir()
        (real / "inner.csv").write_text("epoch,loss\n1,0.25\n")
        (outside / "dir" / "inner.csv").write_text(f"epoch,loss\n1,{SECRET}\n")
    target = data / name.partition("/")[0]
    link_to = (outside / "table.csv" if plot == "echo" else outside / "secret.txt") if swapped == "file" else outside / "dir"
    # Another process flips it as fast as it can, as another user writing there could.
    flip = (
        "import os, sys, time\n"
        "real, link_to, target = sys.argv[1:]\n"
        "while True:\n"
        "    os.rename(real, target)\n"  # the real file or folder, as the server checks it
        "    time.sleep(0.001)\n"
        "    os.rename(target, real)\n"
        "    os.symlink(link_to, target)\n"  # a link to outside, as the plot would open it
        "    time.sleep(0.001)\n"
        "    os.unlink(target)\n"
    )
    flipper = subprocess.Popen([sys.executable, "-c", flip, str(real), str(link_to), str(target)])
    reads = len(files.reads)
    answers = []
    parameter = "log" if plot == "read" else "data"
    try:
        for view in range(200):  # each a distinct view: rendered, not found in the cache
            answers.append(files.get(f"/{plot}.png?{parameter}={name}&{'view' if plot == 'read' else 'tag'}={view}", timeout=20))
    finally:
        flipper.kill()
        flipper.wait(10)
        if target.is_symlink():
            target.unlink()
    statuses = collections.Counter(answer.status for answer in answers)
    print(statuses)
    assert set(statuses) <= {200, 400, 403, 500}
    leaked = [answer for answer in answers if SECRET in answer.body.decode("utf-8", "replace") + " ".join(answer.headers.values())]
    assert leaked == [], f"{len(leaked)} of {len(answers)} answers showed the file outside"
    for answer in answers:
        assert_nothing_leaked(answer)
    if plot == "read":
        read = [data for _, data in files.reads[reads:]]
        assert read, "the plot never ran: the test tried nothing"
        leaked_reads = sum(SECRET.encode() in data for data in read)
        assert leaked_reads == 0, f"{leaked_reads} of {len(read)} reads got the file outside"
    else:
        assert any('"first": "1"' in answer.headers.get("x-plotserve-error", "") for answer in answers), "the table was never read"
    assert_healthy(files)


def test_messages_name_data_files_by_their_path_in_the_data_directory(files):
    for suffix in ("", ".png", ".json"):
        answer = files.get(f"/fail{suffix}?log=sub/inner.csv")
        if suffix == ".json":
            assert answer_json(answer)["values"]["log"] == "sub/inner.csv"
            continue
        assert answer.status == 500
        assert answer.headers["x-plotserve-error"] == "ValueError: cannot parse sub/inner.csv: b'epoch'"
        text = answer.body.decode("utf-8", "replace")
        assert str(files.base) not in text and "/proc/" not in text
        if suffix == "":
            assert "cannot parse sub/inner.csv" in text


def test_the_file_picker_lists_only_regular_files_inside(files):
    page = files.get("/read")  # a symbolic link loop in the folder must not break the page
    assert page.status == 200
    options = set(re.findall(r'<option value="([^"]*)"', page.text))
    assert {"training_log.csv", "sub/inner.csv", "at_cap.bin", "link_in"} <= options
    assert not options & {"link_out", "link_zero", "link_dir_out/secret.txt", "fifo", "loop", "sub"}
    assert not options & {".env", ".git/config", "link_hidden", "hard_out"}  # refused, so not offered
    assert SECRET not in page.text


# -- image size ---------------------------------------------------------------------------------

BAD_SIZES = [
    "_width=0",
    "_width=-1",
    "_width=nan",
    "_width=inf",
    "_width=-inf",
    "_width=1e309",
    "_width=101",
    "_width=0.5",
    "_width=",
    "_width=abc",
    "_height=0",
    "_height=-5",
    "_height=NaN",
    "_height=Infinity",
    "_height=1000",
    "_dpi=0",
    "_dpi=-100",
    "_dpi=nan",
    "_dpi=inf",
    "_dpi=601",
    "_dpi=9",
    "_dpi=1e400",
    "_width=100&_height=100&_dpi=600",
    "_width=50&_height=50&_dpi=200",
    "_width=100&_height=100&_dpi=51",
]


@pytest.mark.parametrize("query", BAD_SIZES)
def test_bad_image_sizes_are_400_before_any_figure_is_made(inprocess, query):
    before = inprocess.health()
    for suffix in (".png", ".svg", ".pdf", "", ".json"):
        answer = inprocess.get(f"/wave{suffix}?{query}")
        assert answer.status == 400, suffix
        if suffix == ".png":
            assert answer.image().size == (800, 500)  # the error image is drawn at the default size
    after = inprocess.health()
    for counter in ("renders", "errors", "cache_entries", "shared_renders"):
        assert after[counter] == before[counter], counter


def test_the_largest_allowed_size_renders(inprocess):
    before = inprocess.health()["renders"]
    answer = inprocess.get("/wave.png?_width=1&_height=1&_dpi=600&cycles=7")
    assert answer.status == 200
    assert answer.image().size == (600, 600)
    assert inprocess.health()["renders"] == before + 1  # the counter the test above watches does move


def test_limits_from_the_command_line_are_the_caps():
    limits = plotserve.Limits(max_pixels=1_000_000, max_dpi=150)
    with running_server(SEC_FAULTS, workers=0, limits=limits) as client:
        assert client.get("/ok.png?_dpi=151").status == 400
        assert client.get("/ok.png?_width=20&_height=10&_dpi=100").status == 400
        assert client.get("/ok.png?_width=10&_height=10&_dpi=100").image().size == (1000, 1000)
        # A plot that makes its own figure is measured before it is drawn.
        giant = client.get("/giant.png")
        assert giant.status == 500
        assert "megapixel limit" in giant.headers["x-plotserve-error"]
        assert_healthy(client)


# -- _refresh --------------------------------------------------------------------------------------

BAD_REFRESH = [
    "5;url=http://evil",
    "5%3Burl%3Dhttp%3A%2F%2Fevil",
    "1%0d%0aX:%20y",
    "1%0aX:%20y",
    "5%20url=x",
    "5,url=http://evil",
    '5"><script>',
    "0",
    "-1",
    "86401",
    "99999999999999999999",
    "1e3",
    "1.5",
    "nan",
    "",
    "%ff",
]
META_REFRESH = re.compile(r'http-equiv="refresh" content="([^"]*)"')


@pytest.mark.parametrize("value", BAD_REFRESH)
def test_bad_refresh_is_a_400_and_never_reaches_the_meta_refresh(inprocess, value):
    raw = exchange(inprocess.port, f"GET /wave?_refresh={value} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    head, _, body = raw.partition(b"\r\n\r\n")
    assert status_of(raw) == 400
    assert b"\r\nX:" not in head
    assert META_REFRESH.findall(body.decode()) == []
    assert b"<script>" not in body and b"evil" not in body.split(b"<form")[0]
    assert_healthy(inprocess)


def test_refresh_in_the_meta_tag_is_only_digits(inprocess):
    assert META_REFRESH.findall(inprocess.get("/wave?_refresh=7").text) == ["7"]
    assert META_REFRESH.findall(inprocess.get("/wave?_refresh=%207%20").text) == ["7"]
    assert META_REFRESH.findall(inprocess.get("/wave").text) == [str(plotserve.DEFAULT_REFRESH)]


# -- the request itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes, status",
    [
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414),
        (b"GET /wave?title=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(150)) + b"\r\n", 431),
        (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\r\n\r\n", 400),  # a TLS hello
        (b"GET / HTTP/1.x\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
    ],
    ids=["request line 9 KB", "request line 70 KB", "header 70 KB", "150 headers", "TLS", "bad version", "HTTP/2", "four words"],
)
def test_oversized_and_malformed_requests(inprocess, request_bytes, status):
    raw = exchange(inprocess.port, request_bytes)
    assert status_of(raw) == status
    assert b"Traceback" not in raw and b"aaaaaaaa" not in raw  # nothing echoed
    assert_healthy(inprocess)


def test_non_latin_header_values_break_nothing(inprocess):
    raw = exchange(
        inprocess.port,
        b"GET /wave.json HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: \xe9\xff\r\nCookie: \xff=\xfe\r\n"
        b"Authorization: token \xff\r\nConnection: close\r\n\r\n",
    )
    assert status_of(raw) == 200
    # Not a host name at all: unreadable (RFC 9112 section 3.2), not merely a name this server does not answer to.
    assert status_of(exchange(inprocess.port, b"GET / HTTP/1.1\r\nHost: \xff\xfe\r\nConnection: close\r\n\r\n")) == 400
    assert_healthy(inprocess)


SECOND_REQUEST = b"GET /training.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


@pytest.mark.parametrize(
    "headers, body",
    [
        (b"Content-Length: 10\r\n", b"0123456789"),
        (b"Content-Length: %d\r\n" % len(SECOND_REQUEST), SECOND_REQUEST),
        (b"Content-Length: %d\r\nConnection: keep-alive\r\n" % len(SECOND_REQUEST), SECOND_REQUEST),
        (b"Transfer-Encoding: chunked\r\n", b"%x\r\n%s\r\n0\r\n\r\n" % (len(SECOND_REQUEST), SECOND_REQUEST)),
        (b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n" + SECOND_REQUEST),  # an empty body, then a request
        (b"Content-Length: 0\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n" + SECOND_REQUEST),
        (b"Content-Length: 0\r\n", SECOND_REQUEST),
    ],
    ids=["10 bytes", "request as body", "keep-alive", "chunked", "empty chunked", "both", "length 0"],
)
def test_a_body_on_get_is_never_read_as_the_next_request(inprocess, headers, body):
    raw = exchange(inprocess.port, b"GET /-/health.json HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n" + body)
    assert status_of(raw) == 200
    assert b'"status": "ok"' in raw  # the answer to the first request...
    assert raw.count(b"HTTP/1.1 ") == 1  # ...and nothing else: the connection was closed after it
    assert b'"name": "training"' not in raw
    assert_healthy(inprocess)


def test_a_plain_get_keeps_the_connection_for_the_next_request(inprocess):
    raw = exchange(
        inprocess.port, b"GET /-/health.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + SECOND_REQUEST[:-2] + b"Connection: close\r\n\r\n"
    )
    assert raw.count(b"HTTP/1.1 200 OK") == 2  # the test above would see two answers if a body were read as a request
    assert b'"name": "training"' in raw
