"""Plots that change matplotlib's global state, as real plot code does, next to one whose picture
must not change whatever ran before it in the same process."""

import datetime

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.units as munits
import numpy as np
import pandas as pd
import seaborn as sns
from cycler import cycler
from matplotlib.colors import LinearSegmentedColormap


def plot_red_and_black(fig):
    """A thick "r-" line at y=0.75, a default-coloured one at 0.5 and a color="k" one at 0.25."""
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.plot([0.0, 1.0], [0.75, 0.75], "r-", lw=20)
    ax.plot([0.0, 1.0], [0.5, 0.5], lw=20)
    ax.plot([0.0, 1.0], [0.25, 0.25], color="k", lw=20)


def plot_seaborn_theme():
    """seaborn's theme: rcParams, and the letters "r", "k"... rewritten to its muted palette."""
    sns.set_theme()
    sns.set_color_codes("muted")
    plt.plot([1, 2, 3], "r-")


def plot_style_sheet():
    plt.style.use("dark_background")
    plt.plot([1, 2, 3])


def plot_prop_cycle():
    mpl.rcParams["axes.prop_cycle"] = cycler(color=["m", "y"])
    plt.plot([1, 2, 3])


def plot_colour_letter():
    mpl.colors.ColorConverter.colors["r"] = (0.0, 0.5, 0.0)  # what set_color_codes does, by hand
    plt.plot([1, 2, 3], "r-")


def plot_units_converter():
    """Registers the concise date converter for dates, as matplotlib's date_concise_formatter example does."""
    converter = mdates.ConciseDateConverter()
    munits.registry[np.datetime64] = converter
    munits.registry[datetime.date] = converter
    munits.registry[datetime.datetime] = converter
    plt.plot([datetime.date(2005, 2, 1), datetime.date(2005, 4, 1)], [1, 2])


def plot_dates(ax):
    """Dates on the x axis: matplotlib's default date ticks unless a converter was registered."""
    ax.plot([datetime.date(2005, 2, 1), datetime.date(2005, 4, 1)], [1, 2])


def plot_colormap():
    """Registers a colormap, as matplotlib's custom_cmap example does: the next render must be
    able to register it again."""
    mpl.colormaps.register(LinearSegmentedColormap.from_list("plotserve_test_map", ["r", "b"]))
    return plt.imshow([[0, 1], [2, 3]], cmap="plotserve_test_map")


def plot_pandas_dates(ax):
    """A pandas time series: pandas picks its own date ticks unless x_compat is set."""
    dates = pd.Series(np.arange(100.0), index=pd.date_range("2000-01-01", periods=100))
    dates.plot(ax=ax)


def plot_pandas_option():
    pd.plotting.plot_params["x_compat"] = True
    plt.plot([1, 2, 3])
