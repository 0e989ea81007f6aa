"""Many viewers on one growing log: held requests from distinct loopback addresses, against a baseline.

    python bench/viewers.py                        # 10, 100 and 1,000 viewers on this checkout
    python bench/viewers.py --baseline 7141825     # the same on plotserve.py as of that commit first
    python bench/viewers.py --viewers 1000 --changes 3

Starts ``plotserve.py plots/training.py --workers 2`` (default settings otherwise) on 127.0.0.1
and, for each number of viewers, connects that many clients, each from its own loopback address
(127.0.X.Y, bound before connecting), each following ``/training.png`` (a fresh connection per request) as the page does where it
cannot share one request between tabs: a conditional GET with ``_wait=25``, asked again at once
when the server held it, else after the 5 s period (a full server), or after 2 s (refused). One
thread drives all clients on a selector. Once every viewer is held (or 20 s have passed), it
appends an epoch to the log ``--changes`` times, 4 s apart, and reports: viewers told of each
change, renders per change (``/-/health.json``), change-to-answer p50 and p95 (from the append to
the new picture fully read, over every viewer and change), the median render time the answers
report, the server's threads while the
viewers are held and its resident memory (``/proc/PID/status``), and errors (answers other than
200 or 304, connections refused or reset). Everything stays on 127.0.0.1; the server is stopped
at the end, and every wait has a deadline, so the script ends by itself.
"""

import argparse
import contextlib
import errno
import http.client
import json
import pathlib
import re
import select
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
PERIOD, REFUSED_RETRY = 5.0, 2.0  # seconds: the page's period, and a refused client's Retry-After


def say(message: str) -> None:
    print(f"[viewers] {message}", file=sys.stderr, flush=True)


def training_module():
    for folder in (ROOT / "plots", ROOT):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import training

    return training


def start(plotserve: pathlib.Path, data_dir: pathlib.Path) -> tuple[subprocess.Popen, int]:
    """plotserve.py serving the training log on a free port: (process, port)."""
    command = [sys.executable, str(plotserve), str(ROOT / "plots" / "training.py"), "--port", "0", "--no-browser"]
    command += ["--workers", "2", "--quiet", "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready, _, _ = select.select([process.stdout], [], [], 60)
    if not ready:
        process.kill()
        raise SystemExit("plotserve printed nothing")
    port = int(re.search(r":(\d+)/", process.stdout.readline()).group(1))
    return process, port


def health(port: int) -> dict:
    """The server's counters, asked again while it refuses connections (a server with no room left)."""
    deadline = time.monotonic() + 60
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", "/-/health.json")
            response = connection.getresponse()
            if response.status == 200:
                return json.loads(response.read())
        except OSError:
            pass
        finally:
            connection.close()
        if time.monotonic() > deadline:
            raise SystemExit("the server did not answer /-/health.json for a minute")
        time.sleep(0.5)


def proc_status(pid: int) -> dict:
    """Threads and resident memory (MB) of a process."""
    fields = dict(line.split(":", 1) for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"threads": int(fields["Threads"]), "rss_mb": int(fields["VmRSS"].split()[0]) / 1024}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else float("nan")


class Viewer:
    """One client from its own address, following /training.png with held conditional GETs."""

    def __init__(self, number: int):
        self.source = f"127.0.{1 + number // 250}.{2 + number % 250}"
        self.sock: socket.socket | None = None
        self.etag = ""
        self.buffer = b""
        self.out = b""
        self.next_at = 0.0  # when to ask next (0: at once)
        self.answers: list[tuple[float, int, str]] = []  # (when read, status, ETag)
        self.errors = 0
        self.render_ms: list[float] = []  # as the answers said


class Crowd:
    """All viewers, driven by one selector."""

    def __init__(self, port: int, count: int):
        self.port = port
        self.selector = selectors.DefaultSelector()
        self.viewers = [Viewer(number) for number in range(count)]
        self.waiting: dict[socket.socket, Viewer] = {}

    def run_until(self, deadline: float, done=lambda: False) -> None:
        while time.monotonic() < deadline and not done():
            now = time.monotonic()
            for viewer in self.viewers:
                if viewer.sock is None and viewer.next_at <= now:
                    self._connect(viewer)
            for key, mask in self.selector.select(timeout=0.05):
                viewer = key.data
                if mask & selectors.EVENT_WRITE:
                    self._send(viewer)
                if mask & selectors.EVENT_READ and viewer.sock is not None:
                    self._read(viewer)

    def _connect(self, viewer: Viewer) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        sock.bind((viewer.source, 0))
        result = sock.connect_ex(("127.0.0.1", self.port))
        if result not in (0, errno.EINPROGRESS):
            sock.close()
            viewer.errors += 1
            viewer.next_at = time.monotonic() + REFUSED_RETRY
            return
        viewer.sock = sock
        wait = "?_wait=25" if viewer.etag else ""
        match = f"If-None-Match: {viewer.etag}\r\n" if viewer.etag else ""
        viewer.out = f"GET /training.png{wait} HTTP/1.1\r\nHost: 127.0.0.1\r\n{match}\r\n".encode()
        viewer.buffer = b""
        self.selector.register(sock, selectors.EVENT_WRITE | selectors.EVENT_READ, viewer)

    def _drop(self, viewer: Viewer, error: bool, retry: float = 0.0) -> None:
        if viewer.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(viewer.sock)
            viewer.sock.close()
            viewer.sock = None
        viewer.errors += error
        viewer.next_at = time.monotonic() + retry

    def _send(self, viewer: Viewer) -> None:
        try:
            sent = viewer.sock.send(viewer.out)
        except BlockingIOError:
            return
        except OSError:
            self._drop(viewer, True, REFUSED_RETRY)
            return
        viewer.out = viewer.out[sent:]
        if not viewer.out:
            self.selector.modify(viewer.sock, selectors.EVENT_READ, viewer)

    def _read(self, viewer: Viewer) -> None:
        try:
            data = viewer.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = None
        if not data:
            self._drop(viewer, True, REFUSED_RETRY)
            return
        viewer.buffer += data
        head, found, body = viewer.buffer.partition(b"\r\n\r\n")
        if not found:
            return
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        if len(body) < int(headers.get("content-length", 0)) and status != 304:
            return
        viewer.answers.append((time.time(), status, headers.get("etag", "")))
        if "x-plotserve-render-ms" in headers:
            viewer.render_ms.append(float(headers["x-plotserve-render-ms"]))
        if status not in (200, 304):
            self._drop(viewer, True, REFUSED_RETRY)
            return
        first = not viewer.etag
        if status == 200:
            viewer.etag = headers.get("etag", "")
        # Ask again: at once after the first picture or when the server held it, else on the page's period.
        self._drop(viewer, False, 0.0 if first or headers.get("x-plotserve-watch") == "held" else PERIOD)


def measure(plotserve: pathlib.Path, count: int, changes: int) -> dict:
    training = training_module()
    with tempfile.TemporaryDirectory(prefix="plotserve-viewers-") as folder:
        log = training.write_training_log(pathlib.Path(folder) / training.LOG_NAME, rows=200)
        process, port = start(plotserve, pathlib.Path(folder))
        try:
            crowd = Crowd(port, count)
            crowd.run_until(time.monotonic() + 20, lambda: all(viewer.etag for viewer in crowd.viewers))
            state = {"health": 0.0, "waiting": 0}

            def all_held() -> bool:
                if time.monotonic() - state["health"] > 0.5:
                    state["health"], state["waiting"] = time.monotonic(), health(port)["waiting"]
                return state["waiting"] >= count

            crowd.run_until(time.monotonic() + 20, all_held)
            crowd.run_until(time.monotonic() + 1)
            held = health(port)["waiting"]
            during = proc_status(process.pid)
            before = health(port)
            appended = []
            for _ in range(changes):
                training.append_epoch(log)
                appended.append(time.time())
                crowd.run_until(time.monotonic() + 4)
            during_changes = proc_status(process.pid)
            after = health(port)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
    latencies, told = [], []
    for number, moment in enumerate(appended):
        until = appended[number + 1] if number + 1 < len(appended) else float("inf")
        reached = 0
        for viewer in crowd.viewers:
            new = [when for when, status, _ in viewer.answers if status == 200 and moment < when < until]
            if new:
                reached += 1
                latencies.append(new[0] - moment)
        told.append(reached)
    return {
        "viewers": count,
        "held": held,
        "told": min(told) if told else 0,
        "renders_per_change": (after["renders"] - before["renders"]) / changes,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "threads": max(during["threads"], during_changes["threads"]),
        "rss_mb": max(during["rss_mb"], during_changes["rss_mb"]),
        "errors": sum(viewer.errors for viewer in crowd.viewers),
        "render_s": statistics.median([ms for viewer in crowd.viewers for ms in viewer.render_ms] or [float("nan")]) / 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--changes", type=int, default=5, help="appends per run (default 5)")
    parser.add_argument("--baseline", help="a commit whose plotserve.py to measure first")
    options = parser.parse_args(argv)
    servers = []
    with tempfile.TemporaryDirectory(prefix="plotserve-baseline-") as folder:
        if options.baseline:
            old = pathlib.Path(folder) / "plotserve.py"
            git = [shutil.which("git") or "git", "show", f"{options.baseline}:plotserve.py"]
            old.write_bytes(subprocess.run(git, cwd=ROOT, capture_output=True, check=True).stdout)
            servers.append((f"baseline {options.baseline}", old))
        servers.append(("this checkout", ROOT / "plotserve.py"))
        rows = []
        for name, path in servers:
            for count in options.viewers:
                say(f"{name}: {count} viewers")
                rows.append((name, measure(path, count, options.changes)))
    columns = ["server", "viewers", "held", "told (fewest of a change)", "renders per change", "p50 (s)", "p95 (s)", "render (s)"]
    columns += ["threads", "RSS (MB)", "errors"]
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    for name, row in rows:
        print(
            f"| {name} | {row['viewers']} | {row['held']} | {row['told']} | {row['renders_per_change']:.2f} | {row['p50']:.2f} | "
            f"{row['p95']:.2f} | {row['render_s']:.2f} | {row['threads']} | {row['rss_mb']:.0f} | {row['errors']} |"
        )
    if len(servers) == 2:
        for count in options.viewers:
            old, new = (row for name, row in rows if row["viewers"] == count)
            print(f"{count} viewers: p95 {old['p95'] / new['p95']:.1f}x lower, {old['threads'] / new['threads']:.1f}x fewer threads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
