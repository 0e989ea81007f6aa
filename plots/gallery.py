"""Plots as methods of a handler subclass, and one in the classic pyplot style."""

import datetime
import enum
import types
from typing import Annotated, Literal

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

import plotserve
from plotserve import Range


class Gallery(plotserve.PlotRequestHandler):
    """A handler whose `plot_` methods are plots; plotserve makes it without calling __init__."""

    def _readings(self, points: int, start: datetime.date, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Timestamps over a year from `start`, and seasonal values with noise."""
        rng = np.random.default_rng(seed)
        days = np.sort(rng.uniform(0, 365, points))
        times = np.datetime64(start, "s") + (days * 86400).astype("timedelta64[s]")
        values = 12 - 9 * np.cos(2 * np.pi * days / 365) + 2.5 * rng.standard_normal(points)
        return times, values

    def plot_scatter(
        self,
        fig: Figure,
        points: int = 300,
        start: datetime.date = datetime.date(2026, 1, 1),
        seed: int = 0,
    ) -> None:
        """Readings scattered over a year, coloured by value.

        Args:
            points: Number of readings.
            start: First day of the year shown.
            seed: Seed of the random readings.
        """
        times, values = self._readings(points, start, seed)
        ax = fig.add_subplot()
        dots = ax.scatter(times, values, c=values, cmap="coolwarm", s=14)
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_ylabel("temperature (°C)")
        ax.set_title(f"{points} readings from {start.isoformat()}")
        ax.grid(True, alpha=0.4)
        fig.colorbar(dots, ax=ax, label="°C")

    def plot_heatmap(
        self,
        size: Annotated[int, Range(2, 100)] = 20,
        cmap: Literal["viridis", "magma", "cividis"] = "viridis",
    ) -> Figure:
        """Interference of two point sources on a square grid, in a Figure of its own.

        Args:
            size: Cells along each side of the grid.
            cmap: Colour map.
        """
        y, x = np.mgrid[0 : 1 : size * 1j, 0 : 1 : size * 1j]
        field = sum(np.cos(25 * np.hypot(x - source_x, y - source_y)) for source_x, source_y in ((0.3, 0.5), (0.7, 0.5)))
        fig = Figure(figsize=(6, 5), layout="constrained")
        ax = fig.add_subplot()
        image = ax.imshow(field, cmap=cmap, origin="lower", extent=(0, 1, 0, 1))
        ax.set_title(f"Two-source interference, {size}×{size} cells")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        fig.colorbar(image, ax=ax, label="amplitude")
        return fig


class Distribution(enum.Enum):
    """Distribution to draw samples from."""

    NORMAL = "normal"
    UNIFORM = "uniform"
    EXPONENTIAL = "exponential"


def plot_histogram(
    n: int = 1000,
    bins: int = 30,
    distribution: Distribution = Distribution.NORMAL,
    density: bool = False,
    seed: int | None = 0,
) -> types.ModuleType:
    """Histogram of a random sample, drawn with pyplot the classic way.

    Args:
        n: Sample size.
        bins: Number of bins.
        distribution: Distribution to sample from.
        density: Scale to a probability density and draw the true density over it.
        seed: Seed of the sample; empty for a new sample every time.
    """
    distribution = Distribution(distribution)
    rng = np.random.default_rng(seed)
    if distribution is Distribution.NORMAL:
        sample = rng.standard_normal(n)
    elif distribution is Distribution.UNIFORM:
        sample = rng.uniform(0, 1, n)
    else:
        sample = rng.exponential(1, n)

    plt.figure()
    plt.hist(
        sample,
        bins=bins,
        density=density,
        color="C0",
        edgecolor="white",
        label="sample",
    )
    if density:
        x = np.linspace(sample.min(), sample.max(), 200)
        if distribution is Distribution.NORMAL:
            pdf = np.exp(-(x**2) / 2) / np.sqrt(2 * np.pi)
        elif distribution is Distribution.UNIFORM:
            pdf = np.ones_like(x)
        else:
            pdf = np.exp(-x)
        plt.plot(x, pdf, color="C3", label="true density")
        plt.ylim(0, 1.2 * plt.ylim()[1])  # headroom, so the legend covers no bar
        plt.legend(loc="upper right", ncols=2)
    plt.xlabel("value")
    plt.ylabel("density" if density else "count")
    plt.title(f"{n} samples, {distribution.value}")
    plt.grid(True, axis="y", alpha=0.4)
    return plt
