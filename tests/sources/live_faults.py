"""Plots for tests/test_live.py: slow ones, ones that hang or kill their process, and good ones.

Module-level functions and a PlotRequestHandler subclass, so that both kinds of plot are
rendered by worker processes under every start method.
"""

import ctypes
import faulthandler
import os
import time

import plotserve


def plot_slow(ax, seconds: float = 0.5, label: str = "slow"):
    """Sleep, then draw: long enough for concurrent identical requests to overlap."""
    time.sleep(seconds)
    ax.plot([0, 1, 2], [0, 1, 0])
    ax.set_title(label)


def plot_hang(ax):
    """Never finishes in time: the worker must be stopped and replaced."""
    time.sleep(60)


def plot_exit(ax, code: int = 3):
    """Ends its process at once, as a crash in C code would."""
    os._exit(code)


def plot_segfault(ax):
    """A real segmentation fault: reads address 0."""
    faulthandler.disable()  # a forked worker inherits pytest's handler: no stack dump in the test output
    ctypes.string_at(0)


def plot_line(ax, n: int = 3):
    """A plain line with n points."""
    ax.plot(range(n), [value * value for value in range(n)], color="C1", linewidth=4)
    ax.set_title(f"{n} points")


def plot_pid(ax, n: int = 0):
    """Draws the id of the process that rendered it (n only makes views distinct)."""
    ax.text(0.5, 0.5, f"pid {os.getpid()} view {n}", ha="center")


HOARD = []


def plot_hoard(ax, n: int = 0):
    """Keeps 40 MB more each time it draws: a leak, as plot code sometimes has."""
    HOARD.append(b"x" * (40 << 20))
    ax.set_title(f"{len(HOARD) * 40} MB kept (view {n})")


class Faults(plotserve.PlotRequestHandler):
    """A handler subclass: its plot_ methods are plots too."""

    def plot_bars(self, ax, n: int = 4):
        """Bars of heights 1..n."""
        ax.bar(range(n), range(1, n + 1), color="C2")
        ax.set_title(f"{n} bars")
