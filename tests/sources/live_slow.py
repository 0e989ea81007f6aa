"""Plots for tests/test_live_push.py: one that takes a while to draw, one that takes a while and fails."""

import time


def plot_sleepy(ax, seconds: float = 2.0):
    """Sleeps, then draws a thick green line."""
    time.sleep(seconds)
    ax.plot([0, 1], [0, 1], color="C2", linewidth=8)
    ax.set_title(f"slept {seconds:g} s")


def plot_sleepy_failure(ax, seconds: float = 2.0):
    """Sleeps, then fails with a message that needs escaping."""
    time.sleep(seconds)
    raise ValueError("the <b>sensor</b> went away")
