"""A plot that reads the file it is given, and records every call.

Served in-process (``workers=0``) by tests/test_security_input.py: ``CALLS`` then shows whether
a refused file name ever reached the plot, that is, whether anything could have opened it.
"""

import pathlib

from matplotlib.figure import Figure

CALLS: list[pathlib.Path] = []


def plot_read(log: pathlib.Path) -> Figure:
    """Open the file, count its bytes and draw the count."""
    CALLS.append(log)
    size = len(pathlib.Path(log).read_bytes())
    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.bar([0], [size])
    ax.set_title(f"{size} bytes")
    return fig
