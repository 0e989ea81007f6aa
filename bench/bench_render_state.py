"""What starting every render from the same matplotlib state costs.

    python bench/bench_render_state.py

Prints medians (over 200 runs each) of: rendering a small ``ax`` plot to PNG in-process (the
baseline), taking and putting back the global state around a render when nothing changed, the
same after a plot rewrote seaborn's colour letters (less the rewrite itself), and making the
given figure through pyplot against ``Figure()``; each with its ratio to the baseline.
"""

import pathlib
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import plotserve

RUNS = 200

SOURCE = """
def plot_line(ax, n: int = 50):
    ax.plot(range(n), "r-")
"""


def median_seconds(work, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "bench_plots.py"
        path.write_text(SOURCE)
        plots = plotserve.discover_plots([str(path)])
    line = plots["line"]
    render = lambda: plotserve.render_plot(line, {"n": 50}, "png", 8, 5, 100, 10**8)  # noqa: E731
    render()  # loads pyplot and takes the snapshot
    baseline = median_seconds(render, 50)
    unchanged = median_seconds(lambda: plotserve._GlobalState.now().restore())
    import matplotlib.colors
    import seaborn as sns

    def rewritten():
        state = plotserve._GlobalState.now()
        sns.set_color_codes("muted")
        state.restore()

    letters = median_seconds(rewritten) - median_seconds(lambda: sns.set_color_codes("muted"))
    plotserve._GlobalState.now().restore()
    assert matplotlib.colors.to_rgb("r") != (1.0, 0.0, 0.0)  # the last set_color_codes, outside a render, holds
    sns.set_color_codes("reset")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    def through_pyplot():
        figure = plt.figure(figsize=(8, 5), dpi=100)
        figure.add_subplot()
        plt.close(figure)

    pyplot_figure = median_seconds(through_pyplot)
    plain_figure = median_seconds(lambda: Figure(figsize=(8, 5), dpi=100).add_subplot())
    print("| step | median | of a render |")
    print("|---|---|---|")
    print(f"| render a small ax plot to PNG (baseline) | {baseline * 1e3:.2f} ms | 1 |")
    print(f"| snapshot + reset, nothing changed | {unchanged * 1e6:.0f} µs | {unchanged / baseline:.4f} |")
    print(f"| snapshot + reset after set_color_codes | {letters * 1e6:.0f} µs | {letters / baseline:.4f} |")
    print(f"| given figure through pyplot | {pyplot_figure * 1e3:.2f} ms | {pyplot_figure / baseline:.3f} |")
    print(f"| given figure as Figure() | {plain_figure * 1e3:.2f} ms | {plain_figure / baseline:.3f} |")


if __name__ == "__main__":
    main()
