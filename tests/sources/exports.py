"""Plots for tests/test_export.py: one that draws, one that says which process ran it (by failing
with its pid as the message), one that hangs past any time limit."""

import os
import time


def plot_line(ax, slope: float = 1.0, label: str = "a line"):
    """A straight line.

    Args:
        slope: How steep it is.
        label: The legend's text.
    """
    ax.plot([0, 1], [0, slope], label=label, linewidth=4)
    ax.fill_between([0, 1], [0, slope], alpha=0.3)
    ax.legend()


def plot_pid(ax):
    """Fail, naming the process that ran the plot."""
    raise ValueError(f"drawn by process {os.getpid()}")


def plot_hang(ax, seconds: float = 600.0):
    """Sleep, then draw."""
    time.sleep(seconds)
    ax.plot([0, 1])
