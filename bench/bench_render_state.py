"""What starting every render from the same matplotlib state costs.

    python bench/bench_render_state.py

Prints medians (over 200 runs each) of: rendering a small ``ax`` plot to PNG in-process (the
baseline), taking and putting back the global state around a render when nothing changed, the
same after a plot rewrote seaborn's colour letters (less the rewrite itself), making the given
figure through pyplot against ``Figure()``, and putting a source's own set-up in place around a
render (a header with ``plt.style.use("ggplot")`` and ``sns.set_theme()``: its rcParams, colour
letters) less the same state work for a source with none; each with its ratio to the baseline.
Also what taking a source's set-up costs once, at its import.
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

    header = pathlib.Path(tempfile.mkdtemp()) / "bench_header.py"
    header.write_text('import matplotlib.pyplot as plt\nimport seaborn as sns\nplt.style.use("ggplot")\nsns.set_theme()\n' + SOURCE)
    started = time.perf_counter()
    themed = plotserve.discover_plots([str(header)])["line"]
    imported = time.perf_counter() - started
    capture = median_seconds(lambda: plotserve.SourceSetup.around(lambda: None))
    rc = {"figure.figsize": (8, 5), "figure.dpi": 100, "svg.hashsalt": "plotserve"}

    def around(setup):
        def work():
            with setup.drawing(rc):
                state = plotserve._GlobalState.now()
                setup.apply()
                state.restore()

        return work

    # Interleaved, many runs: the difference is a few µs, far below a busy machine's drift.
    with_setup, without = around(themed.setup), around(plotserve.NO_SETUP)
    times = {with_setup: [], without: []}
    for _ in range(20 * RUNS):
        for work, found in times.items():
            started = time.perf_counter()
            work()
            found.append(time.perf_counter() - started)
    setup_cost = statistics.median(times[with_setup]) - statistics.median(times[without])
    pyplot_figure = median_seconds(through_pyplot)
    plain_figure = median_seconds(lambda: Figure(figsize=(8, 5), dpi=100).add_subplot())
    print("| step | median | of a render |")
    print("|---|---|---|")
    print(f"| render a small ax plot to PNG (baseline) | {baseline * 1e3:.2f} ms | 1 |")
    print(f"| snapshot + reset, nothing changed | {unchanged * 1e6:.0f} µs | {unchanged / baseline:.4f} |")
    print(f"| snapshot + reset after set_color_codes | {letters * 1e6:.0f} µs | {letters / baseline:.4f} |")
    print(f"| given figure through pyplot | {pyplot_figure * 1e3:.2f} ms | {pyplot_figure / baseline:.3f} |")
    print(f"| given figure as Figure() | {plain_figure * 1e3:.2f} ms | {plain_figure / baseline:.3f} |")
    changed = f"{len(themed.setup.rc)} rcParams, {len(themed.setup.colors)} colour letters"
    print(f"| a source's set-up around a render ({changed}) | {setup_cost * 1e6:.0f} µs | {setup_cost / baseline:.4f} |")
    print(f"| taking a source's set-up at import (once) | {capture * 1e6:.0f} µs | {capture / baseline:.4f} |")
    print(f"| importing that source, seaborn already loaded (once) | {imported * 1e3:.0f} ms | |")


if __name__ == "__main__":
    main()
