"""A plot that reads the file it is given, and records every call.

Served in-process (``workers=0``) by tests/test_security_input.py: ``CALLS`` then shows whether
a refused file name ever reached the plot, that is, whether anything could have opened it.
"""

import pathlib

from matplotlib.figure import Figure

CALLS: list[pathlib.Path] = []
READS: list[tuple[str, bytes]] = []  # (the file's name as the plot sees it, what it read)


def plot_read(log: pathlib.Path, view: int = 0) -> Figure:
    """Open the file, count its bytes and draw the count (view only makes views distinct)."""
    CALLS.append(log)
    data = pathlib.Path(log).read_bytes()
    READS.append((log.name, data))
    size = len(data)
    fig = Figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.bar([0], [size])
    ax.set_title(f"{size} bytes")
    return fig


def plot_fail(log: pathlib.Path):
    """Fail with the file's path in the message, as a library that could not parse it would."""
    raise ValueError(f"cannot parse {log}: {pathlib.Path(log).read_bytes()[:5]!r}")
