"""Plots of a data file that is written and deleted while they are asked for (tests/test_security_churn.py)."""

import pathlib
import time

import pandas as pd


def plot_size(ax, data: pathlib.Path):
    """Draw how many bytes the file has: reading it cannot fail once it is open."""
    ax.bar([0], [len(pathlib.Path(data).read_bytes())])


def plot_table(ax, data: pd.DataFrame):
    """Draw the file's first column."""
    ax.plot(data.iloc[:, 0])


def plot_slow(ax, seconds: float = 1.0):
    """Keep the render process busy for a while."""
    time.sleep(seconds)
    ax.plot([0, 1])
