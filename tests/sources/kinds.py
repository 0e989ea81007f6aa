"""One plot per kind of parameter, each drawing (and recording) the values it received.

Served in-process (``workers=0``), ``RECEIVED`` holds the keyword arguments of every call, so a
test can check that a value typed into a URL reached the function as the right Python type.
"""

import datetime
import enum
import pathlib
from typing import Annotated, Literal, Optional

import annotated_types as at
from matplotlib.figure import Figure

from plotserve import Range

RECEIVED: list[tuple[str, dict]] = []


def _show(name: str, **values) -> Figure:
    RECEIVED.append((name, values))
    fig = Figure(figsize=(3, 2))
    fig.text(0.05, 0.5, repr(values)[:60], fontsize=6)
    return fig


class Color(enum.Enum):
    """A colour."""

    RED = "red"
    GREEN = "green"
    BLUE = "blue"


def plot_integer(value: int = 3):
    return _show("integer", value=value)


def plot_floating(value: float = 0.5):
    return _show("floating", value=value)


def plot_bounded_int(value: Annotated[int, Range(1, 10)] = 5):
    return _show("bounded_int", value=value)


def plot_bounded_float(value: Annotated[float, Range(0, 1, 0.05)] = 0.5):
    return _show("bounded_float", value=value)


def plot_annotated_types(value: Annotated[float, at.Interval(ge=-1, le=1), at.MultipleOf(0.25)] = 0.0):
    return _show("annotated_types", value=value)


def plot_lower_bound(value: Annotated[int, at.Ge(0)] = 1):
    return _show("lower_bound", value=value)


def plot_text(value: str = "hello"):
    return _show("text", value=value)


def plot_flag(value: bool = False):
    return _show("flag", value=value)


def plot_literal(value: Literal["sine", "square"] = "sine"):
    return _show("literal", value=value)


def plot_literal_int(value: Literal[1, 2, 4] = 1):
    return _show("literal_int", value=value)


def plot_color(value: Color = Color.RED):
    return _show("color", value=value)


def plot_day(value: datetime.date = datetime.date(2024, 1, 1)):
    return _show("day", value=value)


def plot_moment(value: datetime.datetime = datetime.datetime(2024, 1, 1, 12, 0)):
    return _show("moment", value=value)


def plot_ints(value: list[int] = (1, 2)):
    return _show("ints", value=value)


def plot_floats(value: list[float] = (0.5,)):
    return _show("floats", value=value)


def plot_strings(value: list[str] = ("a",)):
    return _show("strings", value=value)


def plot_optional_int(value: int | None = None):
    return _show("optional_int", value=value)


def plot_optional_float(value: Optional[float] = 1.5):  # noqa: UP045 (the typing spelling is what this tests)
    return _show("optional_float", value=value)


def plot_optional_choice(value: Literal["x", "y"] | None = None):
    return _show("optional_choice", value=value)


def plot_datafile(value: pathlib.Path = pathlib.Path("a.csv")):
    return _show("datafile", value=value)


def plot_untyped_int(value=7):
    return _show("untyped_int", value=value)


def plot_untyped_float(value=0.5):
    return _show("untyped_float", value=value)


def plot_untyped_bool(value=True):
    return _show("untyped_bool", value=value)


def plot_untyped_list(value=(1.5, 2.5)):
    return _show("untyped_list", value=value)


def plot_untyped(value):
    return _show("untyped", value=value)


def plot_google(count: int = 3, label: str = "x"):
    """Google-style help for each parameter.

    A longer description of the plot,
    over two lines.

    Args:
        count: How many things to draw.
        label (str): Text under the things;
            continued on a second line.

    Returns:
        A figure.
    """
    return _show("google", count=count, label=label)


def plot_numpy(count: int = 3, label: str = "x"):
    """NumPy-style help for each parameter.

    The description, NumPy style.

    Parameters
    ----------
    count : int
        How many things to draw.
    label : str
        Text under the things;
        continued on a second line.

    Returns
    -------
    Figure
    """
    return _show("numpy", count=count, label=label)


def plot_many(
    count: Annotated[int, Range(1, 10)] = 5,
    kind: Literal["a", "b"] = "a",
    day: datetime.date = datetime.date(2024, 1, 1),
    ratio: float = 0.5,
    ints: list[int] = (1,),
    grid: bool = True,
    note: str = "",
):
    """Several parameters, for checking that every bad value is reported at once."""
    return _show("many", count=count, kind=kind, day=day, ratio=ratio, ints=ints, grid=grid, note=note)


def plot_broken(message: str = "boom"):
    """Always raises."""
    raise RuntimeError(f"the plot failed: {message}")


def plot_survey(
    fig: Figure,
    log: pathlib.Path,
    style: Literal["dots", "line", "bars"] = "line",
    color: Color = Color.BLUE,
    grid: bool = True,
    start: datetime.date = datetime.date(2024, 1, 1),
    points: Annotated[int, at.Ge(2)] = 20,
    weights: list[float] = (1.0,),
):
    """A form with one of everything, for the browser.

    Args:
        log: Data file to draw.
        style: How to draw it.
        color: Colour of the marks.
        grid: Draw a grid.
        start: First day shown.
        points: Number of points, at least 2.
        weights: Weights, comma-separated.
    """
    RECEIVED.append(("survey", dict(log=log, style=style, color=color, grid=grid, start=start, points=points, weights=weights)))
    ax = fig.add_subplot()
    data = pathlib.Path(log).read_text().split()
    ax.plot(range(len(data) * points), color=color.value)
    ax.grid(grid)
    ax.set_title(f"{style} from {start}")
