"""Benchmark DataFrame parameters: parsed once per file version, extended when a log grows.

Run from anywhere (paths are taken from this file)::

    python bench/bench_data.py                 # 1,000,000-row log, 7 repeats, about a minute
    python bench/bench_data.py --rows 200000   # quicker
    python bench/bench_data.py --logy          # the same plot on a log y axis (its ticks cost more)

Two measurements, each against a baseline measured in the same run:

1. **Re-render with another parameter.** A real plotserve (one worker process, on 127.0.0.1 and
   an ephemeral port) serves the same plot twice: ``frame`` takes the log as a ``pd.DataFrame``
   parameter, ``reread`` takes a ``Path`` and calls ``pd.read_csv`` itself, as plots did before.
   Each request asks for a new ``smooth`` value, so each one is a real render (no cached picture);
   the time is the whole HTTP request.
2. **Append 10 rows.** The log grows by 10 rows and FrameCache.load() is timed: the extension
   (parse the new lines, concatenate), against a full parse of the same file by a fresh cache.
"""

import argparse
import http.client
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

PLOTS = '''\
from pathlib import Path

import pandas as pd


def _draw(ax, data, smooth):
    curves = data[["loss", "val_loss"]].rolling(smooth, min_periods=1).mean()
    step = max(1, len(data) // 2000)  # a screen shows ~2000 points across; draw no more
    for name in curves.columns:
        ax.plot(data["epoch"].iloc[::step], curves[name].iloc[::step], label=name)
    ax.legend()
    ax.set_title(f"{len(data)} epochs, mean of {smooth}")


def plot_frame(ax, log: pd.DataFrame, smooth: int = 1):
    """The log as a DataFrame parameter: plotserve parses it."""
    _draw(ax, log, smooth)


def plot_reread(ax, log: Path, smooth: int = 1):
    """The log as a Path: the plot parses it on every render."""
    _draw(ax, pd.read_csv(log), smooth)
'''


def write_log(path: pathlib.Path, rows: int, start: int = 1) -> None:
    """A training log of ``rows`` epochs from ``start`` (appended when start > 1)."""
    rng = np.random.default_rng(start)
    epoch = np.arange(start, start + rows)
    loss = 0.08 + 2.2 * np.exp(-epoch / 30_000) * (1 + 0.04 * rng.standard_normal(rows))
    frame = pd.DataFrame(
        {
            "epoch": epoch,
            "loss": loss.round(4),
            "val_loss": (1.08 * loss + 0.05 + 0.02 * rng.standard_normal(rows)).round(4),
            "precision": rng.uniform(0.5, 1, rows).round(4),
            "recall": rng.uniform(0.5, 1, rows).round(4),
            "f1": rng.uniform(0.5, 1, rows).round(4),
        }
    )
    frame.to_csv(path, mode="a" if start > 1 else "w", header=start == 1, index=False, lineterminator="\n")


def timed_get(port: int, path: str) -> float:
    """Seconds for one GET on a fresh connection; anything but a 200 ends the benchmark."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    started = time.perf_counter()
    connection.request("GET", path)
    answer = connection.getresponse()
    answer.read()
    seconds = time.perf_counter() - started
    connection.close()
    if answer.status != 200:
        raise SystemExit(f"bench: {path} answered {answer.status}: {answer.getheader('X-Plotserve-Error')}")
    return seconds


def rerender(folder: pathlib.Path, repeat: int, view: str = "") -> tuple[list[float], list[float], dict]:
    """Seconds per render of a new view: DataFrame parameter, and the plot reading the CSV itself."""
    (folder / "benchplots.py").write_text(PLOTS)
    limits = plotserve.Limits(data_dir=folder, data_cache_bytes=1 << 30)
    server = plotserve.PlotServer(("127.0.0.1", 0), [str(folder / "benchplots.py")], limits=limits, workers=1, timeout=300, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        timed_get(port, "/frame.png?log=log.csv")  # the one parse of this version of the file
        timed_get(port, "/reread.png?log=log.csv")  # warm the worker the same way
        frame, reread = [], []
        for smooth in range(2, 2 + repeat):  # a new value each time: a render, not a cached picture
            frame.append(timed_get(port, f"/frame.png?log=log.csv&smooth={smooth}{view}"))
            reread.append(timed_get(port, f"/reread.png?log=log.csv&smooth={smooth}{view}"))
        return frame, reread, server.images.health()
    finally:
        server.shutdown()
        server.server_close()


def append(folder: pathlib.Path, rows: int, repeat: int) -> tuple[list[float], list[float], dict]:
    """Seconds to load the log after 10 more rows (extension), and to parse it whole (fresh cache)."""
    path = folder / "log.csv"
    cache = plotserve.FrameCache(1 << 30)
    table = plotserve.Table()
    cache.load(path, table)
    grown, full, total = [], [], rows
    for _ in range(repeat):
        write_log(path, 10, start=total + 1)
        total += 10
        started = time.perf_counter()
        frame = cache.load(path, table)
        grown.append(time.perf_counter() - started)
        assert len(frame) == total and frame["epoch"].iloc[-1] == total, "the extension lost rows"
        started = time.perf_counter()
        whole = plotserve.FrameCache(1 << 30).load(path, table)
        full.append(time.perf_counter() - started)
        pd.testing.assert_frame_equal(frame, whole)  # the same frame a full parse gives
    return grown, full, cache.stats()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--logy", action="store_true", help="draw on a logarithmic y axis (_logy=true)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plotserve-bench-data-") as name:
        folder = pathlib.Path(name)
        write_log(folder / "log.csv", args.rows)
        size = (folder / "log.csv").stat().st_size
        print(f"log: {args.rows:,} rows, {size / 2**20:.1f} MB; pandas {pd.__version__}; {args.repeat} repeats", flush=True)
        frame, reread, health = rerender(folder, args.repeat, "&_logy=true" if args.logy else "")
        grown, full, stats = append(folder, args.rows, args.repeat)
    median = statistics.median
    rerender_ratio = median(reread) / median(frame)
    append_ratio = median(full) / median(grown)
    print()
    print("| measurement | median | baseline (median) | ratio | target |")
    print("|---|---|---|---|---|")
    met = {True: "met", False: "NOT met"}
    print(
        f"| re-render with another `smooth` (DataFrame parameter) | {median(frame) * 1000:.0f} ms "
        f"| {median(reread) * 1000:.0f} ms (plot reads the CSV) | {rerender_ratio:.1f}x | >= 3x: {met[rerender_ratio >= 3]} |"
    )
    print(
        f"| load after appending 10 rows (extension) | {median(grown) * 1000:.1f} ms "
        f"| {median(full) * 1000:.0f} ms (full parse) | {append_ratio:.0f}x | >= 10x: {met[append_ratio >= 10]} |"
    )
    print()
    print(
        f"worker: {health['data_parses']} parse(s), {health['data_hits']} cache hits for {len(frame) + 1} DataFrame renders; "
        f"appends: {stats['data_extensions']} extensions, {stats['data_parses']} parse(s)"
    )


if __name__ == "__main__":
    main()
