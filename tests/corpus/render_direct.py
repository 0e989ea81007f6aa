"""Render every ``plot_*`` function of the given files the way a user would by hand, each file in
a process of its own, and save what its script would: the reference the fidelity tests compare
plotserve's pictures with. It never imports plotserve.

    python render_direct.py OUT_DIR WIDTH HEIGHT DPI FILE.py [FILE.py ...]

Each file is imported in a fresh process (so its module-level set-up, a style sheet or
``sns.set_theme()``, holds for its plots and no other file's); each plot is then drawn in a child
forked from that state, as a fresh ``python thatfile.py`` that has run the file's header. The
figure size is the file's own where its header chose one, else WIDTH x HEIGHT. A plot that takes
``ax`` gets the axes of ``fig, ax = plt.subplots()`` (``fig`` the figure), as its author would call
it. What is saved is what the script shows: the figure it returns (a Figure, or the figure of an
animation, a scikit-learn display or a pandas Series of Axes); else what it saved last with
``savefig`` (its layout options kept, at DPI) or showed with ``plt.show()``; else pyplot's current
figure."""

import importlib.util
import inspect
import os
import pathlib
import sys
import traceback

import matplotlib

matplotlib.use("Agg")

import matplotlib.animation
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

LAYOUT = ("bbox_inches", "pad_inches", "facecolor", "edgecolor", "transparent", "bbox_extra_artists")


def _returned_figure(result):
    """The figure a plot returned, where it returned one that holds a figure of its own."""
    if isinstance(result, Figure):
        return result
    if isinstance(result, matplotlib.animation.Animation):
        result._draw_was_started = True  # drawn as a still picture, no warning
        return result._fig
    if getattr(result, "figure_", None) is not None:  # a scikit-learn display
        return result.figure_
    if isinstance(result, pd.Series):  # df.groupby(...).boxplot()
        return result.iloc[0].figure
    return None


def _draw(function, path: pathlib.Path, width: float, height: float, dpi: float, own_size: bool) -> None:
    if not own_size:
        plt.rcParams["figure.figsize"] = (width, height)
    plt.rcParams["figure.dpi"] = dpi
    # What the script writes, at the view's dpi: each savefig writes its file and the picture.
    savefig, written = Figure.savefig, []

    def save(figure, fname, **kwargs):
        savefig(figure, fname, **kwargs)
        savefig(figure, path, dpi=dpi, **{key: kwargs[key] for key in LAYOUT if key in kwargs})
        written.append(figure)

    def show(*args, **kwargs):
        if plt.get_fignums():
            savefig(plt.gcf(), path, dpi=dpi)
            written.append(plt.gcf())

    Figure.savefig, plt.show = save, show
    parameters = inspect.signature(function).parameters
    kwargs = {}
    if "ax" in parameters:
        kwargs["fig"], kwargs["ax"] = plt.subplots()
        if "fig" not in parameters:
            del kwargs["fig"]
    elif "fig" in parameters:
        kwargs["fig"] = plt.figure()
    result = function(**kwargs)
    figure = _returned_figure(result)
    if figure is not None and (not written or written[-1] is not figure):
        savefig(figure, path, dpi=dpi)
    elif figure is None and not written:
        savefig(plt.gcf(), path, dpi=dpi)


def _draw_file(out: pathlib.Path, width: float, height: float, dpi: float, file: str) -> int:
    """Import one file and draw each of its plots in a child of its own; the number that failed."""
    source = pathlib.Path(file).resolve()
    sys.path.insert(0, str(source.parent))
    default_size = list(plt.rcParams["figure.figsize"])
    spec = importlib.util.spec_from_file_location(source.stem, source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[source.stem] = module
    spec.loader.exec_module(module)
    own_size = list(plt.rcParams["figure.figsize"]) != default_size
    functions = {
        name.removeprefix("plot_"): function
        for name, function in vars(module).items()
        if name.startswith("plot_") and inspect.isfunction(function) and function.__module__ == module.__name__
    }
    failed = 0
    for name, function in sorted(functions.items()):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _draw(function, out / f"{name}.png", width, height, dpi, own_size)
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status:
            print(f"render_direct: {name} failed", file=sys.stderr)
            failed += 1
    return failed


def main(out_dir: str, width: str, height: str, dpi: str, *files: str) -> int:
    out = pathlib.Path(out_dir)
    failed = 0
    for file in files:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = min(_draw_file(out, float(width), float(height), float(dpi), file), 1)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        if status:
            print(f"render_direct: {file} failed", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
