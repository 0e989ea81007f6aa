"""Render every ``plot_*`` function of the given files the way a user would by hand, each in a
process of its own, and save it with ``savefig``: the reference the fidelity tests compare
plotserve's pictures with. It never imports plotserve.

    python render_direct.py OUT_DIR WIDTH HEIGHT DPI FILE.py [FILE.py ...]

The files are imported once, before anything is drawn; each plot is then drawn in a child forked
from that untouched state, so every plot starts as in a fresh ``python`` that has run the
file's imports. A plot that takes ``ax`` gets the axes of ``fig, ax = plt.subplots()`` (``fig``
the figure), as its author would call it. What is saved is what ``plt.savefig()`` saves, pyplot's
current figure, or the Figure the function returns (one made without pyplot)."""

import importlib.util
import inspect
import os
import pathlib
import sys
import traceback

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def _draw(function, path: pathlib.Path, width: float, height: float, dpi: float) -> None:
    plt.rcParams["figure.figsize"] = (width, height)
    plt.rcParams["figure.dpi"] = dpi
    parameters = inspect.signature(function).parameters
    kwargs = {}
    if "ax" in parameters:
        kwargs["fig"], kwargs["ax"] = plt.subplots()
        if "fig" not in parameters:
            del kwargs["fig"]
    elif "fig" in parameters:
        kwargs["fig"] = plt.figure()
    result = function(**kwargs)
    figure = result if isinstance(result, Figure) else plt.gcf()
    figure.savefig(path, dpi=dpi)


def main(out_dir: str, width: str, height: str, dpi: str, *files: str) -> int:
    out = pathlib.Path(out_dir)
    functions = {}
    for file in files:
        source = pathlib.Path(file).resolve()
        sys.path.insert(0, str(source.parent))
        spec = importlib.util.spec_from_file_location(source.stem, source)
        module = importlib.util.module_from_spec(spec)
        sys.modules[source.stem] = module
        spec.loader.exec_module(module)
        for name, function in vars(module).items():
            if name.startswith("plot_") and inspect.isfunction(function) and function.__module__ == module.__name__:
                functions[name.removeprefix("plot_")] = function
    failed = 0
    for name, function in sorted(functions.items()):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _draw(function, out / f"{name}.png", float(width), float(height), float(dpi))
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
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
