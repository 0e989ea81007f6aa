"""Plots that misbehave with the process they run in: they allocate too much, fork, start
processes that outlive them, or cannot even be imported by a worker. Each costs only its own
request, never hangs the server, and leaves no process behind.
"""

import contextlib
import http.client
import json
import os
import pathlib
import re
import select
import signal
import subprocess
import sys
import time

import psutil
import pytest
from conftest import ROOT, running_server

MISBEHAVING = str(ROOT / "tests" / "sources" / "misbehaving.py")
PLOTSERVE = str(ROOT / "plotserve.py")


def wait_for(condition, what: str, seconds: float = 30):
    """Poll until condition() is true; a safety net, not a measurement."""
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.05)
    return result


def gone(pid: int) -> bool:
    """The process has ended (a zombie has ended too: only its parent's wait is left)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def ready(client, count: int) -> None:
    """Wait until count workers run and one of them has answered a render."""
    wait_for(lambda: client.health()["workers_alive"] == count, f"{count} workers")
    assert client.get(f"/ok.png?view={time.monotonic_ns()}").status == 200


@contextlib.contextmanager
def served(*arguments: str):
    """plotserve started as a command (the real CLI); yields (process, port)."""
    command = [sys.executable, PLOTSERVE, MISBEHAVING, "--port", "0", "--no-browser", "-q", *arguments]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert select.select([process.stdout], [], [], 60)[0], "plotserve printed nothing"
        yield process, int(re.search(r"http://127\.0\.0\.1:(\d+)/", process.stdout.readline()).group(1))
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def ask(port: int, path: str, timeout: float = 60) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


# -- the memory ceiling ---------------------------------------------------------------------------


def test_a_plot_over_the_memory_ceiling_gets_a_clear_error_and_the_rest_keeps_serving():
    # The workers are forked from this process and start out with its memory: room for a plot above that.
    ceiling = int(re.search(r"VmData:\s+(\d+) kB", pathlib.Path("/proc/self/status").read_text()).group(1)) // 1024 + 200
    message = f"plot_allocate used more than {ceiling} MB and was stopped"
    with running_server(MISBEHAVING, workers=2, timeout=60, max_memory_mb=ceiling) as client:
        ready(client, 2)
        before = client.health()
        answer = client.get(f"/allocate.png?mb={3 * ceiling}")
        assert answer.status == 500
        assert answer.headers["x-plotserve-error"] == message
        assert answer.image().size == (800, 500)  # the picture that says so
        page = client.get(f"/allocate?mb={3 * ceiling}")
        assert page.status == 500 and message in page.text
        assert client.get("/allocate.png?mb=20").status == 200  # under the ceiling: drawn
        assert client.get(f"/ok.png?view={time.monotonic_ns()}").image().size == (800, 500)
        # The workers that hit it were replaced; the server itself has no ceiling.
        wait_for(lambda: client.health()["workers_alive"] == 2, "two workers again")
        assert client.health()["workers_started"] == before["workers_started"] + 2
        assert client.health()["status"] == "ok"
        import resource

        assert resource.getrlimit(resource.RLIMIT_DATA)[0] == resource.RLIM_INFINITY


def test_the_default_ceiling_is_half_the_machine_shared_among_the_workers():
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with contextlib.suppress(OSError, ValueError):
        total = min(total, int(pathlib.Path("/sys/fs/cgroup/memory.max").read_text()))
    with running_server(MISBEHAVING, workers=2) as client:
        ready(client, 2)
        for pid in client.health()["worker_pids"]:
            limits = pathlib.Path(f"/proc/{pid}/limits").read_text()
            soft = int(re.search(r"Max data size\s+(\d+)", limits).group(1))
            assert soft == total // 2 // 2


def test_the_command_line_sets_the_ceiling():
    with served("--workers", "1", "--max-memory-mb", "300") as (_, port):
        status, headers, _ = ask(port, "/allocate.png?mb=900")
        assert status == 500
        assert headers["x-plotserve-error"] == "plot_allocate used more than 300 MB and was stopped"
        assert ask(port, "/ok.png")[0] == 200


# -- forking --------------------------------------------------------------------------------------

FORKING = ["fork", "fork_and_return", "subprocess", "pool"]


@pytest.mark.parametrize("workers", [2, 0], ids=["workers", "in-process"])
@pytest.mark.parametrize("plot", FORKING)
def test_a_plot_that_forks_or_starts_processes_works(plot, workers):
    with running_server(MISBEHAVING, workers=workers, timeout=60) as client:
        if workers:
            ready(client, workers)
        before = client.health()
        for view in range(2):  # and again: nothing was left held
            answer = client.get(f"/{plot}.png?_width={4 + view}", timeout=60)  # a hang fails here, not the session
            assert answer.status == 200, answer.headers.get("x-plotserve-error")
            assert answer.image().size == (400 + 100 * view, 500)
        assert client.get(f"/ok.png?view={time.monotonic_ns()}").status == 200
        after = client.health()
        assert after["errors"] == 0
        assert after["workers_started"] == before["workers_started"]  # no worker was lost to the plot


@pytest.mark.parametrize("plot", FORKING)
def test_get_renders_a_plot_that_forks(tmp_path, plot):
    output = tmp_path / "out.png"
    done = subprocess.run(
        [sys.executable, PLOTSERVE, MISBEHAVING, "--get", f"/{plot}.png", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert output.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


# -- orphans --------------------------------------------------------------------------------------


def test_workers_and_what_their_plots_started_die_with_a_killed_server(tmp_path):
    pidfile = tmp_path / "pids"
    with served("--workers", "1") as (server, port):
        wait_for(lambda: json.loads(ask(port, "/-/health.json")[2])["workers_alive"] == 1, "a worker")
        descendants = [child.pid for child in psutil.Process(server.pid).children(recursive=True)]  # the worker and its guard
        url = f"http://127.0.0.1:{port}/start_child.png?pidfile={pidfile}"
        fetch = f"import urllib.request; urllib.request.urlopen({url!r})"
        client = subprocess.Popen([sys.executable, "-c", fetch], stderr=subprocess.DEVNULL)  # stays open while the server dies
        child = None
        try:
            worker, child = map(int, wait_for(lambda: pidfile.exists() and pidfile.read_text().split(), "the plot's child"))
            assert worker in descendants
            server.send_signal(signal.SIGKILL)  # mid-render: no clean-up code of the server runs
            server.wait(10)
            for pid in [*descendants, child]:
                wait_for(lambda pid=pid: gone(pid), f"the end of process {pid}", seconds=10)
        finally:
            client.kill()
            client.wait()
            for pid in [*descendants, child] if child else descendants:  # what a failure left behind
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_what_a_plot_started_ends_with_its_worker_at_the_time_limit(tmp_path):
    pidfile = tmp_path / "pids"
    with running_server(MISBEHAVING, workers=1, timeout=3) as client:
        ready(client, 1)
        answer = client.get(f"/start_child.png?pidfile={pidfile}")
        assert answer.status == 504
        worker, child = map(int, pidfile.read_text().split())
        try:
            wait_for(lambda: gone(worker) and gone(child), "the end of the worker and its child", seconds=10)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        wait_for(lambda: client.health()["workers_alive"] == 1, "a fresh worker")
        assert client.get(f"/ok.png?view={time.monotonic_ns()}").status == 200


# -- workers that die idle or cannot start --------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_killed_while_idle_costs_no_request(workers):
    with running_server(MISBEHAVING, workers=workers, timeout=60) as client:
        ready(client, workers)
        pids = client.health()["worker_pids"]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        for pid in pids:
            wait_for(lambda pid=pid: gone(pid), f"the end of worker {pid}")
        answer = client.get(f"/ok.png?view={time.monotonic_ns()}")
        assert answer.status == 200, answer.headers.get("x-plotserve-error")
        assert answer.image().size == (800, 500)
        assert client.health()["errors"] == 0


def test_workers_that_cannot_start_are_started_again_with_back_off(tmp_path):
    source = tmp_path / "no_workers.py"
    # Every process forked from the server ends at once: a worker that never gets to load the plots.
    source.write_text("import os\n\nos.register_at_fork(after_in_child=lambda: os._exit(3))\n\n\ndef plot_line(ax):\n    ax.plot([0, 1])\n")
    command = [sys.executable, PLOTSERVE, str(source), "--port", "0", "--no-browser", "-q", "--workers", "2", "--start-method", "fork"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert select.select([process.stdout], [], [], 60)[0], "plotserve printed nothing"
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", process.stdout.readline()).group(1))
        time.sleep(4)  # without back-off, hundreds of workers start and die in this time
        health = json.loads(ask(port, "/-/health.json")[2])
        assert health["workers_started"] <= 6, f"{health['workers_started']} workers started in 4 s"
        assert health["worker_error"] == "a render process ended while loading the plots (exit code 3)"
        status, headers, _ = ask(port, "/line.png", timeout=10)  # at once, not after the 30 s wait for a free worker
        assert status == 500 and headers["x-plotserve-error"].endswith("(exit code 3)")
    finally:
        process.kill()
        _, err = process.communicate(timeout=30)
    assert err.count("cannot load the plots") == 1, err  # said once, not once per attempt


def test_a_dead_workers_exit_code_is_read_while_health_checks_poll_the_workers():
    """A worker that ended is named with its exit code, though /-/health.json (alive()) may be
    reaping it at that moment: there, a plain read once said "exit code None" (one test run in CI)."""
    import threading

    import plotserve

    with running_server(MISBEHAVING, workers=1) as client:
        pool = client.server.renderer
        codes = []
        for _ in range(150):
            process = pool.context.Process(target=os._exit, args=(3,))
            process.start()
            worker = plotserve._Worker(process, None)
            with pool.lock:
                pool.workers.add(worker)
            polling = threading.Event()

            def poll(done=polling):
                while not done.is_set():
                    pool.alive()

            poller = threading.Thread(target=poll)
            poller.start()
            codes.append(pool._exit_code(worker))
            polling.set()
            poller.join()
            with pool.lock:
                pool.workers.discard(worker)
        assert codes == [3] * len(codes), f"{codes.count(None)} of {len(codes)} codes were None"


def test_an_import_error_in_the_workers_shows_on_every_page_until_it_is_fixed(tmp_path):
    source = tmp_path / "server_only.py"
    guard = f"import os\nif os.getpid() != {os.getpid()}:\n    raise RuntimeError('only the server may import this file')\n"
    source.write_text(guard + "\n\ndef plot_line(ax):\n    ax.plot([0, 1])\n")
    message = "RuntimeError: only the server may import this file"
    # spawn: a forked worker would inherit the module the server loaded instead of importing it
    with running_server(str(source), workers=2, start_method="spawn", timeout=30) as client:
        wait_for(lambda: message in client.health()["worker_error"], "a failed start", seconds=120)
        image = client.get("/line.png", timeout=10)  # at once, not after the 30 s wait for a free worker
        assert image.status == 500
        assert message in image.headers["x-plotserve-error"] and "cannot load the plots" in image.headers["x-plotserve-error"]
        assert image.image().size == (800, 500)
        page = client.get("/line", timeout=10)
        assert page.status == 500 and message in page.text
        index = client.get("/")
        assert index.status == 200 and "The render processes cannot load the plots" in index.text and message in index.text
        # Once the file imports again, the next attempt brings the workers back.
        source.write_text("def plot_line(ax):\n    ax.plot([0, 1])\n")
        wait_for(lambda: client.health()["worker_error"] == "", "a worker that loads the plots", seconds=120)
        assert client.get("/line.png").status == 200
        assert "cannot load" not in client.get("/").text
