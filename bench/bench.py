"""Benchmark plotserve against the classic pyplot-in-a-handler recipe.

Run from anywhere (paths are taken from this file)::

    python bench/bench.py            # full run, about 15 minutes (mostly the naive memory run)
    python bench/bench.py --quick    # smoke check, under two minutes
    python bench/bench.py --only plotserve --memory-renders 6000   # plotserve alone, a longer memory run

For the training-log example `plots/training.py` it measures the in-process render floor,
fresh-render latency and throughput, unchanged-refresh throughput (conditional requests),
memory growth and start-up time, for plotserve and for a naive single-threaded
`http.server` written below, then prints a markdown table of medians, ratios and targets.

Both servers run as subprocesses on ephemeral ports of 127.0.0.1 and are killed on exit;
all traffic goes to 127.0.0.1 and every request loop is bounded in count and time.
"""

import argparse
import contextlib
import http.client
import io
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

# --------------------------------------------------------------------------------------
# Constants and settings
# --------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PLOTSERVE = "plotserve"
NAIVE = "naive"
WORKERS = 2
CLIENTS = 8
# Both servers get the same query string; only the path differs. The naive server ignores
# the underscore options (it always draws 8x5 inches at 100 dpi, as plotserve is asked to).
IMAGE_PATHS = {PLOTSERVE: "/training.png", NAIVE: "/plot"}
IMAGE_OPTIONS = {"_width": 8, "_height": 5, "_dpi": 100}
HEALTH_PATH = "/-/health.json"
URL_PATTERN = re.compile(r"http://([^/\s:]+|\[[0-9a-fA-F:]+\]):(\d+)/")
START_TIMEOUT = 60.0  # seconds to print a URL, and again to answer the first PNG
REQUEST_TIMEOUT = 60.0
MAX_ERRORS_PER_CLIENT = 20
OTHER_LOAD_LIMIT = 0.10  # share of a core other processes may use before a value is flagged
# The naive server keeps every figure; stop feeding it before it eats the machine.
NAIVE_MEMORY_CAP_MB = 8000
MEMORY_CHUNK = 100  # fresh renders between two memory readings
MEMORY_MAX_SECONDS = 900.0  # the naive server renders ~5/s, and slows as it grows
# A key that changes on every request but not the cost: last=N with N above any row count.
FRESH_KEYS = itertools.count(100_000)
BENCH_START = time.perf_counter()
SERVER_NUMBERS = itertools.count(1)  # names the stderr log of each server started
# psutil and matplotlib are imported where they are used, so that the naive server (this
# file in another mode) starts with no more imports than the recipe needs.


def plotserve_command(data_dir: Path) -> list[str]:
    """The one place that says how plotserve is started."""
    options = ["--port", "0", "--no-browser", "--data-dir", str(data_dir), "--workers", str(WORKERS)]
    return [sys.executable, str(REPO / "plotserve.py"), str(REPO / "plots" / "training.py"), *options]


def naive_command(data_dir: Path) -> list[str]:
    """The naive server is this script in another mode, on an ephemeral port."""
    return [sys.executable, str(Path(__file__).resolve()), "--naive-server", "0", str(data_dir)]


@dataclass(frozen=True)
class Settings:
    """How much work each measurement does."""

    sizes: tuple[int, ...] = (200, 20_000)  # the first size gets every measurement
    floor_runs: int = 30
    latency_runs: int = 30
    refresh_seconds: float = 5.0
    rounds: int = 3  # throughput rounds; the median is reported
    round_seconds: float = 6.0  # fresh renders per round: this long at the floor rate
    warmup_renders: int = 50
    memory_renders: int = 2000
    starts: int = 3
    min_round: int = 4 * CLIENTS  # fresh renders per round, at least


FULL = Settings()
QUICK = Settings(
    sizes=(200, 5_000),
    floor_runs=5,
    latency_runs=8,
    refresh_seconds=2.0,
    rounds=1,
    round_seconds=2.0,
    warmup_renders=20,
    memory_renders=200,
    starts=1,
    min_round=2 * CLIENTS,
)


def log_name(rows: int) -> str:
    """File name, relative to the data dir, of the training log with `rows` rows."""
    return f"training_log_{rows}.csv"


def training_module() -> types.ModuleType:
    """Import plots/training.py, with the repo root and plots/ put on sys.path."""
    for folder in (REPO / "plots", REPO):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import training

    return training


def say(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the report."""
    elapsed = time.perf_counter() - BENCH_START
    print(f"[bench {elapsed:5.0f} s] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# The naive server: the classic recipe
# --------------------------------------------------------------------------------------


def serve_naive(port: int, data_dir: Path) -> None:
    """Serve GET /plot?log=&smooth=&last= with pyplot in a single-threaded HTTPServer.

    This is the recipe found in countless answers: one thread, the pyplot state machine, and
    no `plt.close()`, so every figure stays alive (pyplot keeps it) and the process grows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_training = training_module().plot_training

    class NaiveHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/plot":
                self.send_error(404)
                return
            query = urllib.parse.parse_qs(url.query)
            # Only a bare file name: the log is looked up in the data dir, nowhere else.
            log = data_dir / Path(query["log"][0]).name
            smooth = int(query.get("smooth", ["1"])[0])
            last = int(query["last"][0]) if "last" in query else None
            fig = plt.figure(figsize=(8, 5))
            plot_training(fig, log, smooth=smooth, last=last)
            buf = io.BytesIO()
            # plt.savefig draws the figure twice: it calls canvas.draw_idle() after saving,
            # which on Agg draws at once. And no plt.close(fig): pyplot keeps every figure.
            plt.savefig(buf, format="png", dpi=100)
            body = buf.getvalue()
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = HTTPServer((HOST, port), NaiveHandler)
    print(f"naive server at http://{HOST}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# --------------------------------------------------------------------------------------
# Servers as subprocesses
# --------------------------------------------------------------------------------------


@dataclass
class Server:
    """A running server subprocess and what the bench knows about it."""

    kind: str
    proc: subprocess.Popen
    popen_at: float  # time.perf_counter() just before Popen
    stderr_path: Path
    port: int = 0


RUNNING: list[Server] = []


def start_server(kind: str, data_dir: Path, log_dir: Path) -> Server:
    """Start a server, wait for the URL it prints, and return it with its port."""
    command = plotserve_command(data_dir) if kind == PLOTSERVE else naive_command(data_dir)
    stderr_path = log_dir / f"{kind}-{next(SERVER_NUMBERS)}.stderr"
    with stderr_path.open("wb") as stderr:
        popen_at = time.perf_counter()
        proc = subprocess.Popen(command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr)
    server = Server(kind, proc, popen_at, stderr_path)
    RUNNING.append(server)
    found = threading.Event()

    def read_stdout() -> None:
        # Keep draining after the URL, so a chatty server never blocks on a full pipe.
        for line in proc.stdout:
            match = URL_PATTERN.search(line.decode(errors="replace"))
            if match and not found.is_set():
                if match.group(1) not in (HOST, "localhost"):
                    say(f"{kind} prints host {match.group(1)}; the bench still uses {HOST}")
                server.port = int(match.group(2))
                found.set()
        found.set()  # end of output: the process is gone

    threading.Thread(target=read_stdout, name=f"{kind}-stdout", daemon=True).start()
    if not found.wait(START_TIMEOUT) or not server.port:
        raise RuntimeError(f"{kind} printed no URL; its stderr ends with:\n{stderr_tail(server)}")
    return server


def stderr_tail(server: Server, lines: int = 20) -> str:
    """The last lines the server wrote to stderr, for error messages."""
    text = server.stderr_path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def process_tree(pid: int) -> list:
    """psutil processes for `pid` and all its descendants (those still alive)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def memory_mb(server: Server) -> tuple[float, float]:
    """(RSS, PSS) of the server plus all its children, in MB.

    RSS counts a page shared by a forked worker and its server once in each; PSS splits it.
    """
    import psutil

    rss = pss = 0
    for proc in process_tree(server.proc.pid):
        with contextlib.suppress(psutil.NoSuchProcess):  # a worker may exit meanwhile
            info = proc.memory_full_info()
            rss, pss = rss + info.rss, pss + info.pss
    return rss / 1e6, pss / 1e6


def stop_server(server: Server, notes: list[str] | None = None) -> None:
    """Ask the server to stop (SIGTERM), then kill it and any child left behind.

    Not SIGINT: a process started in the background by a non-interactive shell ignores it.
    """
    import psutil

    children = process_tree(server.proc.pid)[1:]
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(5)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(5)
            if notes is not None:
                notes.append(f"{server.kind} had not exited 5 s after SIGTERM and was killed.")
    _, alive = psutil.wait_procs(children, timeout=3)
    for child in alive:
        child.kill()
    if alive and notes is not None:
        notes.append(f"{server.kind}: {len(alive)} child process(es) outlived the server.")
    RUNNING.remove(server)


def stop_all() -> None:
    """Kill every server this bench started, whatever happened."""
    while RUNNING:
        stop_server(RUNNING[-1])


class OtherLoad:
    """CPU time used by processes outside this bench, sampled in a background thread.

    The bench and its servers need the machine's cores to themselves; this tells whether
    something else (another test run, a build) took a share of them meanwhile.
    """

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.cpu = 0.0  # seconds of CPU used by other processes since the last take()
        self.since = time.perf_counter()
        self.seen: dict[tuple[int, float], float] = {}
        self.lock = threading.Lock()
        self._sample(count=False)  # what ran before the bench started is not counted
        threading.Thread(target=self._run, name="other-load", daemon=True).start()

    def _sample(self, count: bool = True) -> None:
        import psutil

        ours = {proc.pid for proc in process_tree(os.getpid())}
        seen = {}
        for proc in psutil.process_iter(["create_time", "cpu_times"]):
            times, created = proc.info["cpu_times"], proc.info["create_time"]
            if proc.pid not in ours and times is not None and created is not None:
                seen[proc.pid, created] = times.user + times.system
        with self.lock:
            if count:
                self.cpu += sum(used - self.seen.get(key, 0.0) for key, used in seen.items())
            self.seen = seen

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            self._sample()

    def take(self) -> float | None:
        """Other processes' share of one core since the last take (0.5 is half a core).

        None for a window under a second, which CPU clock ticks cannot judge; that window
        is carried into the next take.
        """
        self._sample()
        with self.lock:
            now = time.perf_counter()
            if now - self.since < 1.0:
                return None
            share = self.cpu / (now - self.since)
            self.cpu, self.since = 0.0, now
        return share


# --------------------------------------------------------------------------------------
# Requests and the load generator
# --------------------------------------------------------------------------------------


def image_url(kind: str, rows: int, last: int | None = None) -> str:
    """The image URL for the training plot; a distinct `last` makes a distinct cache key."""
    query: dict[str, object] = {"log": log_name(rows), "smooth": 1}
    if last is not None:
        query["last"] = last
    query.update(IMAGE_OPTIONS)
    return f"{IMAGE_PATHS[kind]}?{urllib.parse.urlencode(query)}"


def fresh_url(kind: str, rows: int) -> str:
    """An image URL never asked for before in this run."""
    return image_url(kind, rows, last=next(FRESH_KEYS))


def outcome(status: int, body: bytes) -> str:
    """A short label for a response, so a load run can count what it got."""
    if status == 200 and body.startswith(b"\x89PNG"):
        return "png"
    if status == 304:
        return "not modified" if not body else "304 with a body"
    return f"HTTP {status}"


def fetch(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One GET on a fresh connection: (status, headers, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def health(server: Server) -> dict:
    """plotserve's counters (renders, cache_hits, not_modified); empty for the naive server."""
    import json

    if server.kind != PLOTSERVE:
        return {}
    status, _, body = fetch(server.port, HEALTH_PATH)
    if status != 200:
        raise RuntimeError(f"{HEALTH_PATH} answered {status}")
    return json.loads(body)


@dataclass
class LoadResult:
    """What a load run got: outcomes counted, latencies of every answered request."""

    expected: str
    outcomes: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: int = 0  # connection errors (each followed by a reconnect)
    elapsed: float = 0.0

    @property
    def good(self) -> int:
        """Responses with the expected outcome."""
        return self.outcomes[self.expected]

    @property
    def rate(self) -> float:
        """Expected responses per second."""
        return self.good / self.elapsed if self.elapsed else 0.0

    def problems(self) -> str:
        """Errors and unexpected outcomes, or '' when there were none."""
        other = {name: n for name, n in self.outcomes.items() if name != self.expected}
        parts = [f"{n} x {name}" for name, n in sorted(other.items())]
        if self.errors:
            parts.append(f"{self.errors} connection errors")
        return ", ".join(parts)


def run_load(
    port: int,
    next_request: Callable[[], tuple[str, dict[str, str]]],
    expected: str,
    clients: int,
    max_requests: int,
    max_seconds: float,
) -> LoadResult:
    """GET from `clients` threads, one keep-alive connection each, until a bound is reached.

    No new request starts after `max_requests` in all or after `max_seconds`; a connection
    error is counted and the thread reconnects (http.client reopens a closed connection).
    """
    result = LoadResult(expected)
    tickets = itertools.count()
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + max_seconds

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        outcomes, latencies, errors = Counter(), [], 0
        try:
            while next(tickets) < max_requests and time.perf_counter() < deadline and errors < MAX_ERRORS_PER_CLIENT:
                path, headers = next_request()
                sent = time.perf_counter()
                try:
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                    body = response.read()
                except (OSError, http.client.HTTPException):
                    errors += 1
                    conn.close()
                    continue
                latencies.append(time.perf_counter() - sent)
                outcomes[outcome(response.status, body)] += 1
        finally:
            conn.close()
            with lock:
                result.outcomes.update(outcomes)
                result.latencies.extend(latencies)
                result.errors += errors

    threads = [threading.Thread(target=client, name=f"client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - start
    return result


def fresh_load(server: Server, rows: int, count: int, max_seconds: float, clients: int) -> LoadResult:
    """`count` fresh renders (distinct keys) from `clients` threads."""
    return run_load(server.port, lambda: (fresh_url(server.kind, rows), {}), "png", clients, count, max_seconds)


# --------------------------------------------------------------------------------------
# Results: the report's rows, planned before anything is measured
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the report: values by column, in the unit its label names."""

    key: str  # what measurements fill it in; rows sharing a key share their values
    rows: int
    label: str
    fmt: str = "{:.1f}"
    of: str = ""  # the column plotserve is divided by for the ratio ("" for none)
    target: str = "—"
    test: Callable[[float], bool] | None = None  # on the ratio, or on the value if no `of`
    values: dict[str, float] = field(default_factory=dict)

    def cells(self) -> list[str]:
        """The row as markdown cells, in COLUMNS order."""
        values = [self.values.get(column) for column in (PLOTSERVE, NAIVE, "floor")]
        plotserve, base = self.values.get(PLOTSERVE), self.values.get(self.of)
        ratio = plotserve / base if plotserve is not None and base else None
        judged = ratio if self.of else plotserve
        if self.test is None or judged is None:
            met = "—"
        else:
            met = "yes" if self.test(judged) else "no"
        return [
            self.label,
            f"{self.rows:,}",
            *("—" if value is None else self.fmt.format(value) for value in values),
            "—" if ratio is None else f"{ratio:.2f}x {self.of}",
            self.target,
            met,
        ]


COLUMNS = ("measurement", "rows", "plotserve", "naive", "floor", "ratio", "target", "met?")


def plan_rows(settings: Settings) -> list[Row]:
    """Every row of the report, in the order of measurements 1-6, with its target."""
    small, sizes = settings.sizes[0], settings.sizes
    fresh = f"4. fresh renders, {CLIENTS} clients (renders/s)"
    plan = [Row("floor", n, "1. render floor (ms)") for n in sizes]
    plan += [Row("floor rate", n, "1. floor one-core rate (renders/s)") for n in sizes]
    plan += [
        Row("latency", n, "2. fresh render, p50 latency (ms)", of="floor", target="<= 1.10x floor", test=lambda r: r <= 1.10) for n in sizes
    ]
    plan.append(
        Row("refresh", small, f"3. unchanged refresh, {CLIENTS} clients (req/s)", of=NAIVE, target=">= 300x naive", test=lambda r: r >= 300)
    )
    for n in sizes:
        plan.append(Row("fresh rate", n, fresh, of=NAIVE, target=">= 2.3x naive", test=lambda r: r >= 2.3))
        plan.append(Row("fresh rate", n, fresh, of="floor", target=">= 1.8x floor", test=lambda r: r >= 1.8))
    plan += [
        Row("rss warm", small, f"5. RSS after {settings.warmup_renders} renders (MB)"),
        Row("rss after", small, f"5. RSS after {settings.memory_renders} more (MB)"),
        Row("rss growth", small, "5. RSS growth (MB)", fmt="{:+.1f}", target="< 20 MB", test=lambda mb: mb < 20),
        Row("pss growth", small, "5. PSS growth (MB), shared pages split", fmt="{:+.1f}"),
        Row("startup", small, "6. start to first PNG (s)", fmt="{:.2f}", of=NAIVE, target="<= 1.00x naive", test=lambda r: r <= 1.0),
    ]
    return plan


@dataclass
class Results:
    """The planned rows being filled in, plus free-text notes for the report."""

    rows: list[Row]
    other_load: OtherLoad
    notes: list[str] = field(default_factory=list)

    def put(self, key: str, rows: int, column: str, value: float) -> None:
        """Set `column` on every row with this key and row count; show it as progress.

        Note it if other processes took a real share of the CPU since the last value.
        """
        for row in self.rows:
            if (row.key, row.rows) == (key, rows):
                row.values[column] = value
        other = self.other_load.take()
        shown = f"{key:<12} {rows:>6,} rows  {column:<9} {value:10.2f}"
        say(shown if other is None else f"{shown}   (others used {other:.0%} of a core)")
        if other is not None and other > OTHER_LOAD_LIMIT:
            self.notes.append(f"{key} ({column}) at {rows:,} rows: other processes used {other:.0%} of a core meanwhile.")

    def check(self, server: Server, label: str, load: LoadResult) -> None:
        """Note any error or unexpected outcome of a load run."""
        if load.problems():
            self.notes.append(f"{server.kind}, {label}: {load.problems()}.")

    def expect_counts(self, server: Server, before: dict, label: str, **expected: int) -> None:
        """Note it if plotserve's health counters did not move as the requests imply."""
        if server.kind != PLOTSERVE:
            return
        after = health(server)
        for name, want in expected.items():
            got = after.get(name, 0) - before.get(name, 0)
            if got != want:
                self.notes.append(f"plotserve, {label}: health `{name}` grew by {got}, expected {want}.")


# --------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------


def measure_floor(rows: int, data_dir: Path, runs: int) -> float:
    """Median seconds for Figure + plot_training + savefig(PNG), in this process."""
    from matplotlib.figure import Figure

    plot_training = training_module().plot_training
    log = data_dir / log_name(rows)
    times = []
    for _ in range(runs + 1):  # the first run pays for font caches and is dropped
        start = time.perf_counter()
        fig = Figure(figsize=(8, 5))
        plot_training(fig, log, smooth=1, last=next(FRESH_KEYS))
        fig.savefig(io.BytesIO(), format="png", dpi=100)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def measure_fresh_latency(server: Server, rows: int, runs: int, results: Results) -> float:
    """Median seconds of sequential fresh renders on one keep-alive connection."""
    label = f"fresh latency at {rows} rows"
    before = health(server)
    load = fresh_load(server, rows, runs, max_seconds=runs * 10.0, clients=1)
    results.check(server, label, load)
    results.expect_counts(server, before, label, renders=load.good)
    return statistics.median(load.latencies)


def measure_refresh_throughput(server: Server, rows: int, seconds: float, rounds: int, results: Results) -> float:
    """Conditional requests/s from CLIENTS threads for an unchanged plot (median of rounds).

    The naive server ignores If-None-Match and renders every time.
    """
    import psutil

    label = f"unchanged refresh at {rows} rows"
    url = image_url(server.kind, rows)
    status, headers, body = fetch(server.port, url)
    if outcome(status, body) != "png":
        raise RuntimeError(f"{server.kind}: GET {url} answered {status}")
    etag = headers.get("ETag")
    if server.kind == PLOTSERVE and not etag:
        results.notes.append("plotserve sent no ETag, so nothing can answer 304.")
    conditional = {"If-None-Match": etag or '"none"'}
    expected = "not modified" if server.kind == PLOTSERVE else "png"
    rates = []
    bench_process = psutil.Process()
    for _ in range(rounds):
        before = health(server)
        cpu_before = sum(bench_process.cpu_times()[:2])
        load = run_load(server.port, lambda: (url, conditional), expected, CLIENTS, max_requests=1_000_000, max_seconds=seconds)
        bench_cpu = (sum(bench_process.cpu_times()[:2]) - cpu_before) / load.elapsed
        results.check(server, label, load)
        results.expect_counts(server, before, label, not_modified=load.good, renders=0)
        rates.append(load.rate)
        say(f"{server.kind} refresh: {load.rate:.0f}/s, bench used {bench_cpu:.0%} CPU")
    if server.kind == PLOTSERVE:  # at ~5 req/s the naive run leaves the bench idle
        results.notes.append(
            f"plotserve, {label}: the bench's own client threads used {bench_cpu:.0%} "
            f"of a core (last round), on the same {os.cpu_count()} cores as the server."
        )
    return statistics.median(rates)


def measure_fresh_throughput(server: Server, rows: int, count: int, rounds: int, results: Results) -> float:
    """Fresh renders/s from CLIENTS threads with distinct keys (median of rounds)."""
    label = f"fresh throughput at {rows} rows"
    fresh_load(server, rows, 2 * WORKERS, START_TIMEOUT, CLIENTS)  # wake every worker
    rates = []
    for _ in range(rounds):
        before = health(server)
        load = fresh_load(server, rows, count, max_seconds=count * 2.0, clients=CLIENTS)
        results.check(server, label, load)
        results.expect_counts(server, before, label, renders=load.good)
        rates.append(load.rate)
    return statistics.median(rates)


def measure_memory(server: Server, rows: int, warmup: int, renders: int, results: Results) -> tuple[tuple[float, float], ...]:
    """(RSS, PSS) in MB (server + children) after `warmup`, then after `renders` fresh renders.

    Renders go in chunks, for at most MEMORY_MAX_SECONDS; the naive server is let off
    early once it passes NAIVE_MEMORY_CAP_MB.
    """
    label = f"memory run at {rows} rows"
    results.check(server, label, fresh_load(server, rows, warmup, max_seconds=warmup * 5.0, clients=CLIENTS))
    warm, health_warm = memory_mb(server), health(server)
    deadline = time.perf_counter() + MEMORY_MAX_SECONDS
    done = 0
    while done < renders and time.perf_counter() < deadline:
        chunk = min(MEMORY_CHUNK, renders - done)
        seconds = min(chunk * 5.0, deadline - time.perf_counter())
        load = fresh_load(server, rows, chunk, max_seconds=seconds, clients=CLIENTS)
        results.check(server, label, load)
        done += load.good
        rss = memory_mb(server)[0]
        say(f"{server.kind} memory run: {done} renders, RSS {rss:.0f} MB")
        if load.good == 0 or (server.kind == NAIVE and rss > NAIVE_MEMORY_CAP_MB):
            break
    if done < renders:
        results.notes.append(f"{server.kind}, {label}: {done} of {renders} renders.")
    if server.kind == PLOTSERVE:
        cache_mb = (health(server)["cache_bytes"] - health_warm["cache_bytes"]) / 1e6
        results.notes.append(f"plotserve, {label}: `cache_bytes` (its bounded image cache) grew by {cache_mb:.1f} MB of the RSS growth.")
    return warm, memory_mb(server)


def measure_startup(kind: str, rows: int, data_dir: Path, log_dir: Path) -> float:
    """Seconds from Popen to the first 200 PNG answer of a newly started server."""
    server = start_server(kind, data_dir, log_dir)
    try:
        url = fresh_url(kind, rows)
        deadline = time.perf_counter() + START_TIMEOUT
        while time.perf_counter() < deadline:
            try:
                status, _, body = fetch(server.port, url)
                if outcome(status, body) == "png":
                    return time.perf_counter() - server.popen_at
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"{kind} gave no PNG within {START_TIMEOUT} s")
    finally:
        stop_server(server)


def bench_server(
    kind: str,
    settings: Settings,
    floors: dict[int, float],
    data_dir: Path,
    log_dir: Path,
    results: Results,
) -> None:
    """Measurements 2-6 for one kind of server, each group on a new process.

    A new process per group keeps the figures the naive server leaked in one group
    out of the next group's timings.
    """
    small = settings.sizes[0]
    starts = [measure_startup(kind, small, data_dir, log_dir) for _ in range(settings.starts)]
    results.put("startup", small, kind, statistics.median(starts))

    for rows in settings.sizes:
        server = start_server(kind, data_dir, log_dir)
        try:
            latency = measure_fresh_latency(server, rows, settings.latency_runs, results)
            results.put("latency", rows, kind, latency * 1000)
            if kind == NAIVE and rows == small:
                results.notes.append(
                    f"naive p50 latency is {latency / floors[rows]:.2f}x the floor: pyplot.savefig draws "
                    "the figure a second time (it calls canvas.draw_idle() after saving, and Agg draws at once)."
                )
            if rows == small:
                refresh = measure_refresh_throughput(server, rows, settings.refresh_seconds, settings.rounds, results)
                results.put("refresh", rows, kind, refresh)
            count = max(settings.min_round, round(settings.round_seconds / floors[rows]))
            rate = measure_fresh_throughput(server, rows, count, settings.rounds, results)
            results.put("fresh rate", rows, kind, rate)
        finally:
            stop_server(server, results.notes)

    server = start_server(kind, data_dir, log_dir)
    try:
        warm, after = measure_memory(server, small, settings.warmup_renders, settings.memory_renders, results)
    finally:
        stop_server(server, results.notes)
    results.put("rss warm", small, kind, warm[0])
    results.put("rss after", small, kind, after[0])
    results.put("rss growth", small, kind, after[0] - warm[0])
    results.put("pss growth", small, kind, after[1] - warm[1])


def run_bench(settings: Settings, kinds: list[str]) -> Results:
    """Write the logs, measure the floor, then each server in turn; stop them all.

    The floor is measured again at the end, to catch a machine that got busier meanwhile.
    """
    results = Results(plan_rows(settings), OtherLoad())
    training = training_module()
    with tempfile.TemporaryDirectory(prefix="plotserve-bench-") as tmp:
        data_dir, log_dir = Path(tmp, "data"), Path(tmp, "logs")
        data_dir.mkdir()
        log_dir.mkdir()
        floors = {}
        for rows in settings.sizes:
            training.write_training_log(data_dir / log_name(rows), rows, seed=0)
            floors[rows] = measure_floor(rows, data_dir, settings.floor_runs)
            for key in ("floor", "latency"):
                results.put(key, rows, "floor", floors[rows] * 1000)
            for key in ("floor rate", "fresh rate"):
                results.put(key, rows, "floor", 1 / floors[rows])
        try:
            for kind in kinds:
                try:
                    bench_server(kind, settings, floors, data_dir, log_dir, results)
                except Exception as exc:  # report it, and still bench the other kind
                    traceback.print_exc()
                    for path in sorted(log_dir.glob(f"{kind}-*.stderr")):
                        tail = path.read_text(errors="replace")[-3000:]
                        say(f"{path.name} ends with:\n{tail}")
                    results.notes.append(f"{kind} failed: {exc!r} (details on stderr).")
        finally:
            stop_all()
        small = settings.sizes[0]
        drift = measure_floor(small, data_dir, settings.floor_runs) / floors[small] - 1
        say(f"floor at {small} rows, measured again: {drift:+.0%}")
        if abs(drift) > 0.10:
            results.notes.append(
                f"the floor at {small} rows was {drift:+.0%} off when measured again at the end: the machine was not as idle throughout."
            )
    return results


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def report(results: Results, quick: bool) -> str:
    """The markdown report: a line on the set-up, the table, then notes."""
    import matplotlib

    setup = (
        f"plotserve benchmark, {'quick' if quick else 'full'} run: "
        f"Python {sys.version.split()[0]}, matplotlib {matplotlib.__version__}, "
        f"{os.cpu_count()} CPUs, plotserve --workers {WORKERS}, "
        f"{CLIENTS} client threads; every value is a median."
    )
    lines = [
        setup,
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
        *("| " + " | ".join(row.cells()) + " |" for row in results.rows),
    ]
    if results.notes:
        lines += ["", "Notes:", *(f"- {note}" for note in dict.fromkeys(results.notes))]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, or (with --naive-server) be the naive server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke check, under 2 min")
    parser.add_argument("--only", choices=(PLOTSERVE, NAIVE), help="bench one server alone (and the floor)")
    parser.add_argument("--memory-renders", type=int, metavar="N", help="fresh renders in the memory run (default 2000)")
    parser.add_argument(
        "--naive-server",
        nargs=2,
        metavar=("PORT", "DATA_DIR"),
        help="be the naive server (the bench starts itself this way)",
    )
    args = parser.parse_args(argv)
    if args.naive_server:
        port, data_dir = args.naive_server
        serve_naive(int(port), Path(data_dir))
        return 0
    kinds = [args.only] if args.only else [PLOTSERVE, NAIVE]
    if PLOTSERVE in kinds and not (REPO / "plotserve.py").exists():
        parser.error(f"{REPO / 'plotserve.py'} not found (try --only naive)")
    settings = QUICK if args.quick else FULL
    if args.memory_renders:
        settings = replace(settings, memory_renders=args.memory_renders)
    results = run_bench(settings, kinds)
    print(report(results, args.quick))
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
