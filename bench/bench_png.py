"""Benchmark PNG encoding: plotserve's run-length deflate against matplotlib's default, on real plots.

Run from anywhere (paths are taken from this file)::

    python bench/bench_png.py               # 5 repeats, about a minute
    python bench/bench_png.py --repeat 3

Every plot of the fidelity corpus (tests/corpus: matplotlib's gallery, pandas' visualization guide,
seaborn's examples, published scripts) is drawn once by plotserve, in this process. Its pixels are
then encoded as ``savefig`` encodes them by default (Pillow's PNG writer, zlib's default strategy)
and as plotserve encodes them (zlib's run-length strategy), the two interleaved, ``--repeat`` times
each. The encoding is the only step that differs: the pixels are the same (checked here).
Medians per plot, then the sums over the corpus and the ratios of plotserve's to the default's.
"""

import argparse
import contextlib
import io
import os
import pathlib
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np
from PIL import Image

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import plotserve  # noqa: E402

CORPUS = REPO / "tests" / "corpus"


def encode(image: Image.Image, options: dict) -> tuple[float, bytes]:
    """Seconds to write ``image`` as a PNG with Pillow ``options``, and the file."""
    buffer = io.BytesIO()
    started = time.perf_counter()
    image.save(buffer, format="png", **options)
    return time.perf_counter() - started, buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    files = [
        CORPUS / "gallery_matplotlib.py",
        CORPUS / "guide_pandas.py",
        CORPUS / "examples_seaborn.py",
        *sorted(CORPUS.glob("script_*.py")),
    ]
    ours = plotserve._save_options("png")["pil_kwargs"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="plotserve-bench-png-") as folder, contextlib.chdir(folder), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the corpus's own deprecation warnings
        plots = plotserve.discover_plots([str(path) for path in files])
        limits, frames = plotserve.Limits(data_dir=pathlib.Path(folder)), plotserve.FrameCache(1 << 26)
        for name in plots:
            try:
                body, _ = plotserve.run_job(plots, limits, plotserve.RenderJob(name, (), "png"), frames)
            except plotserve.PlotFailed:
                continue
            image = Image.open(io.BytesIO(body))
            image.load()
            times, sizes = {"default": [], "plotserve": []}, {}
            for _ in range(args.repeat):
                for label, options in (("default", {}), ("plotserve", ours)):
                    seconds, data = encode(image, options)
                    times[label].append(seconds)
                    sizes[label] = len(data)
            decoded = np.asarray(Image.open(io.BytesIO(data)))
            assert np.array_equal(decoded, np.asarray(image)), f"{name}: the pixels changed"
            rows.append((name, {label: statistics.median(values) for label, values in times.items()}, sizes))
    total = {label: sum(row[1][label] for row in rows) for label in ("default", "plotserve")}
    size = {label: sum(row[2][label] for row in rows) for label in ("default", "plotserve")}
    print(f"PNG encoding of {len(rows)} corpus plots, medians of {args.repeat}, Pillow {Image.__version__}, {os.cpu_count()} CPUs")
    print()
    print("| encoding | time, all plots | per plot | ratio | bytes, all plots | ratio |")
    print("|---|---|---|---|---|---|")
    for label, text in (("default", "matplotlib's default (zlib default strategy)"), ("plotserve", "plotserve (zlib run-length strategy)")):
        print(
            f"| {text} | {total[label] * 1000:.0f} ms | {total[label] * 1000 / len(rows):.1f} ms | "
            f"{total[label] / total['default']:.2f}x | {size[label] / 1e6:.2f} MB | {size[label] / size['default']:.2f}x |"
        )
    print()
    by_gain = sorted(rows, key=lambda row: row[1]["default"] - row[1]["plotserve"])
    by_size = sorted(rows, key=lambda row: row[2]["plotserve"] / row[2]["default"])
    for title, chosen in (("most time saved", by_gain[-3:]), ("largest growth in bytes", by_size[-3:])):
        print(f"{title}:")
        for name, seconds, sizes in reversed(chosen):
            print(
                f"  {name}: {seconds['default'] * 1000:.1f} -> {seconds['plotserve'] * 1000:.1f} ms, "
                f"{sizes['default'] / 1000:.0f} -> {sizes['plotserve'] / 1000:.0f} kB"
            )


if __name__ == "__main__":
    main()
