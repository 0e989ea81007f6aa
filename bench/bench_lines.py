"""Benchmark long lines: the render of a line of 5k to 5M points, decimated and not.

Run from anywhere (paths are taken from this file)::

    python bench/bench_lines.py               # 7 repeats, about two minutes
    python bench/bench_lines.py --repeat 3    # quicker

A real plotserve (one worker process, on 127.0.0.1 and an ephemeral port) serves a plot that
draws a random walk of N points with ``ax.plot`` (the walk is made once per worker and kept, as
a plot keeps a loaded array). Each request asks for a new title, so each is a real render (no
cached picture); the time is the whole HTTP request. The two modes are interleaved, size by size,
and every time is given as a ratio to the 5,000-point render of the same run (the median of both
modes: so short a line is not decimated).
"""

import argparse
import pathlib
import statistics
import sys
import tempfile
import threading

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_data import timed_get  # noqa: E402

import plotserve  # noqa: E402

PLOTS = '''\
import functools

import numpy as np


@functools.lru_cache(maxsize=8)
def walk(points):
    return np.arange(points, dtype=float), np.cumsum(np.random.default_rng(1).standard_normal(points))


def plot_line(ax, points: int = 5000, title: str = ""):
    """A random walk of ``points`` points, drawn with ax.plot."""
    ax.plot(*walk(points))
    ax.set_title(title)
'''

SIZES = (5_000, 20_000, 50_000, 500_000, 5_000_000)
TARGET = 1.5  # 5M points within 1.5x of 5k, decimated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--format", default="png", choices=("png", "svg", "pdf"))
    args = parser.parse_args()
    times: dict[tuple[int, bool], list[float]] = {(size, on): [] for size in SIZES for on in (True, False)}
    with tempfile.TemporaryDirectory(prefix="plotserve-bench-lines-") as name:
        source = pathlib.Path(name) / "lines.py"
        source.write_text(PLOTS)
        server = plotserve.PlotServer(("127.0.0.1", 0), [str(source)], workers=1, timeout=300, quiet=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        try:
            for size in SIZES:  # the walks made, and the worker warm
                timed_get(port, f"/line.{args.format}?points={size}&title=warm")
            for repeat in range(5):  # the big warm figures collected before the small ones are timed
                timed_get(port, f"/line.{args.format}?points={SIZES[0]}&title=warm{repeat}")
            # Size by size, the two modes interleaved: the garbage of one render (a figure of 5M
            # points is freed when Python collects it, during a later render) is paid by its own size.
            for size in SIZES:
                for repeat in range(args.repeat):
                    for on in (True, False):
                        query = f"points={size}&title=r{repeat}" + ("" if on else "&_decimate=false")
                        times[size, on].append(timed_get(port, f"/line.{args.format}?{query}"))
        finally:
            server.shutdown()
            server.server_close()
    median = {key: statistics.median(values) for key, values in times.items()}
    # 5,000 points are not decimated (fewer than 4 a column): both modes are the same render, the base.
    base = statistics.median(times[SIZES[0], True] + times[SIZES[0], False])
    print(f"{args.format.upper()}, one worker, medians of {args.repeat}, ratios to the 5,000-point render (both modes)")
    print()
    print("| points | decimated | ratio to 5k | `_decimate=false` | ratio to 5k | decimation's gain |")
    print("|---|---|---|---|---|---|")
    for size in SIZES:
        on, off = median[size, True], median[size, False]
        print(f"| {size:,} | {on * 1000:.0f} ms | {on / base:.2f}x | {off * 1000:.0f} ms | {off / base:.2f}x | {off / on:.1f}x |")
    ratio = median[SIZES[-1], True] / base
    print()
    print(f"target: {SIZES[-1]:,} points within {TARGET}x of {SIZES[0]:,}: {ratio:.2f}x, {'met' if ratio <= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
