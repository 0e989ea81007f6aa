"""What the exploration geometry costs: axes_geometry on a drawn figure against the render itself.

    python bench/geometry.py

Prints medians for the examples with several Axes (twinx, colorbar, dates) and the ratio of the
geometry to the whole render (parse, draw, PNG) measured in the same run.
"""

import io
import pathlib
import statistics
import sys
import tempfile
import timeit

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "plots")]

import training  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import plotserve  # noqa: E402


def main() -> None:
    data_dir = pathlib.Path(tempfile.mkdtemp())
    training.write_training_log(data_dir / training.LOG_NAME)
    limits = plotserve.Limits(data_dir=data_dir)
    plots = plotserve.discover_plots([str(ROOT / "plots" / "training.py"), str(ROOT / "plots" / "gallery.py")])
    for name in ("training", "scatter"):
        plot = plots[name]
        figure = Figure(figsize=(8, 5), dpi=100)
        plot.call(fig=figure, **plotserve.parse_query(plot, [], limits).values)
        figure.savefig(io.BytesIO())
        runs = (timeit.timeit(lambda figure=figure: plotserve.axes_geometry(figure, 100), number=100) / 100 for _ in range(7))
        geometry = statistics.median(runs)
        job = plotserve.RenderJob(name, (), "png")
        render = statistics.median(timeit.timeit(lambda job=job: plotserve.run_job(plots, limits, job), number=3) / 3 for _ in range(3))
        print(f"{name:9} axes_geometry {geometry * 1e6:6.0f} us   render {render * 1e3:6.0f} ms   ratio {geometry / render:.2%}")


if __name__ == "__main__":
    main()
