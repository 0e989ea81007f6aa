"""Plots that take pandas frames, for tests/test_data.py.

``plot_echo`` and ``plot_spoil`` always raise, with what they were given in the message: the
message reaches the client in the X-Plotserve-Error header, so a test reads there exactly what
the plot saw. ``plot_spoil`` then changes its frame in every way it can, to show the next render
gets the file's frame untouched.
"""

import json
from typing import Annotated

import pandas as pd
from matplotlib.figure import Figure

import plotserve


def _summary(data) -> str:
    frame = data.to_frame() if isinstance(data, pd.Series) else data
    return json.dumps(
        {
            "type": type(data).__name__,
            "rows": len(frame),
            "columns": [str(column) for column in frame.columns],
            "first": str(frame.iloc[0, 0]) if len(frame) else None,
            "last": str(frame.iloc[-1, 0]) if len(frame) else None,
            "index": str(frame.index.dtype),
            "dtypes": [str(dtype) for dtype in frame.dtypes],
        }
    )


def plot_lines(fig: Figure, data: pd.DataFrame, scale: float = 1.0) -> Figure:
    """Draw every column of a table."""
    ax = fig.add_subplot()
    for column in data.columns:
        ax.plot(data.index, data[column] * scale, label=str(column))
    ax.set_title(f"{len(data)} rows")
    return fig


def plot_echo(data: pd.DataFrame, tag: int = 0) -> Figure:
    """Say what the frame holds (by failing with it as the message)."""
    raise ValueError(_summary(data))


def plot_dated(data: Annotated[pd.DataFrame, plotserve.Table(sep=";", parse_dates=["when"], index_col="when")]) -> Figure:
    """Say what a frame read with Table options holds."""
    raise ValueError(_summary(data))


def plot_column(data: pd.Series, tag: int = 0) -> Figure:
    """Say what a Series parameter holds."""
    raise ValueError(_summary(data))


def plot_spoil(data: pd.DataFrame, tag: int = 0) -> Figure:
    """Say what the frame holds, then change it every way a plot might."""
    summary = _summary(data)
    data.iloc[0, 0] = -1
    data[data.columns[0]] *= 1000
    data["added"] = 0
    data.drop(data.index[-1], inplace=True)
    data.rename(columns={data.columns[0]: "renamed"}, inplace=True)
    data.index = data.index + 100
    raise ValueError(summary)
