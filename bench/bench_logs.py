"""Benchmark the log page of a big CSV served with no code (``plotserve metrics.csv``).

Run from anywhere (paths are taken from this file)::

    python bench/bench_logs.py                  # 1,000,000-row log, 3 rounds of 5 appends
    python bench/bench_logs.py --rows 200000    # quicker

A real plotserve (one render process, on 127.0.0.1 and an ephemeral port) serves the log as the
built-in log plot. Three figures, each the median over the rounds, the time of a whole HTTP request:

1. **First picture**: a fresh server's first ``/metrics.png``: reading the file, drawing its columns.
2. **Picture after a 10-row append**: the log grows by 10 rows and the picture is asked again; the
   render process extends its parsed frame by the new rows (counted: ``data_extensions``), it does
   not parse the file again (``data_parses`` stays).
3. **The baseline**, measured in the same run: ``pandas.read_csv`` of the whole file, which is what a
   plot that reads its log itself pays on every picture before it draws anything.

And the data part alone, in this process: ``FrameCache.load`` of the grown file (an extension: the
10 new lines parsed and appended) against a fresh cache's full parse of it. The rest of a picture's
time is drawing: matplotlib draws every point of every column.
"""

import argparse
import http.client
import json
import pathlib
import statistics
import sys
import tempfile
import threading
import time

import numpy as np
import pandas as pd

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import plotserve  # noqa: E402


def write_log(path: pathlib.Path, rows: int) -> None:
    steps = np.arange(rows)
    rng = np.random.default_rng(0)
    loss = np.exp(-steps / (rows / 5)) + rng.normal(0, 0.05, rows)
    lr = 1e-3 * 0.5 ** (steps // (rows // 4))
    pd.DataFrame({"step": steps, "loss": loss, "accuracy": 1 - loss / 2, "lr": lr}).to_csv(path, index=False)


def append(path: pathlib.Path, start: int, count: int = 10) -> None:
    with path.open("a") as file:
        for step in range(start, start + count):
            file.write(f"{step},{0.01 + step * 1e-9},{0.99},{1e-4}\n")


def timed_get(port: int, path: str) -> tuple[float, int, bytes]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request("GET", path)
    answer = connection.getresponse()
    body = answer.read()
    connection.close()
    return time.perf_counter() - started, answer.status, body


def health(port: int) -> dict:
    return json.loads(timed_get(port, "/-/health.json")[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--appends", type=int, default=5)
    parser.add_argument("--max-growth-mb", type=float, default=256, help="the render process's growth guard (plotserve's default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log = pathlib.Path(folder, "metrics.csv")
        write_log(log, args.rows)
        rows = args.rows
        print(f"log: {rows:,} rows, {log.stat().st_size / 2**20:.1f} MB, columns step, loss, accuracy, lr")
        baseline = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            pd.read_csv(log)
            baseline.append(time.perf_counter() - started)
        first, appended = [], []
        for _ in range(args.rounds):
            limits = plotserve.Limits(data_dir=pathlib.Path(folder), data_cache_bytes=1 << 30)
            # A render process is replaced once it has grown 256 MB past its first render (a leak guard);
            # its parsed-data cache and the figures it has drawn do not count, so the log stays parsed.
            options = dict(limits=limits, workers=1, quiet=True, worker_max_growth_mb=args.max_growth_mb)
            server = plotserve.PlotServer(("127.0.0.1", 0), [str(log)], **options)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            port = server.server_address[1]
            try:
                health(port)  # the worker is up
                seconds, status, _ = timed_get(port, "/metrics.png")
                assert status == 200, status
                first.append(seconds)
                for _ in range(args.appends):
                    before = health(port)
                    append(log, rows)
                    rows += 10
                    seconds, status, _ = timed_get(port, "/metrics.png")
                    assert status == 200, status
                    after = health(port)
                    data = {key: (before[key], after[key]) for key in before if key.startswith("data")}
                    assert after["data_extensions"] == before["data_extensions"] + 1, f"not an extension: {data}"
                    assert after["data_parses"] == before["data_parses"], "parsed again"
                    appended.append(seconds)
            finally:
                server.shutdown()
                server.server_close()
        extension, parse = [], []
        for _ in range(args.rounds):
            cache = plotserve.FrameCache(1 << 30)
            cache.load(log, plotserve.Table())
            append(log, rows)
            rows += 10
            started = time.perf_counter()
            cache.load(log, plotserve.Table())
            extension.append(time.perf_counter() - started)
            assert cache.stats()["data_extensions"] == 1
            started = time.perf_counter()
            plotserve.FrameCache(1 << 30).load(log, plotserve.Table())
            parse.append(time.perf_counter() - started)
        read = statistics.median(baseline)
        print(f"pandas.read_csv of the whole file (baseline): median {read * 1000:8.0f} ms  ({args.rounds} runs)")
        print(f"first picture of the log page:                 median {statistics.median(first) * 1000:8.0f} ms  ({len(first)} runs)")
        after = statistics.median(appended)
        print(f"picture after a 10-row append (an extension):   median {after * 1000:8.0f} ms  ({len(appended)} runs)")
        print(f"append picture / read_csv alone:               {after / read:.2f}x")
        grown, full = statistics.median(extension), statistics.median(parse)
        print(f"data only: extension by 10 rows:               median {grown * 1000:8.1f} ms")
        print(f"data only: full parse of the grown file:       median {full * 1000:8.1f} ms  ({full / grown:.0f}x the extension)")


if __name__ == "__main__":
    main()
