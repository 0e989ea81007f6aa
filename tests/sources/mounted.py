"""Plots for the proxy and WSGI tests: one reads a data file, one fails, one takes a bounded number."""

from pathlib import Path
from typing import Annotated

from plotserve import Range


def plot_level(ax, data: Path = Path("level.txt")):
    """A red bar as high as the number in the data file (0 to 10)."""
    ax.bar([0], [float(data.read_text())], color="red", width=1.0)
    ax.set_xlim(-0.5, 0.5)
    ax.set_ylim(0, 10)
    ax.set_axis_off()


def plot_bars(ax, n: Annotated[int, Range(1, 20)] = 3):
    """n blue bars."""
    ax.bar(range(n), range(1, n + 1), color="blue")


def plot_broken(ax):
    """A plot that always raises."""
    raise RuntimeError("this plot is broken on purpose")


def plot_slow(ax, seconds: float = 0.0):
    """A plot that takes its time: what a server's time-out is for."""
    import time

    time.sleep(seconds)
    ax.plot([0, 1], [0, 1])


def plot_quits(ax):
    """A plot that calls sys.exit(): its own failure, not the server's end."""
    import sys

    sys.exit("plot_quits gave up")
