"""A plot that hangs for an hour once its file says "hang": the render of a held request's change never ends."""

import pathlib
import time


def plot_stuck(ax, flag: pathlib.Path = pathlib.Path("flag.txt")):
    """Draws a line, until the flag file says hang."""
    if flag.read_text().strip() == "hang":
        time.sleep(3600)
    ax.plot([0, 1], [0, 1])
