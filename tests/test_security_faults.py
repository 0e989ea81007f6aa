"""Faults and load: slow clients, too many renders, clients that hang up, plots that misbehave,
and stopping the server while it works. Each must cost one request at most, never the server.
"""

import collections
import contextlib
import errno
import http.client
import json
import re
import select
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

import psutil
import pytest
from conftest import ROOT, exchange, running_server

import plotserve

SEC_FAULTS = str(ROOT / "tests" / "sources" / "sec_faults.py")


@pytest.fixture(scope="module")
def pool():
    """The misbehaving plots in two worker processes, with a 3 s time limit per render."""
    with running_server(SEC_FAULTS, workers=2, timeout=3) as client:
        wait_for_workers(client, 2)
        yield client


def wait_for_workers(client, count: int, seconds: float = 60) -> None:
    """Wait until ``count`` worker processes are alive (replacements start in the background)."""
    deadline = time.monotonic() + seconds
    while client.health()["workers_alive"] != count:
        assert time.monotonic() < deadline, client.health()
        time.sleep(0.05)


def unique() -> int:
    """A number that makes a view distinct, so that it is rendered rather than found in the cache."""
    return time.monotonic_ns()


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# -- slow and idle clients ------------------------------------------------------------------------


def test_half_open_connections_do_not_stop_a_normal_client(pool):
    held = []
    try:
        for index in range(50):
            sock = socket.create_connection(("127.0.0.1", pool.port), timeout=10)
            # Half a request line, or a request line and half the headers, then nothing.
            sock.sendall(b"GET /ok.png?n=1 HT" if index % 2 else b"GET /ok.png?n=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Sl")
            held.append(sock)
        started = time.monotonic()
        answer = pool.get(f"/ok.png?view={unique()}", timeout=10)  # a render, not a cache hit
        elapsed = time.monotonic() - started
        assert answer.status == 200
        assert answer.image().size == (800, 500)
        assert elapsed < 2.0, f"a normal client waited {elapsed:.2f} s behind 50 half-open connections"
    finally:
        for sock in held:
            sock.close()
    assert pool.health()["status"] == "ok"


class OneSecondHandler(plotserve.PlotRequestHandler):
    """The handler with a 1 s time-out, so that the test of it is short."""

    timeout = 1


@pytest.fixture(scope="module")
def short_timeout():
    with running_server(SEC_FAULTS, workers=0, handler_class=OneSecondHandler) as client:
        yield client


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /ok.json HT", b"GET /ok.json HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"GET /ok.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
    ids=["nothing", "half a request line", "half the headers", "an idle keep-alive"],
)
def test_idle_connections_are_closed_by_the_server(short_timeout, sent):
    with socket.create_connection(("127.0.0.1", short_timeout.port), timeout=15) as sock:
        sock.sendall(sent)
        # The server's 1 s time-out closes the socket: EOF comes long before the client's 15 s would.
        received = read_until_closed(sock)
    if sent.endswith(b"\r\n\r\n"):
        assert received.startswith(b"HTTP/1.1 200 OK") and received.count(b"HTTP/1.1 ") == 1
    else:
        assert received == b""  # no answer to half a request: just the close
    assert short_timeout.get("/ok.json").status == 200


SLOWHTTPTEST = {"slow headers": ["-H"], "slow read": ["-X", "-k", "3"]}


@pytest.mark.parametrize("mode", SLOWHTTPTEST)
def test_a_normal_client_is_answered_during_a_slowhttptest_attack(mode):
    if not shutil.which("slowhttptest"):
        pytest.fail("slowhttptest is not installed: apt-get install slowhttptest")
    with running_server(SEC_FAULTS, workers=0) as client:
        # 500 connections at 100 a second, each sending a header line (or reading 5 bytes) every 10 s.
        command = ["slowhttptest", *SLOWHTTPTEST[mode], "-c", "500", "-r", "100", "-i", "10", "-x", "24", "-p", "3", "-t", "GET"]
        command += ["-u", f"http://127.0.0.1:{client.port}/", "-l", "15"]
        tool = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        answers = []
        try:
            time.sleep(4)  # the attack has opened 400 connections: more than the 256 slots
            for _ in range(30):
                started = time.monotonic()
                try:
                    status = client.get("/ok.json", timeout=10).status
                except OSError as error:
                    status = type(error).__name__
                answers.append((status, time.monotonic() - started))
                time.sleep(0.2)
        finally:
            tool.terminate()
            tool.wait(30)
        latencies = [seconds for _, seconds in answers]
        print(f"{mode}: normal client median {statistics.median(latencies) * 1000:.1f} ms, worst {max(latencies) * 1000:.1f} ms")
        assert [status for status, _ in answers] == [200] * len(answers)
        assert client.health()["status"] == "ok"


# -- bounded concurrency --------------------------------------------------------------------------


def _fire_at_once(client, paths: list[str]) -> list:
    """Send every path at the same moment, each on its own connection; the answers in order."""
    barrier = threading.Barrier(len(paths))
    answers: list = [None] * len(paths)

    def ask(index: int) -> None:
        barrier.wait(10)
        try:
            answers[index] = client.get(paths[index], timeout=60)
        except OSError as error:
            answers[index] = error

    threads = [threading.Thread(target=ask, args=(index,), daemon=True) for index in range(len(paths))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    return answers


@pytest.mark.parametrize("suffix", [".png", ""])
def test_renders_beyond_the_queue_limit_get_503_with_retry_after(suffix):
    with running_server(SEC_FAULTS, workers=2, max_pending=2, timeout=20) as client:
        wait_for_workers(client, 2)
        base = unique()
        answers = _fire_at_once(client, [f"/slow{suffix}?seconds=1.5&n={base + index}" for index in range(10)])
        statuses = [getattr(answer, "status", answer) for answer in answers]
        assert set(statuses) <= {200, 503}, statuses
        assert statuses.count(503) >= 1 and statuses.count(200) >= 2, statuses
        for answer in answers:
            if answer.status == 503:
                assert re.fullmatch(r"\d+", answer.headers["retry-after"])
                assert "renders are waiting" in answer.headers["x-plotserve-error"]
            elif suffix == ".png":
                assert answer.image().size == (800, 500)
        # The queue drains: once the slow renders are done (a page's goes on after it answered), the server takes work again.
        deadline = time.monotonic() + 60
        while client.health()["renders_under_way"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get(f"/ok.png?view={unique()}").status == 200


# -- clients that hang up -------------------------------------------------------------------------


def _server_sockets_to(port: int, client_port: int) -> list:
    """The server's end of a connection from client_port (the server runs in this process)."""
    return [c for c in psutil.Process().net_connections("tcp") if c.laddr.port == port and c.raddr and c.raddr.port == client_port]


def _hang_up(port: int, request: bytes, read: int, reset: bool) -> int:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    client_port = sock.getsockname()[1]
    sock.sendall(request)
    received = 0
    while received < read:
        received += len(sock.recv(read - received))
    if reset:  # close with RST at once, as a crashed client would
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    return client_port


@pytest.mark.parametrize(
    "path, read, reset",
    [
        ("/big.svg?points={n}", 200, False),
        ("/big.svg?points={n}", 200, True),
        ("/big.pdf?points={n}", 200, True),
        ("/big.svg?points={n}", 0, False),  # hang up right after asking
        ("/slow.png?seconds=0.5&n={n}", 0, True),
        ("/slow?seconds=0.5&n={n}", 0, False),
    ],
)
def test_a_client_that_hangs_up_mid_response_does_no_harm(capfd, path, read, reset):
    with running_server(SEC_FAULTS, workers=2, quiet=False) as client:
        wait_for_workers(client, 2)
        request = f"GET {path.format(n=40_000 + unique() % 1000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        client_port = _hang_up(client.port, request, read, reset)
        # Wait until the server has finished with that connection: its socket is gone.
        deadline = time.monotonic() + 30
        while _server_sockets_to(client.port, client_port):
            assert time.monotonic() < deadline, "the server kept the connection of a client that hung up"
            time.sleep(0.05)
        answer = client.get("/big.svg?points=1000")
        assert answer.status == 200 and answer.body.rstrip().endswith(b"</svg>")
        assert client.health()["workers_alive"] == 2
        err = capfd.readouterr().err
    assert "GET /big.svg?points=1000" in err  # the log was captured
    assert "Traceback" not in err, err
    assert "Exception occurred" not in err, err


# -- plots that misbehave -------------------------------------------------------------------------

FAULTS = [
    ("raise", 500, "ValueError: bad"),
    ("hang", 504, "took longer than the 3 s limit"),
    ("recurse", 500, "recursed too deeply"),
    ("exit", 500, "died (exit code 7)"),
    ("sysexit", 500, "SystemExit: 3"),
]


@pytest.mark.parametrize("plot, status, message", FAULTS, ids=[fault[0] for fault in FAULTS])
def test_a_plot_that_fails_costs_only_its_own_request(pool, plot, status, message):
    for suffix in (".png", ""):
        answer = pool.get(f"/{plot}{suffix}", timeout=30)
        assert answer.status == status, answer.headers.get("x-plotserve-error")
        assert message in answer.headers["x-plotserve-error"]
        if suffix == ".png":
            assert answer.image().size == (800, 500)  # an image that says what went wrong
        else:
            assert message in answer.text
        following = pool.get(f"/ok.png?view={unique()}", timeout=30)
        assert following.status == 200
        assert following.image().size == (800, 500)
    wait_for_workers(pool, 2)  # a killed or crashed worker has been replaced


@pytest.mark.parametrize("plot, message", [("raise", "ValueError: bad"), ("recurse", "recursed too deeply"), ("sysexit", "SystemExit: 3")])
def test_a_plot_that_fails_in_process_costs_only_its_own_request(plot, message):
    with running_server(SEC_FAULTS, workers=0) as client:
        for suffix in (".png", ""):
            answer = client.get(f"/{plot}{suffix}")
            assert answer.status == 500
            assert message in answer.headers["x-plotserve-error"]
            assert client.get(f"/ok.png?view={unique()}").status == 200


# -- stopping -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_server_stops_promptly_and_leaves_no_workers(stop):
    # As from a terminal: Ctrl-C's SIGINT is not ignored, even where this test runs as a background job
    # of a non-interactive shell (which starts it ignored, and Python then keeps it so).
    as_in_a_terminal = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
    )
    command = [
        sys.executable,
        "-c",
        as_in_a_terminal,
        str(ROOT / "plotserve.py"),
        SEC_FAULTS,
        "--port",
        "0",
        "--no-browser",
        "--workers",
        "2",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "plotserve printed nothing"
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", process.stdout.readline()).group(1))
        deadline = time.monotonic() + 60
        while True:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/-/health.json")
            health = json.loads(connection.getresponse().read())
            connection.close()
            if health["workers_alive"] == 2:
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        outcomes: list = []

        def slow(n: int) -> None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                connection.request("GET", f"/slow.png?seconds=30&n={n}")
                outcomes.append(connection.getresponse().status)
            except OSError as error:  # the server went away: that is an answer too
                outcomes.append(type(error).__name__)

        clients = [threading.Thread(target=slow, args=(n,), daemon=True) for n in range(3)]
        for thread in clients:
            thread.start()
        time.sleep(1.0)  # let the renders reach the workers
        children = psutil.Process(process.pid).children(recursive=True)
        # The workers, and a guard beside each that ends its process group (tests/test_misbehaving.py).
        assert set(health["worker_pids"]) <= {child.pid for child in children}
        assert len(children) == 2 * len(health["worker_pids"])
        process.send_signal(stop)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"plotserve was still running 10 s after {stop.name}")
        _, alive = psutil.wait_procs(children, timeout=5)
        assert alive == [], f"worker processes left behind: {alive}"
        for thread in clients:
            thread.join(15)
        assert len(outcomes) == 3  # every client in flight got an answer or a closed connection
        _, err = process.communicate(timeout=10)
        assert "Traceback" not in err, err
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_a_plot_hung_in_an_answer_thread_does_not_keep_the_server_from_stopping(tmp_path):
    """In process (--workers 0), a held request's change is drawn by an answer thread; that plot hangs."""
    (tmp_path / "flag.txt").write_text("draw")
    source = str(ROOT / "tests" / "sources" / "stuck_on_change.py")
    command = [sys.executable, str(ROOT / "plotserve.py"), source, "--port", "0", "--no-browser", "--workers", "0"]
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "plotserve printed nothing"
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", process.stdout.readline()).group(1))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/stuck.png")
        first = connection.getresponse()
        first.read()
        assert first.status == 200
        held = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        held.request("GET", "/stuck.png?_wait=25", headers={"If-None-Match": first.getheader("ETag")})
        deadline = time.monotonic() + 30
        while True:  # the request is held: now its change is drawn by an answer thread
            connection.request("GET", "/-/health.json")
            if json.loads(connection.getresponse().read())["waiting"] == 1:
                break
            assert time.monotonic() < deadline, "the request was never held"
            time.sleep(0.05)
        (tmp_path / "flag.txt").write_text("hang")
        while True:  # the watch sees the change, and an answer thread starts the render that hangs
            connection.request("GET", "/-/health.json")
            health = json.loads(connection.getresponse().read())
            if health["watch_changed"] == 1 and health["renders_under_way"] == 1:
                break
            assert time.monotonic() < deadline, f"the change was never drawn: {health}"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("plotserve was still running 10 s after SIGTERM, held by a hung plot")
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


# -- bounded connections ---------------------------------------------------------------------------


def test_connections_beyond_the_cap_get_503_and_their_slots_come_back():
    request = b"GET /ok.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with running_server(SEC_FAULTS, workers=0, max_connections=4, max_connections_per_client=4, max_pending=8) as client:
        held = [socket.create_connection(("127.0.0.1", client.port), timeout=30) for _ in range(4)]
        try:
            for sock in held:  # four renders under way: every slot is busy working
                sock.sendall(b"GET /-/health.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # no render: answered at once
                assert sock.recv(12) == b"HTTP/1.1 200"  # the answer proves the server took it
                sock.sendall(f"GET /slow.png?seconds=3&n={unique()} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            deadline = time.monotonic() + 30
            while [slot.phase for slot in client.server.connections.slots.values()] != ["work"] * 4:
                assert time.monotonic() < deadline, "the four renders did not start"
                time.sleep(0.02)
            refused = exchange(client.port, request)
            assert refused.startswith(b"HTTP/1.1 503 ")
            assert b"Retry-After: 2\r\n" in refused and refused.endswith(b"Too many open connections; try again soon.\n")
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + 15
        while len(client.server.connections):  # the renders end, the threads see the close and end
            assert time.monotonic() < deadline, "the slots of closed connections did not come back"
            time.sleep(0.05)
        for _ in range(12):  # three times the cap, one after another: every slot is given back
            assert exchange(client.port, request).startswith(b"HTTP/1.1 200 ")


def _closed_by_server(sock: socket.socket, seconds: float = 10) -> bool:
    """Whether the server closed this connection (EOF or reset) within the time given."""
    sock.settimeout(seconds)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


class PatientHandler(plotserve.PlotRequestHandler):
    """Time-outs far longer than the test, so that only an eviction can close a connection in it."""

    timeout = 120
    head_deadline = 120


def test_a_newcomer_past_the_cap_takes_the_slot_of_the_slowest_connection():
    options = dict(workers=0, max_connections=8, max_connections_per_client=4, handler_class=PatientHandler)
    with running_server(SEC_FAULTS, **options) as client:
        slow = []
        try:
            for _ in range(4):  # from 127.0.0.1: the address's whole share, each half-way through its headers
                sock = socket.create_connection(("127.0.0.1", client.port), timeout=10)
                sock.sendall(b"GET /ok.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n")
                slow.append(sock)
                time.sleep(0.05)  # an order of age
            time.sleep(plotserve.ConnectionTable.slow_after)  # long enough at it to count as slow
            # The same address again: it is answered, and the oldest slow connection made way for it.
            assert client.get("/ok.json", timeout=10).status == 200
            assert _closed_by_server(slow[0])
            assert not _closed_by_server(slow[3], seconds=0.5)
            # Another address has its own share: nothing of 127.0.0.1's is evicted for it.
            other = http.client.HTTPConnection("127.0.0.1", client.port, timeout=10, source_address=("127.0.0.2", 0))
            other.request("GET", "/ok.json")
            assert other.getresponse().status == 200
            other.close()
            assert not _closed_by_server(slow[3], seconds=0.5)
            assert client.server.connections.evictions >= 1
        finally:
            for sock in slow:
                sock.close()


class TwoSecondHead(plotserve.PlotRequestHandler):
    """A 1 s time-out between reads and 2 s for a whole request head, so that the test of it is short."""

    timeout = 1
    head_deadline = 2


def test_a_request_head_has_a_deadline_however_its_lines_trickle_in():
    with running_server(SEC_FAULTS, workers=0, handler_class=TwoSecondHead) as client:
        with socket.create_connection(("127.0.0.1", client.port), timeout=15) as sock:
            sock.sendall(b"GET /ok.json HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            sent = 0
            closed = False
            while sent < 20 and not closed:  # a line every 0.5 s: each read is well within the 1 s time-out
                try:
                    sock.sendall(b"X-Slow: %d\r\n" % sent)
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                sent += 1
                closed = _closed_by_server(sock, seconds=0.5)
        assert closed, "the server kept a connection whose head took 10 s"
        assert sent < 10, f"the server read {sent} header lines, 0.5 s apart, before letting go"
        assert client.get("/ok.json").status == 200


def _burst(port: int, count: int, seconds: float) -> dict:
    """Open ``count`` connections at once, each asking one thing: how many got which status line, or none."""
    request = b"GET /ok.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    selector = selectors.DefaultSelector()
    received: dict = {}
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        assert sock.connect_ex(("127.0.0.1", port)) in (0, errno.EINPROGRESS)
        selector.register(sock, selectors.EVENT_WRITE)
        received[sock] = b""
    deadline = time.monotonic() + seconds
    while selector.get_map() and time.monotonic() < deadline:
        for key, events in selector.select(timeout=0.5):
            sock = key.fileobj
            if events & selectors.EVENT_WRITE:
                try:
                    sock.send(request)
                except OSError:
                    selector.unregister(sock)
                    continue
                selector.modify(sock, selectors.EVENT_READ)
                continue
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            received[sock] += chunk
            if not chunk:
                selector.unregister(sock)
    outcome = collections.Counter(data[9:12].decode() if data.startswith(b"HTTP/1.1 ") else "no answer" for data in received.values())
    for sock in received:
        sock.close()
    return outcome


def test_a_burst_of_a_thousand_connections_is_answered_or_refused_at_once():
    with running_server(SEC_FAULTS, workers=0) as client:
        # ss shows a listening socket's backlog as its Send-Q: the kernel queues that many unaccepted connections.
        command = [shutil.which("ss") or "ss", "-Hltn", f"sport = :{client.port}"]
        listing = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        assert int(listing.split()[2]) >= 1000, listing
        # A kernel queue too short drops SYNs, and their clients retry after 1, 3, 7 s...: 10 s is ample otherwise.
        outcome = _burst(client.port, 1000, seconds=10)
        print(f"1,000 connections at once: {dict(outcome)}")
        assert outcome["no answer"] == 0, outcome
        # One address may hold half the 256 slots: at least that many are served, the rest refused at once.
        assert set(outcome) <= {"200", "503"} and outcome["200"] >= 128, outcome
        assert client.get("/ok.json").status == 200


# -- renders shared between clients ------------------------------------------------------------------


def _get_from(port: int, path: str, source: str, headers: dict | None = None, timeout: float = 60):
    """One GET from a given loopback source address: (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_a_view_gets_its_last_picture_marked_stale_while_the_renderers_are_busy():
    with running_server(SEC_FAULTS, workers=1, max_pending=1, timeout=30) as client:
        wait_for_workers(client, 1)
        view = f"/ok.png?view={unique()}"  # no input files: its picture is only good for 2 s
        first = client.get(view)
        assert first.status == 200 and "x-plotserve-stale" not in first.headers
        busy = threading.Thread(target=_get_from, args=(client.port, f"/slow.png?seconds=6&n={unique()}", "127.0.0.2"), daemon=True)
        busy.start()  # another client's render takes the only place in the queue
        deadline = time.monotonic() + 10
        while client.server.renderer.pending < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(2.2)  # the view's picture is older than its 2 s now: a fresh one would be drawn
        again = client.get(view)
        assert again.status == 200, again.headers.get("x-plotserve-error")
        assert again.headers["x-plotserve-stale"] and again.headers["warning"].startswith("110 ")
        assert again.body == first.body and again.headers["etag"] == first.headers["etag"]
        revalidated = client.get(view, {"If-None-Match": first.headers["etag"]})
        assert revalidated.status == 304 and revalidated.headers["etag"] == first.headers["etag"]
        assert revalidated.headers["x-plotserve-stale"]
        # A view with no picture yet has nothing to fall back on: it waits its turn, within its client's share.
        assert client.get(f"/ok.png?view={unique()}").status == 200
        busy.join(30)
        assert client.get(view).status == 200
        assert "x-plotserve-stale" not in client.get(view).headers  # fresh again once the renderer is free
        assert client.health()["stale"] >= 2


def test_one_client_flooding_renders_leaves_room_for_another():
    with running_server(SEC_FAULTS, workers=1, max_pending=4, timeout=60) as client:
        wait_for_workers(client, 1)
        stop = threading.Event()
        flood: list = []

        def flooder() -> None:
            while not stop.is_set():
                status, headers, _ = _get_from(client.port, f"/slow.png?seconds=0.3&n={unique()}", "127.0.0.1")
                flood.append((status, headers.get("x-plotserve-error", "")))

        threads = [threading.Thread(target=flooder, daemon=True) for _ in range(6)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1)  # the flood fills what it may of the queue
            other = [_get_from(client.port, f"/ok.png?view={unique()}", "127.0.0.2")[0] for _ in range(5)]  # fresh views each
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        assert other == [200] * 5, other
        statuses = collections.Counter(status for status, _ in flood)
        assert statuses[503] and statuses[200], statuses  # the flood was refused its excess, not all of it
        # While the other client wanted a place, the flood was held to half the queue of 4, not all of it.
        held = [int(match.group(1)) for _, error in flood if (match := re.search(r"this client has (\d+) renders", error))]
        assert held and min(held) < 4, collections.Counter(held)


@pytest.mark.parametrize("flood_suffix", [".png", ".json"])  # pictures, or the JSON twins (drawn too, for their geometry)
@pytest.mark.parametrize("cache_mb", [8.0, 0.05])  # 0.05: the flood pushes the other view's picture out of the cache
def test_a_flood_of_distinct_renders_never_refuses_another_clients_untracked_view(cache_mb, flood_suffix):
    with running_server(SEC_FAULTS, workers=1, max_pending=4, timeout=60, cache_mb=cache_mb) as client:
        wait_for_workers(client, 1)
        stop = threading.Event()
        flood: list = []

        def flooder() -> None:
            while not stop.is_set():
                flood.append(_get_from(client.port, f"/slow{flood_suffix}?seconds=0.3&n={unique()}", "127.0.0.1")[0])

        view = f"/ok.png?view={unique()}"  # no file behind it: after 2 s it is drawn again when asked for
        status, headers, _ = _get_from(client.port, view, "127.0.0.2")
        assert status == 200
        threads = [threading.Thread(target=flooder, daemon=True) for _ in range(6)]
        for thread in threads:
            thread.start()
        other = []
        try:
            for _ in range(6):  # the page of a plot with no tracked input, refreshed past the 2 s cache
                time.sleep(2.2)
                status, _, _ = _get_from(client.port, view, "127.0.0.2", {"If-None-Match": headers["etag"]})
                twin, _, body = _get_from(client.port, view.replace(".png", ".json"), "127.0.0.2")  # as the page asks for its geometry
                other += [status, 503 if b'"render_error"' in body else twin]
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        assert 503 not in other and set(other) <= {200, 304}, other
        if flood_suffix == ".png":
            assert 503 in flood, collections.Counter(flood)  # the flood was held to its share meanwhile


def test_the_page_says_when_it_shows_the_last_picture_of_a_busy_server(page):
    with running_server(SEC_FAULTS, workers=1, max_pending=1, timeout=30) as client:
        wait_for_workers(client, 1)
        page.goto(f"{client.url}/ok?view={unique()}&_refresh=1")  # a live view, checked every second
        page.wait_for_function("() => document.querySelector('#status').textContent.includes('updated')", timeout=30_000)
        busy = threading.Thread(target=_get_from, args=(client.port, f"/slow.png?seconds=8&n={unique()}", "127.0.0.2"), daemon=True)
        busy.start()  # another client's render takes the only place in the queue
        page.wait_for_function("() => document.querySelector('#status').textContent.includes('server busy')", timeout=15_000)
        assert page.evaluate("document.getElementById('plot').naturalWidth") == 800  # the last picture stays
        busy.join(30)
        page.wait_for_function("() => !document.querySelector('#status').textContent.includes('server busy')", timeout=15_000)
        assert page.errors == []
