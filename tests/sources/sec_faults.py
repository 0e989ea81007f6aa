"""Plots for the security tests: ones that misbehave in every way a plot can.

Served by worker processes (tests/test_security_faults.py, test_security_network.py), so a
plot that hangs, recurses or ends its process only takes its own request down.
"""

import os
import sys
import time

from matplotlib.figure import Figure


def plot_ok(ax, n: int = 3, view: int = 0):
    """A plain line: the request that must still work after each fault (view only makes views distinct)."""
    ax.plot(range(n), [value * value for value in range(n)])
    ax.set_title(f"{n} points, view {view}")


def plot_slow(ax, seconds: float = 1.0, n: int = 0):
    """Sleep, then draw (n only makes views distinct, so they are not shared)."""
    time.sleep(seconds)
    ax.plot([0, 1, 2], [0, n, 0])


def plot_raise(ax, message: str = "bad"):
    """Raise ValueError with the given message, whatever characters it holds."""
    raise ValueError(message)


def plot_injection(ax):
    """An error message that tries to add a header to the response."""
    raise ValueError("bad\r\nSet-Cookie: x=1\r\n\r\n<script>alert(1)</script>")


def plot_unicode(ax):
    """An error message that is not ASCII."""
    raise ValueError("Ünïcödé ✓ 画")


def plot_hang(ax):
    """Never finishes within any sensible time limit."""
    time.sleep(3600)


def plot_recurse(ax, depth: int = 0):
    """Recurses without end."""
    return plot_recurse(ax, depth + 1)


def plot_exit(ax):
    """Ends its own process at once, as a crash in C code would."""
    os._exit(7)


def plot_sysexit(ax):
    """Calls sys.exit, which a careless script might."""
    sys.exit(3)


def plot_big(ax, points: int = 40_000):
    """Many points: a large SVG or PDF, for clients that hang up half-way through."""
    ax.plot(range(points), [(value * 7919) % 1000 for value in range(points)], ".", markersize=1)


def plot_giant():
    """Makes its own figure, far over any pixel limit: it must be refused before it is drawn."""
    fig = Figure(figsize=(1000, 1000), dpi=100)
    fig.add_subplot().plot([0, 1])
    return fig
