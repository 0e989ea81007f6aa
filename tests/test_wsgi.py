"""plotserve.make_app under real WSGI servers: gunicorn (two sync workers) and waitress, each a
subprocess on a free port, answering as the built-in server does.
"""

import http.client
import io
import json
import os
import re
import socket
import subprocess
import sys
import time

import pytest
from conftest import ROOT, Client, exchange, running_server
from PIL import Image

import plotserve

MOUNTED = "tests/sources/mounted.py"
WAVES = "plots/waves.py"
TOKEN = "wsgi-test-token"
START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_listening(process: subprocess.Popen, port: int, log) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/-/health.json")
            if connection.getresponse().status in (200, 403):
                return
        except OSError:
            pass
        finally:
            connection.close()
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            pytest.fail(f"{process.args[:4]} did not start: {log.read().decode(errors='replace')[-3000:]}")
        time.sleep(0.1)


def start(kind: str, data_dir, workers: int = 2, env: dict | None = None, timeout: int = 60):
    """gunicorn or waitress serving make_app(MOUNTED, WAVES) from the checkout on a free port: (process, port, log)."""
    port = free_port()
    app = f'make_app("{MOUNTED}", "{WAVES}", data_dir="{data_dir}")'
    if kind == "gunicorn":
        args = ["-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", str(timeout)]
        args += ["--no-control-socket", f"plotserve:{app}"]
    else:
        args = ["-c", f"import plotserve, waitress; waitress.serve(plotserve.{app}, listen='127.0.0.1:{port}', threads=4)"]
    environment = {k: v for k, v in os.environ.items() if k != "PLOTSERVE_TOKEN"}
    environment.update(PYTHONPATH=str(ROOT), **(env or {}))
    logfile = open(os.path.join(data_dir, f"{kind}-{port}.log"), "w+b")  # noqa: SIM115  (closed in stop())
    process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=environment, stdout=logfile, stderr=subprocess.STDOUT)
    try:
        wait_until_listening(process, port, logfile)
    except BaseException:
        stop(process, logfile)
        raise
    return process, port, logfile


def stop(process: subprocess.Popen, logfile) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    logfile.close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wsgi-data")
    (folder / "level.txt").write_text("4")
    return folder


@pytest.fixture(scope="module")
def gunicorn(data_dir):
    process, port, logfile = start("gunicorn", data_dir)
    yield Client(None, "127.0.0.1", port)
    stop(process, logfile)


@pytest.fixture(scope="module")
def waitress(data_dir):
    process, port, logfile = start("waitress", data_dir)
    yield Client(None, "127.0.0.1", port)
    stop(process, logfile)


@pytest.fixture(scope="module")
def builtin(data_dir):
    with running_server(str(ROOT / MOUNTED), str(ROOT / WAVES), limits=plotserve.Limits(data_dir=data_dir), workers=0) as client:
        yield client


@pytest.fixture(params=["gunicorn", "waitress"])
def wsgi(request):
    return request.getfixturevalue(request.param)


def decode_png(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG"
    image.load()
    return image


# -- pages, images, errors, hostile names ----------------------------------------------------------


def test_pages_and_images(wsgi):
    index = wsgi.get("/")
    assert index.status == 200 and index.headers["content-type"] == plotserve.HTML
    assert 'href="bars"' in index.text and 'src="bars.png?' in index.text
    listing = json.loads(wsgi.get("/index.json").body)
    assert [plot["name"] for plot in listing["plots"]] == ["bars", "broken", "level", "quits", "slow", "spectrum", "wave"]
    page = wsgi.get("/bars?n=5")
    assert page.status == 200 and 'id="plot"' in page.text
    image = wsgi.get("/bars.png?n=5&_width=4&_height=3&_dpi=50")
    assert image.status == 200 and image.headers["content-type"] == "image/png"
    picture = decode_png(image.body).convert("RGB")
    assert picture.size == (200, 150)
    assert sum(1 for r, g, b in picture.get_flattened_data() if b > 150 and r < 100 and g < 100) > 1000  # blue bars drawn
    level = decode_png(wsgi.get("/level.png").body).convert("RGB")
    assert sum(1 for r, g, b in level.get_flattened_data() if r > 200 and g < 60 and b < 60) > 10_000  # the data file's red bar
    assert wsgi.get("/wave.svg?cycles=2").body.startswith(b"<?xml")
    assert wsgi.get("/wave.pdf?cycles=2").body.startswith(b"%PDF")
    head = wsgi.get("/bars.png?n=5", method="HEAD")
    assert head.status == 200 and head.body == b"" and int(head.headers["content-length"]) > 1000


def test_a_failing_plot_is_a_500_with_its_error_image(wsgi):
    image = wsgi.get("/broken.png")
    assert image.status == 500
    assert "this plot is broken on purpose" in image.headers["x-plotserve-error"]
    assert decode_png(image.body).size == (800, 500)
    page = wsgi.get("/broken")
    assert page.status == 500 and "this plot is broken on purpose" in page.text and "Traceback" in page.text
    assert wsgi.get("/bars.png").status == 200  # the failure cost only its own request


def test_a_bad_value_re_shows_the_form(wsgi):
    page = wsgi.get("/bars?n=99")
    assert page.status == 400
    assert 'class="field invalid"' in page.text and 'value="99"' in page.text
    image = wsgi.get("/bars.png?n=99")
    assert image.status == 400 and "n:" in image.headers["x-plotserve-error"]
    decode_png(image.body)


@pytest.mark.parametrize(
    "path",
    ["/nope", "/nope.png", "/bars.bmp", "/../etc/passwd", "/%2e%2e/etc/passwd", "/bars%2F..%2Fbars", "/a%2Fb.png", "//bars", "/-/nothing"],
)
def test_hostile_names_are_404(wsgi, path):
    answer = wsgi.get(path)
    assert answer.status == 404, (path, answer.status)
    assert "There is no such plot here" in answer.text


def test_a_foreign_host_is_refused(wsgi):
    answer = wsgi.get("/bars.png", {"Host": "evil.example"})
    assert answer.status == 403 and b"host name" in answer.body
    assert wsgi.get("/bars.png", {"Host": "localhost:8000"}).status == 200


# -- revalidation across workers ---------------------------------------------------------------


def test_any_gunicorn_worker_answers_a_revalidation_with_304(gunicorn):
    """Renders happen in whichever worker takes the connection; the ETag is the content's, so each
    worker knows it. Revalidate on fresh connections until both workers have answered 304s."""
    first = gunicorn.get("/bars.png?n=6")
    assert first.status == 200
    etag = first.headers["etag"]
    pids: dict[int, int] = {}
    for _ in range(400):
        answer = gunicorn.get("/bars.png?n=6", {"If-None-Match": etag})
        assert answer.status == 304 and answer.body == b"" and answer.headers["etag"] == etag
        health = gunicorn.health()
        pids[health["pid"]] = health["not_modified"]
        if len(pids) == 2 and all(pids.values()):
            break
    assert len(pids) == 2, pids
    assert all(count > 0 for count in pids.values()), pids  # each worker counted 304s of its own


def test_waitress_answers_a_revalidation_with_304(waitress, builtin):
    etag = waitress.get("/bars.png?n=6").headers["etag"]
    assert etag == builtin.get("/bars.png?n=6").headers["etag"]  # the same content gives the same ETag anywhere
    answer = waitress.get("/bars.png?n=6", {"If-None-Match": etag})
    assert answer.status == 304 and answer.body == b""
    assert builtin.get("/bars.png?n=6", {"If-None-Match": etag}).status == 304


# -- the token and the time-out --------------------------------------------------------------------


@pytest.fixture(scope="module")
def gunicorn_with_token(data_dir):
    process, port, logfile = start("gunicorn", data_dir, workers=1, env={"PLOTSERVE_TOKEN": TOKEN}, timeout=3)
    yield Client(None, "127.0.0.1", port)
    stop(process, logfile)


def test_plotserve_token_is_enforced(gunicorn_with_token):
    client = gunicorn_with_token
    refused = client.get("/bars.png")
    assert refused.status == 403 and TOKEN.encode() not in refused.body
    assert client.get("/bars.png?token=wrong").status == 403
    assert client.get("/bars.png", {"Authorization": f"token {TOKEN}"}).status == 200
    redirect = client.get(f"/bars?n=2&token={TOKEN}")
    assert redirect.status == 303 and redirect.headers["location"] == "./bars?n=2"
    cookie = redirect.headers["set-cookie"].partition(";")[0]
    assert client.get("/bars?n=2", {"Cookie": cookie}).status == 200
    # The token is no Host check: with it, a proxy's host name is answered.
    assert client.get("/bars.png", {"Authorization": f"token {TOKEN}", "Host": "plots.example.org"}).status == 200


def test_gunicorn_timeout_is_the_render_limit(gunicorn_with_token):
    """Under WSGI the render runs in gunicorn's worker: its --timeout (3 s here) ends a stuck one,
    the answer says so (504, its error picture), and gunicorn puts a fresh worker in its place."""
    client = gunicorn_with_token
    auth = {"Authorization": f"token {TOKEN}"}
    before = json.loads(client.get("/-/health.json", auth).body)["pid"]
    answer = client.get("/slow.png?seconds=60", auth, timeout=60)
    assert answer.status == 504
    assert answer.headers["x-plotserve-error"] == "plot_slow was stopped by the server: its time limit (gunicorn's --timeout) or a shutdown"
    assert decode_png(answer.body).size == (800, 500)
    after = json.loads(client.get("/-/health.json", auth).body)["pid"]
    assert after != before  # gunicorn replaced the worker
    assert client.get("/bars.png", auth).status == 200


def test_sys_exit_in_a_plot_is_still_its_own_failure(builtin):
    """Only an exit from a signal handler is the server's time limit; a plot's own sys.exit() is a 500."""
    answer = builtin.get("/quits.png")
    assert answer.status == 500
    assert answer.headers["x-plotserve-error"] == "SystemExit: plot_quits gave up"


# -- the same answers as the built-in server -------------------------------------------------------

SAME = [
    "/",
    "/index.html",
    "/index.json",
    "/-/static/plotserve.css",
    "/-/static/plotserve.js",
    "/bars",
    "/bars?n=4",
    "/bars.json?n=4",
    "/bars.png?n=4",
    "/bars.svg?n=4",
    "/bars.pdf?n=4",
    "/bars?n=99",
    "/bars.png?n=99",
    "/bars.json?n=x",
    "/bars?_form=1&n=5",
    "/bars.png?_width=abc",
    "/bars?n=%ff",
    "/?mode=plot&graph=plot_bars&n=2",
    "/?mode=plotpage&graph=plot_nope",
    "/level",
    "/level.json",
    "/broken",
    "/broken.png",
    "/broken.json",
    "/quits.png",
    "/nope",
    "/nope/deeper/still",
    "//bars",
    "/%ff",
    "/bars%2F..%2Fbars",
    "/-/static/../../etc/passwd",
    "/index.json?token=x",
]
COMPARED_HEADERS = ("content-type", "location", "x-plotserve-error", "etag", "content-disposition", "cache-control", "allow")
# When and how fast each server drew its picture: the status line and the data the page script reads;
# and how long ago its data file last changed, which the two answers tell a moment apart (JSON twin).
RENDER_TIME = re.compile(
    rb'updated \d\d:\d\d:\d\d \xc2\xb7 rendered in \d+ ms|data-rendered-at="\d+" data-render-ms="\d+"|"no_change_seconds": [0-9.]+'
)


def comparable(answer) -> tuple:
    body = RENDER_TIME.sub(b"rendered", answer.body)
    return answer.status, {name: answer.headers.get(name) for name in COMPARED_HEADERS}, body


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", SAME)
def test_wsgi_answers_as_the_builtin_server(builtin, wsgi, path, method):
    expected = builtin.get(path, method=method)
    given = wsgi.get(path, method=method)
    assert comparable(given) == comparable(expected)
    if method == "HEAD":
        assert given.body == b""


def test_wsgi_refuses_other_methods_as_the_builtin_server(builtin, wsgi):
    expected = builtin.get("/bars", method="POST")
    given = wsgi.get("/bars", method="POST")
    assert comparable(given) == comparable(expected)
    assert given.status == 405


def test_two_host_headers_are_refused(builtin, wsgi):
    """RFC 9112 section 3.2: a request with two Host headers is answered 400 by every transport."""
    raw = b"GET /bars.png HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    for client in (builtin, wsgi):
        answer = exchange(client.port, raw)
        assert answer.split(b" ", 2)[1] == b"400", answer[:300]
