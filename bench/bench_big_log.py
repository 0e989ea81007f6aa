"""Benchmark a 5,000,000-row CSV log that grows: one appended row, with the default data cache.

Run from anywhere (paths are taken from this file)::

    python bench/bench_big_log.py               # 5,000,000 rows (about 200 MB), 7 repeats, a few minutes
    python bench/bench_big_log.py --rows 1000000

Two measurements, interleaved, each against a baseline in the same run:

1. **Load after appending one row.** ``FrameCache.load()`` of the log, in a cache of the default
   size (a share of this machine's memory), against a cache of the former default, 128 MB, which
   cannot keep the frame and parses the whole file again.
2. **The picture after appending one row.** A real plotserve (one worker process, on 127.0.0.1
   and an ephemeral port) draws the log's loss curve, all its rows (decimated), as a page
   watching it would ask for it; default cache against ``--data-cache-mb 128``.
"""

import argparse
import pathlib
import statistics
import sys
import tempfile
import threading
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_data  # noqa: E402  (its training log writer)

import plotserve  # noqa: E402

PLOTS = '''\
import pandas as pd


def plot_loss(ax, log: pd.DataFrame):
    """The loss of every epoch."""
    ax.plot(log["epoch"], log["loss"])
    ax.set_title(f"{len(log):,} epochs")
'''

TARGET_MS = 50
OLD_DEFAULT = 128 << 20


def start(folder: pathlib.Path, data_cache_mb: float | None) -> plotserve.PlotServer:
    server = plotserve.PlotServer(
        ("127.0.0.1", 0),
        [str(folder / "bigplots.py")],
        limits=plotserve.Limits(data_dir=folder),
        data_cache_mb=data_cache_mb,
        workers=1,
        timeout=600,
        quiet=True,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    default = plotserve.Limits().data_cache_bytes
    with tempfile.TemporaryDirectory(prefix="plotserve-bench-big-log-") as name:
        folder = pathlib.Path(name)
        path = folder / "log.csv"
        bench_data.write_log(path, args.rows)
        (folder / "bigplots.py").write_text(PLOTS)
        size = path.stat().st_size
        table = plotserve.Table()
        kept, small = plotserve.FrameCache(default), plotserve.FrameCache(OLD_DEFAULT)
        frame_bytes = int(kept.load(path, table).memory_usage(deep=True).sum())
        small.load(path, table)
        print(
            f"log: {args.rows:,} rows, {size / 2**20:.0f} MB on disk, {frame_bytes / 2**20:.0f} MB parsed; "
            f"default data cache {default / 2**20:.0f} MB a process; {args.repeat} repeats",
            flush=True,
        )
        servers = {"default": start(folder, None), "128 MB": start(folder, 128)}
        ports = {kind: server.server_address[1] for kind, server in servers.items()}
        loads = {"default": [], "128 MB": []}
        pictures = {"default": [], "128 MB": []}
        rows = args.rows
        try:
            for port in ports.values():  # the first parse, and a warm worker
                bench_data.timed_get(port, "/loss.png?log=log.csv")
            for _ in range(args.repeat):
                bench_data.write_log(path, 1, start=rows + 1)
                rows += 1
                for kind, cache in (("default", kept), ("128 MB", small)):
                    started = time.perf_counter()
                    frame = cache.load(path, table)
                    loads[kind].append(time.perf_counter() - started)
                    assert len(frame) == rows, "the load lost rows"
                for kind, port in ports.items():
                    pictures[kind].append(bench_data.timed_get(port, "/loss.png?log=log.csv"))
            health = {kind: server.images.renderer.data_stats() for kind, server in servers.items()}
        finally:
            for server in servers.values():
                server.shutdown()
                server.server_close()
    median = statistics.median
    print()
    print("| after appending one row | default cache | 128 MB cache (the former default) | ratio | target |")
    print("|---|---|---|---|---|")
    load, old = median(loads["default"]) * 1000, median(loads["128 MB"]) * 1000
    met = "met" if load < TARGET_MS else "NOT met"
    print(f"| `FrameCache.load()` | {load:.0f} ms | {old:.0f} ms | {old / load:.0f}x | under {TARGET_MS} ms: {met} |")
    picture, old_picture = median(pictures["default"]) * 1000, median(pictures["128 MB"]) * 1000
    print(f"| the PNG of all its rows, over HTTP | {picture:.0f} ms | {old_picture:.0f} ms | {old_picture / picture:.1f}x | |")
    print()
    for kind, stats in health.items():
        print(f"{kind}: {stats['data_parses']} parse(s), {stats['data_extensions']} extension(s) in the worker")


if __name__ == "__main__":
    main()
