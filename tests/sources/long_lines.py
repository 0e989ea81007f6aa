"""Long lines, and lines decimation must leave alone, for tests/test_decimate.py.

Each plot draws with ``draw_NAME(ax)``, so a test can draw the same figure with matplotlib alone.
"""

import functools

import numpy as np
from matplotlib.figure import Figure

SPIKE_AT, SPIKE = 3_000_017, 4000.0  # one sample far above a walk that stays within about ±3000


@functools.lru_cache(maxsize=4)
def walk(points: int) -> tuple[np.ndarray, np.ndarray]:
    """A random walk of ``points`` steps (the same every time), with one spike when it is long enough."""
    y = np.cumsum(np.random.default_rng(20).standard_normal(points))
    if points > SPIKE_AT:
        y[SPIKE_AT] = SPIKE
    return np.arange(points, dtype=float), y


def draw_walk(ax, points: int = 5_000_000):
    ax.plot(*walk(points), linewidth=1.5)


def draw_two(ax, points: int = 1_000_000):
    x, y = walk(points)
    ax.plot(x, y)
    ax.plot(x, -y / 2)


def draw_gaps(ax, points: int = 2_000_000):
    x, y = walk(points)
    y = y.copy()
    y[points // 2 : points // 2 + points // 50] = np.nan  # a gap 2% of the width wide
    y[points // 4] = np.nan  # and one missing sample
    ax.plot(x, y)


def draw_log(ax, points: int = 2_000_000):
    x, y = walk(points)
    ax.plot(x + 1, np.exp(y / 300))
    ax.set_xscale("log")
    ax.set_yscale("log")


def draw_log_dips(ax, points: int = 2_000_000):
    x, y = walk(points)
    y = y - y.min() + 1
    y[::100_000] = -1  # not drawn on a log axis: each is a break in the line
    ax.plot(x, y)
    ax.set_yscale("log")


def draw_inverted(ax, points: int = 2_000_000):
    ax.plot(*walk(points))
    ax.invert_xaxis()


def draw_dates(ax, points: int = 2_000_000):
    _, y = walk(points)
    seconds = np.datetime64("2026-01-01T00:00:00") + np.arange(points).astype("timedelta64[s]")
    ax.plot(seconds, y)


def draw_markers(ax, points: int = 100_000):
    x, y = walk(points)
    ax.plot(x, y, marker=".", markersize=2)


def draw_steps(ax, points: int = 500_000):
    x, y = walk(points)
    ax.step(x, y, where="post")


def draw_dashed(ax, points: int = 500_000):
    x, y = walk(points)
    ax.plot(x, y, linestyle="--")


def draw_shuffled(ax, points: int = 200_000):
    x, y = walk(points)
    order = np.random.default_rng(3).permutation(points)
    ax.plot(x[order], y[order], linewidth=0.2)


def _figure(draw, points: int) -> Figure:
    figure = Figure()
    draw(figure.add_subplot(), points)
    return figure


def plot_walk(points: int = 5_000_000):
    """A 5,000,000-step random walk with one spike."""
    return _figure(draw_walk, points)


def plot_two(points: int = 1_000_000):
    return _figure(draw_two, points)


def plot_gaps(points: int = 2_000_000):
    return _figure(draw_gaps, points)


def plot_log(points: int = 2_000_000):
    return _figure(draw_log, points)


def plot_log_dips(points: int = 2_000_000):
    return _figure(draw_log_dips, points)


def plot_inverted(points: int = 2_000_000):
    return _figure(draw_inverted, points)


def plot_dates(points: int = 2_000_000):
    return _figure(draw_dates, points)


def plot_markers(points: int = 100_000):
    return _figure(draw_markers, points)


def plot_steps(points: int = 500_000):
    return _figure(draw_steps, points)


def plot_dashed(points: int = 500_000):
    return _figure(draw_dashed, points)


def plot_shuffled(points: int = 200_000):
    return _figure(draw_shuffled, points)
