"""plotserve: live web pages for your ``plot_*`` functions.

Write plot functions, either module-level ``plot_*`` functions in a Python file or ``plot_*``
methods of a ``PlotRequestHandler`` subclass, then run::

    python plotserve.py myplots.py --port 9999

and open http://127.0.0.1:9999/. Every plot gets a page with a form built from its signature
and an image that refreshes while the data underneath it changes. ``/NAME.png`` (``.svg``,
``.pdf``; ``.gif``, ``.webp`` for an animation) is the image, ``/NAME.json`` its parameters;
``/index.json`` lists the plots.
With no source, plotserve serves the examples in ``plots/`` next to this file. A data file, a
folder of them or a pattern (``python plotserve.py 'runs/*/metrics.csv'``) is served with no code,
as the built-in log plot.

MAP: the sections below, in the order data flows through them, and where to start reading.

- Discovery and parameters: a function becomes a ``Plot`` of ``Param`` records
  (``discover_plots``); what a source's import sets up (style, theme, rcParams) is its
  ``SourceSetup`` (``load_source``); a query becomes a ``Request`` (``parse_query``), data-file
  paths are checked (``resolve_data_file``, ``resolve_table_patterns``); data sources become log
  plots (``data_plots``).
- Watching and reloading: ``Watcher`` for a change (a ``HeldWatch`` waits on files' stamps);
  ``Reloader`` imports edited sources again; ``StallWatch`` tells a run that stopped.
- Rendering: ``render_plot`` for a picture (``apply_view`` for zoom and scales, ``decimate_lines``
  for long lines, ``_save_options`` for the file's encoding); ``run_job`` in a ``WorkerPool`` process or the
  ``InProcessRenderer``; ``FrameCache`` for parsed data; ``ImageService`` for the ETag, the
  ``RenderCache`` and shared renders.
- HTML pages: ``plot_page``, ``index_page``, ``compare_page`` and their JSON twins (``plot_json``).
- HTTP handler and server: ``PlotApp.respond`` for a request (routes in ``PlotApp.PATHS`` and
  ``PlotApp.SUFFIXES``); ``PlotRequestHandler`` and ``make_app`` (WSGI) are thin adapters around it;
  ``Parking`` holds held requests of the built-in ``PlotServer`` on one selector thread.
- Command line: ``main``, whose signature is the command line; ``--get``.
- Exports: ``write_export`` writes views to HTML, PDF or a folder.

SECURITY: plotserve runs the plot code you give it; that code is trusted. Requests are not:
only discovered plots can be called, every value is parsed against the plot's signature, file
parameters only reach regular files under the data directory, and everything shown in HTML is
escaped. It listens on 127.0.0.1 by default; bound to any other address it asks for a token.
Host headers are checked so that web pages elsewhere cannot read your plots (DNS rebinding), and
requests other sites make the browser send are refused. A file parameter's file is opened once,
following no link swapped in after the check. Slow clients get a deadline per request head and
one client address at most half the connections and half the render queue.
"""

import sys

if __name__ in ("__main__", "__mp_main__"):
    # A plot file does ``import plotserve`` while this file runs as __main__: give it this
    # module, not a second copy whose PlotRequestHandler would be a different class.
    sys.modules.setdefault("plotserve", sys.modules[__name__])

import base64
import collections
import concurrent.futures
import contextlib
import dataclasses
import datetime
import email.message
import email.utils
import enum
import errno
import fnmatch
import functools
import gc
import glob
import hashlib
import hmac
import html
import http.server
import importlib
import importlib.util
import inspect
import io
import itertools
import json
import math
import multiprocessing
import os
import pathlib
import pickle
import queue
import re
import secrets
import select
import selectors
import signal
import socket
import stat
import tempfile
import textwrap
import threading
import time
import traceback
import types
import typing
import urllib.parse
import warnings
import zlib

try:
    import matplotlib
    import matplotlib.dates
    import matplotlib.style
    import numpy
except ModuleNotFoundError as missing:  # double-clicked, or run with another Python than the one it was installed for
    if __name__ == "__main__":
        sys.exit(
            f"plotserve: {missing.name} is not installed for {sys.executable}: run  {sys.executable} -m pip install matplotlib pandas plac"
        )
    raise

matplotlib.use("Agg")  # before pyplot is imported anywhere: no GUI windows from a server

import matplotlib.colors
import matplotlib.lines
import matplotlib.units
from matplotlib.axes import Axes
from matplotlib.figure import Figure, FigureBase

__version__ = "0.1.0"

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_PORT = 9999
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# Query parameters that belong to plotserve, not to the plot (datasette's underscore style).
REFRESH, WIDTH, HEIGHT, DPI = "_refresh", "_width", "_height", "_dpi"
FORM = "_form"  # sent by the form: there, a checkbox left out means false
# Side by side: ?_compare=smooth&smooth=1&smooth=5 (the varied parameter, given once per value);
# the form sends its values as one field instead, _values=1 | 5, and is redirected to that URL.
COMPARE, VALUES = "_compare", "_values"
MAX_COMPARE = 12  # pictures side by side
# The view of the picture, applied after the plot has drawn: zoom, scales, grid and theme.
XLIM, YLIM, AXES, LOGX, LOGY, GRID, THEME = "_xlim", "_ylim", "_axes", "_logx", "_logy", "_grid", "_theme"
SMOOTH = "_smooth"  # W in [0, 1): every plain line drawn as its debiased exponential moving average
THEMES = ("light", "dark")
# Long plain lines are drawn from the first, last, lowest and highest point of each pixel column
# (M4); _decimate=false draws every point.
DECIMATE = "_decimate"
MAX_AXES_INDEX = 999
WAIT = "_wait"  # on an image: hold this conditional GET up to that many seconds until the view changes
# A plot whose files plotserve watches is pushed as they change; the period is for plots with no
# tracked input (a database, a clock). 5 s: someone watching a run expects to see it move within
# a few seconds, and one render of such a view every 5 s is shared by all its viewers.
DEFAULT_REFRESH, MIN_REFRESH, MAX_REFRESH = 5, 1, 86400
HOLD_SECONDS = 25  # longest hold: under the 60 s read timeout of nginx and most other proxies
DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_DPI = 8.0, 5.0, 100
MAX_INCHES = 100.0
IMAGE_FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
# A plot that returns a matplotlib Animation is also served moving, as matplotlib's PillowWriter writes it.
ANIMATION_FORMATS = {"gif": "image/gif", "webp": "image/webp"}
FIGURE_FORMAT = "figure"  # not a URL's: the pickled Figure, for a PDF export's pages (PdfPages, vector)
DATA_FORMAT = "csv"  # /NAME.csv: the data of every line the picture draws

# Limits on what a request may ask for.
MAX_TEXT = 10_000  # characters in one value
MAX_NUMBER_TEXT = 40  # characters in a number: no 5,000-digit integers
MAX_LIST_ITEMS = 10_000
MAX_REQUEST_LINE = 8192
MAX_PICKER_FILES = 500
MAX_RUNS = 100  # files one pattern of data files takes: runs overlaid on one page
MAX_LOOKED = 20_000  # directory entries one listing of patterns looks at, at most
LISTING_SECONDS = 1.0  # how long a pattern's listing is reused: a new run shows within a second


# ==============================================================================================
# Discovery and parameters
# ==============================================================================================


@dataclasses.dataclass(frozen=True)
class Range:
    """Bounds for a number parameter: ``Annotated[float, Range(0, 1, step=0.05)]``."""

    min: float | None = None
    max: float | None = None
    step: float | None = None


@dataclasses.dataclass(frozen=True)
class Table:
    """How to read a DataFrame parameter's file:
    ``Annotated[pd.DataFrame, Table(sep=";", parse_dates=["time"], index_col="time")]``.

    ``sep`` is the CSV separator (default: a comma for .csv, a tab for .tsv); ``parse_dates``
    names the columns to turn into datetimes; ``index_col`` (a name or a position) becomes the index.
    """

    sep: str | None = None
    parse_dates: tuple[str, ...] = ()
    index_col: str | int | None = None

    def __post_init__(self):
        # Hashable whatever was given (a list, one name): the parsed-frame cache is keyed on it.
        dates = (self.parse_dates,) if isinstance(self.parse_dates, str) else tuple(self.parse_dates)
        object.__setattr__(self, "parse_dates", dates)


@dataclasses.dataclass(frozen=True)
class RunsOf:
    """Marks a ``list[str]`` parameter as a choice of the runs a ``dict[str, DataFrame]`` parameter reads:
    ``runs: Annotated[list[str], RunsOf("files")] = ()``; the form shows a checkbox per run."""

    param: str


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of a plot, as the form, the parser and the JSON listing see it."""

    name: str
    kind: str  # int, float, str, bool, choice, date, datetime, list, path, table
    type_name: str  # the annotation as a user reads it
    default: typing.Any
    required: bool
    optional: bool = False  # empty means None
    item_kind: str | None = None  # for lists: int, float or str; for tables: DataFrame or Series
    choices: tuple[str, ...] = ()  # tokens shown and accepted, for choice parameters
    choice_values: tuple = ()  # the Python values the tokens stand for
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    help: str = ""
    annotation: str = ""  # the Python type as written, for the form's tooltip
    table: Table | None = None  # how a table parameter's file is read
    runs_of: str = ""  # for a list of runs (RunsOf): the files parameter whose runs it chooses

    def text(self, value: typing.Any) -> str:
        """The query-string text for a Python value of this parameter."""
        if value is None or value is inspect.Parameter.empty:
            return ""
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind == "choice":
            for token, choice in zip(self.choices, self.choice_values, strict=True):
                if choice == value:
                    return token
            return str(value)
        if self.kind == "list":
            return ", ".join(str(item) for item in value)
        if isinstance(value, datetime.datetime):
            return value.isoformat(timespec="seconds")
        if isinstance(value, datetime.date):
            return value.isoformat()
        return str(value)

    def describe(self) -> dict:
        """The parameter as JSON."""
        return {
            "name": self.name,
            "type": self.type_name,
            "kind": self.kind,
            "default": None if self.required else _json_value(self.default),
            "required": self.required,
            "optional": self.optional,
            "choices": list(self.choices) or None,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "step": self.step,
            "help": self.help,
        }


@dataclasses.dataclass(frozen=True)
class Plot:
    """A discovered plot: the callable and what plotserve knows about it."""

    name: str  # URL name: the function name without plot_
    func: typing.Callable
    owner: type | None  # the PlotRequestHandler subclass of a method, else None
    title: str
    summary: str
    description: str
    params: tuple[Param, ...]
    takes_fig: bool
    takes_ax: bool
    source: str  # where it was found, for the index
    fingerprint: str  # hash of the source code: part of every ETag
    # What its source's import set up (style, theme, rcParams...), in place around each render.
    setup: "SourceSetup | None" = dataclasses.field(default=None, compare=False, repr=False)

    def call(self, **kwargs):
        """Call the plot; a method gets a bare instance of its handler class as self."""
        if self.owner is not None:
            return self.func(self.owner.__new__(self.owner), **kwargs)
        return self.func(**kwargs)

    def describe(self) -> dict:
        """The plot as JSON."""
        return {
            "name": self.name,
            "title": self.title,
            "summary": self.summary,
            "description": self.description,
            "source": self.source,
            # Relative to the index, like every URL plotserve writes: it may be served under any prefix.
            "page": self.name,
            "image": f"{self.name}.png",
            "json": f"{self.name}.json",
            "params": [param.describe() for param in self.params],
        }


def _json_value(value):
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (datetime.date, pathlib.PurePath)):
        return str(value) if isinstance(value, pathlib.PurePath) else value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_json_value(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


_DOC_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?|Notes?)\s*:?\s*$")
_NUMPY_RULE = re.compile(r"^\s*-{3,}\s*$")


def parse_docstring(doc: str | None) -> tuple[str, str, dict[str, str]]:
    """Split a docstring into (first line, description, help per parameter).

    Reads Google-style ``Args:`` sections and NumPy-style ``Parameters`` sections.
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    if not lines:
        return "", "", {}
    summary, body = lines[0].strip(), lines[1:]
    description, helps, section, current, entry_indent = [], {}, None, None, 0
    index = 0
    while index < len(body):
        line = body[index]
        header = _DOC_SECTION.match(line)
        numpy_header = index + 1 < len(body) and _NUMPY_RULE.match(body[index + 1])
        if header or numpy_header:
            section = (header.group(1) if header else line.strip()).lower()
            index += 2 if numpy_header else 1
            current = None
            continue
        if section in ("args", "arguments", "parameters"):
            google = re.match(r"^\s{0,8}(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$", line)
            numpy = re.match(r"^(\w+)\s*(:.*)?$", line)
            # Indented deeper than the entry it follows: a continuation, even with "word:" in it.
            indent = len(line) - len(line.lstrip())
            continued = current is not None and indent > entry_indent
            if google and not continued and (section != "parameters" or not numpy):
                current, entry_indent = google.group(1).lstrip("*"), indent
                helps[current] = google.group(3).strip()
            elif numpy and not line.startswith(" "):
                current, entry_indent = numpy.group(1), 0
                helps[current] = ""
            elif current and line.strip():
                helps[current] = (helps[current] + " " + line.strip()).strip()
        elif section is None:
            description.append(line)
        index += 1
    return summary, "\n".join(description).strip(), helps


def _unwrap_optional(annotation):
    """(inner annotation, True) for ``X | None`` and ``Optional[X]``, else (annotation, False)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _bounds(metadata) -> tuple[float | None, float | None, float | None]:
    """min, max, step from Annotated metadata: a Range, or annotated-types style ge/le/gt/lt."""
    low = high = step = None
    for item in metadata:
        if isinstance(item, Range):
            low, high, step = item.min, item.max, item.step
        for attr in ("ge", "gt", "min"):
            if not isinstance(item, Range) and getattr(item, attr, None) is not None:
                low = getattr(item, attr)
        for attr in ("le", "lt", "max"):
            if not isinstance(item, Range) and getattr(item, attr, None) is not None:
                high = getattr(item, attr)
        if getattr(item, "multiple_of", None) is not None:
            step = item.multiple_of
    return low, high, step


_SCALARS = {int: "int", float: "float", str: "str", bool: "bool"}


def _pandas_type(annotation) -> str | None:
    """ "DataFrame" or "Series" for those pandas classes, else None; pandas is not imported to ask."""
    if not isinstance(annotation, type) or annotation.__module__.partition(".")[0] != "pandas":
        return None
    if annotation.__name__ in ("DataFrame", "Series"):
        return annotation.__name__
    return None


def describe_param(name: str, annotation, default, help_text: str) -> Param:
    """Turn one signature parameter into a Param record."""
    required = default is inspect.Parameter.empty
    annotation, optional = _unwrap_optional(annotation)
    metadata = ()
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *metadata = typing.get_args(annotation)
        annotation, inner_optional = _unwrap_optional(annotation)
        optional = optional or inner_optional
    optional = optional or (default is None and not required)
    if annotation is inspect.Parameter.empty:
        annotation = type(default) if default not in (inspect.Parameter.empty, None) else str
        if annotation in (tuple, list):
            items = {type(item) for item in default}
            annotation = list[items.pop()] if len(items) == 1 else list[str]
    low, high, step = _bounds(metadata)
    written = inspect.formatannotation(annotation) + (" | None" if optional else "")
    common = dict(name=name, default=default, required=required, optional=optional, help=help_text, annotation=written)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        values = typing.get_args(annotation)
        tokens = tuple(str(value) for value in values)
        return Param(kind="choice", type_name=f"one of {', '.join(tokens)}", choices=tokens, choice_values=values, **common)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        members = tuple(annotation)
        tokens = tuple(member.name for member in members)
        return Param(kind="choice", type_name=annotation.__name__, choices=tokens, choice_values=members, **common)
    if origin is dict and len(typing.get_args(annotation)) == 2 and _pandas_type(typing.get_args(annotation)[1]) == "DataFrame":
        # One or more patterns of data files; the plot gets {run name: frame}, a frame per file.
        table = next((item for item in metadata if isinstance(item, Table)), Table())
        return Param(kind="tables", type_name="files", item_kind="DataFrame", table=table, **common)
    if origin in (list, tuple, collections.abc.Sequence) or annotation in (list, tuple):
        args = typing.get_args(annotation)
        item = _SCALARS.get(args[0], "str") if args else "str"
        item = "str" if item == "bool" else item
        runs_of = next((item.param for item in metadata if isinstance(item, RunsOf)), "")
        return Param(kind="list", type_name=f"list[{item}]", item_kind=item, minimum=low, maximum=high, runs_of=runs_of, **common)
    if annotation in _SCALARS:
        kind = _SCALARS[annotation]
        return Param(kind=kind, type_name=kind, minimum=low, maximum=high, step=step, **common)
    if annotation is datetime.datetime:
        return Param(kind="datetime", type_name="datetime", **common)
    if annotation is datetime.date:
        return Param(kind="date", type_name="date", **common)
    if isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath):
        return Param(kind="path", type_name="file", **common)
    if pandas_type := _pandas_type(annotation):
        table = next((item for item in metadata if isinstance(item, Table)), Table())
        return Param(kind="table", type_name=pandas_type, item_kind=pandas_type, table=table, **common)
    return Param(kind="str", type_name=getattr(annotation, "__name__", str(annotation)), **common)


_FIGURE_PARAMS = ("fig", "ax")


def describe_plot(func: typing.Callable, owner: type | None = None, source: str = "") -> Plot:
    """Read a plot function's name, docstring and signature into a Plot record."""
    signature = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # unresolvable string annotations: fall back to what the signature has
        hints = {}
    summary, description, helps = parse_docstring(func.__doc__)
    params = []
    names = list(signature.parameters)
    if owner is not None:
        names = names[1:]  # self
    for name in names:
        parameter = signature.parameters[name]
        if name in _FIGURE_PARAMS or name.startswith("_"):
            continue
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        annotation = hints.get(name, parameter.annotation)
        params.append(describe_param(name, annotation, parameter.default, helps.get(name, "")))
    try:
        code = inspect.getsource(func)
    except (OSError, TypeError):
        code = func.__code__.co_code.hex()
    name = func.__name__.removeprefix("plot_")
    return Plot(
        name=name,
        func=func,
        owner=owner,
        title=name.replace("_", " ").strip().capitalize(),
        summary=summary,
        description=description,
        params=tuple(params),
        takes_fig="fig" in signature.parameters,
        takes_ax="ax" in signature.parameters,
        source=source,
        fingerprint=hashlib.sha256(f"{func.__qualname__}\n{code}".encode()).hexdigest()[:16],
    )


# Rendering touches process-wide matplotlib state (pyplot's figure list, rcParams), so one
# render runs at a time in a process; worker processes are what give parallelism.
# Reentrant: a source that builds an app of its own at import (make_app) loads sources inside a load.
_render_lock = threading.RLock()


def _reset_render_lock():
    global _render_lock
    _render_lock = threading.RLock()


# A process forked while some thread renders inherits the lock held by a thread it does not
# have: it starts with a free one. Taking the lock before every fork would deadlock a plot that
# forks (os.fork, multiprocessing) while its own render holds it; the pool holds it instead
# around the forks that start workers (WorkerPool._spawn).
os.register_at_fork(after_in_child=_reset_render_lock)


@dataclasses.dataclass(frozen=True)
class _GlobalState:
    """matplotlib state outside rcParams that plot code rewrites: seaborn's ``set_theme()`` and
    ``set_color_codes()`` change what "r" and "k" mean, plots register colormaps and units
    converters, pandas keeps its own plot options (``x_compat``). Taken before each render and
    put back after it, as ``rc_context`` does for rcParams, so what a plot's module does when it
    is imported (or reloaded) holds for all its renders, and what a render does ends with it."""

    colors: dict
    colormaps: dict
    units: dict
    pandas_options: dict | None
    modules: int  # how many modules were imported: those after it were imported by the render

    @classmethod
    def now(cls) -> "_GlobalState":
        plotting = sys.modules.get("pandas.plotting")
        return cls(
            dict(matplotlib.colors.ColorConverter.colors),
            dict(_colormap_table()),
            dict(matplotlib.units.registry),
            dict(plotting.plot_params) if plotting is not None else None,
            len(sys.modules),
        )

    def restore(self) -> None:
        """Put back what a render changed: a comparison of a few dicts when nothing did (~20 µs)."""
        colors = matplotlib.colors.ColorConverter.colors
        if colors != self.colors:
            dict.clear(colors)
            dict.update(colors, self.colors)
            colors.cache.clear()  # colour lookups are memoised: forget the rewritten letters
        table = _colormap_table()
        if table != self.colormaps:
            # A map the plot registered goes, or its next render could not register it again; one
            # that a module imported during the render registered (seaborn's "rocket") stays, as
            # that module will not be imported again to register it.
            imported = [sys.modules[name] for name in itertools.islice(sys.modules, self.modules, None)]
            kept = {
                name: colormap
                for name, colormap in table.items()
                if name not in self.colormaps
                and any(isinstance(getattr(module, name, None), matplotlib.colors.Colormap) for module in imported)
            }
            table.clear()
            table.update(self.colormaps)
            table.update(kept)
        if dict(matplotlib.units.registry) != self.units:
            dict.clear(matplotlib.units.registry)
            dict.update(matplotlib.units.registry, self.units)
        plotting = sys.modules.get("pandas.plotting")
        if plotting is not None and dict(plotting.plot_params) != self.pandas_options:
            if self.pandas_options is None:  # pandas was first imported by the render: its defaults
                plotting.plot_params.reset()
            else:
                dict.clear(plotting.plot_params)
                dict.update(plotting.plot_params, self.pandas_options)


def _colormap_table() -> dict:
    # The registry's own dict: its public lookups hand out copies, which cannot tell a map replaced.
    return matplotlib.colormaps._cmaps


def _rc_now() -> dict:
    """A copy of rcParams as stored (no validation, no deprecation warnings), the backend aside."""
    params = matplotlib.rcParams
    get = getattr(params, "_get", functools.partial(dict.__getitem__, params))
    return {key: get(key) for key in params if key != "backend"}


def _changed(before: dict | None, after: dict | None) -> dict:
    """The entries of ``after`` that are new or differ from ``before``."""
    before = before or {}
    changed = {}
    for key, value in (after or {}).items():
        try:
            same = key in before and (before[key] is value or bool(before[key] == value))
        except Exception:  # arrays and other values without a plain truth value: compare by identity
            same = before.get(key) is value
        if not same:
            changed[key] = value
    return changed


@dataclasses.dataclass(frozen=True)
class SourceSetup:
    """What a source's import changed in the global plotting state: rcParams (style sheets,
    ``sns.set_theme()``, ``matplotlib.rc()``), colour letters, colormaps, units converters and
    pandas' plot options; everything ``_GlobalState`` and ``rc_context`` put back after a render.

    Taken by ``load_source`` around the import, which then puts the state back as it was, so the
    next source imports as ``python thatfile.py`` would; applied around each render of the
    source's plots (``render_plot``), and nowhere else.
    """

    rc: dict
    colors: dict
    colormaps: dict
    units: dict
    pandas_options: dict

    @classmethod
    def around(cls, load: typing.Callable[[], types.ModuleType]) -> tuple[types.ModuleType, "SourceSetup"]:
        """Call ``load`` (an import); return its module and what it set up, and undo that set-up."""
        rc, state = _rc_now(), _GlobalState.now()
        try:
            module = load()
            rc_after, after = _rc_now(), _GlobalState.now()
        finally:
            params = matplotlib.rcParams
            put = getattr(params, "_set", functools.partial(dict.__setitem__, params))
            for key, value in _changed(_rc_now(), rc).items():
                put(key, value)
            state.restore()
        setup = cls(
            _changed(rc, rc_after),
            _changed(state.colors, after.colors),
            _changed(state.colormaps, after.colormaps),
            _changed(state.units, after.units),
            _changed(state.pandas_options or {"xaxis.compat": False}, after.pandas_options),
        )
        return module, setup

    def figure_size(self, width: float, height: float) -> tuple[float, float]:
        """The size to draw at: the source's own ``figure.figsize`` unless a size was asked for."""
        if (width, height) == (DEFAULT_WIDTH, DEFAULT_HEIGHT) and "figure.figsize" in self.rc:
            return tuple(self.rc["figure.figsize"])
        return width, height

    @contextlib.contextmanager
    def drawing(self, rc: dict):
        """rcParams for one render: the source's (as validated when it set them), then ``rc``; all put back after."""
        with matplotlib.rc_context():
            put = getattr(matplotlib.rcParams, "_set", functools.partial(dict.__setitem__, matplotlib.rcParams))
            for key, value in self.rc.items():
                put(key, list(value) if isinstance(value, list) else value)  # a plot's in-place edit stays its own
            matplotlib.rcParams.update(rc)
            yield

    def apply(self) -> None:
        """Put the source's state outside rcParams in place (``_GlobalState.restore`` takes it away)."""
        if self.colors:
            matplotlib.colors.ColorConverter.colors.update(self.colors)
            matplotlib.colors.ColorConverter.colors.cache.clear()
        if self.colormaps:
            _colormap_table().update(self.colormaps)
        if self.units:
            dict.update(matplotlib.units.registry, self.units)
        plotting = sys.modules.get("pandas.plotting") if self.pandas_options else None
        if plotting is not None:
            dict.update(plotting.plot_params, self.pandas_options)


NO_SETUP = SourceSetup({}, {}, {}, {}, {})

_loaded_sources: dict[str, types.ModuleType] = {}
_source_setups: dict[str, SourceSetup] = {}  # source -> what its import set up


class SourceError(Exception):
    """A plot source that cannot be imported; the message is one line: file, line and error."""


def describe_load_error(error: BaseException) -> str:
    """One line for an error raised while importing a source: ``file:line: Type: message``."""
    if isinstance(error, SyntaxError):
        where = f"{error.filename}:{error.lineno}" if error.filename else "?"
        return f"{where}: {type(error).__name__}: {error.msg}"
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if "importlib" not in frame.filename]
    where = f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""
    return where + "".join(traceback.format_exception_only(type(error), error)).strip().replace("\n", " ")


def source_label(source: str) -> str:
    """How the index and messages name a source: a file by its name, a module by its dotted name."""
    return pathlib.Path(source).name if source.endswith(".py") else source


def load_source(source: str) -> types.ModuleType:
    """Import a plot source: a ``.py`` file (its folder goes on sys.path) or a module name.

    What the import sets up (``SourceSetup``) is kept for the source's own renders and undone,
    so every source imports in matplotlib's own state, as it does when run as a script.
    """
    if source in _loaded_sources:
        return _loaded_sources[source]
    if is_data_source(source):  # served by the built-in log plot: nothing to import
        return types.ModuleType(source_label(source))
    with _render_lock:  # no render sees the state half-way through an import
        module, _source_setups[source] = SourceSetup.around(lambda: _import_source(source))
    _loaded_sources[source] = module
    return module


def _import_source(source: str) -> types.ModuleType:
    if source.endswith(".py") or os.sep in source or "/" in source:
        path = pathlib.Path(source).resolve()
        if not path.is_file():
            raise SystemExit(f"plotserve: no such plot file: {source}")
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        name = path.stem
        if name in sys.modules and getattr(sys.modules[name], "__file__", None) != str(path):
            name = f"{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # so dataclasses, enums and pickling can find it
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[name]
            raise SourceError(describe_load_error(error)) from error
        except BaseException:
            del sys.modules[name]
            raise
    else:
        try:
            module = importlib.import_module(source)
        except ModuleNotFoundError as error:
            if error.name != source.partition(".")[0]:
                raise SourceError(describe_load_error(error)) from error
            raise SourceError(f"no such plot file or module: {source}") from None
        except Exception as error:
            raise SourceError(describe_load_error(error)) from error
    return module


def _handler_plots(cls: type, source: str) -> list[Plot]:
    """The plot_* methods of a PlotRequestHandler subclass (found by walking the class)."""
    found = {}
    for klass in reversed(cls.__mro__):
        for attr, value in vars(klass).items():
            if attr.startswith("plot_") and len(attr) > 5 and inspect.isfunction(value):
                found[attr] = value
    return [describe_plot(func, owner=cls, source=source) for func in found.values()]


def discover_plots(sources: typing.Sequence[str] = (), handler_class: type | None = None) -> dict[str, Plot]:
    """Find every plot: the handler class's methods, then each source's functions and handlers."""
    handler_class = handler_class or PlotRequestHandler
    found = _handler_plots(handler_class, handler_class.__qualname__) if handler_class is not PlotRequestHandler else []
    found += data_plots([source for source in sources if is_data_source(source)])
    for source in sources:
        if is_data_source(source):
            continue
        module = load_source(source)
        label = source_label(source)
        setup = _source_setups.get(source)
        for attr, value in vars(module).items():
            if attr.startswith("plot_") and len(attr) > 5 and inspect.isfunction(value):
                found.append(dataclasses.replace(describe_plot(value, source=label), setup=setup))
            elif (
                inspect.isclass(value)
                and issubclass(value, PlotRequestHandler)
                and value is not PlotRequestHandler
                and value.__module__ == module.__name__
            ):
                found.extend(dataclasses.replace(plot, setup=setup) for plot in _handler_plots(value, f"{label}:{value.__qualname__}"))
    registry = {}
    for plot in found:
        if plot.name in registry and registry[plot.name].func is not plot.func:
            raise SystemExit(f"plotserve: two plots are named {plot.name!r} ({registry[plot.name].source} and {plot.source})")
        registry[plot.name] = plot
    return dict(sorted(registry.items()))


class PathRefused(ValueError):
    """A file parameter that names nothing plotserve may open; status is 400 or 403."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


_URL_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|::|^[A-Za-z]:|^\\\\|^//")


def resolve_data_file(data_dir: pathlib.Path, text: str, max_bytes: int) -> pathlib.Path:
    """The regular file under ``data_dir`` that ``text`` names, or PathRefused.

    Refused before anything is opened: URLs and fsspec-style chains, drive and UNC paths, ``~``,
    anything that resolves (symbolic links followed) outside the data directory, and hidden files
    (a name in the path starting with ``.``). Then the file is opened as ``open_data_file`` does
    and refused unless it is a regular file of at most ``max_bytes`` with no other hard link.
    """
    if not text or len(text) > 1024 or any(ord(char) < 32 for char in text):
        raise PathRefused("give a file name under the data directory")
    if _URL_LIKE.search(text) or "\\" in text:
        raise PathRefused("URLs, drive and network paths are not accepted: give a file under the data directory", 403)
    if text.startswith("~"):
        raise PathRefused("~ paths are not accepted: give a file under the data directory", 403)
    root = data_dir.resolve()
    # Containment first, existence after: a 400 for a missing file outside would tell a client
    # which files exist there.
    try:
        path = (root / text).resolve()
    except (OSError, RuntimeError):  # a symbolic link loop
        raise PathRefused("no such file under the data directory") from None
    if not path.is_relative_to(root):
        raise PathRefused("that file is outside the data directory", 403)
    if _is_hidden(path.relative_to(root)):
        raise PathRefused("hidden files (names starting with .) are not accepted", 403)
    os.close(open_data_file(root, path, max_bytes))
    return path


def _is_hidden(relative: pathlib.PurePath) -> bool:
    return any(part.startswith(".") for part in relative.parts)


# Each folder on the way, then the file, opened relative to the one before and never through a
# symbolic link: a link swapped in after the check fails the open instead of being followed.
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_WALK_BY_FD = bool(_NOFOLLOW) and os.open in os.supports_dir_fd


def open_data_file(root: pathlib.Path, path: pathlib.Path, max_bytes: int) -> int:
    """Open a checked file (``path``, resolved, under the resolved ``root``) once: a file descriptor, or PathRefused.

    The opened file itself is checked (``fstat``): a regular file, at most ``max_bytes``, one hard
    link (another could name a file from anywhere). Where the platform lacks ``O_NOFOLLOW`` and
    ``dir_fd`` the path is opened directly, and a link swapped in after the check is followed.
    """
    if path == root:
        raise PathRefused("not a regular file")
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    folder = None
    try:
        if _WALK_BY_FD:
            *folders, name = path.relative_to(root).parts
            folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
            for part in folders:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0), dir_fd=folder)
                os.close(folder)
                folder = inner
            fd = os.open(name, flags | _NOFOLLOW, dir_fd=folder)  # O_NONBLOCK: a FIFO must not wait for a writer
        else:
            fd = os.open(path, flags)
    except FileNotFoundError:
        raise PathRefused("no such file under the data directory") from None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):  # a link where the check saw none
            raise PathRefused("that file changed into a link while it was opened", 403) from None
        raise PathRefused("that file cannot be opened") from None
    finally:
        if folder is not None:
            os.close(folder)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PathRefused("not a regular file")
        if info.st_nlink > 1:
            raise PathRefused("files with more than one hard link are not accepted", 403)
        if info.st_size > max_bytes:
            limit = f"{max_bytes / 2**20:g} MB" if max_bytes >= 2**20 else f"{max_bytes} byte"
            raise PathRefused(f"file is over the {limit} limit")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


class DataFile(type(pathlib.Path())):
    """The path a plot is given for a file parameter: it names the file plotserve opened.

    Opening it (``open``, ``read_bytes``, pandas) reads the very file that was checked, through
    ``/proc/self/fd/N``, whatever has been renamed or linked since. Its ``name``, ``stem`` and
    ``suffix`` are the file's own; ``checked`` is the path that was checked, ``relative`` that path
    under the data directory, and ``parent`` the folder it is in (for files beside it, which are
    looked up by name as any path is).
    """

    checked: pathlib.Path | None = None
    relative: pathlib.PurePosixPath = pathlib.PurePosixPath()

    @classmethod
    def of(cls, fd: int, checked: pathlib.Path, root: pathlib.Path) -> "DataFile":
        """The DataFile for a descriptor opened from ``checked``, a path under ``root``."""
        given = cls(f"/proc/self/fd/{fd}")
        given.checked, given.relative = checked, pathlib.PurePosixPath(checked.relative_to(root).as_posix())
        return given

    @property
    def name(self) -> str:
        return self.relative.name or super().name

    @property
    def parent(self) -> pathlib.Path:
        return self.checked.parent if self.checked is not None else super().parent

    def __repr__(self) -> str:
        return f"DataFile({self.relative.as_posix()!r})"


@functools.cache
def table_suffixes() -> tuple[str, ...]:
    """The file name endings a table parameter accepts: what pandas can read with what is installed."""
    suffixes = [".csv", ".tsv", ".jsonl", ".ndjson"]
    if importlib.util.find_spec("pyarrow") is not None:
        suffixes += [".parquet", ".feather"]
    if importlib.util.find_spec("openpyxl") is not None:
        suffixes += [".xlsx"]
    return tuple(suffixes)


def resolve_table_file(data_dir: pathlib.Path, text: str, max_bytes: int) -> pathlib.Path:
    """The data file a table parameter names: as for a file parameter, and of a kind pandas reads."""
    path = resolve_data_file(data_dir, text, max_bytes)
    if path.suffix.lower() not in table_suffixes():
        kind = f"{path.suffix} files" if path.suffix else "files without a suffix"
        raise PathRefused(f"pandas cannot read {kind} here: give a {', '.join(table_suffixes())} file")
    return path


def list_data_files(data_dir: pathlib.Path, limit: int = MAX_PICKER_FILES, suffixes: tuple[str, ...] | None = None) -> list[str]:
    """The files a file parameter accepts (regular, hidden ones and hard links skipped), as
    relative paths; only those ending in one of ``suffixes`` when it is given."""
    root = data_dir.resolve()
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(name for name in dirs if not name.startswith((".", "__")))
        if pathlib.Path(folder).relative_to(root).parts.__len__() >= 3:
            dirs[:] = []
        for name in sorted(files):
            if name.startswith(".") or (suffixes is not None and not name.lower().endswith(suffixes)):
                continue
            path = pathlib.Path(folder, name)
            try:
                resolved = path.resolve()
                if not resolved.is_relative_to(root) or _is_hidden(resolved.relative_to(root)):
                    continue
                info = resolved.stat()
            except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop
                continue
            if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
                found.append(path.relative_to(root).as_posix())
            if len(found) >= limit:
                return found
    return found


def machine_memory() -> int:
    """Bytes of memory this machine has, or the container's limit (cgroup v2) if lower; 0 if unknown."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 0
    with contextlib.suppress(OSError, ValueError):
        total = min(total, int(pathlib.Path("/sys/fs/cgroup/memory.max").read_text()))  # "max" when there is none
    return total


MIN_DATA_CACHE = 128 << 20


def default_data_cache_bytes(processes: int | None = None) -> int:
    """Bytes of parsed data files one render process keeps by default: an eighth of the machine's
    memory shared among its render processes (one per core unless told), at least 128 MB.

    On a 16 GB laptop with 8 cores that is 256 MB a process; on a 24 GB box with 2 cores, 1.5 GB:
    a log the machine holds easily (a 5,000,000-row CSV of 6 columns is 240 MB parsed) stays parsed.
    """
    processes = (os.cpu_count() or 1) if processes is None else max(1, processes)
    return max(MIN_DATA_CACHE, machine_memory() // 8 // processes)


# -- data files as sources: the built-in log plot ---------------------------------------------
# ``plotserve run.csv``, ``plotserve runs/`` and ``plotserve 'runs/*/metrics.csv'`` serve data
# files with no code: each source becomes a Plot of ``plot_log`` (below), an ordinary function
# whose ``files`` parameter defaults to the source. So its form, URL, JSON twin, ETag, cache,
# push and export are every plot's. A folder or a pattern gets one page with every run overlaid,
# and each of its files a page of its own.

_GLOB_CHARS = re.compile(r"[*?[]")


class FileSet(tuple):
    """The data files a pattern names now, sorted; ``more`` counts those left out past MAX_RUNS;
    ``stopped`` says the listing ended at MAX_LOOKED entries, before it had looked everywhere."""

    more = 0
    stopped = False


class Runs(dict):
    """What a ``dict[str, DataFrame]`` parameter gives a plot: {run name: frame}, in file order.

    ``more`` counts the files the pattern matched past MAX_RUNS, which are not read; ``stopped``
    says the listing ended at MAX_LOOKED entries, so files further on were not seen.
    """

    more = 0
    stopped = False


def is_data_source(source: str) -> bool:
    """Whether a command-line source is data (a table file, a folder or a pattern), not plot code."""
    if source.endswith(".py"):
        return False
    if _GLOB_CHARS.search(source) or os.path.isdir(source):
        return True
    return source.lower().endswith(table_suffixes()) and os.path.isfile(source)


def resolve_table_patterns(data_dir: pathlib.Path, text: str, max_bytes: int) -> FileSet:
    """The data files under ``data_dir`` that ``text`` names: patterns (``*``, ``?``, ``[ab]``,
    ``**``) or folders, separated by commas; or PathRefused.

    Each pattern is matched inside the data directory only: ``..``, ``~``, URLs and absolute
    patterns outside it are refused (403) before anything is listed. Matches are checked as a table
    parameter's file is (regular, not hidden, one link, a kind pandas reads); others are skipped.
    A listing is reused for up to LISTING_SECONDS: a held page looks at its view ten times a second.
    """
    return _listed(str(data_dir.resolve()), text, max_bytes, int(time.monotonic() / LISTING_SECONDS))


@functools.lru_cache(maxsize=64)
def _listed(root_text: str, text: str, max_bytes: int, period: int) -> FileSet:
    root = pathlib.Path(root_text)
    patterns = [part.strip() for part in text.split(",") if part.strip()]
    if not patterns or len(text) > 4096 or any(ord(char) < 32 for char in text):
        raise PathRefused("give a file, a folder or a pattern such as runs/*/metrics.csv under the data directory")
    found, budget = [], [MAX_LOOKED]
    for pattern in patterns[:MAX_LIST_ITEMS]:
        if _URL_LIKE.search(pattern) or "\\" in pattern or pattern.startswith("~"):
            raise PathRefused("URLs, ~, drive and network paths are not accepted: give a pattern under the data directory", 403)
        if ".." in pathlib.PurePosixPath(pattern).parts:
            raise PathRefused(".. is not accepted in a pattern: give one under the data directory", 403)
        if os.path.isabs(pattern):
            absolute = pathlib.Path(os.path.normpath(pattern))
            if not absolute.is_relative_to(root):
                raise PathRefused("that pattern is outside the data directory", 403)
            pattern = absolute.relative_to(root).as_posix() or "."
        if not _GLOB_CHARS.search(pattern) and (root / pattern).is_dir():
            pattern = pattern.rstrip("/") + "/**"  # a folder: every data file in it, at any depth
        for name in _matching(root_text, pattern, budget):
            if not name.lower().endswith(table_suffixes()):
                continue
            try:
                path = (root / name).resolve()
                info = path.stat()
            except (OSError, RuntimeError):  # gone, or a link loop
                continue
            inside = path.is_relative_to(root) and not _is_hidden(path.relative_to(root))
            if inside and stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and info.st_size <= max_bytes:
                found.append(path)
            if len(found) > 20 * MAX_RUNS:  # enough to sort and cut: a pattern never lists a whole disk
                break
    paths = sorted(set(found))
    files = FileSet(paths[:MAX_RUNS])
    files.more = len(paths) - len(files)
    files.stopped = budget[0] <= 0
    return files


def _matching(root: str, pattern: str, budget: list[int]) -> typing.Iterator[str]:
    """The names under ``root`` that a glob ``pattern`` matches (``**``: any folders deep), as
    ``glob.iglob(recursive=True)`` gives them, but within a budget: every directory entry looked at
    counts, matching or not, and the walk ends when ``budget[0]`` is spent. ``**`` follows links to
    folders, each real folder once (a link loop is walked once), and skips hidden ones, as a hidden
    name is only matched by a pattern part that starts with a dot. A pattern ending in ``/`` names
    folders: no data file.
    """
    walked: set[tuple[int, int]] = set()  # the real folders ** went into: (device, inode)

    def entries(folder: str) -> list[os.DirEntry]:
        if budget[0] <= 0:
            return []
        try:
            with os.scandir(os.path.join(root, folder) if folder else root) as scan:
                found = list(itertools.islice(scan, budget[0]))
        except OSError:
            return []
        budget[0] -= max(len(found), 1)
        return found

    def first_time(path: str) -> bool:
        try:
            info = os.stat(os.path.join(root, path) if path else root)
        except OSError:
            return False
        seen = (info.st_dev, info.st_ino) in walked
        walked.add((info.st_dev, info.st_ino))
        return not seen

    def below(folder: str, files: bool) -> typing.Iterator[str]:  # the folders under it (and files): what ** matches
        if not first_time(folder):
            return
        for entry in entries(folder):
            if entry.name.startswith("."):
                continue
            path = f"{folder}/{entry.name}" if folder else entry.name
            try:
                folder_too = entry.is_dir()
            except OSError:
                folder_too = False
            if folder_too or files:
                yield path
            if folder_too:
                yield from below(path, files)

    def walk(folder: str, parts: list[str]) -> typing.Iterator[str]:
        part, rest = parts[0], parts[1:]
        join = (lambda name: f"{folder}/{name}") if folder else (lambda name: name)
        if part == "**" and not rest:
            if folder:
                yield folder + "/"
            yield from below(folder, files=True)
            return
        if part == "**":
            for inner in itertools.chain([folder], below(folder, files=False)):
                yield from walk(inner, rest)
            return
        if not _GLOB_CHARS.search(part):
            path = join(part)
            if rest and os.path.isdir(os.path.join(root, path)):
                yield from walk(path, rest)
            elif not rest and os.path.lexists(os.path.join(root, path)):
                yield path
            return
        for entry in entries(folder):
            if entry.name.startswith(".") and not part.startswith("."):
                continue
            if fnmatch.fnmatchcase(entry.name, part):
                if not rest:
                    yield join(entry.name)
                elif entry.is_dir():
                    yield from walk(join(entry.name), rest)

    parts = [part for part in pattern.split("/") if part not in ("", ".")]
    parts = [part for index, part in enumerate(parts) if not (part == "**" and parts[index - 1 : index] == ["**"])]
    return walk("", parts) if parts and not pattern.endswith("/") else iter(())


def run_labels(paths: typing.Sequence[pathlib.PurePath]) -> list[str]:
    """Each file's distinguishing part: ``runs/a/metrics.csv`` and ``runs/b/metrics.csv`` are ``a`` and ``b``."""
    if len(paths) <= 1:
        return [path.stem for path in paths]
    parts = [list(path.parts) for path in paths]
    for split, path in zip(parts, paths, strict=True):
        split[-1] = path.stem  # run.csv and run.parquet, alike but for that, are named by their whole paths below
    shortest = min(len(split) for split in parts)
    lead = 0
    while lead < shortest - 1 and len({split[lead] for split in parts}) == 1:
        lead += 1
    trail = 0
    while lead + trail < shortest - 1 and len({split[-1 - trail] for split in parts}) == 1:
        trail += 1
    labels = ["/".join(split[lead : len(split) - trail]) for split in parts]
    return labels if len(set(labels)) == len(labels) else [path.as_posix() for path in paths]


def _plot_name(text: str) -> str:
    """A URL name made of a path: letters, digits and underscores."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "data"


def _shared_pattern(paths: list[str]) -> str:
    """The pattern the shell expanded into ``paths`` where one path part differs (``runs/*/metrics.csv``), else the paths."""
    parts = [pathlib.PurePath(path).parts for path in paths]
    if len({len(split) for split in parts}) == 1:
        differing = [index for index in range(len(parts[0])) if len({split[index] for split in parts}) > 1]
        if len(differing) == 1:
            pattern = list(parts[0])
            pattern[differing[0]] = "*"
            pattern = pathlib.PurePath(*pattern).as_posix()
            if {os.path.abspath(name) for name in glob.glob(pattern)} == {os.path.abspath(path) for path in paths}:
                return pattern  # the very files given, and the ones that turn up there later
    return ",".join(paths)


def data_plots(sources: typing.Sequence[str]) -> list[Plot]:
    """The built-in log plots for data sources: one per file; for a folder or a pattern (or files
    the shell expanded one from), one with every run overlaid, and one per file in it."""
    if not sources:
        return []
    here = pathlib.Path.cwd()

    def shown(path: str) -> str:  # as the form shows it: relative to where plotserve was started
        absolute = pathlib.Path(os.path.abspath(path))
        return absolute.relative_to(here).as_posix() if absolute.is_relative_to(here) else absolute.as_posix()

    files = [source for source in sources if not _GLOB_CHARS.search(source) and os.path.isfile(source)]
    groups = [source for source in sources if source not in files]
    if len(files) > 1:  # the shell expanded a pattern: overlay those files as it would have
        groups.append(_shared_pattern([shown(path) for path in files]))
        files = []
    plots, names = [], set()

    def add(name: str, pattern: str, title: str, source: str) -> str:
        name = base = _plot_name(name)
        number = 2
        while name in names:
            name, number = f"{base}_{number}", number + 1
        names.add(name)
        plots.append(_log_plot(name, pattern, title, source))
        return name

    for group in groups:
        pattern = shown(group) if not _GLOB_CHARS.search(group) and "," not in group else group
        parts = [os.path.abspath(part.strip()) for part in pattern.split(",")]
        base = pathlib.Path(os.path.commonpath([re.split(r"[*?[]", part)[0] for part in parts]))
        base = base if base.is_dir() else base.parent
        title = f"Runs in {pattern}" if "," not in pattern else f"Runs in {shown(str(base))}"
        overlay = add(base.name or "runs", pattern, title, source_label(group))
        try:  # the files it names now, each of which gets a page of its own
            matched = resolve_table_patterns(base, ",".join(os.path.relpath(part, base) for part in parts), 1 << 62)
        except PathRefused:
            matched = FileSet()
        for path, label in zip(matched, run_labels([path.relative_to(base.resolve()) for path in matched]), strict=True):
            add(f"{overlay}_{label}", shown(str(path)), f"{label} ({shown(str(path))})", source_label(group))
    for path in files:
        add(pathlib.PurePath(path).stem, shown(path), shown(path), source_label(path))
    return plots


def within_data_dir(plots: dict[str, Plot], data_dir: pathlib.Path) -> dict[str, Plot]:
    """The plots with each data-file pattern default under ``data_dir`` written relative to it, as pages show it."""
    root = str(data_dir.resolve())
    changed = {}
    for name, plot in plots.items():
        params = list(plot.params)
        title, source = plot.title, plot.source
        for index, param in enumerate(params):
            default = param.default if param.kind == "tables" and isinstance(param.default, str) else ""
            parts = [part.strip() for part in default.split(",")]
            if not default or not all(os.path.isabs(part) and (part + "/").startswith(root + "/") for part in parts):
                continue
            relative = ",".join(os.path.relpath(part, root) for part in parts)
            params[index] = dataclasses.replace(param, default=relative)
            shown = relative if relative != "." else pathlib.PurePath(default).name  # the data directory itself: its name
            title = title.replace(default, shown).replace(root + "/", "")
            source = pathlib.PurePath(root).name if source == root else source.replace(root + "/", "")
        changed[name] = dataclasses.replace(plot, params=tuple(params), title=title, source=source) if params != list(plot.params) else plot
    return changed


_X_NAMES = ("step", "global_step", "epoch", "iteration", "iter", "time", "timestamp", "wall_time")
_TIME_NAMES = ("time", "timestamp", "wall_time", "date", "datetime")
MAX_PANELS = 24
MAX_LEGEND_RUNS = 8
# A run's colour, by its place among the files: matplotlib's tab10, in the light and the dark theme
# alike, as the page's run checkboxes show them (.c0 to .c9 in STYLESHEET).
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def _log_plot(name: str, pattern: str, title: str, source: str) -> Plot:
    """The built-in log plot of one data source, its ``files`` defaulting to ``pattern``."""
    import pandas

    def plot_log(
        fig,
        files: dict[str, pandas.DataFrame] = pattern,
        y: list[str] = (),
        x: str = "",
        panels: bool = True,
        runs: typing.Annotated[list[str], RunsOf("files")] = (),
    ):
        """Each numeric column of the data files against their step, epoch or time.

        Args:
            files: data files: a file, a folder or a pattern such as runs/*/metrics.csv (several separated by commas)
            y: the columns to draw (all numeric columns if empty)
            x: the x column (the first of step, epoch, iteration, time; else the first increasing column; else the row number)
            panels: one panel per column; else every column on one axes
            runs: the runs to show (all if empty)
        """
        draw_log(fig, files, list(y), x, panels, list(runs))

    plot = describe_plot(plot_log, source=source)
    fingerprint = hashlib.sha256(f"{plot.fingerprint}\n{name}".encode()).hexdigest()[:16]
    return dataclasses.replace(plot, name=name, title=title, fingerprint=fingerprint)


def _x_column(frame, asked: str):
    """The column a log is drawn against: asked for, a usual name, the first increasing numeric one; None for the row number."""
    import pandas

    if asked:
        if asked not in frame.columns:
            raise ValueError(f"x: there is no column {asked!r}; the columns are {', '.join(map(str, frame.columns))}")
        return asked
    lower = {str(column).lower(): column for column in frame.columns}
    for candidate in _X_NAMES:
        if candidate in lower:
            return lower[candidate]
    for column in frame.columns:
        values = frame[column]
        if pandas.api.types.is_numeric_dtype(values) and len(values) > 1 and values.is_monotonic_increasing and values.nunique() > 1:
            return column
    return None


def _x_values(frame, column):
    """The x values of a log: dates where the column holds dates or epoch seconds of a time column."""
    import pandas

    if column is None:
        return numpy.arange(len(frame)), "row"
    values = frame[column]
    timed = str(column).lower() in _TIME_NAMES
    if timed and not pandas.api.types.is_numeric_dtype(values) and not pandas.api.types.is_datetime64_any_dtype(values):
        with contextlib.suppress(ValueError, TypeError):
            values = pandas.to_datetime(values)
    elif timed and pandas.api.types.is_numeric_dtype(values) and len(values) and 1e8 < values.iloc[0] < 1e11:
        values = pandas.to_datetime(values, unit="s")  # epoch seconds, as TensorBoard writes wall_time
    return values.to_numpy(), str(column)


def draw_log(fig, files: dict, y: list[str], x: str, panels: bool, runs: list[str]) -> None:
    """Draw logs: each numeric column against the x column, a panel each (or one axes), runs overlaid.

    A run keeps its colour (its place among all the files) whichever runs are shown.
    """
    import pandas

    names = list(files)
    unknown = [run for run in runs if run not in files]
    if unknown:
        raise ValueError(f"runs: no run named {', '.join(map(repr, unknown[:5]))}; the runs are {', '.join(names[:20])}")
    shown = [name for name in names if not runs or name in runs]
    columns, x_columns = [], {}
    for name in shown:
        x_columns[name] = _x_column(files[name], x)
        for column in files[name].columns:
            numeric = pandas.api.types.is_numeric_dtype(files[name][column]) and not pandas.api.types.is_bool_dtype(files[name][column])
            if numeric and column != x_columns[name] and column not in columns:
                columns.append(column)
    if y:
        missing = [column for column in y if column not in columns]
        if missing:
            raise ValueError(f"y: no numeric column {', '.join(map(repr, missing[:5]))}; they are {', '.join(map(str, columns))}")
        columns = list(y)
    cut = len(columns) - MAX_PANELS if panels else 0
    columns = columns[:MAX_PANELS] if panels else columns
    fig.set_layout_engine("constrained")
    if not columns:
        ax = fig.add_subplot()
        ax.set_axis_off()
        empty = "no data files match" if not names else "no numeric column to draw"
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
        _log_notes(fig, files, names, 0)
        return
    width, height = fig.get_size_inches()
    count = len(columns) if panels else 1
    # A grid that fits the page: panels about 3:2, one column on a phone (narrow, and not flat: not a thumbnail);
    # taller than asked where they would be too flat.
    phone = width < 5 and width < 1.5 * height
    across = 1 if phone else max(1, min(count, round(math.sqrt(count * width / height / 1.5))))
    down = math.ceil(count / across)
    fig.set_size_inches(width, max(height, down * min(height, width / across / 1.6)))
    grid = fig.subplots(down, across, squeeze=False)
    for ax in grid.flat[count:]:
        ax.set_visible(False)
    axes = list(grid.flat[:count])
    label_runs = len(names) > 1
    for place, name in enumerate(names):
        if name not in shown:
            continue
        frame = files[name]
        xs, x_label = _x_values(frame, x_columns[name])
        colour, dashes = RUN_COLOURS[place % len(RUN_COLOURS)], ("-", "--", ":", "-.")[place // len(RUN_COLOURS) % 4]
        style = dict(color=colour, linestyle=dashes, linewidth=1.2)
        for index, column in enumerate(columns):
            if column not in frame.columns:
                continue
            ax = axes[index] if panels else axes[0]
            label = name if panels or len(columns) == 1 else (f"{name} {column}" if label_runs else str(column))
            (line,) = ax.plot(xs, frame[column].to_numpy(dtype=float, na_value=numpy.nan), label=label, **style)
            line.plotserve_named = True  # a run called _tmp is named too
            ax.set_xlabel(x_label, parse_math=False)
    for index, ax in enumerate(axes):
        # A file's or a column's name is drawn as it is: a $ in it does not start mathtext.
        ax.set_title(str(columns[index]) if panels else ", ".join(map(str, columns)), fontsize="medium", parse_math=False)
    if label_runs or not panels:
        _legend(axes[0], len(shown) if panels else len(axes[0].lines))
    _log_notes(fig, files, names, cut)


def _log_notes(fig, files: dict, names: list[str], cut: int) -> None:
    """Above the log plot, in red: what it leaves out (files past MAX_RUNS, columns past MAX_PANELS)
    and whether the listing stopped before it had looked everywhere."""
    notes = []
    if getattr(files, "more", 0):
        notes.append(f"{files.more} more files matched: the first {len(names)} are drawn")
    if getattr(files, "stopped", False):
        notes.append(f"the listing stopped after {MAX_LOOKED:,} entries: give a narrower pattern")
    if cut > 0:
        notes.append(f"{cut} more columns: choose them with y")
    if notes:
        fig.suptitle("; ".join(notes), fontsize="small", color="#b00020")


def _legend(ax, count: int) -> None:
    """A legend naming at most MAX_LEGEND_RUNS lines, and how many more there are.

    Every line is named, a run called ``_tmp`` too (matplotlib leaves out labels starting with ``_``
    unless the legend is given its lines).
    """
    handles = list(ax.lines)
    labels = [line.get_label() for line in handles]
    if count > MAX_LEGEND_RUNS:
        handles, labels = handles[:MAX_LEGEND_RUNS], labels[:MAX_LEGEND_RUNS]
        handles.append(matplotlib.lines.Line2D([], [], linestyle="none"))
        labels.append(f"and {count - MAX_LEGEND_RUNS} more")
    for text in ax.legend(handles, labels, fontsize="small").get_texts():
        text.set_parse_math(False)


@dataclasses.dataclass
class Limits:
    """What a request may ask of the server; set from the command line."""

    data_dir: pathlib.Path = dataclasses.field(default_factory=pathlib.Path.cwd)
    max_file_bytes: int = 1 << 30
    max_pixels: int = 25_000_000
    max_dpi: int = 600
    data_cache_bytes: int = dataclasses.field(default_factory=default_data_cache_bytes)  # parsed data each render process keeps


def _parse_number(param_kind: str, text: str):
    if len(text) > MAX_NUMBER_TEXT:
        raise ValueError(f"expected a number of at most {MAX_NUMBER_TEXT} characters")
    if param_kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected a whole number, got {text!r}") from None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def convert_value(param: Param, text: str, limits: Limits):
    """Turn the query text of one parameter into its Python value, or raise ValueError."""
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise ValueError(f"too long: at most {MAX_TEXT} characters")
    if param.kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if text == "" and param.optional:
        return None
    if text == "" and param.kind not in ("str", "list"):
        raise ValueError("a value is required")
    if param.kind in ("int", "float"):
        value = _parse_number(param.kind, text)
        if param.minimum is not None and value < param.minimum:
            raise ValueError(f"must be at least {param.minimum}")
        if param.maximum is not None and value > param.maximum:
            raise ValueError(f"must be at most {param.maximum}")
        return value
    if param.kind == "choice":
        for token, value in zip(param.choices, param.choice_values, strict=True):
            if text == token or (isinstance(value, enum.Enum) and text == str(value.value)):
                return value
        raise ValueError(f"must be one of: {', '.join(param.choices)}")
    if param.kind == "date":
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"expected a date as YYYY-MM-DD, got {text!r}") from None
    if param.kind == "datetime":
        try:
            return datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"expected a date and time as YYYY-MM-DDTHH:MM, got {text!r}") from None
    if param.kind == "list":
        items = [item.strip() for item in text.split(",") if item.strip()]
        if len(items) > MAX_LIST_ITEMS:
            raise ValueError(f"at most {MAX_LIST_ITEMS} items")
        if param.item_kind == "str":
            return items
        values = []
        for position, item in enumerate(items, 1):
            try:
                values.append(_parse_number(param.item_kind, item))
            except ValueError as error:
                raise ValueError(f"item {position}: {error}") from None
        return values
    if param.kind == "path":
        return resolve_data_file(limits.data_dir, text, limits.max_file_bytes)
    if param.kind == "table":  # the path: the frame is read where the plot is drawn, in the render process
        return resolve_table_file(limits.data_dir, text, limits.max_file_bytes)
    if param.kind == "tables":  # the files the patterns name now; read in the render process too
        return resolve_table_patterns(limits.data_dir, text, limits.max_file_bytes)
    return text


def _parse_limit(text: str) -> float | datetime.datetime:
    """One end of a zoom: a finite number, or a date (naive, in UTC, as matplotlib's dates are)."""
    try:
        return _parse_number("float", text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a number or a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM), got {text[:40]!r}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment


def parse_limits(text: str) -> tuple:
    """``LO,HI`` of a zoom: two finite numbers or two dates with LO < HI, or raise ValueError."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"expected LO,HI (two numbers or two dates), got {text[:80]!r}")
    low, high = (_parse_limit(part) for part in parts)
    if isinstance(low, float) != isinstance(high, float):
        raise ValueError("expected two numbers or two dates, not one of each")
    if not low < high:
        raise ValueError(f"LO must be less than HI, got {text[:80]!r}")
    return low, high


def _limits_text(limits: tuple) -> str:
    """A zoom as its canonical query text: 12 significant digits (well under a pixel), dates in ISO."""
    return ",".join(_limit_text(value) for value in limits)


def _limit_text(value: float | datetime.datetime) -> str:
    if not isinstance(value, datetime.datetime):
        return format(value, ".12g")
    return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()


@dataclasses.dataclass(frozen=True)
class View:
    """How the picture is shown, whatever the plot drew: zoom, log scales, grid and theme."""

    xlim: tuple | None = None  # (low, high): floats, or datetimes for a date axis
    ylim: tuple | None = None
    axes: int = 0  # the Axes the zoom applies to, in the figure's order
    logx: bool = False
    logy: bool = False
    grid: bool = False
    theme: str = ""  # "light" or "dark" when asked for; "" lets the page follow the browser
    decimate: bool = True  # long plain lines drawn from 4 points per pixel column (decimate_lines)
    smooth: float = 0.0  # the weight of the moving average every plain line is drawn as; 0: drawn as given

    def pairs(self, *, image: bool) -> list[tuple[str, str]]:
        """The query pairs that stand for this view; an image's say only what changes its pixels."""
        pairs = []
        if self.xlim:
            pairs.append((XLIM, _limits_text(self.xlim)))
        if self.ylim:
            pairs.append((YLIM, _limits_text(self.ylim)))
        if (self.xlim or self.ylim) and self.axes:
            pairs.append((AXES, str(self.axes)))
        pairs += [(name, "true") for name, on in ((LOGX, self.logx), (LOGY, self.logy), (GRID, self.grid)) if on]
        if self.theme == "dark" or (self.theme and not image):
            pairs.append((THEME, self.theme))
        if not self.decimate:
            pairs.append((DECIMATE, "false"))
        if self.smooth:
            pairs.append((SMOOTH, format(self.smooth, ".6g")))
        return pairs


def _parse_view(raw: dict, errors: dict) -> View:
    """The view options of a query; a bad one is reported under its own name."""
    found = {}
    for name, attr in ((XLIM, "xlim"), (YLIM, "ylim")):
        if name in raw and name not in errors and raw[name].strip():
            try:
                found[attr] = parse_limits(raw[name][:200])
            except ValueError as error:
                errors[name] = str(error)
    if AXES in raw and AXES not in errors:
        try:
            found["axes"] = _parse_number("int", raw[AXES].strip())
            if not 0 <= found["axes"] <= MAX_AXES_INDEX:
                raise ValueError(f"must be between 0 and {MAX_AXES_INDEX}")
        except ValueError as error:
            errors[AXES] = str(error)
    for name, attr in ((LOGX, "logx"), (LOGY, "logy"), (GRID, "grid")):
        text = raw.get(name, "").strip().lower()
        if name in errors or text in _FALSE:
            continue  # left out, as a form leaves out an unticked checkbox: off
        if text in _TRUE:
            found[attr] = True
        else:
            errors[name] = f"expected true or false, got {raw[name][:40]!r}"
    if THEME in raw and THEME not in errors:
        if raw[THEME].strip() in THEMES:
            found["theme"] = raw[THEME].strip()
        else:
            errors[THEME] = f"must be one of: {', '.join(THEMES)}"
    _parse_decimate(raw, errors, found)
    _parse_smooth(raw, errors, found)
    return View(**found)


def _parse_decimate(raw: dict, errors: dict, found: dict) -> None:
    """``_decimate``: on unless turned off (left out or empty, it stays on)."""
    text = raw.get(DECIMATE, "").strip().lower()
    if DECIMATE in errors or text in ("", *_TRUE):
        return
    if text in _FALSE:
        found["decimate"] = False
    else:
        errors[DECIMATE] = f"expected true or false, got {raw[DECIMATE][:40]!r}"


def _parse_smooth(raw: dict, errors: dict, found: dict) -> None:
    """``_smooth=W``: a weight 0 <= W < 1 (0.6 is TensorBoard's default); empty or 0 is no smoothing."""
    text = raw.get(SMOOTH, "").strip()
    if not text or SMOOTH in errors:
        return
    try:
        weight = float(format(_parse_number("float", text), ".6g"))  # rounded first: 0.9999999 would become 1
        if not 0 <= weight < 1:
            raise ValueError(f"must be at least 0 and less than 1, got {text[:40]!r}")
    except ValueError as error:
        errors[SMOOTH] = str(error)
        return
    found["smooth"] = weight


@dataclasses.dataclass
class Request:
    """A parsed query: the plot's values, plotserve's own options, and what was wrong."""

    values: dict  # parameter name -> Python value, for every parameter that has one
    texts: dict  # parameter name -> text as typed, to re-fill the form
    errors: dict  # field name -> message; "" for errors about the query as a whole
    refresh: int = DEFAULT_REFRESH
    width: float = DEFAULT_WIDTH
    height: float = DEFAULT_HEIGHT
    dpi: float = DEFAULT_DPI
    status: int = 200  # 400, or 403 where a file parameter reached outside the data directory
    missing: tuple = ()  # required parameters with no value yet
    wait: float = 0  # seconds an image request may be held until its view changes (0: answer at once)
    view: View = dataclasses.field(default_factory=View)

    def canonical_query(self, plot: Plot, *, image: bool = False) -> str:
        """The query string that stands for this view: non-default values, in signature order."""
        pairs = []
        for param in plot.params:
            if param.name in self.texts and (param.required or param.text(param.default) != self.texts[param.name]):
                pairs.append((param.name, self.texts[param.name]))
        if not image and self.refresh != DEFAULT_REFRESH:
            pairs.append((REFRESH, str(self.refresh)))
        pairs += self.view.pairs(image=image)
        if image:
            for name, value, default in (
                (WIDTH, self.width, DEFAULT_WIDTH),
                (HEIGHT, self.height, DEFAULT_HEIGHT),
                (DPI, self.dpi, DEFAULT_DPI),
            ):
                if value != default:
                    pairs.append((name, f"{value:g}"))
        return urllib.parse.urlencode(pairs)


_OPTIONS = {REFRESH, WIDTH, HEIGHT, DPI, FORM, WAIT, COMPARE, VALUES, XLIM, YLIM, AXES, LOGX, LOGY, GRID, THEME, DECIMATE, SMOOTH}


def split_query(query: str) -> tuple[list[tuple[str, str]], str | None]:
    """Decode a query string strictly: (pairs, None) or ([], the reason it is unreadable)."""
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=False, errors="strict", max_num_fields=200)
    except UnicodeDecodeError:
        return [], "the query string is not valid UTF-8"
    except ValueError as error:
        return [], str(error)
    return pairs, None


def parse_query(plot: Plot, pairs: list[tuple[str, str]], limits: Limits) -> Request:
    """Check a query against a plot's parameters; every problem is reported, none raised."""
    known = {param.name: param for param in plot.params}
    texts, errors, seen = {}, {}, collections.Counter(name for name, _ in pairs)
    status = 200
    unknown = []  # every unknown name is reported, not just the last one
    for name, count in seen.items():
        if name not in known and name not in _OPTIONS:
            unknown.append(repr(name if len(name) <= 40 else name[:40] + "…"))
        elif count > 1:
            errors[name] = "given more than once"
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        plural = "s" if len(unknown) > 1 else ""
        errors[""] = f"unknown parameter{plural} {shown}: {plot.name} takes {', '.join(known) or 'no parameters'}"
    raw = dict(pairs)
    if raw.get(COMPARE):  # the form sends an empty one when nothing is compared
        errors[COMPARE] = "a comparison is a page: each of its pictures has a URL of its own"
    request = Request(values={}, texts=texts, errors=errors)
    for name, attr, low, high, kind in (
        (REFRESH, "refresh", MIN_REFRESH, MAX_REFRESH, "int"),
        (WIDTH, "width", 1, MAX_INCHES, "float"),
        (HEIGHT, "height", 1, MAX_INCHES, "float"),
        (DPI, "dpi", 10, limits.max_dpi, "float"),
        (WAIT, "wait", 0, HOLD_SECONDS, "float"),
    ):
        if name in raw and name not in errors:
            try:
                value = _parse_number(kind, raw[name].strip())
                if not low <= value <= high:
                    raise ValueError(f"must be between {low} and {high}")
                setattr(request, attr, value)
            except ValueError as error:
                errors[name] = str(error)
    request.view = _parse_view(raw, errors)
    pixels = request.width * request.height * request.dpi**2
    if pixels > limits.max_pixels and not {WIDTH, HEIGHT, DPI} & errors.keys():
        errors[DPI] = (
            f"{request.width:g}x{request.height:g} in at {request.dpi:g} dpi is {pixels / 1e6:.0f} megapixels, "
            f"over the {limits.max_pixels / 1e6:g} megapixel limit"
        )
    missing = []
    for param in plot.params:
        if param.name in errors:
            continue
        if param.name in raw:
            texts[param.name] = raw[param.name]
            try:
                request.values[param.name] = convert_value(param, raw[param.name], limits)
            except PathRefused as error:
                errors[param.name] = str(error)
                status = max(status, error.status)
            except ValueError as error:
                errors[param.name] = str(error)
        elif param.kind == "bool" and FORM in raw:
            texts[param.name], request.values[param.name] = "false", False
        elif param.required:
            missing.append(param.name)
        else:
            texts[param.name] = param.text(param.default)
            value = param.default
            if param.kind in ("path", "table") and value is not None and not pathlib.Path(value).is_absolute():
                resolve = resolve_table_file if param.kind == "table" else resolve_data_file
                try:  # defaults are the plot author's, but a relative one still lives in the data dir
                    value = resolve(limits.data_dir, str(value), limits.max_file_bytes)
                except PathRefused as error:
                    errors[param.name] = f"{error} (the default, {param.text(param.default)})"
            elif param.kind == "tables" and value is not None:
                try:
                    value = resolve_table_patterns(limits.data_dir, str(value), limits.max_file_bytes)
                except PathRefused as error:
                    errors[param.name] = f"{error} (the default, {param.text(param.default)})"
            elif isinstance(value, tuple) and param.kind == "list":
                value = list(value)
            request.values[param.name] = value
    request.missing = tuple(missing)
    request.status = status if status != 200 else (400 if errors else 200)
    return request


def comparing(pairs: list[tuple[str, str]]) -> bool:
    """Whether a query asks for several values side by side."""
    return any(name == COMPARE and value for name, value in pairs)


@dataclasses.dataclass
class Comparison:
    """One parameter at several values side by side, the other parameters shared by every picture."""

    name: str  # the varied parameter
    requests: list  # a Request per value, in the order given
    shared: Request  # the query without the varied parameter: what the form shows
    error: str = ""  # what is wrong with the comparison itself

    @property
    def status(self) -> int:
        """200, or the worst status of the shared query and of each value."""
        if self.error:
            return 400
        return max([self.shared.status if self.shared.errors else 200] + [request.status for request in self.requests])

    @property
    def texts(self) -> list[str]:
        """The values compared, as query text."""
        return [request.texts.get(self.name, "") for request in self.requests]

    def query(self, plot: Plot) -> str:
        """The query string that stands for this comparison: the values, then the shared non-defaults."""
        shared = urllib.parse.parse_qsl(self.shared.canonical_query(plot), keep_blank_values=True)
        size = urllib.parse.parse_qsl(self.shared.canonical_query(plot, image=True), keep_blank_values=True)
        pairs = [(COMPARE, self.name), *((self.name, text) for text in self.texts)]
        pairs += [(k, v) for k, v in shared if k != self.name]
        pairs += [(k, v) for k, v in size if k in (WIDTH, HEIGHT, DPI)]
        return urllib.parse.urlencode(pairs)


def comparison_values(param: Param, limits: Limits) -> list[str]:
    """What to compare when no value is given: every choice, both truths, or the data files."""
    if param.kind == "choice":
        return list(param.choices)
    if param.kind == "bool":
        return ["false", "true"]
    if param.kind in ("path", "table"):
        return list_data_files(limits.data_dir, MAX_COMPARE, table_suffixes() if param.kind == "table" else None)
    return []


def parse_comparison(plot: Plot, pairs: list[tuple[str, str]], limits: Limits) -> Comparison:
    """Check a side-by-side query: the parameter to vary, its values and the shared rest."""
    raw = dict(pairs)
    known = {param.name: param for param in plot.params}
    name = raw.get(COMPARE, "")
    base = [(k, v) for k, v in pairs if k not in (name, COMPARE, VALUES)]
    comparison = Comparison(name, [], parse_query(plot, base, limits))
    if comparison.shared.errors.pop(name, None) is not None and not comparison.shared.errors:
        comparison.shared.status = 200  # the varied parameter's default is no picture's value
    param = known.get(name)
    if param is None:
        shown = name if len(name) <= 40 else name[:40] + "…"
        comparison.error = f"cannot compare {shown!r}: {plot.name} takes {', '.join(known) or 'no parameters'}"
        return comparison
    if VALUES in raw:  # the form's one field: values separated by |
        texts = [text.strip() for text in raw[VALUES].split("|") if text.strip()]
    else:
        texts = [value for key, value in pairs if key == name]
    texts = list(dict.fromkeys(texts or comparison_values(param, limits)))
    if not texts:
        comparison.error = f"give the values of {name} to compare, separated by |"
    elif len(texts) > MAX_COMPARE:
        comparison.error = f"at most {MAX_COMPARE} values side by side, not {len(texts)}"
    else:
        comparison.requests = [parse_query(plot, [*base, (name, text)], limits) for text in texts]
    return comparison


def tracked_files(plot: Plot, request: Request, limits: Limits) -> list[tuple[str, int, int]]:
    """(path, mtime_ns, size) of every data file the plot reads through a parameter."""
    found = []
    for param in plot.params:
        value = request.values.get(param.name)
        path = None
        if param.kind == "tables" and param.name in request.texts:  # listed afresh: a file added to a folder joins
            with contextlib.suppress(PathRefused, OSError):
                value = resolve_table_patterns(limits.data_dir, request.texts[param.name], limits.max_file_bytes)
            found += [(str(path), *(_file_stamp(path) or (0, -1))) for path in value or ()]
            continue
        if param.kind in ("path", "table") and value is not None:
            path = pathlib.Path(value)
        elif param.kind == "str" and isinstance(value, str) and 0 < len(value) < 1024:
            try:
                path = resolve_data_file(limits.data_dir, value, limits.max_file_bytes)
            except (PathRefused, OSError):
                path = None
        if path is not None:
            try:
                info = path.stat()
            except OSError:
                continue
            found.append((str(path), info.st_mtime_ns, info.st_size))
    return found


# ==============================================================================================
# Watching and reloading
# ==============================================================================================

WATCH_INTERVAL = 0.1  # seconds between two looks at the files of a watched view
RELOAD_INTERVAL = 0.25  # seconds between two looks at the plot sources
RELOAD_SETTLE = 0.1  # seconds a changed source must stay unchanged before it is imported


class _Watched:
    """One view somebody waits on: how to read its state, the state last read, and the holds waiting on it."""

    def __init__(self, state_of: typing.Callable[[], typing.Hashable], state: typing.Hashable):
        self.state_of, self.state = state_of, state
        self.holds: set[HeldWatch] = set()


class HeldWatch(concurrent.futures.Future):
    """One held request: the views it waits on, each with the state it was read in, and until when.

    Its result is how the hold ended: "changed", "timeout" or "gone". Whoever holds the request
    either waits on it (a thread) or adds a callback (the built-in server's selector: no thread).
    """

    def __init__(self, states: dict[str, typing.Hashable], deadline: float):
        super().__init__()
        self.states, self.deadline = states, deadline


class Watcher:
    """Holds requests until their view's state (its ETag) changes, looking only at watched views.

    One thread reads the state of each view somebody waits on every ``interval`` seconds, once
    however many wait on it (for a plot of files that is an ``os.stat`` of each file); views
    nobody waits on cost nothing. A held request is a ``HeldWatch`` waiting on one view or
    several (all the live pictures of a browser's tabs): it ends when any of them changes. Held
    requests cost no thread here; at most ``max_waiting`` are held at once, apart from the render
    slots and the connection cap: past that, ``watch`` answers None and the page falls back to its period.
    """

    def __init__(self, max_waiting: int, interval: float = WATCH_INTERVAL):
        self.max_waiting, self.interval = max_waiting, interval
        self.condition = threading.Condition()
        self.views: dict[str, _Watched] = {}
        self.holds: set[HeldWatch] = set()
        self.looks = 0  # states read so far: what watching costs
        self.refused = 0  # holds refused because max_waiting were held already
        self.outcomes = collections.Counter()  # how holds ended: changed, timeout, gone
        self.closed = False
        self.thread: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        """Requests held now."""
        return len(self.holds)

    def watch(
        self, views: typing.Sequence[tuple[str, typing.Callable[[], typing.Hashable], typing.Hashable]], seconds: float
    ) -> HeldWatch | None:
        """Hold a request on views, each ``(name, state_of, state)`` with the state the caller read just now.

        Returns the hold, which ends as soon as one view's state is no longer the one given, or
        after ``seconds``; None when too many requests are held already (or the watcher is closed).
        """
        woken = []
        with self.condition:
            if self.closed or len(self.holds) >= self.max_waiting:
                self.refused += 1
                return None
            held = HeldWatch({name: state for name, _, state in views}, time.monotonic() + seconds)
            for name, state_of, state in views:
                watched = self.views.get(name)
                if watched is None:
                    watched = self.views[name] = _Watched(state_of, state)
                elif watched.state != state:
                    # The caller's reading is the newer one: whoever waits on the older state is woken.
                    watched.state_of, watched.state = state_of, state
                    woken.extend(watched.holds)
                watched.holds.add(held)
            self.holds.add(held)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="plotserve-watcher", daemon=True)
                self.thread.start()
            self.condition.notify_all()  # the watcher thread may be asleep with nothing to watch
        self._end(woken, "changed")
        return held

    def hold(
        self,
        view: str,
        state_of: typing.Callable[[], typing.Hashable],
        state: typing.Hashable,
        seconds: float,
        gone: typing.Callable[[], bool] = lambda: False,
    ) -> str:
        """Wait in this thread until ``state_of()`` is no longer ``state`` (the caller read it just now).

        Returns "changed", "timeout", "full" (too many held) or "gone" (``gone()`` said the client left).
        """
        held = self.watch([(view, state_of, state)], seconds)
        return "full" if held is None else self.wait(held, gone)

    def wait(self, held: HeldWatch, gone: typing.Callable[[], bool] = lambda: False) -> str:
        """Wait in this thread for a hold to end; a client that went away (``gone()``) ends it at once."""
        while True:
            try:
                return held.result(timeout=1.0)
            except concurrent.futures.TimeoutError:
                if gone():  # a page that closed or paused: its slot is free at once, not in 25 s
                    self.cancel(held)
                elif self.is_late(held, time.monotonic()):
                    self.end_late(held)

    def is_late(self, held: HeldWatch, now: float) -> bool:
        """Whether a hold is past its time by more than the watcher's thread can be: it is late, or gone."""
        return now > held.deadline + 2 * self.interval + 1

    def end_late(self, held: HeldWatch) -> None:
        """End a hold past its time that the watcher's thread has not ended (late, or gone)."""
        self._end([held], "timeout")

    def cancel(self, held: HeldWatch) -> None:
        """End a hold whose client went away."""
        self._end([held], "gone")

    def _end(self, holds: typing.Iterable[HeldWatch], outcome: str) -> None:
        ended = []
        with self.condition:
            for held in holds:
                if held not in self.holds:
                    continue  # ended already, by another view or the clock
                self.holds.discard(held)
                for name in held.states:
                    watched = self.views.get(name)
                    if watched is not None:
                        watched.holds.discard(held)
                        if not watched.holds:
                            del self.views[name]
                self.outcomes[outcome] += 1
                ended.append(held)
        for held in ended:  # outside the lock: a callback may start answering at once
            held.set_result(outcome)

    def poke(self) -> None:
        """Look at every watched view now (the code was reloaded): do not wait for the next tick."""
        with self.condition:
            self.condition.notify_all()

    def _run(self) -> None:
        while True:
            with self.condition:
                while not self.views and not self.closed:
                    self.condition.wait()
                if self.closed:
                    return
                watched = list(self.views.values())
            changed = []
            for entry in watched:
                try:
                    state = entry.state_of()
                except Exception:  # a view that cannot be read now (its plot was removed): it changed
                    state = None
                with self.condition:
                    self.looks += 1
                    if state != entry.state:
                        entry.state = state
                        changed.extend(entry.holds)
            self._end(changed, "changed")
            now = time.monotonic()
            with self.condition:
                expired = [held for held in self.holds if held.deadline <= now]
            self._end(expired, "timeout")
            with self.condition:
                if not self.closed:
                    self.condition.wait(self.interval)

    def health(self) -> dict:
        """Counters for ``/-/health.json``."""
        with self.condition:
            return {
                "waiting": len(self.holds),
                "watched_views": len(self.views),
                "watch_looks": self.looks,
                "watch_refused": self.refused,
                "watch_changed": self.outcomes["changed"],
                "watch_timeouts": self.outcomes["timeout"],
                "watch_gone": self.outcomes["gone"],
            }

    def close(self) -> None:
        """Answer every held request now and stop looking."""
        with self.condition:
            self.closed = True
            self.condition.notify_all()
            holds = list(self.holds)
        self._end(holds, "timeout")


def _file_stamp(path: pathlib.Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


class Reloader:
    """Imports the plot sources again when one of their files changes, and hands on the new plots.

    Looks (``os.stat``) every ``interval`` seconds at each source file and at the ``.py`` files
    beside it that are imported. A source that fails to import leaves the last good plots in
    place: ``error`` says why (file, line, message) until it is fixed, and the console hears
    it once. ``install(plots)`` is called with every good new set of plots.
    """

    def __init__(
        self,
        sources: typing.Sequence[str],
        handler_class: type | None,
        plots: dict[str, Plot],
        install: typing.Callable[[dict[str, Plot]], None],
        *,
        interval: float = RELOAD_INTERVAL,
        quiet: bool = False,
    ):
        self.sources, self.handler_class, self.install = list(sources), handler_class, install
        self.interval, self.quiet = interval, quiet
        self.known = {name: plot.source.partition(":")[0] for name, plot in plots.items()}  # plot name -> its source
        self.removed: dict[str, str] = {}  # plot name -> the source it was removed from
        self.error = ""  # "file:line: Type: message" while a source fails to import
        self.failed_source = ""  # the label of that source
        self.attempts = 0  # reloads tried: a page waiting on its view hears of a failed one too
        self.reloads = 0  # reloads that installed new plots
        self.lock = threading.Lock()
        self.files = self._files()
        self.stamps = {path: _file_stamp(path) for path in self.files}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="plotserve-reloader", daemon=True)
        self.thread.start()

    def _files(self) -> list[pathlib.Path]:
        """The source files, and the .py files beside them that are imported now."""
        files, folders = [], set()
        for source in self.sources:
            module = _loaded_sources.get(source)
            name = source if source.endswith(".py") else getattr(module, "__file__", None)
            if name:
                path = pathlib.Path(name).resolve()
                files.append(path)
                folders.add(path.parent)
        resolved: dict[str, pathlib.Path] = {}  # each folder resolved once: there are a thousand modules, in a few dozen folders
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if not file or not file.endswith(".py") or name in ("__main__", "plotserve") or module is sys.modules.get(__name__):
                continue
            folder = os.path.dirname(file)
            if folder not in resolved:
                resolved[folder] = pathlib.Path(folder or ".").resolve()
            if resolved[folder] not in folders and not os.path.islink(file):
                continue
            path = pathlib.Path(file).resolve()  # the file itself may be a link
            if path.parent in folders and path not in files:
                files.append(path)
        return files

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            stamps = {path: _file_stamp(path) for path in self.files}
            if stamps == self.stamps:
                continue
            # An editor or a script may be half-way through writing: reload once the files are still.
            while not self.stopped.wait(RELOAD_SETTLE):
                settled = {path: _file_stamp(path) for path in self.files}
                if settled == stamps:
                    break
                stamps = settled
            self.reload()

    def stop(self) -> None:
        """Stop looking at the sources."""
        self.stopped.set()

    def affects(self, plot: Plot) -> bool:
        """Whether the failing source (if one fails) is the one this plot comes from."""
        label = source_label(self.failed_source) if self.error else None
        return label is not None and plot.source.partition(":")[0] == label

    def reload(self) -> bool:
        """Import the sources again; install the new plots, or keep the old ones and say why. True if installed."""
        with self.lock:
            return self._reload()

    def _reload(self) -> bool:
        files = set(self.files)
        saved_modules = {}  # the modules of the watched files: imported afresh, or put back on failure
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if file and name not in ("__main__", "plotserve") and pathlib.Path(file).resolve() in files:
                saved_modules[name] = module
        saved_sources, saved_setups = dict(_loaded_sources), dict(_source_setups)
        for name in saved_modules:
            del sys.modules[name]
        for source in self.sources:
            _loaded_sources.pop(source, None)
        failed = ""
        try:
            for source in self.sources:  # one at a time, so that an error names its source
                failed = source
                load_source(source)
            failed = ""
            plots = discover_plots(self.sources, self.handler_class)
        except (Exception, SystemExit) as error:
            # Keep the last good code importable: render processes started from now on fork it.
            sys.modules.update(saved_modules)
            _loaded_sources.clear()
            _loaded_sources.update(saved_sources)
            _source_setups.clear()
            _source_setups.update(saved_setups)
            message = str(error).removeprefix("plotserve: ") if isinstance(error, (SourceError, SystemExit)) else describe_load_error(error)
            self.stamps = {path: _file_stamp(path) for path in self.files}
            if message != self.error:
                print(f"plotserve: cannot reload: {message} (serving the last good plots)", file=sys.stderr, flush=True)
            self.error, self.failed_source = message, failed or (self.sources[0] if self.sources else "")
            self.attempts += 1
            self.install(None)
            return False
        self.files = self._files()
        self.stamps = {path: _file_stamp(path) for path in self.files}
        # The source is in every ETag through the plot's fingerprint; a helper beside it is too.
        digest = hashlib.sha256()
        for path in sorted(self.files):
            with contextlib.suppress(OSError):
                digest.update(path.read_bytes())
        salt = digest.hexdigest()
        plots = {
            name: dataclasses.replace(plot, fingerprint=hashlib.sha256(f"{plot.fingerprint}\n{salt}".encode()).hexdigest()[:16])
            for name, plot in plots.items()
        }
        old, self.known = self.known, {name: plot.source.partition(":")[0] for name, plot in plots.items()}
        for name in old.keys() - self.known.keys():
            self.removed[name] = old[name]
        for name in self.known:
            self.removed.pop(name, None)
        if self.error:
            print("plotserve: reloaded: the error is fixed", file=sys.stderr, flush=True)
        elif not self.quiet:
            print(f"plotserve: reloaded {len(plots)} plots", file=sys.stderr, flush=True)
        self.error, self.failed_source = "", ""
        self.install(plots)
        # Counted once the new plots are served: a page woken by the count must find them.
        self.attempts += 1
        self.reloads += 1
        return True


# A run that stopped: how often a view's files change is learnt from their mtimes as plotserve
# looks at them (every request, and every tick of the Watcher while a page waits); a view whose
# files have not changed for STALL_INTERVALS of those intervals is stalled.
STALL_INTERVALS = 5
MIN_STALL_SECONDS = 3.0  # never stalled sooner: a log written every 0.1 s may pause for a checkpoint
UNKNOWN_STALL_SECONDS = 600.0  # before a change was seen (a fresh process, a cron job's --get)
MAX_STALL_FILES = 4096  # files whose history is kept, the least recently seen dropped first


class StallWatch:
    """How often each data file changes, and whether a view's files have stopped changing."""

    def __init__(self, max_files: int = MAX_STALL_FILES):
        self.max_files = max_files
        self.files: collections.OrderedDict[str, tuple[int, collections.deque]] = collections.OrderedDict()
        self.lock = threading.Lock()

    def observe(self, inputs: typing.Sequence[tuple[str, int, int]]) -> None:
        """Note each file's mtime (``tracked_files``' tuples); a new one adds the time since the last to its history."""
        with self.lock:
            for path, mtime_ns, _ in inputs:
                known = self.files.get(path)
                if known is None:
                    self.files[path] = (mtime_ns, collections.deque(maxlen=16))
                elif mtime_ns != known[0]:
                    if mtime_ns > known[0]:
                        known[1].append((mtime_ns - known[0]) / 1e9)
                    self.files[path] = (mtime_ns, known[1])
                self.files.move_to_end(path)
            while len(self.files) > self.max_files:
                self.files.popitem(last=False)

    def state(self, inputs: typing.Sequence[tuple[str, int, int]], now: float | None = None) -> dict:
        """``stalled``, ``last_change`` (ISO 8601, UTC), ``no_change_seconds`` and the ``usual_interval`` learnt
        (None before two changes were seen) of a view with these input files; {} for a view with none."""
        if not inputs:
            return {}
        import statistics  # here, for views with input files: not a cost of every start

        now = time.time() if now is None else now
        last = max(mtime_ns for _, mtime_ns, _ in inputs) / 1e9
        with self.lock:
            intervals = [statistics.median(self.files[path][1]) for path, _, _ in inputs if self.files.get(path, (0, ()))[1]]
        usual = min(intervals) if intervals else None  # the busiest file sets the pace
        limit = UNKNOWN_STALL_SECONDS if usual is None else max(MIN_STALL_SECONDS, STALL_INTERVALS * usual)
        quiet = max(0.0, now - last)
        return {
            "stalled": quiet > limit,
            "last_change": datetime.datetime.fromtimestamp(last, datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "no_change_seconds": round(quiet, 1),
            "usual_interval": None if usual is None else round(usual, 3),
        }


def quiet_for(seconds: float) -> str:
    """``no change for 12 min``: how long a stalled view has been still, in the largest unit that fits."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"no change for {seconds // size:.0f} {unit}"
    return f"no change for {seconds:.0f} s"


# ==============================================================================================
# Rendering
# ==============================================================================================


class PlotFailed(Exception):
    """The plot raised: carries the exception line and the traceback text."""

    status = 500

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details


class RenderTimeout(PlotFailed):
    """The plot took longer than the time limit."""

    status = 504


class WorkerCrashed(PlotFailed):
    """The process rendering the plot died."""

    status = 500


class ViewRefused(PlotFailed):
    """The view asks the drawn figure for what it has not: an Axes past its last, dates on a number axis."""

    status = 400


class ParamsRefused(PlotFailed):
    """The render process refuses a query the server accepted: a data file vanished, or changed
    kind, between the two checks. Answered as the server's check would have: each field's message."""

    def __init__(self, errors: dict[str, str], status: int = 400):
        super().__init__("; ".join(f"{name or 'query'}: {message}" for name, message in errors.items()))
        self.errors, self.status = dict(errors), status


class Overloaded(PlotFailed):
    """Too many renders are waiting already."""

    status = 503


class OutOfMemory(PlotFailed):
    """The plot ran out of memory: past its worker's ceiling (``--max-memory-mb``), or the machine's."""

    status = 500


class WorkersCannotStart(PlotFailed):
    """No render process can load the plots (an import that fails in a worker but not in the server)."""

    status = 500


def _pyplot():
    """pyplot if some plot has imported it, else None: plots that never use it never load it."""
    return sys.modules.get("matplotlib.pyplot")


def _root_figure(obj) -> Figure | None:
    """The top figure ``obj`` draws on: itself, the figure of a SubFigure, an Axes, an artist, a
    seaborn grid (``.figure``, or ``.fig`` on older grids), a scikit-learn display (``.figure_``)
    or an animation; None if it holds none."""
    for candidate in (obj, getattr(obj, "figure", None), getattr(obj, "fig", None), getattr(obj, "figure_", None), _animated_figure(obj)):
        while isinstance(candidate, FigureBase) and not isinstance(candidate, Figure):
            candidate = candidate.figure  # a SubFigure: its figure is the one to draw
        if isinstance(candidate, Figure):
            return candidate
    return None


def _animated_figure(obj) -> Figure | None:
    """The figure of a matplotlib Animation, whose first picture is the one ``savefig`` draws at once."""
    animation = sys.modules.get("matplotlib.animation")
    if animation is None or not isinstance(obj, animation.Animation):
        return None
    obj._draw_was_started = True  # drawn here as a still picture: no "deleted without rendering" warning
    return obj._fig


def _figure_in(result) -> Figure | None:
    """The figure a plot's result holds, also inside an array, list, tuple, dict or pandas Series
    of them (``plt.subplots(2, 2)``'s axes, ``df.hist()``, ``df.groupby(...).boxplot()``, a ``(fig, ax)`` pair)."""
    pandas = sys.modules.get("pandas")
    if isinstance(result, dict):
        result = list(result.values())
    elif pandas is not None and isinstance(result, pandas.Series):
        result = result.to_numpy()
    if isinstance(result, (list, tuple, numpy.ndarray)):
        items = result.flat if isinstance(result, numpy.ndarray) else result
        return next((figure for item in items if (figure := _figure_in(item)) is not None), None)
    return _root_figure(result)


# What savefig's caller chose about the picture's frame; its dpi and format are the file's, not the view's.
_SAVEFIG_LAYOUT = ("bbox_inches", "pad_inches", "facecolor", "edgecolor", "transparent", "bbox_extra_artists")


class _Ending:
    """How a plot ended its figures, as a script does: the figures it saved (with savefig's
    layout options), showed (``plt.show()``) and closed. Recorded for the render's own thread
    while the plot runs; the files it saves are written, as running the script writes them."""

    def __init__(self):
        self.saved: list[tuple[Figure, dict]] = []
        self.shown: list[Figure] = []
        self.closed: list[Figure] = []
        self.thread = threading.get_ident()

    @contextlib.contextmanager
    def watching(self):
        ending, savefig = self, Figure.savefig

        def recorded_savefig(figure, *args, **kwargs):
            if threading.get_ident() == ending.thread:
                ending.saved.append((figure, {key: kwargs[key] for key in _SAVEFIG_LAYOUT if key in kwargs}))
            return savefig(figure, *args, **kwargs)

        pyplot = _pyplot()
        Figure.savefig = recorded_savefig
        if pyplot is not None:
            show, close = pyplot.show, pyplot.close
            pyplot.show = functools.wraps(show)(lambda *args, **kwargs: self._show(pyplot))
            pyplot.close = functools.wraps(close)(lambda fig=None: self._close(pyplot, close, fig))
        try:
            yield self
        finally:
            Figure.savefig = savefig
            if pyplot is not None:
                pyplot.show, pyplot.close = show, close

    def _show(self, pyplot) -> None:
        """What ``plt.show()`` shows, the current figure, is what the page shows; Agg has no window."""
        if threading.get_ident() == self.thread and pyplot.get_fignums():
            self.shown.append(pyplot.gcf())

    def _close(self, pyplot, close, fig) -> None:
        if threading.get_ident() == self.thread:
            # Read from pyplot's own table: pyplot.figure(n) would make a figure current as it is closed.
            figures = {number: manager.canvas.figure for number, manager in pyplot._pylab_helpers.Gcf.figs.items()}
            if fig is None:
                self.closed += [pyplot.gcf()] if figures else []
            elif isinstance(fig, Figure):
                self.closed.append(fig)
            elif isinstance(fig, str):
                self.closed += [figure for figure in figures.values() if fig == "all" or figure.get_label() == fig]
            elif isinstance(fig, typing.Hashable) and fig in figures:
                self.closed.append(figures[fig])
        close(fig)

    def layout(self, figure: Figure) -> dict:
        """savefig's layout options of the last time ``figure`` was saved; {} if it was not."""
        return next((layout for saved, layout in reversed(self.saved) if saved is figure), {})


def _animated_image(plot: Plot, result, fmt: str, dpi: float) -> bytes:
    """An Animation as an animated GIF or WebP, every frame at ``dpi``, at the animation's own pace."""
    animation = importlib.import_module("matplotlib.animation")
    if not isinstance(result, animation.Animation):
        raise ViewRefused(f"plot_{plot.name} returned {type(result).__name__}, not an animation: ask for {plot.name}.png")
    fps = 1000 / max(1, getattr(result, "_interval", 200))  # interval=0: a frame a millisecond, not a ZeroDivisionError
    with tempfile.TemporaryDirectory(prefix="plotserve-") as folder:
        path = pathlib.Path(folder) / f"{plot.name}.{fmt}"
        result.save(path, writer=animation.PillowWriter(fps=fps), dpi=dpi)
        return path.read_bytes()


def _figure_of(plot: Plot, result, given: Figure | None, ending: _Ending | None = None) -> Figure:
    """The figure to save for what a plot returned, as ``savefig`` by hand would see it: one it
    returned; else the last it saved, showed or (none open) closed, as a script ending in
    ``plt.savefig(...); plt.close()`` or ``plt.show()`` does; else pyplot's current one."""
    pyplot = _pyplot()
    ending = ending or _Ending()
    if result is None or (pyplot is not None and result is pyplot):
        if ending.saved:
            return ending.saved[-1][0]
        if ending.shown:
            return ending.shown[-1]
        # What plt.savefig() saves: pyplot's current figure. That is the given one unless the plot
        # drew on a new one (a seaborn figure-level function ignores the ax it is given).
        if pyplot is not None and pyplot.get_fignums():
            return pyplot.gcf()
        if ending.closed:
            return ending.closed[-1]
        if pyplot is not None and given is None:
            return pyplot.gcf()
        if given is not None:
            return given
    elif (figure := _figure_in(result)) is not None:
        return figure
    elif given is not None:
        return given
    raise TypeError(
        f"plot_{plot.name} returned {type(result).__name__}: return a Figure, Axes, SubFigure, axes array, "
        "seaborn grid, scikit-learn display, pandas Series of Axes, animation or pyplot, or take a fig or ax parameter"
    )


def _short_traceback(error: BaseException) -> str:
    """The traceback from the plot's own frames on, without plotserve's."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [frame for frame in frames if frame.filename != __file__]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(own or frames)]
    return "".join(lines + traceback.format_exception_only(type(error), error))


def render_plot(
    plot: Plot, values: dict, fmt: str, width: float, height: float, dpi: float, max_pixels: int, view: View | None = None
) -> tuple[bytes, list[dict]]:
    """Draw a plot into an image in memory (``fmt``: png, svg or pdf) in a view; raise PlotFailed.

    Returns the image and where each of its Axes is in it (``axes_geometry``). Every render starts
    from the same matplotlib state, whatever the renders before it changed.
    """
    view = view or View()
    setup = plot.setup or NO_SETUP
    asked = (width, height) != (DEFAULT_WIDTH, DEFAULT_HEIGHT)  # a size in the URL wins over the plot's own
    width, height = setup.figure_size(width, height)
    rc = {"figure.figsize": (width, height), "figure.dpi": dpi, "svg.hashsalt": "plotserve"}
    with _render_lock, setup.drawing(rc), _theme_context(view):
        state = _GlobalState.now()
        setup.apply()
        pyplot = _pyplot()
        before = set(pyplot.get_fignums()) if pyplot else set()
        try:
            kwargs = dict(values)
            given = None
            if plot.takes_fig or plot.takes_ax:
                # Made through pyplot, as plt.subplots() would: plt.title(), plt.colorbar() and
                # plt.gca() inside the plot land on it (pyplot loads once, in ~20 ms).
                given = importlib.import_module("matplotlib.pyplot").figure(figsize=(width, height), dpi=dpi)
                if plot.takes_fig:
                    kwargs["fig"] = given
                if plot.takes_ax:
                    kwargs["ax"] = given.add_subplot()
            with _Ending().watching() as ending:
                result = plot.call(**kwargs)
            figure = _figure_of(plot, result, given, ending)
            # A plot that was given its figure at the asked size and resized it (the log plot's taller grid) keeps its size.
            if asked and figure is not given and tuple(figure.get_size_inches()) != (width, height):
                figure.set_size_inches(width, height)
            inches_w, inches_h = figure.get_size_inches()
            if inches_w * inches_h * dpi * dpi > max_pixels:
                raise ValueError(
                    f"the figure is {inches_w:g}x{inches_h:g} in, over the {max_pixels / 1e6:g} megapixel limit at {dpi:g} dpi"
                )
            apply_view(figure, view)
            if fmt == FIGURE_FORMAT:
                return pickle.dumps(figure), []
            if fmt in ANIMATION_FORMATS:
                return _animated_image(plot, result, fmt, dpi), []
            if fmt == DATA_FORMAT:
                return drawn_data_csv(figure), []
            points = decimate_lines(figure, view, fmt, dpi)
            buffer = io.BytesIO()
            layout = ending.layout(figure)
            cropped = layout.get("bbox_inches", matplotlib.rcParams["savefig.bbox"]) not in (None, "standard")
            if asked and inches_w < SMALL_INCHES and not cropped and _default_margins(figure):
                # Margins made for 6-8 inches leave the tick and axis labels of a picture asked small (a phone's, a
                # thumbnail) cut off. A figure drawn at its own size is left as matplotlib draws it.
                figure.set_layout_engine("tight")
            figure.savefig(buffer, format=fmt, dpi=dpi, **_save_options(fmt), **layout)
            # A picture cropped to its contents has its Axes elsewhere: no geometry rather than a wrong one.
            geometry = [] if cropped else axes_geometry(figure, dpi, points)
            if _animated_figure(result) is not None:  # the page offers the moving picture too
                geometry = [{**axes, "animated": True} for axes in geometry] or [{"animated": True}]
            return buffer.getvalue(), geometry
        except ViewRefused:
            raise
        except RecursionError as error:
            raise PlotFailed(f"plot_{plot.name} recursed too deeply", _short_traceback(error)) from None
        except MemoryError as error:
            raise OutOfMemory(f"plot_{plot.name} ran out of memory", _short_traceback(error)) from None
        except (Exception, SystemExit) as error:  # sys.exit() in a plot fails the request, not the worker or server thread
            if isinstance(error, SystemExit) and _raised_by_signal_handler(error):
                # The hosting server ended the render: gunicorn's --timeout sends its worker SIGABRT.
                stopped = f"plot_{plot.name} was stopped by the server: its time limit (gunicorn's --timeout) or a shutdown"
                raise RenderTimeout(stopped) from None
            message = "".join(traceback.format_exception_only(type(error), error)).strip()
            raise PlotFailed(message, _short_traceback(error)) from None
        finally:
            pyplot = _pyplot()
            if pyplot is not None:
                for number in set(pyplot.get_fignums()) - before:
                    pyplot.close(number)
            state.restore()


SMALL_INCHES = 5  # narrower than this, a figure with matplotlib's default margins is laid out to fit its labels


def _default_margins(figure) -> bool:
    """Whether a figure has no layout engine and the subplot margins matplotlib gives every figure."""
    if figure.get_layout_engine() is not None:
        return False
    params = figure.subplotpars
    return all(getattr(params, side) == matplotlib.rcParams[f"figure.subplot.{side}"] for side in ("left", "right", "bottom", "top"))


def _raised_by_signal_handler(error: BaseException) -> bool:
    """Whether an exception came from a Python signal handler that interrupted the code, not from the code itself."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    code = frame.tb_frame.f_code if frame is not None else None
    for signum in signal.valid_signals():
        try:
            handler = signal.getsignal(signum)
        except (OSError, ValueError):
            continue
        if getattr(getattr(handler, "__func__", handler), "__code__", None) is code:
            return True
    return False


# No dates or versions in the files: the same view gives the same bytes, so ETags hold.
_STABLE_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}
# A PNG's rows are deflated with zlib's run-length strategy instead of its default: the same pixels
# in a third less time (up to three times less for an image or a dense scatter), for files a tenth
# larger on average; pictures of plots are mostly runs of one colour (bench/bench_png.py).
_PNG_ENCODING = {"compress_type": zlib.Z_RLE}


def _save_options(fmt: str) -> dict:
    """savefig's options for a picture plotserve sends: stable metadata, and a quick PNG encoding."""
    options = {"metadata": _STABLE_METADATA[fmt]}
    if fmt == "png":
        options["pil_kwargs"] = dict(_PNG_ENCODING)
    return options


# -- the view, and where each Axes landed in the picture --------------------------------------
# Zoom, log scales and grid are applied to the Axes after the plot has drawn, so every plot
# gets them without code; the theme is a matplotlib style around the whole call, since colours
# are read when the figure and its artists are made. The geometry lets a page map pixels to data.


def _theme_context(view: View):
    """Matplotlib's dark_background style for the dark theme; nothing for the light one."""
    if view.theme == "dark":
        return matplotlib.style.context("dark_background")
    return contextlib.nullcontext()


def _is_colorbar(ax: Axes) -> bool:
    return getattr(ax, "_colorbar", None) is not None


def _is_date_axis(axis) -> bool:
    """Whether an x or y axis shows dates: matplotlib's (or pandas') date units or date ticks."""
    converters = (matplotlib.dates.DateConverter, getattr(matplotlib.dates, "_SwitchableDateConverter", matplotlib.dates.DateConverter))
    formatters = (matplotlib.dates.DateFormatter, matplotlib.dates.AutoDateFormatter, matplotlib.dates.ConciseDateFormatter)
    return isinstance(axis.get_converter(), converters) or isinstance(axis.get_major_formatter(), formatters)


def _log_scale(get, set_, set_scale, smallest_positive: float) -> None:
    """A log scale on one axis, its limits kept where they are positive."""
    low, high = sorted(get())
    if high <= 0:
        return  # nothing above zero to draw on a log scale: the axis stays linear
    set_scale("log")
    if low <= 0:  # start at the smallest positive value drawn, at most six decades down
        low = max(smallest_positive, high * 1e-6) if 0 < smallest_positive < high else high / 1000
        set_((low, high) if get()[0] <= get()[1] else (high, low))


def apply_view(figure: Figure, view: View) -> None:
    """Apply a view's log scales and grid to every Axes but colorbars, and its zoom to Axes ``view.axes``.

    Raises ViewRefused (a 400) where the zoom does not fit the figure.
    """
    smooth_lines(figure, view.smooth)  # first: on the full data, before anything thins the lines
    for ax in figure.axes:
        if _is_colorbar(ax):
            continue
        if view.logx:
            _log_scale(ax.get_xlim, ax.set_xlim, ax.set_xscale, ax.dataLim.minposx)
        if view.logy:
            _log_scale(ax.get_ylim, ax.set_ylim, ax.set_yscale, ax.dataLim.minposy)
        if view.grid:
            ax.grid(True)
    if view.xlim is None and view.ylim is None:
        return
    if view.axes >= len(figure.axes):
        raise ViewRefused(f"{AXES}={view.axes}: the figure has {len(figure.axes)} Axes, numbered from 0")
    ax = figure.axes[view.axes]
    zooms = ((XLIM, view.xlim, ax.xaxis, ax.get_xlim, ax.set_xlim), (YLIM, view.ylim, ax.yaxis, ax.get_ylim, ax.set_ylim))
    for name, limits, axis, get, set_ in zooms:
        if limits is None:
            continue
        if isinstance(limits[0], datetime.datetime) and not _is_date_axis(axis):
            raise ViewRefused(f"{name} gives dates, but that axis of Axes {view.axes} shows numbers")
        low, high = get()
        set_(limits if low <= high else limits[::-1])  # an inverted axis (an image's y) stays inverted


RAW_LINE = "plotserve-raw"  # the gid of the faint line a smoothed one leaves behind


def _is_plain_line(line) -> bool:
    """A line drawn as a line: a Line2D with a line style and no markers (not a scatter, not a smoothed line's raw copy)."""
    return (
        isinstance(line, matplotlib.lines.Line2D)
        and line.get_marker() in (None, "", "None", " ", "none")
        and line.get_linestyle() not in ("None", "", " ", "none")
        and line.get_gid() != RAW_LINE
    )


def debiased_ema(values, weight: float):
    """The exponential moving average TensorBoard and wandb smooth with, debiased: point i is
    ``sum(w**(i-k) * y[k]) / sum(w**(i-k))`` over the finite points k <= i; others stay as they are."""
    import pandas

    values = numpy.asarray(values, dtype=float)
    finite = numpy.isfinite(values)
    smoothed = pandas.Series(numpy.where(finite, values, numpy.nan)).ewm(alpha=1 - weight, adjust=True, ignore_na=True).mean().to_numpy()
    return numpy.where(finite, smoothed, values)


def smooth_lines(figure: Figure, weight: float) -> None:
    """Draw every plain line as its debiased EMA (``_smooth=W``), its raw data left behind it, faint, in its colour."""
    if not weight:
        return
    for ax in figure.axes:
        for line in list(ax.lines):
            if not _is_plain_line(line):
                continue
            xs, ys = line.get_data(orig=True)
            try:
                smoothed = debiased_ema(ys, weight)
            except (TypeError, ValueError):  # not numbers (categories): drawn as given
                continue
            (raw,) = ax.plot(xs, ys, color=line.get_color(), alpha=0.25, linewidth=line.get_linewidth(), label="_raw")
            raw.set_gid(RAW_LINE)
            raw.set_zorder(line.get_zorder() - 0.01)
            line.set_ydata(smoothed)
            line.plotserve_raw = raw  # for the drawn data: the series and its raw data


def _label_of(line, number: int) -> str:
    """A line's name in the drawn data and the JSON twin: its label, or ``line N`` where matplotlib's
    rule hides it (none, or ``_…``); the log plot's runs keep their names, whatever they are."""
    label = line.get_label()
    return label if getattr(line, "plotserve_named", False) or (label and not label.startswith("_")) else f"line {number}"


def drawn_series(figure: Figure) -> list[dict]:
    """Every line the picture draws: which Axes (its title, or its number), label, colour, raw or smoothed, and data."""
    found = []
    for index, ax in enumerate(figure.axes):
        where = ax.get_title() or f"axes {index}"
        plain = [line for line in ax.lines if line.get_gid() != RAW_LINE]
        for number, line in enumerate(plain):
            label = _label_of(line, number)
            xs, ys = line.get_data(orig=True)
            found.append({"axes": where, "label": label, "color": matplotlib.colors.to_hex(line.get_color()), "x": xs, "y": ys})
            raw = getattr(line, "plotserve_raw", None)
            if raw is not None:
                xs, ys = raw.get_data(orig=True)
                found.append({**found[-1], "label": f"{label} (raw)", "x": xs, "y": ys})
    return found


def _series_of(ax, points: dict | None = None) -> list[dict]:
    """The lines of one Axes as the JSON twin lists them: label, colour, number of points (and of
    points drawn, where a long line was decimated: ``points`` is decimate_lines' counts)."""
    series = []
    for number, line in enumerate(line for line in ax.lines if line.get_gid() != RAW_LINE):
        drawn, given = _line_counts(line, points or {})
        series.append(
            {
                "label": _label_of(line, number),
                "color": matplotlib.colors.to_hex(line.get_color()),
                "points": given,
                "drawn": drawn,
            }
        )
    return series


def _inert_cell(value):
    """A text cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return first, and not a number) made plain text with a leading ``'``; others as they are."""
    if not isinstance(value, str) or not value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def drawn_data_csv(figure: Figure) -> bytes:
    """``/NAME.csv``: every line the picture draws, in long form: axes, series, x, y (dates in ISO 8601).

    Titles, labels and text x values come from plot code and data files: none is a spreadsheet formula.
    """
    import pandas

    parts = []
    for entry in drawn_series(figure):
        xs = numpy.asarray(entry["x"])
        if xs.dtype.kind in "OUS":  # categories: text
            xs = numpy.asarray([_inert_cell(value) for value in xs.tolist()], dtype=object)
        text = {"axes": _inert_cell(entry["axes"]), "series": _inert_cell(entry["label"])}
        parts.append(pandas.DataFrame({**text, "x": xs, "y": numpy.asarray(entry["y"])}))
    frame = pandas.concat(parts, ignore_index=True) if parts else pandas.DataFrame(columns=["axes", "series", "x", "y"])
    return frame.to_csv(index=False, float_format="%.17g", date_format="%Y-%m-%dT%H:%M:%S.%f").encode()


def _axis_geometry(axis, limits: tuple[float, float]) -> dict:
    """An axis's scale and limits, as a page needs them to turn a pixel into a value."""
    low, high = (float(value) if math.isfinite(value) else None for value in limits)
    record = {"scale": axis.get_scale(), "limits": [low, high]}
    transform = axis.get_transform()
    if record["scale"] in ("log", "symlog"):
        record["base"] = float(transform.base)
    if record["scale"] == "symlog":
        record["linthresh"], record["linscale"] = float(transform.linthresh), float(transform.linscale)
    if record["scale"] == "linear" and None not in (low, high) and _is_date_axis(axis):
        try:
            record["dates"] = [matplotlib.dates.num2date(value).isoformat(timespec="milliseconds") for value in (low, high)]
            record["scale"] = "date"
        except (ValueError, OverflowError):  # numbers too far out to be dates: shown as numbers
            pass
    return record


def axes_geometry(figure: Figure, dpi: float, points: dict | None = None) -> list[dict]:
    """For each Axes of a drawn figure, in the figure's order: its box in the picture saved at
    ``dpi`` (image pixels, origin top left: left, top, right, bottom), its axes' scales and
    limits (``limits[0]`` at the box's left or bottom edge), and the points of its lines: how
    many the plot gave and how many were drawn (``points``: decimate_lines' counts)."""
    width, height = (float(inches * dpi) for inches in figure.get_size_inches())
    found = []
    for index, ax in enumerate(figure.axes):
        box = ax.get_position()  # figure fractions, as the last draw laid it out: the same at any dpi
        left, top, right, bottom = box.x0 * width, (1 - box.y1) * height, box.x1 * width, (1 - box.y0) * height
        found.append(
            {
                "index": index,
                "box": [round(float(edge), 2) for edge in (left, top, right, bottom)],
                "x": _axis_geometry(ax.xaxis, ax.get_xlim()),
                "y": _axis_geometry(ax.yaxis, ax.get_ylim()),
                "kind": "colorbar" if _is_colorbar(ax) else ax.name,  # "rectilinear", "polar", "3d", ...
                "visible": bool(ax.get_visible() and ax.axison),
                "points": _line_points(ax, points or {}),
                "series": _series_of(ax, points or {}),
            }
        )
    return found


# -- long lines, drawn from what their pixels can show ------------------------------------------
# A line of millions of points costs Agg (and an SVG's size) per point, though the picture has a
# few hundred pixel columns. Of the points that fall in one column, the first, the last, the lowest
# and the highest (M4) draw the same column: the line enters and leaves where it did and spans the
# same height. It is done at draw time, when the layout is final, from the line's full data each
# time, and only where that is exact: plain solid lines on linear or log axes, x sorted.

DECIMATE_ABOVE = 4  # points per column of the Axes before a line is decimated
# Columns are quarter pixels in a PNG: the strokes of a column's 4 points then cover the pixel as the
# full line's do (half pixels leave 0.5% of a picture's pixels off by more than 10%, quarters 0.4%,
# the rest being matplotlib's own simplification of the full line). An SVG or PDF has half pixels of
# the view's dpi: it keeps its detail at a 2x zoom.
COLUMNS_PER_PIXEL = 4
VECTOR_COLUMNS_PER_PIXEL = 2
# Runs of points in a column are searched for their lowest and highest point one by one (a call each)
# when they hold more than this many points on average, else all at once (passes over every point).
RUN_LOOP_ABOVE = 1000


def decimate_lines(figure: Figure, view: View, fmt: str, dpi: float) -> dict:
    """Make each long plain line of the figure draw from 4 points per pixel column; returns the counts.

    The counts, filled in as the lines are drawn, are {line: (points drawn, points given)}. The lines
    keep their full data until the figure is drawn; nothing is changed where ``view.decimate`` is off.
    """
    counts: dict = {}
    if not view.decimate:
        return counts
    # Display units are pixels for a PNG; for a vector format they are points (1/72 in).
    per_unit = COLUMNS_PER_PIXEL if fmt == "png" else VECTOR_COLUMNS_PER_PIXEL * dpi / 72
    for ax in figure.axes:
        if ax.name != "rectilinear" or ax.get_xscale() not in ("linear", "log") or ax.get_yscale() not in ("linear", "log"):
            continue
        for line in ax.get_lines():
            if _decimable(line, ax):
                line.draw = functools.partial(_draw_decimated, line, line.draw, per_unit, counts, {})
    return counts


def _decimable(line, ax: Axes) -> bool:
    """A plain line: solid, no markers, no steps, no effects, in data coordinates, clipped to its Axes."""
    return (
        type(line) is matplotlib.lines.Line2D
        and line.get_drawstyle() == "default"
        and line.get_marker() in (None, "None", "", " ")
        and line.get_linestyle() == "-"
        and not line.get_path_effects()
        and line.get_clip_on()
        and line.get_transform() is ax.transData
        and line.get_markevery() is None
    )


def _draw_decimated(line, draw, per_unit: float, counts: dict, full: dict, renderer) -> None:
    """Draw ``line`` with its M4 points for the layout being drawn (a figure may be drawn twice)."""
    if not full:  # the first draw: the plot's data, as floats (dates converted), before any change
        xy = line.get_xydata()
        full.update(x=xy[:, 0], y=xy[:, 1], sorted=None)
    x, y = full["x"], full["y"]
    if full["sorted"] is None:
        full["sorted"] = bool(len(x) > 1 and numpy.all(x[1:] >= x[:-1]))  # False where x has a NaN
    keep = _m4_indices(line.axes, x, y, per_unit) if full["sorted"] else None
    if keep is None:
        if full.get("decimated"):
            line.set_data(x, y)
        full["decimated"] = False
        counts[line] = (len(x), len(x))
    else:
        line.set_data(x[keep], y[keep])
        full["decimated"] = True
        counts[line] = (len(keep), len(x))
    draw(renderer)


def _m4_indices(ax: Axes, x, y, per_unit: float):
    """The indices of the points to draw: first, lowest, highest and last of each pixel column.

    ``x`` is sorted. None where the line is short for its Axes (at most DECIMATE_ABOVE points per
    column in view) or broken into too many pieces to gain anything. A point that is not drawn (NaN,
    infinite, or not positive on a log axis) is kept: it is a break in the line, and stays one.
    """
    ax.get_xlim()  # autoscaling is lazy: the limits the transform uses are brought up to date
    left, right = ax.bbox.x0, ax.bbox.x1  # display units: pixels, or points for a vector format
    columns = math.ceil((right - math.floor(left)) * per_unit)
    if columns < 1 or len(x) <= DECIMATE_ABOVE * columns:
        return None
    edges = math.floor(left) + numpy.arange(columns + 1) / per_unit
    # The x of each column's edge in data units: the Axes' own transform, so log scales and dates hold.
    inverse = ax.transData.inverted()
    data_edges = inverse.transform(numpy.column_stack([edges, numpy.full(len(edges), ax.bbox.y0)]))[:, 0]
    data_edges = numpy.sort(data_edges)  # an inverted x axis runs right to left
    bounds = numpy.searchsorted(x, data_edges)
    if bounds[-1] - bounds[0] <= DECIMATE_ABOVE * columns:
        return None  # zoomed in: few points in view, drawn as they are
    drawn = numpy.isfinite(y)
    if ax.get_yscale() == "log":
        drawn &= y > 0
    if ax.get_xscale() == "log":
        drawn &= x > 0
    flips = numpy.flatnonzero(drawn[1:] != drawn[:-1]) + 1  # where a break starts or ends
    if len(flips) > DECIMATE_ABOVE * columns:
        return None  # more gaps than columns: little to gain
    # Runs of drawn points within one column (the ones before the Axes and after it are one each),
    # and runs of breaks, each kept as its first point.
    starts = numpy.unique(numpy.concatenate([[0], bounds, flips]))
    starts = starts[starts < len(x)]
    ends = numpy.append(starts[1:], len(x))
    lengths = numpy.where(drawn[starts], ends - starts, 1)
    short = lengths <= 4
    counts = lengths[short]
    kept = [numpy.repeat(starts[short], counts) + numpy.arange(counts.sum()) - numpy.repeat(numpy.cumsum(counts) - counts, counts)]
    long_starts, long_ends = starts[~short], ends[~short]
    kept += [long_starts, long_ends - 1]
    if len(x) <= RUN_LOOP_ABOVE * len(long_starts):  # many short runs: a few passes over all the points
        kept += _first_extremes(y, starts, ends, ~short)
    else:  # a few long ones: each run looked at on its own
        for start, end in zip(long_starts.tolist(), long_ends.tolist(), strict=True):
            run = y[start:end]
            kept.append(numpy.array([start + int(run.argmin()), start + int(run.argmax())]))
    kept = numpy.sort(numpy.concatenate(kept))
    return kept[numpy.concatenate([[True], kept[1:] != kept[:-1]])]  # a run's first point may be its lowest, too


def _first_extremes(y, starts, ends, wanted) -> list:
    """The index of the first lowest and of the first highest point of each wanted run, as argmin
    and argmax give them; the runs (``starts`` to ``ends``) cover ``y``, and the wanted ones have no NaN."""
    found = []
    for extreme in (numpy.minimum, numpy.maximum):
        values = extreme.reduceat(y, starts)
        hits = numpy.flatnonzero(y == numpy.repeat(values, ends - starts))  # a NaN run has none
        runs = numpy.searchsorted(starts, hits, side="right") - 1
        first = numpy.ones(len(hits), dtype=bool)
        first[1:] = runs[1:] != runs[:-1]
        hits, runs = hits[first], runs[first]
        found.append(hits[wanted[runs]])
    return found


def _line_counts(line, points: dict) -> tuple[int, int]:
    """(points drawn, points given) of one line: decimate_lines' counts, or its data's length."""
    given = points.get(line)
    if given is None:
        given = (len(line.get_xdata(orig=False)),) * 2
    return given


def _line_points(ax: Axes, points: dict) -> dict:
    """How many points the lines of an Axes have, and how many of them were drawn."""
    total = drawn = 0
    for line in ax.get_lines():
        line_drawn, line_total = _line_counts(line, points)
        drawn, total = drawn + line_drawn, total + line_total
    return {"total": total, "drawn": drawn}


@functools.lru_cache(maxsize=64)  # a failing plot is asked again on every refresh: draw its picture once
def error_image(
    title: str, message: str, fmt: str = "png", width: float = DEFAULT_WIDTH, height: float = DEFAULT_HEIGHT, dpi: float = DEFAULT_DPI
) -> bytes:
    """An image that says what went wrong, so an ``<img>`` shows the error instead of a broken icon."""
    width, height, dpi = min(width, 12), min(height, 8), min(dpi, 200)
    figure = Figure(figsize=(width, height), dpi=dpi, facecolor="#fff5f5")
    wrapped = "\n".join(textwrap.fill(line, width=int(width * 11)) for line in message.splitlines()[-12:])
    figure.text(0.04, 0.92, title, color="#b00020", fontsize=14, weight="bold", va="top")
    figure.text(0.04, 0.80, wrapped, fontsize=9, family="monospace", va="top")
    buffer = io.BytesIO()
    with _render_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # glyphs the font lacks: the message is still readable
        figure.savefig(buffer, format=fmt, dpi=dpi, **_save_options(fmt))
    return buffer.getvalue()


def _resident_bytes() -> int:
    """This process's resident memory: now from /proc, else its peak from getrusage, else 0."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
    except ImportError:  # Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, kilobytes elsewhere


def default_max_memory(workers: int) -> int:
    """Bytes one worker may use by default: half of this machine's memory, shared among the workers.

    The other half is left to the server, the system and whatever else runs there, so that a
    plot that runs away gets a clear error before the kernel's OOM killer picks a victim. A
    container's memory limit (cgroup v2) counts as the machine's memory. 0 (no limit) where the
    size of memory is unknown.
    """
    return machine_memory() // 2 // max(1, workers)


# -- reading data files ---------------------------------------------------------------------------

_GROWING = (".csv", ".tsv", ".jsonl", ".ndjson")  # text tables a log writer appends lines to
_HEAD_BYTES = 1 << 16  # how much of a file's start is hashed to tell "it grew" from "it was rewritten"
_TAIL_BYTES = 256  # and the bytes just before the old end, which must be unchanged too


@dataclasses.dataclass
class _Frame:
    """A parsed file as FrameCache keeps it, with what tells whether the file only grew since."""

    frame: typing.Any  # the DataFrame, read options applied
    mtime_ns: int
    size: int  # bytes parsed
    head: bytes  # sha256 of the first head_size bytes
    head_size: int  # _HEAD_BYTES, or the whole file when it was shorter when first parsed
    tail: bytes  # the last _TAIL_BYTES parsed
    columns: tuple  # the header, for parsing appended lines on their own
    dtypes: dict  # column -> dtype before the read options: appended lines are cast to them
    nbytes: int
    uses: int = 1  # renders that took it: a page watching a log takes it again on every change
    room: dict | None = None  # column -> array with room for more rows (_grown), once it has grown


def _copy_on_write() -> bool:
    """Whether pandas copies a frame's data before a write (always from pandas 3 on)."""
    import pandas

    if int(pandas.__version__.split(".")[0]) >= 3:
        return True
    return pandas.get_option("mode.copy_on_write") is True


def _read_options(frame, table: Table):
    """Apply ``parse_dates`` and ``index_col`` to a frame as read from its file."""
    import pandas

    for column in table.parse_dates:
        if column not in frame.columns:
            raise ValueError(f"no column {column!r} to parse as dates; the columns are {', '.join(map(str, frame.columns))}")
        frame[column] = pandas.to_datetime(frame[column])
    if table.index_col is not None:
        column = frame.columns[table.index_col] if isinstance(table.index_col, int) else table.index_col
        if column not in frame.columns:
            raise ValueError(f"no column {column!r} for the index; the columns are {', '.join(map(str, frame.columns))}")
        frame = frame.set_index(column)
    return frame


def _parse_text(data: bytes, suffix: str, table: Table, columns: tuple | None = None):
    """Parse CSV, TSV or JSON lines from bytes; with ``columns``, bytes of lines without a header."""
    import pandas

    if suffix in (".jsonl", ".ndjson"):
        return pandas.read_json(io.BytesIO(data), lines=True)
    sep = table.sep or ("\t" if suffix == ".tsv" else ",")
    if columns is None:
        return pandas.read_csv(io.BytesIO(data), sep=sep)
    return pandas.read_csv(io.BytesIO(data), sep=sep, header=None, names=list(columns))


_ROOM = 1.25  # a grown log's columns get room for a quarter more rows: copied once per 25% of growth


def _grown(entry: _Frame, lines, table: Table):
    """The entry's frame with ``lines`` added in place: (frame, room), or (None, None) where it cannot be.

    A log of number, bool and datetime columns numbered from 0 keeps each column in an array with
    room to spare; new rows are written after the old ones and the frame is a view of the filled
    part, so an appended row costs its own parse, not a copy of millions of rows (pandas.concat).
    Plots get copies under copy-on-write, so none of them can write into these arrays.
    """
    import pandas

    frame = entry.frame
    if (
        table.index_col is not None
        or not _copy_on_write()
        or not frame.index.equals(pandas.RangeIndex(len(frame)))
        or list(lines.columns) != list(frame.columns)
        or frame.columns.has_duplicates
        or not all(isinstance(dtype, numpy.dtype) and dtype.kind in "biufM" for dtype in frame.dtypes)
        or list(lines.dtypes) != list(frame.dtypes)
    ):
        return None, None
    rows, total = len(frame), len(frame) + len(lines)
    room = entry.room
    if room is None or total > len(next(iter(room.values()), ())):
        capacity = int(total * _ROOM) + 1024
        room = {}
        for position, dtype in enumerate(frame.dtypes):
            room[position] = numpy.empty(capacity, dtype)
            room[position][:rows] = frame.iloc[:, position].to_numpy()
    for position, column in room.items():
        column[rows:total] = lines.iloc[:, position].to_numpy()
    grown = pandas.DataFrame({position: column[:total] for position, column in room.items()}, copy=False)
    grown.columns = frame.columns
    return grown, room


class FrameCache:
    """The data files one process has parsed, by (path, read options), bounded in bytes.

    An entry stands for one version of its file, its (mtime, size): a render of the same file with
    other parameters, another size or format takes the frame from here and costs only the drawing.
    A text table that only grew (its first bytes and the bytes before its old end unchanged, the old
    end on a line break: a training log) is extended by parsing the new lines alone. Plots get a
    copy that shares the data under pandas' copy-on-write (a real copy where that is off), so a plot
    that changes its frame changes only its own.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.entries: collections.OrderedDict[tuple, _Frame] = collections.OrderedDict()
        self.bytes = 0
        self.counts = collections.Counter()
        self.lock = threading.Lock()  # in-process rendering reads from several threads

    def load(self, path: pathlib.Path, table: Table, series: bool = False, opener=None):
        """The file's frame (or its first column, for a Series parameter), parsed at most once per version.

        ``opener(path)`` opens the file for reading (binary); plotserve's opens it as a file parameter's is.
        """
        frame = self._frame(pathlib.Path(path), table, opener or functools.partial(open, mode="rb"))
        frame = frame.copy(deep=not _copy_on_write())
        if series:
            if not len(frame.columns):
                raise ValueError(f"{path.name} has no column to make a Series of")
            return frame.iloc[:, 0]
        return frame

    def _frame(self, path: pathlib.Path, table: Table, opener):
        import pandas

        key = (str(path), table)
        suffix = path.suffix.lower()
        with opener(path) as file:
            info = os.fstat(file.fileno())
            with self.lock:
                entry = self.entries.get(key)
                if entry is not None:
                    self.entries.move_to_end(key)
            if entry is not None and (entry.mtime_ns, entry.size) == (info.st_mtime_ns, info.st_size):
                self._count("data_hits")
                entry.uses += 1
                return entry.frame
            if entry is not None and info.st_size > entry.size and self._only_grew(file, entry):
                file.seek(entry.size)
                added = file.read(info.st_size - entry.size)
                if added.endswith(b"\n"):  # whole lines only: a line being written is read when it is done
                    lines = _parse_text(added, suffix, table, entry.columns)
                    for column, dtype in entry.dtypes.items():
                        if column in lines.columns and lines[column].dtype != dtype:
                            with contextlib.suppress(ValueError, TypeError):
                                lines[column] = lines[column].astype(dtype)
                    lines = _read_options(lines, table)
                    with self.lock:  # two threads extending one entry would write the same rows
                        frame, room = _grown(entry, lines, table)
                    if room is not None:
                        nbytes = sum(column.nbytes for column in room.values())
                    else:
                        frame = pandas.concat([entry.frame, lines], ignore_index=table.index_col is None)
                        nbytes = entry.nbytes + int(lines.memory_usage(deep=True).sum())
                    tail = (entry.tail + added)[-_TAIL_BYTES:]
                    grown = dataclasses.replace(
                        entry,
                        frame=frame,
                        mtime_ns=info.st_mtime_ns,
                        size=info.st_size,
                        tail=tail,
                        nbytes=nbytes,
                        uses=entry.uses + 1,
                        room=room,
                    )
                    self._keep(key, grown)
                    self._count("data_extensions")
                    self._count("data_rows_parsed", len(lines))
                    return frame
            file.seek(0)
            if suffix in _GROWING:
                data = file.read(info.st_size)  # no more than was stat()ed: a writer may be appending
                raw = _parse_text(data, suffix, table)
            else:
                data = b""
                raw = {".parquet": pandas.read_parquet, ".feather": pandas.read_feather, ".xlsx": pandas.read_excel}[suffix](file)
        columns, dtypes = tuple(raw.columns), raw.dtypes.to_dict()
        frame = _read_options(raw, table)
        self._count("data_parses")
        self._count("data_rows_parsed", len(frame))
        # Only a text table parsed to a line end can be extended; an empty head says "never".
        growing = suffix in _GROWING and data.endswith(b"\n")
        entry = _Frame(
            frame,
            info.st_mtime_ns,
            info.st_size,
            hashlib.sha256(data[:_HEAD_BYTES]).digest() if growing else b"",
            min(len(data), _HEAD_BYTES),
            data[-_TAIL_BYTES:],
            columns,
            dtypes,
            int(frame.memory_usage(deep=True).sum()),
        )
        self._keep(key, entry)
        return frame

    def _only_grew(self, file, entry: _Frame) -> bool:
        """Whether the bytes parsed for ``entry`` are still the file's first bytes."""
        if not entry.head:
            return False
        file.seek(0)
        if hashlib.sha256(file.read(entry.head_size)).digest() != entry.head:
            return False
        file.seek(entry.size - len(entry.tail))
        return file.read(len(entry.tail)) == entry.tail

    def _keep(self, key: tuple, entry: _Frame) -> None:
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.bytes -= old.nbytes
            if entry.nbytes > self.max_bytes:
                return
            self.entries[key] = entry
            self.bytes += entry.nbytes
            while self.bytes > self.max_bytes:
                dropped = self.entries.pop(self._victim(key))
                self.bytes -= dropped.nbytes

    def _victim(self, newest: tuple) -> tuple:
        """The entry to drop: the least recently used of those taken once (not the one just
        kept), else the least recently used: a log that open pages watch outlasts one-off files."""
        once = (key for key, entry in self.entries.items() if entry.uses <= 1 and key != newest)
        return next(once, next(iter(self.entries)))

    def _count(self, name: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[name] += amount

    def stats(self) -> dict:
        """Counters for ``/-/health.json``: parses, extensions, hits, rows parsed, bytes and entries kept."""
        with self.lock:
            return {
                **{name: self.counts.get(name, 0) for name in ("data_parses", "data_extensions", "data_hits", "data_rows_parsed")},
                "data_cache_bytes": self.bytes,
                "data_cache_entries": len(self.entries),
            }


@dataclasses.dataclass(frozen=True)
class RenderJob:
    """What a worker needs to draw one view: the plot's name and the checked query."""

    plot: str
    pairs: tuple[tuple[str, str], ...]
    fmt: str


_FD_PATHS = pathlib.Path("/proc/self/fd")


@contextlib.contextmanager
def opened_files(plot: Plot, values: dict, limits: Limits):
    """The values with each file parameter opened once and given as a DataFile; closed afterwards.

    Where the system cannot name an open file (no ``/proc/self/fd``), the checked path is given.
    """
    root = limits.data_dir.resolve()
    opened, given = [], dict(values)
    try:
        for param in plot.params:
            value = values.get(param.name)
            if param.kind != "path" or not isinstance(value, pathlib.Path) or not value.is_relative_to(root):
                continue
            try:
                fd = open_data_file(root, value, limits.max_file_bytes)
            except PathRefused as refused:  # the file vanished or changed kind since the server's check
                raise ParamsRefused({param.name: str(refused)}, refused.status) from None
            opened.append(fd)
            if _FD_PATHS.is_dir():
                given[param.name] = DataFile.of(fd, value, root)
        yield given
    finally:
        for fd in opened:
            os.close(fd)


def relative_names(text: str, values: dict, limits: Limits) -> str:
    """A message with every data file named by its path under the data directory, not the server's."""
    for value in values.values():
        if isinstance(value, DataFile):
            text = text.replace(os.fspath(value), value.relative.as_posix())
    root = str(limits.data_dir.resolve())
    return text.replace(root + os.sep, "").replace(root, ".")


def run_job(plots: dict[str, Plot], limits: Limits, job: RenderJob, frames: FrameCache) -> tuple[bytes, list[dict]]:
    """Parse and render one job: (image, geometry); the query was checked by the server, this checks it again.

    Table parameters arrive as paths and leave as frames, from this process's FrameCache.
    """
    plot = plots[job.plot]
    request = parse_query(plot, list(job.pairs), limits)
    if request.errors:  # a file the server checked has gone or changed kind since: the server's answer
        raise ParamsRefused(request.errors, request.status)
    if request.missing:
        raise PlotFailed(f"bad parameters: missing {', '.join(request.missing)}")
    values = dict(request.values)
    for param in plot.params:
        path = values.get(param.name)
        if param.kind == "tables" and isinstance(path, FileSet):
            values[param.name] = _load_runs(path, param, frames, limits)
        if param.kind == "table" and isinstance(path, pathlib.PurePath):
            try:
                safely = lambda path: os.fdopen(open_data_file(limits.data_dir.resolve(), path, limits.max_file_bytes), "rb")  # noqa: E731
                values[param.name] = frames.load(path, param.table, series=param.item_kind == "Series", opener=safely)
            except PathRefused as refused:  # the file vanished or changed kind since the server's check
                raise ParamsRefused({param.name: str(refused)}, refused.status) from None
            except Exception as error:  # a file pandas cannot parse fails this render, like a plot that raises
                root = limits.data_dir.resolve()
                shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
                message = "".join(traceback.format_exception_only(type(error), error)).strip()
                raise PlotFailed(f"{param.name}: pandas could not read {shown}: {message}") from None
    with opened_files(plot, values, limits) as given:
        try:
            return render_plot(plot, given, job.fmt, request.width, request.height, request.dpi, limits.max_pixels, request.view)
        except PlotFailed as failure:  # its kind kept (a ViewRefused is a 400), its message naming files as the client does
            failure.args = (relative_names(str(failure), given, limits),)
            failure.details = relative_names(failure.details, given, limits)
            raise


def _load_runs(files: FileSet, param: Param, frames: FrameCache, limits: Limits) -> Runs:
    """{run name: frame} for a ``dict[str, DataFrame]`` parameter's files, each from the FrameCache."""
    root = limits.data_dir.resolve()
    runs = Runs()
    runs.more, runs.stopped = files.more, files.stopped
    safely = lambda path: os.fdopen(open_data_file(root, path, limits.max_file_bytes), "rb")  # noqa: E731
    for path, label in zip(files, run_labels([path.relative_to(root) for path in files]), strict=True):
        try:
            runs[label] = frames.load(path, param.table, opener=safely)
        except PathRefused:  # gone (or made a link) since it was listed: the next listing, and ETag, leave it out too
            continue
        except Exception as error:  # one file pandas cannot parse fails the render, naming it
            message = "".join(traceback.format_exception_only(type(error), error)).strip()
            raise PlotFailed(f"{param.name}: pandas could not read {path.relative_to(root).as_posix()}: {message}") from None
    return runs


_OUT_OF_MEMORY_EXIT = 87  # a worker's exit code when its memory watchdog stopped it
_PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when the thread that started it ends


def _prctl(option: int, value: int) -> bool:
    """Call Linux's prctl(2); False where there is none or it failed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _memory_message(plot: str, max_memory: int) -> str:
    if max_memory:
        return f"plot_{plot} used more than {max_memory / 2**20:g} MB and was stopped"
    return f"plot_{plot} ran out of memory and was stopped"


def _limit_memory(max_bytes: int) -> bool:
    """Cap this process's memory with setrlimit where the kernel enforces it (Linux); False elsewhere.

    RLIMIT_DATA, not RLIMIT_AS: it counts what the process writes (heap, private mappings), not
    shared libraries or address space reserved and never used (malloc arenas, thread stacks), so
    the ceiling means about what it says. Allocations past it raise MemoryError in the plot.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            max_bytes = min(max_bytes, hard)
        resource.setrlimit(resource.RLIMIT_DATA, (max_bytes, hard))
        return True
    except (ImportError, ValueError, OSError):
        return False


def _lead_process_group(guard: bool) -> None:
    """Make this worker a process group leader, so that the processes its plots start end with it.

    The pool kills the group when it retires the worker. With ``guard`` (Linux), a small process
    in the group also waits for the worker's death and then kills the group: a worker killed with
    SIGKILL (its server was) cannot do that itself.
    """
    if not hasattr(os, "setpgid"):
        return
    try:
        os.setpgid(0, 0)
    except OSError:
        return
    if not guard:
        return
    worker = os.getpid()
    if os.fork() != 0:  # still single-threaded here: a safe fork
        return
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.closerange(3, 1 << 16)  # hold no copy of the worker's pipe, or the pool would not see the worker die
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        if _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) and os.getppid() == worker:
            signal.sigwait({signal.SIGTERM})
        os.killpg(worker, signal.SIGKILL)
    finally:
        os._exit(0)


def _watch(server_gone, max_memory: int) -> None:
    """Where the kernel does neither: end the worker and its group once the server is gone, and
    stop it once its resident memory passes ``max_memory`` (checked twice a second)."""
    while True:
        time.sleep(0.5)
        if server_gone():
            with contextlib.suppress(OSError, AttributeError):
                os.killpg(os.getpid(), signal.SIGKILL)
            os._exit(0)
        if max_memory and _resident_bytes() > max_memory:
            os._exit(_OUT_OF_MEMORY_EXIT)


def _worker_main(connection, sources, handler_class, limits: Limits, parent_pid: int, max_memory: int = 0) -> None:
    """A render process: load the plots, then answer jobs until told to stop or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    # Under forkserver the parent is the fork server, never the server: watch the server's
    # sentinel instead. Under fork and spawn getppid() is the quicker test (siblings may hold
    # copies of the sentinel pipe).
    if os.getppid() == parent_pid:
        server_gone = lambda: os.getppid() != parent_pid  # noqa: E731
    else:
        parent = multiprocessing.parent_process()
        server_gone = lambda: parent is not None and not parent.is_alive()  # noqa: E731
    # Die with the server even mid-render: the kernel sends SIGKILL when the thread that started
    # this process ends (the pool starts every worker from one thread that lasts as long as it).
    dies_with_parent = _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if server_gone():  # it died before the line above took effect
        return
    _lead_process_group(guard=dies_with_parent)
    limited = max_memory > 0 and _limit_memory(max_memory)
    if not dies_with_parent or (max_memory and not limited):
        threading.Thread(target=_watch, args=(server_gone, 0 if limited else max_memory), daemon=True).start()
    multiprocessing.current_process().daemon = False  # a plot may start a multiprocessing.Pool of its own
    try:
        plots = discover_plots(sources, handler_class)
    except (Exception, SystemExit) as error:  # the pool shows this on the pages and starts again later
        connection.send(("failed", str(error) if isinstance(error, (SourceError, SystemExit)) else describe_load_error(error)))
        return
    frames = FrameCache(limits.data_cache_bytes)
    # A figure is a web of reference cycles: left to the cyclic collector, the arrays of a big
    # plot's figures would pile up for several renders. What is here now lives as long as the
    # process: frozen, the collector never looks at it again, and collecting after each render
    # costs about a millisecond instead of tens.
    gc.collect()
    gc.freeze()
    me = os.getpid()
    connection.send(("ready", me))
    while True:
        if not connection.poll(1.0):
            if server_gone():
                return
            continue
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        connection.send("started")  # from here on, this worker's death is the job's doing
        started = time.perf_counter()
        axes = []
        try:
            body, axes = run_job(plots, limits, job, frames)
            reply = ("ok", body, "")
        except OutOfMemory as error:
            reply = ("memory", _memory_message(job.plot, max_memory), error.details)
        except ParamsRefused as error:
            reply = ("params", (error.errors, error.status), "")
        except PlotFailed as error:
            reply = ("refused" if isinstance(error, ViewRefused) else "error", str(error), error.details)
        except MemoryError:  # outside the plot's own code: parsing the job, or the image
            reply = ("memory", _memory_message(job.plot, max_memory), "")
        if os.getpid() != me:  # a plot forked and its child came back here: only the worker answers
            os._exit(0)
        gc.collect()  # the render's figure, and everything it held, go now: its memory is free for the next
        pyplot = _pyplot()
        open_figures = len(pyplot.get_fignums()) if pyplot else 0
        connection.send((*reply, time.perf_counter() - started, open_figures, _resident_bytes(), axes, frames.stats()))
        if reply[0] == "memory":  # what is left of the heap is a fresh process's job to judge
            return


@contextlib.contextmanager
def _frozen_for_fork():
    """Fork with the collector's objects frozen: a forked worker's collector then never looks at
    what it inherits (its first collection takes a millisecond, not tens, and leaves the shared
    pages shared). This process's own collector gets them back at once."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclasses.dataclass(eq=False)  # compared and hashed by identity: one object per process
class _Worker:
    process: multiprocessing.Process
    connection: typing.Any
    jobs: int = 0
    settled_rss: int = 0  # resident bytes after its first render, less its parsed-data cache: what it grows from
    ready: bool = False  # it has loaded the plots


MAX_BACKOFF = 30.0  # seconds between attempts to start a worker, at most, while none can load the plots


class WorkerPool:
    """Worker processes that render plots, each one job at a time.

    A render that passes the time limit kills its worker; a worker that dies, or has rendered
    ``max_jobs`` plots, or has grown by more than ``max_growth`` bytes since its first render
    (not counting its parsed-data cache, which has a bound of its own), or ran out of its
    ``max_memory`` bytes, is replaced by a fresh one. A worker that died idle costs no request:
    its job goes to another. Workers that cannot load the plots are started again after a pause
    that doubles each time, and the error shows on the pages meanwhile.
    """

    def __init__(
        self,
        size,
        sources,
        handler_class,
        limits,
        *,
        start_method=None,
        timeout=30.0,
        max_pending=None,
        max_jobs=10_000,
        max_growth=256 << 20,
        max_memory=0,
    ):
        self.context = multiprocessing.get_context(start_method)
        self.size, self.sources, self.handler_class, self.limits = size, list(sources), handler_class, limits
        self.timeout, self.max_jobs, self.max_growth, self.max_memory = timeout, max_jobs, max_growth, max_memory
        self.max_pending = max_pending or 8 * size
        self.idle: queue.Queue[_Worker] = queue.Queue()
        self.lock = threading.Lock()
        self.pending = 0
        self.workers: set[_Worker] = set()
        self.open_figures: dict[int, int] = {}
        self.frame_stats: dict[int, dict] = {}  # each worker's FrameCache counters, by pid, retired ones too
        self.closed = False
        self.started = 0  # worker processes started so far, replacements included
        self.startup_error = ""  # why the last worker could not load the plots, until one can
        self.failed_starts = 0  # in a row
        self.starts: queue.Queue[threading.Event | None] = queue.Queue()
        self.stopping = threading.Event()
        threading.Thread(target=self._starter, daemon=True, name="plotserve-starter").start()
        for started in [self._start_worker() for _ in range(size)]:
            started.wait()

    def _start_worker(self) -> threading.Event:
        """Ask for one more worker; the event is set once its process has started."""
        started = threading.Event()
        self.starts.put(started)
        return started

    def _starter(self) -> None:
        """Start every worker from this one thread: a worker's PR_SET_PDEATHSIG fires when the
        thread that started it ends, and this one lasts as long as the pool."""
        while (request := self.starts.get()) is not None:
            if self.failed_starts:
                self.stopping.wait(min(MAX_BACKOFF, 0.5 * 2 ** (self.failed_starts - 1)))
            try:
                if not self.closed:
                    self._spawn()
            except Exception as error:  # no process at all (out of processes, an unpicklable handler): as a failed start
                self._failed_start(f"cannot start a render process: {error}")
                self._start_worker()
            finally:
                request.set()

    def _spawn(self) -> None:
        parent_end, child_end = self.context.Pipe()
        process = self.context.Process(
            target=_worker_main,
            args=(child_end, self.sources, self.handler_class, self.limits, os.getpid(), self.max_memory),
            daemon=True,
            name="plotserve-worker",
        )
        # A forked worker must not inherit a half-drawn error image (see register_at_fork).
        with _render_lock if self.context.get_start_method() == "fork" else contextlib.nullcontext(), _frozen_for_fork():
            process.start()
        child_end.close()
        worker = _Worker(process, parent_end)
        with self.lock:
            self.workers.add(worker)
            self.started += 1
        threading.Thread(target=self._await_ready, args=(worker,), daemon=True).start()

    def _await_ready(self, worker: _Worker) -> None:
        try:
            if not worker.connection.poll(120):
                message = "a render process did not load the plots within 120 s"
            else:
                kind, detail = worker.connection.recv()
                if kind == "ready":
                    with self.lock:
                        worker.ready = True
                        self.failed_starts, self.startup_error = 0, ""
                    self.idle.put(worker)
                    return
                message = detail
        except (EOFError, OSError):
            message = f"a render process ended while loading the plots (exit code {self._exit_code(worker)})"
        if not self.closed:
            self._failed_start(message)
        self._retire(worker, replace=not self.closed)

    def _exit_code(self, worker: _Worker) -> int | None:
        """The exit code of a worker whose pipe has closed (None if it still runs after a second).

        Read under the lock: ``alive()`` and ``pids()`` may be reaping the process at this moment, and
        the thread whose ``waitpid`` loses that race is told there is no such child, not the code.
        """
        worker.process.join(1)
        with self.lock:
            return worker.process.exitcode

    def _failed_start(self, message: str) -> None:
        with self.lock:
            self.failed_starts += 1
            new, self.startup_error = message != self.startup_error, message
        if new:  # once per distinct error, not once per attempt
            print(f"plotserve: the render processes cannot load the plots: {message}", file=sys.stderr, flush=True)

    def _retire(self, worker: _Worker, replace: bool = True) -> None:
        with self.lock:
            if worker not in self.workers:
                return
            self.workers.discard(worker)
            self.open_figures.pop(worker.process.pid, None)
        if worker.process.is_alive():
            worker.process.kill()
        # And whatever its plots started: the worker leads their process group. Safe even once
        # the worker is gone: the kernel keeps a group's id from being reused while it has members.
        with contextlib.suppress(OSError, AttributeError):
            os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.join(5)
        worker.connection.close()
        if replace and not self.closed:
            self._start_worker()

    def alive(self) -> int:
        """How many worker processes are running."""
        with self.lock:
            return sum(worker.process.is_alive() for worker in self.workers)

    def pids(self) -> list[int]:
        """The process ids of the running workers."""
        with self.lock:
            return sorted(worker.process.pid for worker in self.workers if worker.process.is_alive())

    def _idle_worker(self, deadline: float) -> _Worker:
        """A worker free for a job; raise at once when none can load the plots."""
        while True:
            try:
                worker = self.idle.get(timeout=max(0.0, min(0.25, deadline - time.monotonic())))
            except queue.Empty:
                worker = None
            if worker is not None:
                if not worker.connection.poll(0):
                    return worker
                self._retire(worker)  # an idle worker says nothing: this one has ended (killed, say)
                continue
            with self.lock:
                broken = self.startup_error and not any(worker.ready for worker in self.workers)
            if broken:
                raise WorkersCannotStart(f"the render processes cannot load the plots: {self.startup_error}")
            if time.monotonic() >= deadline:
                raise Overloaded(f"no render process was free within {self.timeout:g} s")

    def _await_answer(self, worker: _Worker, job: RenderJob, deadline: float) -> None:
        if not worker.connection.poll(max(0.1, deadline - time.monotonic())):
            self._retire(worker)
            raise RenderTimeout(f"plot_{job.plot} took longer than the {self.timeout:g} s limit and was stopped")

    def render(self, job: RenderJob) -> tuple[bytes, float, list[dict]]:
        """Render a job in a worker: (image bytes, seconds, geometry), or raise PlotFailed and its kin."""
        with self.lock:
            if self.pending >= self.max_pending:
                raise Overloaded(f"{self.pending} renders are waiting already; try again shortly")
            self.pending += 1
        deadline = time.monotonic() + self.timeout
        try:
            for attempt in range(2):
                worker = self._idle_worker(deadline)
                try:
                    worker.connection.send(job)
                    self._await_answer(worker, job, deadline)
                    worker.connection.recv()  # "started"
                    break
                except (EOFError, OSError):  # it died before it began (killed while idle): a fresh worker gets the job, once
                    self._retire(worker)
                    if attempt:
                        raise WorkerCrashed(f"two processes died before they could render plot_{job.plot}") from None
            try:
                self._await_answer(worker, job, deadline)
                kind, payload, details, seconds, open_figures, rss, axes, frame_stats = worker.connection.recv()
            except (EOFError, OSError):
                code = self._exit_code(worker)
                self._retire(worker)
                if code == _OUT_OF_MEMORY_EXIT:
                    raise OutOfMemory(_memory_message(job.plot, self.max_memory)) from None
                raise WorkerCrashed(f"the process rendering plot_{job.plot} died (exit code {code})") from None
            worker.jobs += 1
            rss -= frame_stats.get("data_cache_bytes", 0)  # frames kept on purpose are no leak: their cache is bounded
            worker.settled_rss = worker.settled_rss or rss
            with self.lock:
                self.open_figures[worker.process.pid] = open_figures
                self.frame_stats[worker.process.pid] = frame_stats
            if kind == "memory" or worker.jobs >= self.max_jobs or rss - worker.settled_rss > self.max_growth:
                threading.Thread(target=self._retire, args=(worker,), daemon=True).start()
            else:
                self.idle.put(worker)
            if kind == "memory":
                raise OutOfMemory(payload, details)
            if kind == "refused":
                raise ViewRefused(payload, details)
            if kind == "params":
                raise ParamsRefused(*payload)
            if kind == "error":
                raise PlotFailed(payload, details)
            return payload, seconds, axes
        finally:
            with self.lock:
                self.pending -= 1

    def retire(self) -> None:
        """Stop once the renders under way have finished (the pool was replaced by a reload)."""
        deadline = time.monotonic() + self.timeout + 5
        while time.monotonic() < deadline:
            with self.lock:
                if self.pending == 0:
                    break
            time.sleep(0.05)
        self.close()

    def data_stats(self) -> dict:
        """The workers' FrameCache counters added up; bytes and entries of the running ones only."""
        with self.lock:
            live = {worker.process.pid for worker in self.workers}
            stats = list(self.frame_stats.items())
        total = collections.Counter()
        for pid, counts in stats:
            for name, value in counts.items():
                if pid in live or name not in ("data_cache_bytes", "data_cache_entries"):
                    total[name] += value
        return {name: total.get(name, 0) for name in FrameCache(0).stats()}

    def close(self) -> None:
        """Stop every worker; kill those that do not stop at once."""
        self.closed = True
        self.stopping.set()
        with self.lock:
            workers = list(self.workers)
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.connection.send(None)
        deadline = time.monotonic() + 1  # one second for all of them, not one each
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        for worker in workers:
            self._retire(worker, replace=False)
        self.starts.put(None)


class InProcessRenderer:
    """Renders in the server process (``--workers 0``): no time limit, no memory ceiling, no isolation."""

    def __init__(self, plots: dict[str, Plot], limits: Limits, max_pending: int = 16):
        self.plots, self.limits, self.max_pending = plots, limits, max_pending
        self.frames = FrameCache(limits.data_cache_bytes)
        self.lock = threading.Lock()
        self.pending = 0
        self.started = 0  # no worker processes, ever
        self.startup_error = ""  # the plots loaded here, or there would be no server

    def render(self, job: RenderJob) -> tuple[bytes, float, list[dict]]:
        """Render a job here and now: (image bytes, seconds, geometry)."""
        with self.lock:
            if self.pending >= self.max_pending:
                raise Overloaded(f"{self.pending} renders are waiting already; try again shortly")
            self.pending += 1
        me = os.getpid()
        try:
            started = time.perf_counter()
            body, axes = run_job(self.plots, self.limits, job, self.frames)
            return body, time.perf_counter() - started, axes
        finally:
            if os.getpid() != me:  # a plot forked and its child came back here: it must not serve too
                os._exit(0)
            with self.lock:
                self.pending -= 1

    def alive(self) -> int:
        """No worker processes here."""
        return 0

    def pids(self) -> list[int]:
        """No worker processes here."""
        return []

    def data_stats(self) -> dict:
        """This process's FrameCache counters."""
        return self.frames.stats()

    @property
    def open_figures(self) -> dict[int, int]:
        """Figures pyplot holds in this process."""
        pyplot = _pyplot()
        return {os.getpid(): len(pyplot.get_fignums()) if pyplot else 0}

    def close(self) -> None:
        """Nothing to stop."""

    retire = close


def png_size(body: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels of a PNG, read from its header; None for anything else."""
    # PNG signature (8 bytes), IHDR length and type (8), then width and height, 4 bytes each.
    if len(body) < 24 or body[:8] != b"\x89PNG\r\n\x1a\n" or body[12:16] != b"IHDR":
        return None
    return int.from_bytes(body[16:20], "big"), int.from_bytes(body[20:24], "big")


@dataclasses.dataclass
class Rendered:
    """A rendered image as the cache keeps it."""

    key: str  # the view and the state of its input files when it was drawn
    body: bytes
    etag: str
    seconds: float  # how long the render took
    rendered_at: float  # time.time() when it was made
    axes: list = dataclasses.field(default_factory=list)  # axes_geometry of the picture
    stale: bool = False  # served because a fresh picture could not be had: the renderers were busy


@dataclasses.dataclass(frozen=True)
class NotModified:
    """The client has the picture already (If-None-Match): its ETag, and whether it is a stale one."""

    etag: str
    stale: bool = False


class RenderCache:
    """The latest rendered image of each view, least recently used dropped first, bounded in bytes.

    One entry per view: when a view's input files change, its new picture replaces the old one,
    which no request could ask for again.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.entries: collections.OrderedDict[str, Rendered] = collections.OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()

    def get(self, view: str) -> Rendered | None:
        """The entry for a view, marked as recently used, or None."""
        with self.lock:
            entry = self.entries.get(view)
            if entry is not None:
                self.entries.move_to_end(view)
            return entry

    def put(self, view: str, entry: Rendered) -> None:
        """Keep a view's entry in place of its older one, dropping the least recently used past the bound."""
        with self.lock:
            old = self.entries.pop(view, None)
            if old is not None:
                self.bytes -= len(old.body)
            if len(entry.body) > self.max_bytes:
                return
            self.entries[view] = entry
            self.bytes += len(entry.body)
            while self.bytes > self.max_bytes:
                _, dropped = self.entries.popitem(last=False)
                self.bytes -= len(dropped.body)


class _Flight:
    def __init__(self):
        self.done = threading.Event()
        self.result = None
        self.error = None


# A failed render is remembered this long for the same view and inputs: the failed-plot page, its
# error image and the page script asking for the traceback are answered by one render.
FAILURE_SECONDS = 5.0
# How long a plot's page waits for its picture before it answers with a placeholder instead.
PAGE_WAIT_SECONDS = 0.3


class ImageService:
    """Images by view: ETags, the cache, one render for concurrent identical requests, counters."""

    def __init__(self, plots, renderer, limits: Limits, cache_bytes: int, live_seconds: float = 2.0):
        self.plots, self.renderer, self.limits = plots, renderer, limits
        self.cache = RenderCache(cache_bytes)
        self.live_seconds = live_seconds
        self.flights: dict[str, _Flight] = {}
        self.failures: dict[str, tuple[PlotFailed, float]] = {}  # key -> the error and when it happened
        # The renderer's queue, shared out by client address: renders in it, and renders waiting for room.
        self.gate = threading.Condition()
        self.admitted: collections.Counter[str] = collections.Counter()
        self.waiting: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.stalls = StallWatch()

    def count(self, name: str) -> None:
        """Add one to a health counter."""
        with self.lock:
            self.counts[name] += 1

    def key(self, plot: Plot, request: Request, fmt: str) -> tuple[str, str, bool]:
        """(view, key, live): the view is code, values, format and size; the key adds the input files' state."""
        inputs = tracked_files(plot, request, self.limits)
        self.stalls.observe(inputs)
        view = hashlib.sha256("\n".join([plot.name, plot.fingerprint, fmt, request.canonical_query(plot, image=True)]).encode()).hexdigest()
        return view, hashlib.sha256(f"{view}\n{inputs!r}".encode()).hexdigest(), not inputs

    def etag(self, plot: Plot, request: Request, fmt: str) -> str | None:
        """A view's ETag now, without drawing it (an ``os.stat`` of each input file); None for a view with no tracked input."""
        _, key, live = self.key(plot, request, fmt)
        return None if live else f'"{key[:32]}"'

    def prepare(self, plot: Plot, request: Request, fmt: str, wait: float, client: str = "") -> Rendered | PlotFailed | None:
        """A view's picture or failure if it is ready within ``wait`` seconds, else None: it goes on rendering.

        The render started here is the one the page's image request then joins.
        """
        view, key, live = self.key(plot, request, fmt)
        entry = self._cached(view, key, live)
        if entry is not None:
            self.count("cache_hits")
            return entry
        failed = self._failed(key)
        if failed is not None:
            return failed
        flight, leader = self._flight(view, key, live)
        if isinstance(flight, Rendered):
            self.count("cache_hits")
            return flight
        if leader:
            lead = (flight, view, key, live, f'"{key[:32]}"', plot, request, fmt, client, True)
            threading.Thread(target=self._lead, args=lead, name="plotserve-render", daemon=True).start()
        if not flight.done.wait(wait):
            return None
        return flight.error or flight.result

    def _failed(self, key: str) -> PlotFailed | None:
        """The failure of a render of these very inputs a moment ago, if there was one."""
        with self.lock:
            failed = self.failures.get(key)
            if failed is not None and time.monotonic() - failed[1] > FAILURE_SECONDS:
                del self.failures[key]
                failed = None
        return failed[0] if failed else None

    def get(self, plot: Plot, request: Request, fmt: str, if_none_match: str | None = None, client: str = "") -> Rendered | NotModified:
        """The image for a view, or NotModified where ``if_none_match`` shows the client has it already.

        While the renderers are too busy for a fresh picture (Overloaded), the view's last picture
        is served, marked stale. Raises PlotFailed (and kin) when the plot cannot be drawn.
        """
        view, key, live = self.key(plot, request, fmt)
        etag = f'"{key[:32]}"'
        if not live and _etag_matches(if_none_match, etag):
            self.count("not_modified")
            return NotModified(etag)
        failed = self._failed(key)
        if failed is not None:
            raise failed
        entry = self._cached(view, key, live)
        if entry is None:
            kept = self.cache.get(view)  # whatever its age or its files' state: better than nothing
            try:
                entry = self._render_once(view, key, live, etag, plot, request, fmt, client, wait=kept is None)
            except Overloaded:
                if kept is None:
                    raise
                self.count("stale")
                entry = dataclasses.replace(kept, stale=True)
        elif not _etag_matches(if_none_match, entry.etag):
            self.count("cache_hits")
        if _etag_matches(if_none_match, entry.etag):
            self.count("not_modified")
            return NotModified(entry.etag, entry.stale)
        return entry

    def _cached(self, view: str, key: str, live: bool) -> Rendered | None:
        """The kept picture of a view if it is still the right one: same input files, or live and recent."""
        entry = self.cache.get(view)
        if entry is None or entry.key != key or (live and time.time() - entry.rendered_at > self.live_seconds):
            return None
        return entry

    def _admit(self, client: str, wait: bool) -> None:
        """Take a place in the renderer's queue for a client, or raise Overloaded.

        Alone, a client may fill the queue. While other addresses want places too, each has an
        equal share: a client past its share is refused at once, and one within its share waits
        (up to the renderer's time limit, if ``wait``) for a place to come free.
        """
        capacity = getattr(self.renderer, "max_pending", 16)
        deadline = time.monotonic() + getattr(self.renderer, "timeout", 30.0)
        with self.gate:
            while True:
                others = {name for name in (*self.admitted, *self.waiting) if name != client}
                share = max(1, capacity // (len(others) + 1))
                if self.admitted[client] >= share:
                    held = f"this client has {self.admitted[client]}" if others else f"{self.admitted[client]}"
                    raise Overloaded(f"{held} renders are waiting already; try again shortly")
                if sum(self.admitted.values()) < capacity:
                    self.admitted[client] += 1
                    return
                left = deadline - time.monotonic()
                if not wait or left <= 0:
                    raise Overloaded(f"{capacity} renders are waiting already; try again shortly")
                self.waiting[client] += 1
                try:
                    self.gate.wait(left)
                finally:
                    self.waiting[client] -= 1
                    if not self.waiting[client]:
                        del self.waiting[client]

    def _leave(self, client: str) -> None:
        with self.gate:
            self.admitted[client] -= 1
            if not self.admitted[client]:
                del self.admitted[client]
            self.gate.notify_all()

    def _flight(self, view: str, key: str, live: bool) -> tuple[_Flight | Rendered, bool]:
        """The render under way for this key (False), a new one for the caller to lead (True), or its picture, just made."""
        with self.lock:
            flight = self.flights.get(key)
            if flight is not None:
                return flight, False
            # An identical render may have finished since the caller looked: its picture is in the cache.
            cached = self._cached(view, key, live)
            if cached is not None:
                return cached, False
            flight = self.flights[key] = _Flight()
            return flight, True

    def _render_once(self, view, key, live, etag, plot, request, fmt, client="", wait=True) -> Rendered:
        """Render, or wait for the identical render already under way; the render takes the client's place in the queue."""
        flight, leader = self._flight(view, key, live)
        if isinstance(flight, Rendered):
            self.count("cache_hits")
            return flight
        if leader:
            self._lead(flight, view, key, live, etag, plot, request, fmt, client, wait)
        else:
            flight.done.wait()
            self.count("shared_renders")
        if flight.error is not None:
            raise flight.error
        return flight.result

    def _lead(self, flight: _Flight, view, key, live, etag, plot, request, fmt, client="", wait=True) -> None:
        """Do the render of a flight: its result or error, for every request waiting on it."""
        admitted = False
        try:
            self._admit(client, wait)
            admitted = True
            # keep_blank_values: an emptied field (None, "", []) must reach the renderer, not fall back to the default
            pairs = urllib.parse.parse_qsl(request.canonical_query(plot, image=True), keep_blank_values=True)
            job = RenderJob(plot.name, tuple(pairs), fmt)
            body, seconds, axes = self.renderer.render(job)
            if live:  # no inputs to key on: the picture itself says whether it changed
                etag = f'"{key[:16]}-{hashlib.sha256(body).hexdigest()[:16]}"'
            flight.result = Rendered(key, body, etag, seconds, time.time(), axes)
            self.cache.put(view, flight.result)
            self.count("renders")
        except PlotFailed as error:
            flight.error = error
            self.count("errors")
        finally:
            if admitted:
                self._leave(client)
            with self.lock:
                del self.flights[key]
                # Only what the plot itself did is remembered: a full queue, workers that cannot
                # start or a memory ceiling are the server's state, and are tried again.
                if type(flight.error) in (PlotFailed, RenderTimeout, WorkerCrashed):
                    now = time.monotonic()
                    for old in [k for k, (_, at) in self.failures.items() if now - at > FAILURE_SECONDS]:
                        del self.failures[old]
                    self.failures[key] = (flight.error, now)
            flight.done.set()

    def health(self) -> dict:
        """Counters and sizes for ``/-/health.json``."""
        with self.lock:
            counts = dict(self.counts)
        return {
            "status": "ok",
            "renders": counts.get("renders", 0),
            "cache_hits": counts.get("cache_hits", 0),
            "not_modified": counts.get("not_modified", 0),
            "shared_renders": counts.get("shared_renders", 0),
            "stale": counts.get("stale", 0),
            "errors": counts.get("errors", 0),
            "renders_under_way": len(self.flights),
            "cache_bytes": self.cache.bytes,
            "cache_entries": len(self.cache.entries),
            "workers_alive": self.renderer.alive(),
            "workers_started": self.renderer.started,
            "worker_pids": self.renderer.pids(),
            "worker_error": self.renderer.startup_error,
            "open_figures": sum(self.renderer.open_figures.values()),
            "plots": len(self.plots),
            **self.renderer.data_stats(),
            "pid": os.getpid(),  # the process that answered: one of several under a WSGI server
        }


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [part.strip().removeprefix("W/") for part in header.split(",")]
    return etag in candidates or "*" in candidates


# ==============================================================================================
# HTML pages
# ==============================================================================================

STYLESHEET = """\
:root { --ink: #1d2430; --muted: #5d6878; --line: #d8dde5; --accent: #2457c5; --bad: #b00020; --bad-paper: #fff5f5;
        --paper: #f6f7f9; --surface: #fff; --bar: #1d2430; --code: #1d2430; color-scheme: light dark;
        font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); }
/* The browser's dark mode gets a dark page; the script asks for dark pictures to go with it (_theme=dark). */
@media (prefers-color-scheme: dark) {
  :root { --ink: #e4e8ee; --muted: #9aa5b4; --line: #343c49; --accent: #7ea6ff; --bad: #ff8a80; --bad-paper: #3a2024;
          --paper: #14181e; --surface: #1d232b; --bar: #0b0e12; --code: #0b0e12; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); line-height: 1.45; }
header { background: var(--bar); color: #fff; padding: 0.7rem 1.5rem; display: flex; gap: 1rem; align-items: baseline; }
header a { color: #fff; text-decoration: none; }
header .brand { font-weight: 700; letter-spacing: 0.02em; }
header .crumb { opacity: 0.85; }
header .json { margin-left: auto; font-size: 0.85rem; opacity: 0.8; }
main { padding: 1.25rem 1.5rem 3rem; max-width: 1400px; margin: 0 auto; }
h1 { font-size: 1.5rem; margin: 0 0 0.25rem; }
.summary { color: var(--muted); margin: 0 0 1rem; }
.description { white-space: pre-line; color: var(--muted); margin: -0.5rem 0 1rem; font-size: 0.95rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 1rem; }
.card { background: var(--surface); border: 1px solid var(--line); border-radius: 8px; overflow: hidden;
        text-decoration: none; color: inherit; display: flex; flex-direction: column; }
.card:hover { border-color: var(--accent); box-shadow: 0 2px 10px rgba(36, 87, 197, 0.12); }
.card img, .card .noimage { width: 100%; aspect-ratio: 8 / 5; object-fit: contain; background: #fff;
        border-bottom: 1px solid var(--line); }
.card .noimage { display: flex; align-items: center; justify-content: center; color: var(--muted); font-size: 0.9rem;
        background: var(--surface); }
.card .text { padding: 0.6rem 0.8rem 0.8rem; }
.card h2 { font-size: 1.05rem; margin: 0 0 0.2rem; color: var(--accent); }
.card p { margin: 0; color: var(--muted); font-size: 0.9rem; }
.card .source { font-size: 0.75rem; margin-top: 0.4rem; }
.layout { display: grid; grid-template-columns: minmax(260px, 330px) 1fr; gap: 1.5rem; align-items: start; }
form { background: var(--surface); border: 1px solid var(--line); border-radius: 8px; padding: 1rem; }
form > p.help:first-of-type { margin-top: 0; }  /* "takes no parameters": the form's padding is its margin */
.field { margin-bottom: 0.85rem; }
.field label { display: block; font-weight: 600; font-size: 0.9rem; margin-bottom: 0.2rem; }
.field .type { font-weight: 400; color: var(--muted); font-size: 0.8rem; cursor: help; }
.field .required { color: var(--bad); }
.field input[type=text], .field input[type=number], .field input[type=date], .field input[type=datetime-local],
.field select { width: 100%; padding: 0.35rem 0.45rem; border: 1px solid var(--line); border-radius: 5px;
        font: inherit; background: var(--surface); color: var(--ink); }
.field input[type=range] { width: 75%; vertical-align: middle; }
.field output { display: inline-block; min-width: 3em; text-align: right; font-variant-numeric: tabular-nums; }
.field .check { display: flex; gap: 0.4rem; align-items: center; font-weight: 600; }
.field .help { color: var(--muted); font-size: 0.8rem; margin-top: 0.15rem; }
.field.invalid input, .field.invalid select { border-color: var(--bad); background: var(--bad-paper); }
.message { color: var(--bad); font-size: 0.85rem; margin-top: 0.2rem; }
.problem { border: 1px solid var(--bad); background: var(--bad-paper); color: var(--bad); border-radius: 6px;
        padding: 0.6rem 0.8rem; margin: 0 0 1rem; }
.failure .headline { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.failure pre.traceback { margin: 0.6rem 0 0; }
.actions { display: flex; flex-wrap: wrap; gap: 0.6rem; align-items: center; border-top: 1px solid var(--line); padding-top: 0.8rem; }
button { font: inherit; padding: 0.4rem 1rem; border-radius: 5px; border: 1px solid var(--accent);
        background: var(--accent); color: var(--surface); cursor: pointer; }
button.secondary { background: var(--surface); color: var(--accent); }
.refresh { display: flex; align-items: center; gap: 0.4rem; font-size: 0.85rem; color: var(--muted); }
.refresh input { width: 5.5em; padding: 0.3rem; border: 1px solid var(--line); border-radius: 5px;
        background: var(--surface); color: var(--ink); }
.figure { background: var(--surface); border: 1px solid var(--line); border-radius: 8px; padding: 0.75rem; min-width: 0; }
/* The picture at its own size (the width and height attributes are the PNG's), never wider than the page. */
.figure picture { display: block; }
.figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; background: #fff; }
.figure img.stale { opacity: 0.45; }
.figure img[hidden] { display: none; }
/* While the plot fails there is nothing to explore or download; both come back with the picture. */
.failure ~ .explore, .failure ~ .toolbar .downloads { display: none; }
.toolbar { display: flex; flex-wrap: wrap; gap: 0.6rem 0.8rem; align-items: center; font-size: 0.85rem;
        color: var(--muted); border-top: 1px solid var(--line); margin-top: 0.6rem; padding-top: 0.6rem; }
.toolbar .status { margin-right: auto; font-variant-numeric: tabular-nums; }
.toolbar .status.failed { color: var(--bad); }
.toolbar button { padding: 0.25rem 0.7rem; font-size: 0.85rem; }
.toolbar a { color: var(--accent); }
.canvas { position: relative; }
.canvas img { cursor: crosshair; user-select: none; }
#zoombox { position: absolute; border: 1px dashed var(--accent); background: rgba(36, 87, 197, 0.12); pointer-events: none; }
.explore { display: flex; flex-wrap: wrap; gap: 0.8rem; align-items: center; font-size: 0.85rem; color: var(--muted); margin-top: 0.5rem; }
.explore .coords { margin-right: auto; font-variant-numeric: tabular-nums; }
.explore label { display: flex; gap: 0.3rem; align-items: center; }
.explore a { color: var(--accent); }
.placeholder { color: var(--muted); padding: 3rem 1rem; text-align: center; }
.rendering { display: flex; align-items: center; justify-content: center; width: 100%; max-width: 1000px; margin: 0 auto;
        background: var(--paper); color: var(--muted); font-variant-numeric: tabular-nums; }
.card .rendering { aspect-ratio: 8 / 5; }
.card img.thumb:not([src]), .rendering + img.thumb { position: absolute; opacity: 0; }
.panels { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 0.75rem; }
.panel { margin: 0; min-width: 0; }
.panel figcaption { font-weight: 600; font-size: 0.9rem; margin-bottom: 0.3rem; }
.panel figcaption a { color: var(--accent); text-decoration: none; }
.panel img { display: block; width: 100%; height: auto; }
.panel .toolbar { margin-top: 0.3rem; padding-top: 0.3rem; }
details.compare { border-top: 1px solid var(--line); padding: 0.6rem 0 0.2rem; margin-top: 0.4rem; }
details.compare summary { cursor: pointer; color: var(--accent); font-size: 0.9rem; margin-bottom: 0.5rem; }
pre.traceback { background: var(--code); color: #f3f4f6; padding: 0.8rem; border-radius: 6px; overflow-x: auto;
        font-size: 0.8rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.offscreen { position: fixed; top: 0; left: -9999px; opacity: 0; }
/* A phone: one column, the picture first and the form under it, smaller margins. */
@media (max-width: 800px) {
  .layout { grid-template-columns: 1fr; gap: 1rem; }
  .layout .figure { order: -1; }
}
@media (max-width: 600px) {
  header { padding: 0.6rem 0.75rem; }
  main { padding: 0.75rem 0.75rem 2rem; }
  h1 { font-size: 1.25rem; }
  .figure { padding: 0.4rem; }
  .field input[type=text], .field input[type=number], .field select { font-size: 1rem; }
}
/* Runs of a log: a checkbox each, in the colour its lines are drawn in (matplotlib's C0..C9). */
/* In columns of one width, so the boxes line up whatever the names' lengths. */
.runs { display: grid; grid-template-columns: repeat(auto-fill, minmax(7.5rem, 1fr)); gap: 0.2rem 0.8rem; margin-top: 0.35rem;
        font-size: 0.85rem; }
.runs label.run { display: flex; gap: 0.3rem; align-items: center; min-width: 0; overflow-wrap: anywhere; }
.runs .more { color: var(--muted); grid-column: 1 / -1; }
.swatch { display: inline-block; width: 0.9rem; height: 0.25rem; border-radius: 1px; }
.c0 { background: #1f77b4; } .c1 { background: #ff7f0e; } .c2 { background: #2ca02c; } .c3 { background: #d62728; }
.c4 { background: #9467bd; } .c5 { background: #8c564b; } .c6 { background: #e377c2; } .c7 { background: #7f7f7f; }
.c8 { background: #bcbd22; } .c9 { background: #17becf; }
.explore .smooth input { width: 7rem; }
.toolbar .stall { color: var(--bad); font-weight: 600; }
.toolbar .stall:empty { display: none; }  /* else its gap pushes the buttons after it off the left edge */
"""

PAGE_SCRIPT = """\
// plotserve: refresh the plot image in place, only when it changed, without flicker.
"use strict";
// plotserve: explore the picture. The page learns where each Axes is in the image (the JSON
// twin's "axes"), shows the data under the pointer, turns a dragged box into a zoom URL, and
// asks for dark pictures when the browser prefers a dark theme. Every state is a URL: zooming,
// resetting and the toggles navigate, so Back undoes them and any view can be shared.
function exploreImage() {
  const img = document.getElementById("plot");
  if (!img) return;
  const coords = document.getElementById("coords");
  const box = document.getElementById("zoombox");
  const reset = document.getElementById("reset");
  const hint = coords.textContent;
  const MIN_DRAG = 5;  // CSS pixels: a shorter drag along an axis leaves that axis alone
  let geometry = [];

  // Dark theme: unless the page's URL chose a theme, follow the browser's, also when it changes.
  const darkScheme = window.matchMedia("(prefers-color-scheme: dark)");
  if (!img.dataset.theme && darkScheme.matches) {
    for (const key of ["src", "src2x", "narrow", "narrow2x"]) img.dataset[key] = withDarkTheme(img.dataset[key]);
    for (const source of img.parentElement.querySelectorAll("source")) {
      source.srcset = `${img.dataset.narrow} 1x, ${img.dataset.narrow2x} 2x`;
    }
    if (img.hasAttribute("src")) {  // a failed plot's page has no picture yet: nothing to ask for twice
      img.srcset = `${img.dataset.src} 1x, ${img.dataset.src2x} 2x`;
      img.src = img.dataset.src;
    }
  }
  if (!img.dataset.theme) darkScheme.addEventListener("change", () => location.reload());

  // Geometry: fetched for the very URL shown, after every new picture (a live plot's axes move).
  function shownUrl() {
    return pictureUrl(img);
  }
  async function loadGeometry() {
    try {
      const response = await fetch(shownUrl().replace(/\\.png(\\?|$)/, ".json$1"), { cache: "no-store" });
      geometry = response.ok ? (await response.json()).axes || [] : [];
    } catch (error) {
      geometry = [];
    }
    img.dataset.axes = String(geometry.length);  // how many Axes the pointer can read now
    // The links to the moving picture, for a plot that returned an animation.
    for (const link of document.querySelectorAll("a[data-animated]")) link.hidden = !geometry.some((axes) => axes.animated);
  }
  img.addEventListener("load", loadGeometry);
  if (img.complete && !img.hidden) loadGeometry();  // hidden: a failed plot, not to be run again for its axes

  // Hover: the data coordinates under the pointer, for every Axes there (a twin adds its y2).
  function imagePoint(event) {
    const rect = img.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left) * img.naturalWidth / rect.width,
      y: (event.clientY - rect.top) * img.naturalHeight / rect.height,
      scale: img.naturalWidth / rect.width,  // image pixels per CSS pixel
    };
  }
  function axesAt(point, zoomable) {
    return geometry.filter((axes) => axes.visible && (axes.kind === "rectilinear" || (!zoomable && axes.kind === "colorbar"))
      && point.x >= axes.box[0] && point.x <= axes.box[2] && point.y >= axes.box[1] && point.y <= axes.box[3]);
  }
  img.addEventListener("mousemove", (event) => {
    const point = imagePoint(event);
    if (drag) showDrag(point);
    const found = axesAt(point, false);
    if (!found.length) { coords.textContent = hint; return; }
    const parts = [], seen = { x: [], y: [], value: [] };
    for (const axes of found) {
      for (const [name, axis, f, pixels] of readings(axes, point)) {
        const step = Math.abs(valueAt(axis, f + 1 / pixels) - valueAt(axis, f));
        const text = formatValue(axis, valueAt(axis, f), step);
        if (seen[name].includes(text)) continue;  // twins share an axis: say it once
        seen[name].push(text);  // a twin's own axis is y2 (or x2)
        parts.push(`${name}${seen[name].length > 1 ? seen[name].length : ""} = ${text}`);
      }
    }
    coords.textContent = parts.join(", ");
  });
  img.addEventListener("mouseleave", () => { coords.textContent = hint; });
  // A colorbar has one axis that means something: its long one, read as the colour's value.
  function readings(axes, point) {
    const x = ["x", axes.x, fractionX(axes, point.x), pixelsAlong(axes, "x")];
    const y = ["y", axes.y, fractionY(axes, point.y), pixelsAlong(axes, "y")];
    if (axes.kind !== "colorbar") return [x, y];
    return [["value", ...(y[3] >= x[3] ? y : x).slice(1)]];  // a vertical colorbar reads along y
  }

  // Zoom: drag a box over an Axes; the page goes to its URL plus _xlim/_ylim (and _axes).
  let drag = null;
  img.addEventListener("mousedown", (event) => {
    if (event.button !== 0) return;
    const point = imagePoint(event);
    const axes = axesAt(point, true)[0];
    if (!axes) return;
    event.preventDefault();
    drag = { axes, start: point, end: point };
  });
  window.addEventListener("mouseup", (event) => {
    if (!drag) return;
    const { axes, start } = drag;
    const end = clampToBox(axes, imagePoint(event));
    drag = null;
    box.hidden = true;
    const wide = Math.abs(end.x - start.x) / end.scale >= MIN_DRAG, tall = Math.abs(end.y - start.y) / end.scale >= MIN_DRAG;
    if (!wide && !tall) return;  // a click, not a drag
    const params = new URLSearchParams(location.search);
    params.delete("_form");
    if (wide) params.set("_xlim", limitsText(axes, "x", fractionX(axes, start.x), fractionX(axes, end.x)));
    if (tall) params.set("_ylim", limitsText(axes, "y", fractionY(axes, start.y), fractionY(axes, end.y)));
    if (axes.index) params.set("_axes", String(axes.index)); else params.delete("_axes");
    location.assign(`?${params}`);
  });
  function showDrag(point) {
    const end = clampToBox(drag.axes, point);
    const rect = img.getBoundingClientRect(), canvas = img.closest(".canvas").getBoundingClientRect();
    const css = (value) => value / end.scale;
    box.style.left = `${rect.left - canvas.left + css(Math.min(drag.start.x, end.x))}px`;
    box.style.top = `${rect.top - canvas.top + css(Math.min(drag.start.y, end.y))}px`;
    box.style.width = `${css(Math.abs(end.x - drag.start.x))}px`;
    box.style.height = `${css(Math.abs(end.y - drag.start.y))}px`;
    box.hidden = false;
  }
  function clampToBox(axes, point) {
    const [left, top, right, bottom] = axes.box;
    return { ...point, x: Math.min(Math.max(point.x, left), right), y: Math.min(Math.max(point.y, top), bottom) };
  }

  // Reset: double-click, Esc or the link goes back to the unzoomed URL; the toggles resubmit the form.
  function resetZoom() {
    if (reset) location.assign(reset.href);
  }
  img.addEventListener("dblclick", resetZoom);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !event.target.closest("input, select, textarea")) resetZoom();
  });
  for (const toggle of document.querySelectorAll(".explore input[type=checkbox]")) {
    toggle.addEventListener("change", () => toggle.form.requestSubmit());
  }
}

// Pixels to data: fractions of an Axes' box (0 at its left or bottom edge), through its scale.
function fractionX(axes, x) { return (x - axes.box[0]) / (axes.box[2] - axes.box[0]); }
function fractionY(axes, y) { return (axes.box[3] - y) / (axes.box[3] - axes.box[1]); }
function pixelsAlong(axes, name) {
  return name === "x" ? axes.box[2] - axes.box[0] : axes.box[3] - axes.box[1];
}
function scaled(axis, value) {  // data to the scale's linear space, as matplotlib's transforms do
  if (axis.scale === "log") return Math.log(value);
  if (axis.scale === "logit") return Math.log(value / (1 - value));
  if (axis.scale === "symlog") {
    const adjust = axis.linscale / (1 - 1 / axis.base), size = Math.abs(value);
    if (size <= axis.linthresh) return value * adjust;
    return Math.sign(value) * axis.linthresh * (adjust + Math.log(size / axis.linthresh) / Math.log(axis.base));
  }
  return value;
}
function unscaled(axis, value) {
  if (axis.scale === "log") return Math.exp(value);
  if (axis.scale === "logit") return 1 / (1 + Math.exp(-value));
  if (axis.scale === "symlog") {
    const adjust = axis.linscale / (1 - 1 / axis.base), size = Math.abs(value);
    if (size <= axis.linthresh * adjust) return value / adjust;
    return Math.sign(value) * axis.linthresh * Math.pow(axis.base, size / axis.linthresh - adjust);
  }
  return value;
}
function valueAt(axis, fraction) {
  const [low, high] = axis.limits.map((limit) => scaled(axis, limit));
  return unscaled(axis, low + fraction * (high - low));
}
// A date axis counts days (matplotlib's numbers); its two ISO limits say which days.
function dateAt(axis, value) {
  const [low, high] = axis.dates.map(Date.parse);
  return new Date(low + (value - axis.limits[0]) / (axis.limits[1] - axis.limits[0]) * (high - low));
}
// As many digits as one pixel resolves: x = 37.2, y = 0.812; dates to the day, minute or second.
function formatValue(axis, value, step) {
  if (axis.scale === "date") {
    const text = dateAt(axis, value).toISOString();  // step is in days
    if (step >= 0.5) return text.slice(0, 10);
    return `${text.slice(0, 10)} ${text.slice(11, step >= 1 / 1440 ? 16 : 19)}`;
  }
  if (!Number.isFinite(value) || value === 0) return String(value);
  const digits = Math.floor(Math.log10(Math.abs(value))) - Math.floor(Math.log10(step || Math.abs(value) * 1e-6)) + 1;
  return String(Number(value.toPrecision(Math.min(Math.max(digits, 1), 12))));
}
// LO,HI of a zoom, low first even on an inverted axis (an image's y), to a pixel's precision.
function limitsText(axes, name, from, to) {
  const axis = axes[name], step = 1 / pixelsAlong(axes, name);
  const ends = [from, to].map((f) => ({ value: valueAt(axis, f), step: Math.abs(valueAt(axis, f + step) - valueAt(axis, f)) }));
  ends.sort((a, b) => a.value - b.value);
  return ends.map(({ value, step }) => {
    if (axis.scale === "date") return dateAt(axis, value).toISOString().slice(0, 19);
    return formatValue(axis, value, step);
  }).join(",");
}
function withDarkTheme(url) {
  return url && `${url}${url.includes("?") ? "&" : "?"}_theme=dark`;
}
// The picture the page shows and keeps fresh, as the browser picks it from <source> and srcset:
// drawn narrow on a narrow screen, at twice the dpi on a sharp one.
function pictureUrl(img) {
  const sharp = window.devicePixelRatio > 1;
  if (img.dataset.narrow && window.matchMedia(img.dataset.narrowMedia).matches) {
    return (sharp && img.dataset.narrow2x) || img.dataset.narrow;
  }
  return (sharp && img.dataset.src2x) || img.dataset.src;
}

exploreImage();

// plotserve: the live pictures. Each behaviour is one named function; start() at the end wires them up.
(function () {
  const HOLD = 25;  // seconds the server may hold an image request while nothing changes
  const copy = document.getElementById("copy-link");

  // Sliders show their value as they move.
  function showSliderValues() {
    for (const range of document.querySelectorAll("input[type=range]")) {
      const output = document.querySelector(`output[for="${range.id}"]`);
      if (output) range.addEventListener("input", () => { output.value = range.value; });
    }
  }

  // "rendering… N s" on a box while its picture is drawn; returns the function that stops it.
  function countSeconds(box) {
    const started = performance.now();
    const tick = () => { box.textContent = `rendering\\u2026 ${Math.floor((performance.now() - started) / 1000)} s`; };
    tick();
    const every = setInterval(tick, 250);
    return () => clearInterval(every);
  }

  // Index thumbnails of slow plots: the same counting placeholder over the card, not a white box.
  function watchThumbnails() {
    for (const thumb of document.querySelectorAll("img.thumb")) {
      if (thumb.complete) continue;
      const box = document.createElement("div");
      box.className = "noimage rendering";
      let stop = null;
      const shown = setTimeout(() => { thumb.before(box); stop = countSeconds(box); }, 300);  // fast ones never show it
      const done = () => { clearTimeout(shown); if (stop) stop(); box.remove(); };
      thumb.addEventListener("load", done);
      thumb.addEventListener("error", done);
    }
  }

  // The error in the plot code after a reload that failed: shown above the page until it is fixed.
  function showSourceError(message) {
    let box = document.getElementById("source-error");
    if (!message) { box?.remove(); return; }
    if (!box) {
      box = document.createElement("div");
      box.id = "source-error";
      box.className = "problem";
      box.setAttribute("role", "alert");
      document.querySelector("main").prepend(box);
    }
    box.textContent = `The plot code has an error; the last good version is still served. ${message}`;
  }

  // Every live picture of every tab on one held request. A browser opens at most six connections
  // to a server and a held request keeps one, so one tab per origin, chosen with the Web Locks
  // API, holds /-/changes.json for the pictures of all tabs (they tell it their views and ETags
  // over a BroadcastChannel) and tells them which changed. A tab that closes or is hidden hands
  // the lock to another, which asks every tab what it shows. Without these APIs (they need a
  // secure context: https, or this machine), each picture holds its own request (NAME.png?_wait).
  function sharedChanges() {
    if (!navigator.locks || !window.BroadcastChannel) return null;
    const root = new URL("./", location.href);  // plotserve's top: every page is one level under it
    const name = `plotserve-changes ${root.href}`;
    const channel = new BroadcastChannel(name);
    const tab = `${Date.now()}-${Math.random()}`;
    const waiters = new Set();  // this tab's pictures waiting for a change: {view, etag, resolve, timer}
    let leader = null, campaign = null, resign = null, announcing = false;

    // A message for every tab, this one included; and what a tab does with one.
    function tell(message) {
      channel.postMessage(message);
      hear(message);
    }
    function hear(message) {
      if (leader) leader.hear(message);
      if (message.type === "hello") announce();
      if (message.type !== "changes") return;
      for (const waiter of [...waiters]) {
        const said = message.views[waiter.view];
        if (message.full) settle(waiter, "full");
        else if (!said) continue;
        else if (said.untracked || said.error) settle(waiter, "untracked");
        else if (said.changed || said.etag !== waiter.etag) settle(waiter, "changed", said.source_error);
      }
    }
    channel.onmessage = (event) => hear(event.data);
    // What this tab shows, for the tab that holds the request: once per turn of the event loop.
    function announce() {
      tell({ type: "want", tab, views: [...waiters].map((waiter) => [waiter.view, waiter.etag]) });
    }
    function announceSoon() {
      if (announcing) return;
      announcing = true;
      queueMicrotask(() => { announcing = false; announce(); });
    }
    function settle(waiter, outcome, sourceError) {
      if (!waiters.delete(waiter)) return;
      clearTimeout(waiter.timer);
      waiter.resolve({ outcome, sourceError });
      announceSoon();
    }
    // One picture waits until its view's ETag is no longer the one it shows: "changed" (with
    // the plot code's error, if a reload failed), "untracked" (no file to watch: go by the
    // period), "full" (the server holds too many: go by the period this time), "timeout"
    // (nobody answered: ask plainly) or "aborted".
    function wait(url, etag, signal) {
      const view = new URL(url, document.baseURI).href.slice(root.href.length);
      return new Promise((resolve) => {
        const waiter = { view, etag, resolve };
        waiters.add(waiter);
        waiter.timer = setTimeout(() => settle(waiter, "timeout"), (HOLD + 10) * 1000);
        signal.addEventListener("abort", () => settle(waiter, "aborted"), { once: true });
        announceSoon();
      });
    }

    // The tab that holds the lock asks for every tab's views, again whenever they change: in
    // requests of at most MAX_QUERY characters, all let go as soon as one answers.
    function lead() {
      const MAX_QUERY = 6000;
      const wants = new Map();  // tab -> [[view, etag], ...]
      let asking = null, timer = null, stopped = false;
      function again(delay = 50) {  // a moment for the news of other tabs to arrive
        clearTimeout(timer);
        timer = setTimeout(ask, delay);
      }
      function queries() {
        const pairs = new Map();
        for (const views of wants.values()) for (const [view, etag] of views) pairs.set(`${view} ${etag}`, [view, etag]);
        const chunks = [];
        let query = null;
        for (const [view, etag] of pairs.values()) {
          if (!query || query.toString().length > MAX_QUERY) chunks.push(query = new URLSearchParams({ _wait: HOLD }));
          query.append("view", view);
          query.append("etag", etag || "");
        }
        return chunks;
      }
      async function ask() {
        asking?.abort();
        asking = null;
        const chunks = queries();
        if (stopped || !chunks.length) return;
        const controller = asking = new AbortController();
        let delay = 0;
        try {
          const answer = await Promise.any(chunks.map(async (query) => {
            const response = await fetch(new URL(`-/changes.json?${query}`, root), { cache: "no-store", signal: controller.signal });
            if (!response.ok) throw new Error(`${response.status}`);
            return response.json();
          }));
          controller.abort();  // the other requests: their views are asked for again below
          const views = Object.fromEntries(answer.views.map((entry) => [entry.view, entry]));
          // A view told of a change is asked for again once its tab has the new picture.
          const unchanged = ([view, etag]) => {
            const said = views[view];
            return !said || (!said.untracked && !said.error && !said.changed && said.etag === etag);
          };
          for (const [id, listed] of wants) wants.set(id, listed.filter(unchanged));
          if (answer.watch === "full") wants.clear();  // every picture asks on its period this time
          tell({ type: "changes", views, full: answer.watch === "full" });
        } catch (error) {
          if (controller.signal.aborted && asking !== controller) return;
          delay = 2000;  // out of reach, or refused: try again in a moment
        }
        if (asking === controller) { asking = null; again(delay); }
      }
      return {
        hear(message) {
          if (message.type === "want") {
            const before = JSON.stringify(wants.get(message.tab) || []);
            if (before === JSON.stringify(message.views)) return;
            wants.set(message.tab, message.views);
            again();
          } else if (message.type === "bye") {
            wants.delete(message.tab);
            again();
          }
        },
        stop() { stopped = true; clearTimeout(timer); asking?.abort(); },
      };
    }

    // A shown tab stands for the lock; a hidden or closed one gives it up, and the next tab in
    // line holds the request from then on.
    function standForLead() {
      if (campaign || document.hidden) return;
      const controller = campaign = new AbortController();
      navigator.locks.request(name, { signal: controller.signal }, async () => {
        leader = lead();
        document.documentElement.dataset.liveRequest = String(Date.now());  // held here, since then
        tell({ type: "hello" });  // every tab, this one too, says what it shows
        await new Promise((resolve) => { resign = resolve; });
        leader.stop();
        leader = null;
        delete document.documentElement.dataset.liveRequest;
      }).catch(() => {});  // hidden before its turn came
    }
    function stepDown() {
      campaign?.abort();
      campaign = null;
      if (resign) { resign(); resign = null; }
    }
    document.addEventListener("visibilitychange", () => { if (document.hidden) stepDown(); else standForLead(); });
    window.addEventListener("pagehide", () => { channel.postMessage({ type: "bye", tab }); stepDown(); });
    window.addEventListener("pageshow", (event) => { if (event.persisted) { standForLead(); announce(); } });
    standForLead();
    return { wait };
  }

  // One live picture (the view's, or one of a comparison) with its status line and Pause button:
  // it follows its view with a conditional GET the server holds until the picture changes, or
  // until HOLD seconds pass; plots with no file to watch (and a full server) go by the period.
  // With the shared request of all tabs (changes), it waits there instead, then asks plainly.
  function live(img, changes) {
    const box = img.closest(".panel, .figure");
    const status = box.querySelector(".status");
    const toggle = box.querySelector(".pause");
    const placeholder = img.id === "plot" ? document.getElementById("rendering") : null;
    const period = Math.max(1, Number(img.dataset.refresh)) * 1000;
    const url = pictureUrl(img);
    const density = pictureDensity(url);
    let etag = img.dataset.etag || null;
    let paused = false, timer = null, shownUrl = null, busy = false, asking = null;
    // What the status line says: when the picture on screen was drawn (the server's clock), how
    // long it took, whether the plot failed or the server is out of reach, and what comes next.
    let updated = Number(img.dataset.renderedAt) || null, renderMs = img.dataset.renderMs || null;
    let failed = img.hidden && !placeholder, unreachable = false, stale = false, nextAt = null;
    let watching = false, rendering = Boolean(placeholder), againNow = false;
    let untracked = false;  // told by the shared request: no file to watch, so it goes by its period

    // How many pixels of the refreshed picture make one CSS pixel: the 2x ones are drawn at twice the dpi.
    function pictureDensity(shown) {
      const same = (a, b) => Boolean(a && b) && new URL(a, document.baseURI).href === new URL(b, document.baseURI).href;
      const sharp = (same(shown, img.dataset.src2x) && !same(shown, img.dataset.src))
        || (same(shown, img.dataset.narrow2x) && !same(shown, img.dataset.narrow));
      return sharp ? 2 : 1;
    }
    // The <img> takes the size of the picture it shows (a plot may set its own figure size).
    function fitToPicture(probe) {
      img.width = Math.round(probe.naturalWidth / density);
      img.height = Math.round(probe.naturalHeight / density);
    }
    // One clock, one format: times are the server's, shown as 24-hour HH:MM:SS.
    function clock(ms) {
      const time = new Date(ms);
      return [time.getHours(), time.getMinutes(), time.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
    }
    // The status line, always ending with what happens next.
    function showStatus() {
      const parts = [];
      if (unreachable) parts.push("server out of reach");
      else if (failed) parts.push("plot failed");
      else if (rendering) parts.push("rendering\\u2026");
      else if (updated) parts.push(`updated ${clock(updated)}`, `rendered in ${renderMs} ms`);
      if (stale && !unreachable && !failed) parts.push("server busy: the last picture");
      if (rendering) { /* the placeholder counts */ }
      else if (paused) parts.push("paused");
      else if (watching) parts.push("watching for changes");
      else if (busy || nextAt === null) parts.push("checking now");
      else parts.push(`next check in ${Math.max(1, Math.ceil((nextAt - Date.now()) / 1000))} s`);
      status.textContent = parts.join(" \\u00b7 ");
      status.classList.toggle("failed", failed || unreachable);
    }
    // Ask again: at once when the server held the request (it waited for us), else after the period.
    function schedule(delay = period) {
      clearTimeout(timer);
      timer = paused ? null : setTimeout(refresh, delay);
      nextAt = paused ? null : Date.now() + delay;
      showStatus();
    }
    // The image URL; held asks the server to keep the request until the view's ETag changes
    // (a plain GET: any proxy passes it).
    function imageUrl(held) {
      return held ? url + (url.includes("?") ? "&" : "?") + `_wait=${HOLD}` : url;
    }
    // The picture is now a blob: the <source> and srcset alternatives would take its place again.
    function dropAlternatives() {
      img.removeAttribute("srcset");
      for (const source of img.parentElement.querySelectorAll("source")) source.remove();
    }
    function swap(blob) {
      // Load the new picture off-screen first: the old one stays until the new one is ready.
      return new Promise((resolve, reject) => {
        const next = URL.createObjectURL(blob);
        const probe = new Image();
        probe.onload = () => {
          dropAlternatives();
          fitToPicture(probe);
          img.src = next;
          if (shownUrl) URL.revokeObjectURL(shownUrl);
          shownUrl = next;
          resolve();
        };
        probe.onerror = () => { URL.revokeObjectURL(next); reject(new Error("not an image")); };
        probe.src = next;
      });
    }
    // A failing plot says so once, in the failure box above the picture (the server's box, with
    // its traceback, when the page came that way); the last good picture stays, dimmed.
    function showFailure(message) {
      failed = true;
      img.classList.add("stale");
      if (box.querySelector(".failure")) return;
      const failure = document.createElement("div");
      if (img.id === "plot") failure.id = "failure";
      failure.className = "problem failure";
      failure.setAttribute("role", "alert");
      const headline = document.createElement("p");
      headline.className = "headline";
      headline.textContent = message;
      failure.append(headline);
      (img.closest(".canvas") || img).before(failure);
    }
    // A render that failed after the page came: the failed-plot page's traceback under the box's
    // headline. The server remembers the failure a few seconds: asking for the page draws nothing again.
    async function showTraceback() {
      const shown = box.querySelector(".failure");
      if (img.id !== "plot" || !shown || shown.querySelector("pre.traceback")) return;
      const response = await fetch(location.href, { cache: "no-store" });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const traceback = page.querySelector("#failure pre.traceback");
      if (traceback) shown.append(document.adoptNode(traceback));
    }
    function clearFailure() {
      failed = false;
      img.hidden = false;
      img.classList.remove("stale");
      box.querySelector(".failure")?.remove();
    }
    function failedWith(response) {
      etag = null;
      showFailure(`${response.status}: ${response.headers.get("X-Plotserve-Error") || response.statusText}`);
      return showTraceback();
    }
    async function refresh(now) {
      if ((paused && !now) || document.hidden || busy) return;
      busy = true;
      clearTimeout(timer);
      nextAt = null;
      let delay = period;
      const held = Boolean(etag) && !now && !untracked;  // r asks for an answer now: a plain conditional GET
      const together = held && changes !== null;  // waits on the shared request, then asks plainly
      watching = held;
      showStatus();
      asking = new AbortController();
      try {
        const told = together ? await changes.wait(url, etag, asking.signal) : null;
        const said = told && told.outcome;
        if (said === "aborted") throw new DOMException("paused or hidden", "AbortError");
        if (said !== null) untracked = said === "untracked";
        const headers = etag ? { "If-None-Match": etag } : {};
        const response = await fetch(imageUrl(held && !together), { headers, cache: "no-store", signal: asking.signal });
        unreachable = false;
        watching = together ? (said === "changed" || said === "timeout") : response.headers.get("X-Plotserve-Watch") === "held";
        const asked = !held && !untracked && (response.ok || response.status === 304);  // a plain GET: hold the next
        if (response.status !== 503 && (watching || asked)) delay = 0;
        if (!together) showSourceError(response.headers.get("X-Plotserve-Source-Error"));
        else if (told.sourceError !== undefined) showSourceError(told.sourceError);
        if (response.status === 404) { location.reload(); return; }  // the plot was removed: its 404 page says so
        // The server was too busy to draw it afresh: the picture (new or kept) is its last one.
        stale = Boolean(response.headers.get("X-Plotserve-Stale"));
        if (response.ok) {
          await swap(await response.blob());
          etag = response.headers.get("ETag");
          updated = Date.parse(response.headers.get("Last-Modified")) || Date.now();
          renderMs = response.headers.get("X-Plotserve-Render-Ms");
          clearFailure();
        } else if (response.status !== 304) {
          watching = false;
          await failedWith(response);
        }
      } catch (error) {
        watching = false;
        if (error.name !== "AbortError") unreachable = true;
      } finally {
        busy = false;
        asking = null;
        if (againNow) { againNow = false; refresh(true); } else schedule(delay);
      }
    }
    // The page came before its picture: count on a placeholder of its size while the browser loads
    // it into the image (joining the render the page started); then a HEAD, answered from the
    // cache (or the failure just remembered) without drawing again, says how it went.
    // (A picture still loading when the script starts, as after a switch to the dark theme, is
    // waited for the same way, so that its ETag is the one of the picture shown.)
    function awaitFirstPicture() {
      let stop = () => {};
      if (placeholder) {
        placeholder.hidden = false;
        placeholder.style.aspectRatio = `${placeholder.dataset.width} / ${placeholder.dataset.height}`;
        stop = countSeconds(placeholder);
      }
      const arrived = async () => {
        stop();
        placeholder?.remove();
        rendering = false;
        let delay = period;
        try {
          const response = await fetch(img.currentSrc || img.src, { method: "HEAD", cache: "no-store" });
          if (response.ok) {
            img.hidden = false;
            // Loaded from its URL alone (not a srcset, whose naturalWidth is already in CSS pixels).
            if (placeholder && img.naturalWidth) fitToPicture(img);
            etag = response.headers.get("ETag");
            updated = Date.parse(response.headers.get("Last-Modified")) || Date.now();
            renderMs = response.headers.get("X-Plotserve-Render-Ms");
            img.dataset.renderedAt = String(updated);  // as if it had come with the page
            delay = 0;
          } else {
            img.hidden = true;
            img.removeAttribute("src");
            await failedWith(response);
          }
        } catch (error) {
          unreachable = true;
        }
        schedule(delay);
      };
      img.addEventListener("load", arrived, { once: true });
      img.addEventListener("error", arrived, { once: true });
      if (placeholder) img.src = url;
      showStatus();
    }
    // r checks now (even while paused); a request held for us is asked again at once.
    function refreshNow() {
      if (asking) { againNow = true; asking.abort(); } else refresh(true);
    }
    // Pause stops following (and drops the request held for us); Resume asks at once.
    function togglePause() {
      paused = !paused;
      toggle.textContent = paused ? "Resume" : "Pause";
      if (paused) { asking?.abort(); schedule(); } else refresh();
    }
    // Keys: r checks for a new picture now, p pauses or resumes; not while typing in a field,
    // and not with a modifier (Ctrl+R is the browser's).
    function onKey(event) {
      if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
      if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
      if (event.key === "r") { event.preventDefault(); refreshNow(); }
      else if (event.key === "p") { event.preventDefault(); togglePause(); }
    }
    toggle.addEventListener("click", togglePause);
    document.addEventListener("keydown", onKey);
    // A hidden tab asks nothing and lets go of its held request; shown again, it catches up at once.
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) { clearTimeout(timer); asking?.abort(); }
      else if (!paused) refresh();
    });
    setInterval(() => { if (!document.hidden) showStatus(); }, 1000);  // the countdown
    // A picture that came with the page holds its first request at once; one still to come is awaited.
    if (placeholder || (!img.complete && !img.hidden)) awaitFirstPicture();
    else if (failed) schedule();
    else refresh();
  }

  // Copy link: the address of this view, to paste elsewhere. The clipboard API needs a secure
  // page (https or this machine); elsewhere, a selected hidden field and the copy command.
  async function copyLink() {
    const link = window.location.href;
    let copied;
    try {
      await navigator.clipboard.writeText(link);
      copied = true;
    } catch (error) {
      copied = copyByHand(link);
    }
    if (!copied) window.prompt("Copy this link:", link);
    copy.textContent = copied ? "Link copied" : "Copy link";
    setTimeout(() => { copy.textContent = "Copy link"; }, 2000);
  }
  function copyByHand(text) {
    const field = document.createElement("textarea");
    field.value = text;
    field.className = "offscreen";
    field.setAttribute("readonly", "");
    document.body.append(field);
    field.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
    field.remove();
    return copied;
  }

  // Run checkboxes (a log's runs): the ticked runs become the field's value, and the view's URL.
  function runCheckboxes() {
    for (const list of document.querySelectorAll(".runs[data-field]")) {
      const field = document.getElementById(list.dataset.field);
      const boxes = [...list.querySelectorAll("input[type=checkbox]")];
      for (const box of boxes) {
        box.addEventListener("change", () => {
          const ticked = boxes.filter((other) => other.checked).map((other) => other.value);
          if (!ticked.length) { box.checked = true; return; }  // no run at all draws nothing: keep one
          field.value = ticked.length === boxes.length ? "" : ticked.join(", ");  // every run: the default
          field.form.requestSubmit();
        });
      }
    }
  }

  // The smoothing slider: a new view once it is let go (its value shows while it moves).
  function smoothSlider() {
    const slider = document.getElementById("smooth");
    if (slider) slider.addEventListener("change", () => slider.form.requestSubmit());
  }

  // A run that stopped: the JSON twin says whether the view's files stopped changing; the toolbar
  // and the tab's title say "no change for 12 min". A notification only once the user asked for them.
  function watchStall() {
    const img = document.getElementById("plot");
    const toolbar = img && img.closest(".figure")?.querySelector(".toolbar");
    if (!toolbar) return;
    const title = document.title, plotTitle = img.alt.split(": ")[0];
    const line = document.createElement("span");
    line.className = "stall";
    line.setAttribute("role", "status");
    toolbar.querySelector(".status").after(line);
    let quietSince = null, notify = null, told = false;
    function quietFor(seconds) {
      for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60]]) {
        if (seconds >= size) return `no change for ${Math.floor(seconds / size)} ${unit}`;
      }
      return `no change for ${Math.floor(seconds)} s`;
    }
    function show() {
      const text = quietSince === null ? "" : quietFor((Date.now() - quietSince) / 1000);
      line.textContent = text;
      document.title = text ? `(${text}) ${title}` : title;
      if (notify) notify.hidden = !text;
    }
    async function ask() {
      try {
        const response = await fetch(pictureUrl(img).replace(/\\.png(\\?|$)/, ".json$1"), { cache: "no-store" });
        const data = response.ok ? await response.json() : {};
        const labels = [...new Set((data.axes || []).flatMap((axes) => (axes.series || []).map((series) => series.label)))];
        const more = labels.length > 12 ? ` and ${labels.length - 12} more` : "";
        if (labels.length) img.alt = `${plotTitle}: ${labels.slice(0, 12).join(", ")}${more}`;  // the series drawn
        if (!("stalled" in data)) return;  // no file to watch: nothing to say
        const wasQuiet = quietSince !== null;
        quietSince = data.stalled ? Date.now() - data.no_change_seconds * 1000 : null;
        if (data.stalled && !wasQuiet && !told && window.Notification && Notification.permission === "granted") {
          told = true;
          new Notification(document.title.replace(/^\\(.*?\\) /, ""), { body: quietFor(data.no_change_seconds) });
        }
        if (!data.stalled) told = false;
        if (!notify && window.Notification && Notification.permission === "default") {
          notify = document.createElement("button");
          notify.type = "button";
          notify.className = "secondary";
          notify.textContent = "Notify me";
          notify.title = "Show a notification when this view stops changing";
          notify.addEventListener("click", async () => { await Notification.requestPermission(); notify.remove(); });
          line.after(notify);
        }
        show();
      } catch (error) { /* the status line says when the server is out of reach */ }
    }
    ask();
    setInterval(() => { if (!document.hidden) ask(); }, 10000);
    setInterval(show, 1000);
  }

  function start() {
    showSliderValues();
    runCheckboxes();
    smoothSlider();
    watchStall();
    watchThumbnails();
    // Every live picture: the view's, or each one of a side-by-side comparison; all on one held request.
    const pictures = document.querySelectorAll("img[data-src]");
    const changes = pictures.length ? sharedChanges() : null;
    for (const img of pictures) live(img, changes);
    if (copy) copy.addEventListener("click", copyLink);
  }
  start();
})();
"""

# A rounded square with a rising line: the tab's icon, also at /favicon.ico, which browsers ask for by themselves.
FAVICON = """\
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">\
<rect width="32" height="32" rx="6" fill="#2457c5"/>\
<polyline points="6,24 12,15 18,19 26,8" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/>\
</svg>
"""

PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{root}-/static/plotserve.css">
<link rel="icon" type="image/svg+xml" href="{root}-/static/favicon.svg">
<link rel="alternate" type="application/json" href="{json_url}">
{head}
</head>
<body>
<header><a class="brand" href="{root}./">plotserve</a>{crumb}<a class="json" href="{json_url}">JSON</a></header>
<main>
{body}
</main>
</body>
</html>
"""

INDEX_BODY = """\
<h1>Plots</h1>
<p class="summary">{count}. Pick one to see it live.</p>
<div class="grid">
{cards}
</div>
"""

CARD = """\
<a class="card" href="{page_url}">{thumbnail}<div class="text"><h2>{title}</h2><p>{summary}</p>\
<p class="source">{source}</p></div></a>"""

PLOT_BODY = """\
<h1>{title}</h1>
<p class="summary">{summary}</p>
{description}
<div class="layout">
<form id="plot-form" method="get" action="{name}" novalidate>
<input type="hidden" name="_form" value="1">
{problem}
{fields}
{compare}
<div class="actions">
<button type="submit">Plot</button>
<label class="refresh">refresh every <input type="number" name="_refresh" value="{refresh}" min="{min_refresh}" \
max="{max_refresh}" step="1"> s</label>
</div>
</form>
<section class="figure">
{figure}
</section>
</div>
"""

FIGURE = """\
{failure}<div class="canvas"><picture>{narrow_source}<img id="plot"{sources} width="{width}" height="{height}" alt="{alt}"{hidden} \
data-src="{src}" data-src2x="{src2x}" data-narrow="{narrow}" data-narrow2x="{narrow2x}" data-narrow-media="{narrow_media}" \
data-etag="{etag}" data-refresh="{refresh}" data-rendered-at="{rendered_at}" data-render-ms="{render_ms}" data-theme="{theme}" \
draggable="false"></picture><div id="zoombox" hidden></div></div>{pending}
{explore}
<div class="toolbar">
<span id="status" class="status{status_class}" aria-live="polite">{status}</span>
<button type="button" class="secondary pause" id="pause" title="Stop or restart the updates (key: p)">Pause</button>
<button type="button" class="secondary" id="copy-link" title="Copy the link to this view">Copy link</button>
<span class="downloads">download {downloads}</span>
</div>
"""

# Shown by the page script while a slow plot renders: the page answered before its picture.
PENDING = """
<div id="rendering" class="rendering" hidden data-width="{width}" data-height="{height}">rendering…</div>
<noscript><img src="{src}" width="{width}" height="{height}" alt="{alt}"></noscript>"""

SOURCE_ERROR = """\
<div id="source-error" class="problem" role="alert"><strong>The plot code has an error; the last good version is \
still served.</strong> <code>{message}</code></div>
"""

COMPARE_CONTROL = """\
<details class="compare"{open}><summary>Compare side by side</summary>
<div class="field"><label for="field-_compare">vary</label><select id="field-_compare" name="_compare">{options}</select></div>
<div class="field"><label for="field-_values">values <span class="type">separated by |</span></label>\
<input type="text" id="field-_values" name="_values" value="{values}" placeholder="1 | 5 | 20">\
<div class="help">Empty: every choice, or every data file.</div></div>
</details>"""

PANEL = """\
<figure class="panel">
<figcaption><a href="{page}">{caption}</a></figcaption>
{picture}
</figure>"""

PANEL_PICTURE = """\
<picture>{narrow_source}<img class="live" src="{src}" srcset="{src} 1x, {src2x} 2x" width="{width}" height="{height}" alt="{alt}" \
data-src="{src}" data-src2x="{src2x}" data-narrow="{narrow}" data-narrow2x="{narrow2x}" data-narrow-media="{narrow_media}" \
data-etag="" data-refresh="{refresh}"></picture>
<div class="toolbar"><span class="status">next check in {refresh} s</span>\
<button type="button" class="secondary pause">Pause</button></div>"""

EXPLORE = """\
<div class="explore">
<span id="coords" class="coords" aria-live="polite">{hint}</span>
{toggles}{kept}{reset}
</div>
"""

# What the failure box says once, in place of the picture: the message, then the traceback.
FAILURE = """\
<div id="failure" class="problem failure" role="alert"><p class="headline">{message}</p>{traceback}</div>
"""

ERROR_BODY = """\
<h1>{title}</h1>
<p class="problem">{message}</p>
<p><a href="{root}./">All plots</a></p>
"""

e = html.escape


def plural(count: int, word: str) -> str:
    """``1 plot``, ``2 plots``: a count with its noun."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _with_query(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


def _page(title: str, body: str, *, crumb: str = "", json_url: str = "index.json", head: str = "", root: str = "") -> bytes:
    """A whole page; ``root`` leads from the page's folder back to plotserve's top (``../`` per level).

    Every URL is relative, so the pages work under any prefix a proxy mounts them at.
    """
    return PAGE.format(title=e(title), crumb=crumb, json_url=e(root + json_url), head=head, body=body, root=root).encode()


def _source_error(message: str) -> str:
    return SOURCE_ERROR.format(message=e(message)) if message else ""


def index_page(plots: dict[str, Plot], limits: Limits, problem: str = "") -> bytes:
    """The list of plots, with a thumbnail for each one that can render with its defaults, and
    ``problem`` (what stops every plot from rendering) above them."""
    cards = []
    for plot in plots.values():
        request = parse_query(plot, [], limits)
        if request.errors or request.missing:
            thumbnail = '<div class="noimage">needs parameters</div>'
        else:
            query = urllib.parse.urlencode({WIDTH: 4, HEIGHT: 2.5, DPI: 80})
            dark = urllib.parse.urlencode({THEME: "dark", WIDTH: 4, HEIGHT: 2.5, DPI: 80})
            # A browser that prefers dark gets dark thumbnails, as the plot page gets dark pictures.
            thumbnail = (
                f'<picture><source media="(prefers-color-scheme: dark)" srcset="{e(plot.name)}.png?{e(dark)}">'
                f'<img class="thumb" loading="lazy" src="{e(plot.name)}.png?{e(query)}" alt="{e(plot.title)}"></picture>'
            )
        cards.append(
            CARD.format(page_url=e(plot.name), thumbnail=thumbnail, title=e(plot.title), summary=e(plot.summary), source=e(plot.source))
        )
    body = INDEX_BODY.format(count=plural(len(plots), "plot"), cards="\n".join(cards) or "<p>No plot_* functions were found.</p>")
    if problem:
        body = f'<p class="problem" role="alert">{e(problem)}</p>\n' + body
    # The script shows "rendering… N s" on the thumbnails of slow plots.
    return _page("plotserve", body, head='<script src="-/static/plotserve.js" defer></script>')


def _startup_problem(renderer) -> str:
    """What the index says when no render process can load the plots (the plot pages and images say it as their error)."""
    return f"The render processes cannot load the plots: {renderer.startup_error}" if renderer.startup_error else ""


_KIND_WORDS = {
    "int": "whole number",
    "float": "number",
    "str": "text",
    "bool": "yes/no",
    "choice": "choice",
    "date": "date",
    "datetime": "date and time",
    "path": "file",
    "tables": "files, a folder or a pattern",
}
_LIST_WORDS = {"int": "whole numbers", "float": "numbers", "str": "texts"}


def type_words(param: Param) -> str:
    """What a parameter takes, in words a user reads ("numbers, comma-separated"), not ``list[float]``."""
    if param.kind == "list":
        words = f"{_LIST_WORDS.get(param.item_kind, 'texts')}, comma-separated"
    else:
        words = _KIND_WORDS.get(param.kind, "text")
    return f"{words}, optional" if param.optional else words


def _type_label(param: Param) -> str:
    """The type after a field's name: words, with the Python type in the tooltip."""
    return f'<span class="type" title="Python type: {e(param.annotation or param.type_name)}">{e(type_words(param))}</span>'


def _field(param: Param, request: Request, limits: Limits) -> str:
    """The form field for one parameter, with its help and its error message."""
    name, text = e(param.name), e(request.texts.get(param.name, ""))
    bad = param.name in request.errors
    field_id = f"field-{name}"
    attrs = f'id="{field_id}" name="{name}"'
    if param.required:
        attrs += " required"
    if param.kind == "bool":
        checked = " checked" if request.values.get(param.name) is True or request.texts.get(param.name, "").lower() in _TRUE else ""
        widget = f'<label class="check"><input type="checkbox" {attrs} value="true"{checked}> {e(param.name)} {_type_label(param)}</label>'
        label = ""
    else:
        marker = ' <span class="required">*</span>' if param.required else ""
        label = f'<label for="{field_id}">{name}{marker} {_type_label(param)}</label>'
        if param.kind == "choice":
            options = ['<option value=""></option>'] if param.optional or param.required else []
            current = request.texts.get(param.name, "")
            for token in param.choices:
                selected = " selected" if token == current else ""
                options.append(f'<option value="{e(token)}"{selected}>{e(token)}</option>')
            widget = f"<select {attrs}>{''.join(options)}</select>"
        elif param.kind in ("path", "table"):
            current = request.texts.get(param.name, "")
            files = list_data_files(limits.data_dir, suffixes=table_suffixes() if param.kind == "table" else None)
            if current and current not in files:
                files.insert(0, current)
            options = ['<option value=""></option>'] if param.optional or not current else []
            for path in files:
                selected = " selected" if path == current else ""
                options.append(f'<option value="{e(path)}"{selected}>{e(path)}</option>')
            widget = f"<select {attrs}>{''.join(options)}</select>"
        elif param.kind in ("int", "float"):
            bounds = ""
            if param.minimum is not None:
                bounds += f' min="{param.minimum:g}"'
            if param.maximum is not None:
                bounds += f' max="{param.maximum:g}"'
            step = param.step if param.step is not None else (1 if param.kind == "int" else "any")
            if param.minimum is not None and param.maximum is not None and param.name not in request.errors:
                widget = f'<input type="range" {attrs} value="{text}"{bounds} step="{step}"> <output for="{field_id}">{text}</output>'
            else:
                # A browser blanks a number, date or datetime input whose value it cannot read
                # ("three"): a rejected value is shown in a text input, so what was typed stays.
                kind = "text" if bad else "number"
                widget = f'<input type="{kind}" {attrs} value="{text}"{bounds} step="{step}">'
        elif param.kind == "date":
            widget = f'<input type="{"text" if bad else "date"}" {attrs} value="{text}">'
        elif param.kind == "datetime":
            widget = f'<input type="{"text" if bad else "datetime-local"}" {attrs} value="{text}" step="1">'
        else:  # an empty optional field is empty: its label says "optional", no "None" to read as a value
            widget = f'<input type="text" {attrs} value="{text}">'
    widget += _run_checkboxes(param, request, limits) if param.runs_of else ""
    help_html = f'<div class="help">{e(param.help)}</div>' if param.help else ""
    message = request.errors.get(param.name)
    message_html = f'<div class="message" role="alert">{e(message)}</div>' if message else ""
    invalid = " invalid" if message else ""
    return f'<div class="field{invalid}">{label}{widget}{help_html}{message_html}</div>'


def _run_checkboxes(param: Param, request: Request, limits: Limits) -> str:
    """A checkbox per run the files parameter reads now, in its colour; the page script writes the ticked ones into the field."""
    files = request.values.get(param.runs_of)
    if not isinstance(files, FileSet) or len(files) < 2:
        return ""
    root = limits.data_dir.resolve()
    chosen = set(request.values.get(param.name) or ())
    boxes = []
    for place, label in enumerate(run_labels([path.relative_to(root) for path in files])):
        checked = " checked" if not chosen or label in chosen else ""
        boxes.append(
            f'<label class="run"><input type="checkbox" value="{e(label)}"{checked}>'
            f'<span class="swatch c{place % len(RUN_COLOURS)}" aria-hidden="true"></span>{e(label)}</label>'
        )
    more = f'<span class="more">and {files.more} more files, not read</span>' if files.more else ""
    if files.stopped:
        more += f'<span class="more">the listing stopped after {MAX_LOOKED:,} entries: give a narrower pattern</span>'
    return f'<div class="runs" data-field="field-{e(param.name)}">{"".join(boxes)}{more}</div>'


def _smooth_slider(view: View) -> str:
    """Under the picture: the smoothing weight (``_smooth``), a slider that belongs to the form."""
    value = format(view.smooth, "g")
    return (
        f'<label class="smooth" title="Draw every line as its moving average (TensorBoard\'s smoothing)">smooth '
        f'<input type="range" id="smooth" name="{SMOOTH}" min="0" max="0.99" step="0.01" value="{value}" form="plot-form">'
        f' <output for="smooth">{value}</output></label>'
    )


def _alt_text(plot: Plot, rendered: Rendered | None) -> str:
    """The picture's alt text: the plot's title, and the series it draws."""
    labels = [series["label"] for ax in (rendered.axes if rendered else []) for series in ax.get("series", ())]
    labels = list(dict.fromkeys(labels))
    if not labels:
        return plot.title
    shown = ", ".join(labels[:12]) + (f" and {len(labels) - 12} more" if len(labels) > 12 else "")
    return f"{plot.title}: {shown}"


def _explore_bar(plot: Plot, request: Request) -> str:
    """Under the image: the data under the pointer, the toggles, and the way back from a zoom.

    The toggles and the zoom belong to the form (``form=``), so that submitting it keeps the view.
    """
    view = request.view
    toggles = "".join(
        f'<label><input type="checkbox" name="{name}" value="true" form="plot-form"{" checked" if on else ""}> {label}</label>'
        for name, label, on in ((LOGX, "log x", view.logx), (LOGY, "log y", view.logy), (GRID, "grid", view.grid))
    )
    kept = "".join(
        f'<input type="hidden" name="{name}" value="{e(value)}" form="plot-form">'
        for name, value in view.pairs(image=False)
        if name in (XLIM, YLIM, AXES, THEME, DECIMATE)
    )
    reset, hint = "", "drag a box to zoom"
    if view.xlim or view.ylim:
        unzoomed = dataclasses.replace(request, view=dataclasses.replace(view, xlim=None, ylim=None, axes=0))
        reset = f'<a id="reset" href="{e(_with_query(plot.name, unzoomed.canonical_query(plot)))}">Reset zoom</a>'
        hint = "zoomed: double-click or Esc to reset"
    return EXPLORE.format(hint=hint, toggles=toggles + _smooth_slider(view), kept=kept, reset=reset)


NARROW_INCHES = 3.6  # a phone's width at 100 dpi, less the page's margins
NARROW_MEDIA = "(max-width: 600px)"
PANEL_MEDIA = "all"  # a side-by-side panel is a phone's width or little more on every screen: drawn narrow there too


def _image_url(plot: Plot, request: Request, limits: Limits, **size) -> str:
    """The PNG of this view at another size or dpi; "" where that is over the limits."""
    view = dataclasses.replace(request, **size)
    if view.dpi > limits.max_dpi or view.width * view.height * view.dpi**2 > limits.max_pixels:
        return ""
    return _with_query(f"{plot.name}.png", view.canonical_query(plot, image=True))


def _narrow_urls(plot: Plot, request: Request, limits: Limits) -> tuple[str, str]:
    """(1x, 2x) URLs of the view drawn for a phone, or ("", "") where it is narrow already."""
    if request.width <= NARROW_INCHES:
        return "", ""
    # In proportion, but no flatter than 4:3: a phone has height to spare, and a flat plot's axes vanish.
    height = round(min(request.height, max(request.height * NARROW_INCHES / request.width, NARROW_INCHES * 0.75)), 2)
    narrow = _image_url(plot, request, limits, width=NARROW_INCHES, height=height)
    return narrow, _image_url(plot, request, limits, width=NARROW_INCHES, height=height, dpi=request.dpi * 2) or narrow


def _narrow_source(narrow: str, narrow2x: str, media: str = NARROW_MEDIA) -> str:
    """The <source> a <picture> takes on a narrow screen (or where ``media`` matches)."""
    return f'<source media="{media}" srcset="{e(narrow)} 1x, {e(narrow2x)} 2x">' if narrow else ""


def _status_text(request: Request, rendered: Rendered | None, failed: bool = True) -> str:
    """The status line as the page is sent; the script keeps it up to date in the same words."""
    if rendered is None:
        return f"plot failed · next check in {int(request.refresh)} s" if failed else "rendering…"
    when = time.strftime("%H:%M:%S", time.localtime(rendered.rendered_at))
    return f"updated {when} · rendered in {rendered.seconds * 1000:.0f} ms · next check in {int(request.refresh)} s"


def _animation_links(plot: Plot, query: str, rendered: Rendered | None) -> str:
    """Links to the moving picture, shown where the plot returned an animation (its geometry says
    so: here if the page came with its picture, else in the page script once the picture came)."""
    hidden = "" if rendered is not None and any(axes.get("animated") for axes in rendered.axes) else " hidden"
    return "".join(
        f' <a href="{e(_with_query(f"{plot.name}.{fmt}", query))}" target="_blank" data-animated{hidden}>animated {fmt.upper()}</a>'
        for fmt in ANIMATION_FORMATS
    )


def _figure(plot: Plot, request: Request, limits: Limits, rendered: Rendered | None, failure: PlotFailed | None) -> str:
    """The live picture, its status line and buttons; for a failed plot, the error once instead of the picture.

    The ``<img>`` is as large as the picture it shows (a plot may set its own figure size); a
    narrow screen gets a picture drawn narrow, so its text stays readable. With neither
    ``rendered`` nor ``failure`` the picture is still being drawn: a placeholder of its size
    stands in, and the page script loads the picture into the ``<img>``.
    """
    query = request.canonical_query(plot, image=True)
    src = _with_query(f"{plot.name}.png", query)
    src2x = _image_url(plot, request, limits, dpi=request.dpi * 2) or src
    narrow, narrow2x = _narrow_urls(plot, request, limits)
    size = png_size(rendered.body) if rendered is not None else None
    width, height = size or (int(request.width * request.dpi), int(request.height * request.dpi))
    # A failed plot has no picture to show: the <img> waits, hidden and empty (no second run of
    # a failing plot), and the script fills it once the plot draws again.
    failed = failure is not None
    drawn = rendered is not None
    sources = f' src="{e(src)}" srcset="{e(src)} 1x, {e(src2x)} 2x"' if drawn else ""
    narrow_source = _narrow_source(narrow, narrow2x) if drawn else ""
    pending = "" if drawn or failed else PENDING.format(src=e(src), width=width, height=height, alt=e(plot.title))
    failure_html = ""
    if failed:
        # The traceback ends with the message the headline already says: the frames, then, once.
        message, details = str(failure), failure.details.rstrip()
        details = details.removesuffix(message).rstrip() if details.endswith(message) else details
        traceback_html = f'<pre class="traceback">{e(details)}</pre>' if details else ""
        failure_html = FAILURE.format(message=e(message), traceback=traceback_html)
    downloads = " ".join(
        f'<a href="{e(_with_query(f"{plot.name}.{fmt}", query))}" download="{e(plot.name)}.{fmt}">{fmt.upper()}</a>'
        for fmt in (*IMAGE_FORMATS, DATA_FORMAT)
    ) + _animation_links(plot, query, rendered)
    return FIGURE.format(
        failure=failure_html,
        narrow_source=narrow_source,
        sources=sources,
        width=width,
        height=height,
        alt=e(_alt_text(plot, rendered)),
        hidden="" if drawn else " hidden",
        pending=pending,
        src=e(src),
        src2x=e(src2x),
        narrow=e(narrow),
        narrow2x=e(narrow2x),
        narrow_media=e(NARROW_MEDIA),
        etag=e(rendered.etag) if drawn else "",
        refresh=int(request.refresh),
        rendered_at=f"{rendered.rendered_at * 1000:.0f}" if drawn else "",
        render_ms=f"{rendered.seconds * 1000:.0f}" if drawn else "",
        status=e(_status_text(request, rendered, failed)),
        status_class=" failed" if failed else "",
        theme=e(request.view.theme),
        explore=_explore_bar(plot, request),
        downloads=downloads,
    )


def plot_page(
    plot: Plot, request: Request, limits: Limits, rendered: Rendered | None, failure: PlotFailed | None, source_error: str = ""
) -> bytes:
    """A plot's page: the form, and the live image (or what stops it from being drawn).

    With neither ``rendered`` nor ``failure``, the picture is still being drawn: a placeholder
    of its size stands in, and the page script fetches the picture.
    """
    # Errors about plotserve's own options (_xlim, _refresh, ...) name the option: it has no field.
    names = {param.name for param in plot.params}
    problems = [f"{field}: {message}" if field else message for field, message in request.errors.items() if field not in names]
    problem = "".join(f'<p class="problem" role="alert">{e(message)}</p>' for message in problems)
    fields = "\n".join(_field(param, request, limits) for param in plot.params) or '<p class="help">This plot takes no parameters.</p>'
    head = ""
    if request.errors:
        figure = '<p class="placeholder">Correct the fields marked in red to see the plot.</p>'
    elif request.missing:
        figure = f'<p class="placeholder">Fill in {e(", ".join(request.missing))} to see the plot.</p>'
    else:
        figure = _figure(plot, request, limits, rendered, failure)
        head = f'<noscript><meta http-equiv="refresh" content="{int(request.refresh)}"></noscript>'
    head += '\n<script src="-/static/plotserve.js" defer></script>'
    description = f'<p class="description">{e(plot.description)}</p>' if plot.description else ""
    body = _source_error(source_error) + PLOT_BODY.format(
        title=e(plot.title),
        summary=e(plot.summary),
        description=description,
        name=e(plot.name),
        problem=problem,
        fields=fields,
        compare=_compare_control(plot),
        refresh=int(request.refresh),
        min_refresh=MIN_REFRESH,
        max_refresh=MAX_REFRESH,
        figure=figure,
    )
    crumb = f'<span class="crumb">› {e(plot.title)}</span>'
    json_url = _with_query(f"{plot.name}.json", request.canonical_query(plot))
    return _page(f"{plot.title} · plotserve", body, crumb=crumb, json_url=json_url, head=head)


def _compare_control(plot: Plot, comparison: Comparison | None = None) -> str:
    """The form's "compare side by side" part: which parameter to vary, and its values."""
    if not plot.params:
        return ""
    current = comparison.name if comparison else ""
    options = ['<option value="">nothing: one picture</option>']
    for param in plot.params:
        selected = " selected" if param.name == current else ""
        options.append(f'<option value="{e(param.name)}"{selected}>{e(param.name)}</option>')
    values = " | ".join(comparison.texts) if comparison else ""
    return COMPARE_CONTROL.format(open=" open" if comparison else "", options="".join(options), values=e(values))


def _panel(plot: Plot, name: str, request: Request, limits: Limits) -> str:
    """One picture of a comparison, live like the view's own; or what stops it from being drawn."""
    text = request.texts.get(name, "")
    caption = f"{name} = {text}" if text else f"{name} empty"
    page = _with_query(plot.name, request.canonical_query(plot))
    if request.errors or request.missing:
        problems = [f"{field or 'query'}: {message}" for field, message in request.errors.items()]
        message = "; ".join(problems) or f"fill in {', '.join(request.missing)}"
        return PANEL.format(page=e(page or "./"), caption=e(caption), picture=f'<p class="problem" role="alert">{e(message)}</p>')
    src = _with_query(f"{plot.name}.png", request.canonical_query(plot, image=True))
    sharp = dataclasses.replace(request, dpi=request.dpi * 2)
    fits = sharp.dpi <= limits.max_dpi and sharp.width * sharp.height * sharp.dpi**2 <= limits.max_pixels
    src2x = _with_query(f"{plot.name}.png", sharp.canonical_query(plot, image=True)) if fits else src
    # A picture drawn for the panel's width, as on a phone: an 8-inch picture shrunk into it has unreadable text.
    narrow, narrow2x = _narrow_urls(plot, request, limits)
    picture = PANEL_PICTURE.format(
        narrow_source=_narrow_source(narrow, narrow2x, PANEL_MEDIA),
        narrow=e(narrow),
        narrow2x=e(narrow2x),
        narrow_media=e(PANEL_MEDIA),
        src=e(src),
        src2x=e(src2x),
        width=int(request.width * request.dpi),
        height=int(request.height * request.dpi),
        alt=e(f"{plot.title}, {caption}"),
        refresh=int(request.refresh),
    )
    return PANEL.format(page=e(page), caption=e(caption), picture=picture)


def compare_page(plot: Plot, comparison: Comparison, limits: Limits) -> bytes:
    """A plot's page with one parameter at several values side by side, each picture its own live URL.

    The pictures are not drawn before the page is sent: the browser asks for them all at once, and
    the render processes draw them in parallel.
    """
    shared = comparison.shared
    problems = [message for field, message in shared.errors.items() if field not in {p.name for p in plot.params}]
    if comparison.error:
        problems.insert(0, comparison.error)
    problem = "".join(f'<p class="problem" role="alert">{e(message)}</p>' for message in problems)
    params = [param for param in plot.params if param.name != comparison.name]
    fields = "\n".join(_field(param, shared, limits) for param in params)
    missing = [name for name in shared.missing if name != comparison.name]
    if comparison.error or shared.errors:
        figure = '<p class="placeholder">Correct what is marked in red to see the comparison.</p>'
    elif missing:
        figure = f'<p class="placeholder">Fill in {e(", ".join(missing))} to see the comparison.</p>'
    else:
        panels = "\n".join(_panel(plot, comparison.name, request, limits) for request in comparison.requests)
        figure = f'<div class="panels">\n{panels}\n</div>'
    description = f'<p class="description">{e(plot.description)}</p>' if plot.description else ""
    body = PLOT_BODY.format(
        title=e(f"{plot.title}: {comparison.name} side by side" if not comparison.error else plot.title),
        summary=e(plot.summary),
        description=description,
        name=e(plot.name),
        problem=problem,
        fields=fields,
        compare=_compare_control(plot, comparison),
        refresh=int(shared.refresh),
        min_refresh=MIN_REFRESH,
        max_refresh=MAX_REFRESH,
        figure=figure,
    )
    head = f'<noscript><meta http-equiv="refresh" content="{int(shared.refresh)}"></noscript>'
    head += '\n<script src="-/static/plotserve.js" defer></script>'
    crumb = f'<span class="crumb">› <a href="{e(plot.name)}">{e(plot.title)}</a> › compare</span>'
    json_url = _with_query(f"{plot.name}.json", comparison.query(plot)) if not comparison.error else f"{plot.name}.json"
    return _page(f"{plot.title} · compare · plotserve", body, crumb=crumb, json_url=json_url, head=head)


def comparison_json(plot: Plot, comparison: Comparison, limits: Limits) -> dict:
    """A comparison's JSON twin: the plot, the varied parameter, and each picture's URL and values."""
    data = plot.describe()
    data["compare"] = comparison.name
    data["errors"] = {COMPARE: comparison.error} if comparison.error else comparison.shared.errors
    data["views"] = [
        {
            "value": text,
            "page": _with_query(plot.name, request.canonical_query(plot)),
            "image": _with_query(f"{plot.name}.png", request.canonical_query(plot, image=True)),
            "values": {name: _shown_value(value, limits.data_dir.resolve()) for name, value in request.values.items()},
            "errors": request.errors,
            "missing": list(request.missing),
        }
        for text, request in zip(comparison.texts, comparison.requests, strict=True)
    ]
    return data


def error_page(status: int, message: str, root: str = "") -> bytes:
    """A small page for 4xx and 5xx answers that have no form to show."""
    title = f"{status} {http.HTTPStatus(status).phrase}"
    return _page(f"{title} · plotserve", ERROR_BODY.format(title=e(title), message=e(message), root=root), root=root)


def _shown_value(value, data_dir: pathlib.Path):
    """A value as JSON shows it: a file under the data directory by its path there, not the server's."""
    if isinstance(value, pathlib.PurePath) and value.is_relative_to(data_dir):
        return value.relative_to(data_dir).as_posix()
    if isinstance(value, FileSet):
        return [_shown_value(path, data_dir) for path in value]
    return _json_value(value)


def plot_json(plot: Plot, request: Request, limits: Limits, rendered: Rendered | None = None, failure: PlotFailed | None = None) -> dict:
    """A plot's JSON twin: its parameters, the values the query resolves to, and where each Axes
    is in the view's PNG (``axes_geometry``; empty when it was not drawn)."""
    data = plot.describe()
    data_dir = limits.data_dir.resolve()
    data["values"] = {name: _shown_value(value, data_dir) for name, value in request.values.items()}
    data["errors"] = request.errors
    data["missing"] = list(request.missing)
    query = request.canonical_query(plot, image=True)
    data["image"] = _with_query(f"{plot.name}.png", query)
    data["axes"] = rendered.axes if rendered is not None else []
    if failure is not None:
        data["render_error"] = str(failure)
    return data


# ==============================================================================================
# HTTP handler and server
# ==============================================================================================

STATIC = {
    "/-/static/plotserve.css": ("text/css; charset=utf-8", STYLESHEET.encode()),
    "/-/static/plotserve.js": ("text/javascript; charset=utf-8", PAGE_SCRIPT.encode()),
    "/-/static/favicon.svg": ("image/svg+xml", FAVICON.encode()),
    "/favicon.ico": ("image/svg+xml", FAVICON.encode()),  # browsers read the type, not the name
}
HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
CSP = (
    "default-src 'none'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
TOKEN_COOKIE = "plotserve_token"
CLASSIC_MODES = {"paramcheck": "", "plotpage": "", "plot": ".png"}
NO_SUCH_PLOT = "There is no such plot here. The index lists every plot."


@dataclasses.dataclass
class Response:
    """What a request gets: status, headers and body (HEAD sends all but the body)."""

    status: int
    body: bytes = b""
    content_type: str = HTML
    headers: dict = dataclasses.field(default_factory=dict)
    # A request held until a view changes: the transport waits for it (``PlotApp.finish``) or,
    # in the built-in server, parks the connection on a selector until it ends.
    held: "Held | None" = None

    def header_list(self) -> list[tuple[str, str]]:
        """Every header to send, the safety headers included, each fit for the wire."""
        headers = {
            "Content-Type": self.content_type,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            **self.headers,
        }
        if self.content_type == HTML:
            headers.setdefault("Content-Security-Policy", CSP)
            headers.setdefault("Cache-Control", "no-cache")
        if self.status != 304:
            headers["Content-Length"] = str(len(self.body))
        return [(name, _header_safe(value, 4000)) for name, value in headers.items()]


@dataclasses.dataclass
class HttpRequest:
    """One request as a transport hands it over; plotserve's request path reads nothing else."""

    method: str
    target: str  # the path and query as sent, percent-encoded
    headers: email.message.Message  # get() and get_all(), as http.server gives them
    client: str = ""  # the client's address
    version: str = "HTTP/1.1"  # the protocol the request line named
    # Whether the client has gone away (a held request lets go at once); a transport that cannot tell says no.
    gone: typing.Callable[[], bool] = lambda: False


def _internal_error() -> Response:
    """A bug in plotserve: logged, and answered 500."""
    print(f"plotserve: internal error:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
    return Response(500, error_page(500, "plotserve failed to answer this request; the server's log says why."))


# JSON safe wherever it lands, as Django's json_script writes it: inlined in an HTML page, a
# "</script>" in a title or an error cannot end the script. Outside strings JSON has none of these.
_JSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def json_bytes(data) -> bytes:
    """Every JSON text plotserve writes: indented, ``<``, ``>`` and ``&`` escaped as ``\\u003c``, ``\\u003e``, ``\\u0026``."""
    return json.dumps(data, indent=2, default=str).translate(_JSON_ESCAPES).encode()


def _json_response(data, status: int = 200) -> Response:
    return Response(status, json_bytes(data), JSON)


def refused_view(view: Request, refused: ParamsRefused) -> Request:
    """The view as the server's own check would have found it: with the fields the render process refused."""
    return dataclasses.replace(view, errors={**view.errors, **refused.errors}, status=refused.status)


def _stale_headers(rendered) -> dict:
    """How a stale picture says so: RFC 7234's Warning 110, and plotserve's own header for the page to show."""
    if not rendered.stale:
        return {}
    return {"Warning": '110 - "Response is Stale"', "X-Plotserve-Stale": "the renderers are busy: this is the last picture drawn"}


def _header_safe(text: str, limit: int = 200) -> str:
    """A message fit for a header value: one line, ASCII, short."""
    flat = " ".join(str(text).split())
    return flat.encode("ascii", "replace").decode()[:limit]


def _root(path: str) -> str:
    """The relative way from a path's folder back to plotserve's top: ``""`` at the top, ``../`` a level."""
    return "../" * max(0, path.count("/") - 1)


def _here(path: str, query: str = "") -> str:
    """A relative redirect target for a top-level path: ``/NAME`` is ``./NAME``, wherever plotserve is mounted."""
    return _with_query("./" + path.rpartition("/")[2], query)


@dataclasses.dataclass
class Held:
    """A request held until one of its views changes: the watch, and the answer to give once it ends."""

    watch: HeldWatch
    answer: typing.Callable[[str], Response]  # given how the hold ended: changed, timeout or gone


def hold_until_changed(
    app: "PlotApp", plot: Plot, request: Request, pairs, fmt: str, if_none_match: str | None
) -> tuple[str, HeldWatch | None]:
    """Hold an image request until its view's ETag is no longer the one the client has.

    Gives the ``X-Plotserve-Watch`` answer: "held" (the client may ask again at once: the view
    changed, the hold timed out, or it had changed already), "untracked" (no input file to
    watch: ask again on your period) or "full" (too many requests held: ask on your period),
    and the watch to wait on, if the request is held.
    A reload, good or failed, ends the hold too, so an open page hears of it.
    """
    etag = app.images.etag(plot, request, fmt)
    if etag is None:
        return "untracked", None
    if not _etag_matches(if_none_match, etag):
        return "held", None  # the client's picture is old already: no wait
    view, state = watched_view(app, plot, request, pairs, fmt)
    held = app.watcher.watch([(view, state, state())], request.wait)
    return ("full", None) if held is None else ("held", held)


def watched_view(app: "PlotApp", plot: Plot, request: Request, pairs, fmt: str) -> tuple[str, typing.Callable[[], typing.Hashable]]:
    """A view's name for the Watcher, and how to read its state: its ETag, and the reloads tried so far."""
    current = {"plot": plot, "request": request}

    def state():
        now = app.plots.get(plot.name)
        if now is None:
            return None
        if now is not current["plot"]:
            current["plot"], current["request"] = now, parse_query(now, pairs, app.limits)
        attempts = app.reloader.attempts if app.reloader else 0
        return app.images.etag(now, current["request"], fmt), attempts

    return f"{plot.name}.{fmt}?{request.canonical_query(plot, image=True)}", state


MAX_WATCHED_VIEWS = 200  # views in one /-/changes.json request: every live picture of a dozen tabs


def _watched_views(pairs) -> tuple[list[tuple[str, str]], str]:
    """The ``(view, etag)`` pairs of a ``/-/changes.json`` query, each ``view`` followed by its ``etag``; and a problem, or ""."""
    views: list[tuple[str, str]] = []
    for name, value in pairs:
        if name == "view":
            views.append((value.lstrip("/"), ""))
        elif name == "etag" and views and not views[-1][1]:
            views[-1] = (views[-1][0], value)
        elif name not in (WAIT, "token"):
            return [], f"{name}: not a parameter here; give view=URL&etag=ETAG for each picture"
    if not views:
        return [], "view: give the URL of at least one picture, each followed by etag=ITS_ETAG"
    if len(views) > MAX_WATCHED_VIEWS:
        return [], f"view: at most {MAX_WATCHED_VIEWS} pictures in one request, not {len(views)}"
    return views, ""


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the other end closed the connection (readable, and nothing to read)."""
    try:
        if hasattr(select, "poll"):  # select() cannot look at a socket numbered past 1023
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            readable = poller.poll(0)
        else:
            readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


_PREFIX = re.compile(r"/[A-Za-z0-9._~!$'()*+=:@%/-]{0,500}")


def mount_prefix(request: HttpRequest, base_url: str = "") -> str:
    """The path a proxy mounts plotserve at, without the last ``/``; ``""`` when it is not known.

    Relative URLs need no prefix; this is only for the few that must be absolute (the token
    cookie's Path). It is the proxy's ``X-Forwarded-Prefix``, else the path of ``--base-url``.
    It never decides access: a client that sends the header itself only narrows its own cookie.
    """
    for given in (request.headers.get("X-Forwarded-Prefix") or "", urllib.parse.urlsplit(base_url).path):
        given = given.strip()
        if given and not given.startswith("/"):
            given = "/" + given
        if _PREFIX.fullmatch(given):
            return given.rstrip("/") or "/"
    return ""


class PlotApp:
    """The plots, their renderer and cache, the access rules, and the one request path.

    ``respond(HttpRequest) -> Response`` decides every answer. ``PlotServer`` serves it with
    http.server; called as a WSGI application (``make_app``) it is served by gunicorn, waitress or
    any WSGI server. Both transports give the same answers to the same requests.
    """

    def __init__(
        self,
        sources: typing.Sequence[str] = (),
        *,
        handler_class: type | None = None,
        limits: Limits | None = None,
        workers: int | None = None,
        timeout: float = 30.0,
        cache_mb: float = 8.0,
        data_cache_mb: float | None = None,
        max_pending: int | None = None,
        start_method: str | None = None,
        worker_max_jobs: int = 10_000,
        worker_max_growth_mb: float = 256.0,
        max_memory_mb: float | None = None,
        token: str = "",
        allowed_hosts: typing.Iterable[str] = (),
        max_waiting: int = 64,
        reload: bool = False,
        quiet: bool = False,
        base_url: str = "",
    ):
        handler_class = handler_class or PlotRequestHandler
        self.base_url = base_url  # where a proxy publishes plotserve: only for URLs that must be absolute
        self.limits = limits or Limits()
        if data_cache_mb is not None:  # each render process's parsed frames: the workers get it with the limits
            self.limits = dataclasses.replace(self.limits, data_cache_bytes=int(data_cache_mb * 2**20))
        self.plots = within_data_dir(discover_plots(sources, handler_class), self.limits.data_dir)
        self.watcher = Watcher(max_waiting)
        self.token = token
        self.allowed_hosts = {name.lower() for name in allowed_hosts}
        workers = os.cpu_count() or 1 if workers is None else workers
        # How render processes start, here and again after a reload (forked then with the new code).
        self._new_renderer = functools.partial(
            WorkerPool,
            workers,
            sources,
            handler_class,
            self.limits,
            start_method=start_method,
            timeout=timeout,
            max_pending=max_pending,
            max_jobs=worker_max_jobs,  # a leak in plot code is caught by growth, or at worst by count
            max_growth=int(worker_max_growth_mb * 2**20),
            max_memory=default_max_memory(workers) if max_memory_mb is None else int(max_memory_mb * 2**20),
        )
        if workers > 0:
            self.renderer = self._new_renderer()
        else:
            self.renderer = InProcessRenderer(self.plots, self.limits, max_pending or 16)
        self.images = ImageService(self.plots, self.renderer, self.limits, int(cache_mb * 2**20))
        self.reloader = Reloader(sources, handler_class, self.plots, self.install, quiet=quiet) if reload and sources else None

    def close(self) -> None:
        """Answer the held requests, stop reloading, stop the render workers."""
        self.watcher.close()
        if self.reloader is not None:
            self.reloader.stop()
        self.renderer.close()

    # -- reloaded plots -----------------------------------------------------------------------------

    def install(self, plots: dict[str, Plot] | None) -> None:
        """Serve a reloaded set of plots; render processes are replaced, renders under way finish.

        None: a reload failed and the last good plots stay; pages waiting on their view hear of it.
        """
        if plots is not None:
            plots = within_data_dir(plots, self.limits.data_dir)
            old = self.renderer
            if isinstance(old, WorkerPool):
                self.renderer = self._new_renderer()  # forked from this process: the new code is loaded
                self.renderer.started += old.started
                threading.Thread(target=old.retire, name="plotserve-retire", daemon=True).start()
            else:
                old.plots = plots
            self.plots = self.images.plots = plots
            self.images.renderer = self.renderer
        self.watcher.poke()

    def source_error(self, plot: Plot | None = None) -> str:
        """Why the last reload failed, for the index (no plot) or for a page whose plot it affects; else ""."""
        if self.reloader is None or not self.reloader.error:
            return ""
        return self.reloader.error if plot is None or self.reloader.affects(plot) else ""

    def missing_plot(self, name: str) -> str:
        """The message of the 404 for a plot name: removed by a reload, or never here."""
        if self.reloader is not None and name in self.reloader.removed:
            return f"plot_{name} was removed from {self.reloader.removed[name]}; the index lists every plot."
        return NO_SUCH_PLOT

    def health(self) -> dict:
        """Counters for ``/-/health.json``: the renders and the cache, held requests, reloads."""
        reloader = self.reloader
        return {
            **self.images.health(),
            **self.watcher.health(),
            "threads": threading.active_count(),  # held requests cost none under the built-in server
            "reloads": reloader.reloads if reloader else 0,
            "source_error": reloader.error if reloader else "",
        }

    # -- the request path -----------------------------------------------------------------------

    def respond(self, request: HttpRequest) -> Response:
        """Decide the whole answer to a GET or HEAD, behind the one catch-all: a bug in plotserve is a logged 500."""
        try:
            if request.method not in ("GET", "HEAD"):
                return Response(405, error_page(405, "plotserve only answers GET and HEAD"), headers={"Allow": "GET, HEAD"})
            request, moved = self._within_base(request)
            return moved or self.check_access(request) or self._route(request)
        except Exception:
            return _internal_error()

    def _within_base(self, request: HttpRequest) -> tuple[HttpRequest, Response | None]:
        """A request for ``BASE/x`` served as one for ``/x``, where BASE is the path of ``--base-url``.

        For proxies that keep the prefix (code-server's ``/absproxy/9999/``): plotserve then answers
        at both ``/x`` and ``BASE/x``. ``BASE`` alone is redirected to ``BASE/``, where the
        relative URLs of the index lead on under the prefix.
        """
        base = urllib.parse.urlsplit(self.base_url).path.rstrip("/")
        path, mark, query = request.target.partition("?")
        if not base or not (path == base or path.startswith(base + "/")):
            return request, None
        if path == base:
            return request, Response(301, b"", headers={"Location": _with_query("./" + base.rpartition("/")[2] + "/", query)})
        return dataclasses.replace(request, target=path[len(base) :] + mark + query), None

    def _route(self, request: HttpRequest) -> Response:
        """Pick the route: an exact path from PATHS, a static asset, or ``/NAME`` plus a suffix from SUFFIXES."""
        url = urllib.parse.urlsplit(request.target)
        pairs, problem = split_query(url.query)
        pairs = [(name, value) for name, value in pairs if name != "token"]
        try:
            path = urllib.parse.unquote(url.path, errors="strict") if "%" in url.path else url.path
        except UnicodeDecodeError:
            return Response(400, error_page(400, "the path is not valid UTF-8", _root(url.path)))
        if problem:
            return self._unreadable_query(path, problem)
        if request.target.startswith("//"):  # http.server serves //x as /x (gh-87389): no plot's URL
            return Response(404, error_page(404, NO_SUCH_PLOT, _root(path)))
        if path in self.PATHS:
            return self.PATHS[path](self, pairs)
        if path in STATIC:
            content_type, body = STATIC[path]
            return Response(200, body, content_type, {"Cache-Control": "max-age=3600"})
        name, dot, suffix = path[1:].partition(".")
        plot = self.plots.get(name) if path.count("/") == 1 else None
        route = self.SUFFIXES.get(dot + suffix)
        if plot is None or route is None:
            return Response(404, error_page(404, self.missing_plot(name) if path.count("/") == 1 else NO_SUCH_PLOT, _root(path)))
        return route(self, request, plot, parse_query(plot, pairs, self.limits), pairs, suffix)

    def _index(self, pairs) -> Response:
        # A source that failed to reload, or what stops every plot from rendering, above the plots.
        error = self.source_error()
        problem = f"The plot code has an error; the last good version is still served: {error}" if error else ""
        problem = problem or _startup_problem(self.renderer)
        return self._classic_redirect(pairs) or Response(200, index_page(self.plots, self.limits, problem))

    def _index_json(self, pairs) -> Response:
        return _json_response({"plots": [plot.describe() for plot in self.plots.values()]})

    def _health(self, pairs) -> Response:
        return _json_response(self.health())

    def _classic_redirect(self, pairs) -> Response | None:
        """``/?mode=plot&graph=plot_NAME&...`` (the classic recipe's URLs) redirect to the new ones."""
        query = dict(pairs)
        if "mode" not in query:
            return None
        graph = query.get("graph", "")
        plot = self.plots.get(graph.removeprefix("plot_")) if graph.startswith("plot_") else None
        if query["mode"] not in CLASSIC_MODES or plot is None:
            return Response(404, error_page(404, "There is no such plot here."))
        rest = urllib.parse.urlencode([(k, v) for k, v in pairs if k not in ("mode", "graph")])
        return Response(301, b"", headers={"Location": _here(f"/{plot.name}{CLASSIC_MODES[query['mode']]}", rest)})

    def _unreadable_query(self, path: str, problem: str) -> Response:
        """400 for a query that cannot be decoded, in the form the URL asked for: image, JSON or page."""
        name, _, suffix = path[1:].partition(".")
        if path.count("/") == 1 and name in self.plots and suffix in IMAGE_FORMATS:
            body = error_image(f"plot_{name}: bad query", problem, suffix)
            return Response(400, body, IMAGE_FORMATS[suffix], {"X-Plotserve-Error": _header_safe(problem), "Cache-Control": "no-store"})
        if path.endswith(".json"):
            return _json_response({"errors": {"": problem}}, 400)
        return Response(400, error_page(400, problem, _root(path)))

    def _page(self, request: HttpRequest, plot: Plot, view: Request, pairs, suffix: str) -> Response:
        if comparing(pairs):
            return self._comparison(plot, pairs, as_json=False)
        if view.errors:
            return Response(view.status, plot_page(plot, view, self.limits, None, None))
        if any(name == FORM for name, _ in pairs):
            # A submitted form becomes the short URL of its view: the link to share or bookmark.
            return Response(303, b"", headers={"Location": _here(f"/{plot.name}", view.canonical_query(plot))})
        if view.missing:
            return Response(200, plot_page(plot, view, self.limits, None, None))
        source_error = self.source_error(plot)
        # The page answers at once: with the picture if it is drawn in a moment, else with a
        # placeholder while the render it started goes on (the image request joins it).
        outcome = self.images.prepare(plot, view, "png", PAGE_WAIT_SECONDS, client=request.client)
        if isinstance(outcome, ParamsRefused):
            return self._page(request, plot, refused_view(view, outcome), pairs, suffix)
        if isinstance(outcome, PlotFailed):
            headers = {"X-Plotserve-Error": _header_safe(outcome)}  # as on the image: a 5xx says whose fault it is
            if outcome.status == 503:
                headers["Retry-After"] = "2"
            return Response(outcome.status, plot_page(plot, view, self.limits, None, outcome, source_error), headers=headers)
        return Response(200, plot_page(plot, view, self.limits, outcome, None, source_error))

    def _plot_json(self, request: HttpRequest, plot: Plot, view: Request, pairs, suffix: str) -> Response:
        """The JSON twin, with its view's geometry: the PNG's render, from the cache when it is there."""
        if comparing(pairs):
            return self._comparison(plot, pairs, as_json=True)
        rendered = failure = None
        if not view.errors and not view.missing:
            try:
                rendered = self.images.get(plot, view, "png", client=request.client)
            except ParamsRefused as refused:
                view = refused_view(view, refused)
            except PlotFailed as error:
                failure = error
        data = plot_json(plot, view, self.limits, rendered, failure)
        if not view.errors and not view.missing:
            data.update(self.images.stalls.state(tracked_files(plot, view, self.limits)))
        return _json_response(data, view.status)

    def _comparison(self, plot: Plot, pairs, as_json: bool) -> Response:
        """A side-by-side page (or its JSON); a submitted form becomes the comparison's short URL."""
        comparison = parse_comparison(plot, pairs, self.limits)
        if as_json:
            return _json_response(comparison_json(plot, comparison, self.limits), comparison.status)
        if any(name == FORM for name, _ in pairs) and comparison.status == 200:
            return Response(303, b"", headers={"Location": _here(f"/{plot.name}", comparison.query(plot))})
        return Response(comparison.status, compare_page(plot, comparison, self.limits))

    def _image(self, request: HttpRequest, plot: Plot, view: Request, pairs, fmt: str) -> Response:
        content_type = IMAGE_FORMATS.get(fmt) or ANIMATION_FORMATS[fmt]
        failed_as = fmt if fmt in IMAGE_FORMATS else "png"  # a failure's picture: an animation's is a PNG
        size = (view.width, view.height, view.dpi)
        if view.errors or view.missing:
            message = "; ".join(f"{k or 'query'}: {v}" for k, v in view.errors.items()) or f"missing {', '.join(view.missing)}"
            status = view.status if view.errors else 400
            if WIDTH in view.errors or HEIGHT in view.errors or DPI in view.errors:
                size = (DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_DPI)
            body = error_image(f"plot_{plot.name}: bad parameters", message, failed_as, *size)
            headers = {"X-Plotserve-Error": _header_safe(message), "Cache-Control": "no-store"}
            return Response(status, body, IMAGE_FORMATS[failed_as], headers)
        if view.wait:
            return self._held_image(request, plot, view, pairs, fmt)
        if_none_match = request.headers.get("If-None-Match")
        try:
            rendered = self.images.get(plot, view, fmt, if_none_match, client=request.client)
        except ParamsRefused as refused:
            return self._image(request, plot, refused_view(view, refused), pairs, fmt)
        except PlotFailed as failure:
            body = error_image(f"plot_{plot.name} failed", f"{failure}\n\n{failure.details}", failed_as, *size)
            headers = {"X-Plotserve-Error": _header_safe(failure), "Cache-Control": "no-store"}
            if failure.status == 503:
                headers["Retry-After"] = "2"
            return Response(failure.status, body, IMAGE_FORMATS[failed_as], headers)
        if isinstance(rendered, NotModified):  # the image's own ETag, not the client's list back
            return Response(304, b"", content_type, {"ETag": rendered.etag, "Cache-Control": "no-cache", **_stale_headers(rendered)})
        headers = {
            "ETag": rendered.etag,
            "Cache-Control": "no-cache",
            "Last-Modified": email.utils.formatdate(rendered.rendered_at, usegmt=True),
            "X-Plotserve-Render-Ms": f"{rendered.seconds * 1000:.0f}",
            **_stale_headers(rendered),
        }
        if fmt != "png":
            headers["Content-Disposition"] = f'inline; filename="{plot.name}.{fmt}"'
        return Response(200, rendered.body, content_type, headers)

    def _held_image(self, request: HttpRequest, plot: Plot, view: Request, pairs, fmt: str) -> Response:
        """A ``_wait`` image request: held until its view changes, then answered as a conditional GET."""
        watch, held = hold_until_changed(self, plot, view, pairs, fmt, request.headers.get("If-None-Match"))
        name = plot.name

        def answer(outcome: str = "") -> Response:
            plot = self.plots.get(name)  # the code may have been reloaded meanwhile
            if plot is None:
                return Response(404, error_page(404, self.missing_plot(name)))
            response = self._image(request, plot, dataclasses.replace(parse_query(plot, pairs, self.limits), wait=0), pairs, fmt)
            response.headers["X-Plotserve-Watch"] = watch
            if self.source_error(plot):
                response.headers["X-Plotserve-Source-Error"] = _header_safe(self.source_error(plot), 1000)
            return response

        return Response(0, held=Held(held, answer)) if held is not None else answer()

    def _changes(self, pairs) -> Response:
        """``/-/changes.json?view=URL&etag=E&...``: held until one of the views' ETag is no longer the one given.

        One request for all the live pictures of a browser's tabs. Each ``view`` is an image URL
        relative to plotserve's top (``NAME.png?...``), followed by the ``etag`` the client shows.
        The answer lists every view with its ETag now, whether it changed while held, the error of
        the plot code if its last reload failed, and whether it is untracked (no file to watch: the
        client asks for it on its period).
        """
        views, problem = _watched_views(pairs)
        wait = next((value for name, value in pairs if name == WAIT), str(HOLD_SECONDS))
        try:
            seconds = float(wait)
            if not 0 <= seconds <= HOLD_SECONDS:
                raise ValueError
        except ValueError:
            problem = problem or f"{WAIT}: a number of seconds from 0 to {HOLD_SECONDS}"
        if problem:
            return _json_response({"errors": {"": problem}}, 400)
        states = [self._view_state(view) for view, _ in views]
        watched = [(name, state_of, state) for name, state_of, state in states if state_of is not None]
        # Held only while every client's picture is the one of now, and there is something to watch.
        current = all(
            state is not None and _etag_matches(etag, state[0])  # None: its plot went in a reload meanwhile
            for (_, etag), (_, state_of, state) in zip(views, states, strict=True)
            if state_of is not None
        )
        held = self.watcher.watch(watched, seconds) if watched and current and seconds else None
        full = bool(watched and current and seconds and held is None)

        def answer(outcome: str = "") -> Response:
            listed = []
            for (view, _), (_, state_of, state) in zip(views, states, strict=True):
                if state_of is None:  # not watched: untracked, or a problem the picture's own URL shows
                    listed.append({"view": view, "etag": None, "changed": False, **({"error": state} if state else {"untracked": True})})
                    continue
                now, plot = state_of(), self.plots.get(view.partition(".")[0])
                # A failed reload ends the hold too: the page shows its error, until a good one.
                error = self.source_error(plot) if plot is not None else ""
                listed.append({"view": view, "etag": now[0] if now else None, "changed": now != state, "source_error": error})
            return _json_response({"views": listed, "watch": "full" if full else "held"})

        return Response(0, held=Held(held, answer)) if held is not None else answer()

    def _view_state(self, view: str) -> tuple[str, typing.Callable | None, typing.Any]:
        """A watched view's name, how to read its state, and its state now; no reader for a view not to watch.

        With no reader, the state says why: None for a view with no tracked input, else the problem.
        """
        path, _, query = view.partition("?")
        name, _, fmt = path.partition(".")
        plot = self.plots.get(name)
        if plot is None or fmt not in IMAGE_FORMATS:
            return view, None, "no such picture"
        pairs, problem = split_query(query)
        pairs = [(key, value) for key, value in pairs if key not in ("token", WAIT)]
        request = parse_query(plot, pairs, self.limits)
        if problem or request.errors or request.missing:
            return view, None, problem or "bad parameters"
        if self.images.etag(plot, request, fmt) is None:
            return view, None, None
        key, state_of = watched_view(self, plot, request, pairs, fmt)
        return key, state_of, state_of()

    def finish(self, response: Response, gone: typing.Callable[[], bool] = lambda: False) -> Response:
        """The answer to a held request, waited for in this thread; any other answer as it is."""
        if response.held is None:
            return response
        return self.answer_held(response.held, self.watcher.wait(response.held.watch, gone))

    def answer_held(self, held: Held, outcome: str) -> Response:
        """The answer once a held request's watch has ended, behind the same catch-all as ``respond``."""
        try:
            return held.answer(outcome)
        except Exception:
            return _internal_error()

    def _drawn_data(self, request: HttpRequest, plot: Plot, view: Request, pairs, suffix: str) -> Response:
        """``/NAME.csv``: the data of every line the view's picture draws; the same query, ETags and 304s as the picture."""
        content_type = "text/csv; charset=utf-8"
        if view.errors or view.missing:
            message = "; ".join(f"{k or 'query'}: {v}" for k, v in view.errors.items()) or f"missing {', '.join(view.missing)}"
            headers = {"X-Plotserve-Error": _header_safe(message), "Cache-Control": "no-store"}
            return Response(view.status if view.errors else 400, f"{message}\n".encode(), "text/plain; charset=utf-8", headers)
        try:
            rendered = self.images.get(plot, view, DATA_FORMAT, request.headers.get("If-None-Match"), client=request.client)
        except PlotFailed as failure:
            headers = {"X-Plotserve-Error": _header_safe(failure), "Cache-Control": "no-store"}
            return Response(failure.status, f"{failure}\n\n{failure.details}".encode(), "text/plain; charset=utf-8", headers)
        if isinstance(rendered, NotModified):
            return Response(304, b"", content_type, {"ETag": rendered.etag, "Cache-Control": "no-cache"})
        headers = {"ETag": rendered.etag, "Cache-Control": "no-cache", "Content-Disposition": f'inline; filename="{plot.name}.csv"'}
        return Response(200, rendered.body, content_type, headers)

    # Routes, in one table: exact paths, then ``/NAME`` by its suffix.
    PATHS: typing.ClassVar[dict] = {
        "/": _index,
        "/index.html": _index,
        "/index.json": _index_json,
        "/-/health.json": _health,
        "/-/changes.json": _changes,
    }
    SUFFIXES: typing.ClassVar[dict] = {
        "": _page,
        ".json": _plot_json,
        ".png": _image,
        ".svg": _image,
        ".pdf": _image,
        ".gif": _image,  # an animation, moving (ANIMATION_FORMATS)
        ".webp": _image,
        ".csv": _drawn_data,
    }

    # -- access -----------------------------------------------------------------------------------

    def check_access(self, request: HttpRequest) -> Response | None:
        """None if the request may go on, else the refusal: a bad Host or target (400), a wrong
        Host (403), a request from another web site (403) or no token (403)."""
        problem = _host_problem(request)
        if problem:
            return Response(400, error_page(400, problem))
        host = _authority(request)
        if self.allowed_hosts and host and _host_name(host) not in self.allowed_hosts:
            return self._foreign_host(_host_name(host))
        if _from_another_site(request, host):
            return Response(403, error_page(403, "plotserve does not answer requests that other web sites make; open its pages yourself."))
        if not self.token:
            return None
        url = urllib.parse.urlsplit(request.target)
        pairs = split_query(url.query)[0]
        query_token = next((v for k, v in pairs if k == "token"), "")
        header = request.headers.get("Authorization", "")
        header_token = header[6:].strip() if header.lower().startswith("token ") else ""
        cookie_name, cookie_token = token_cookie(host), ""
        for part in request.headers.get("Cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == cookie_name:
                cookie_token = value
        if self._is_token(query_token):
            # Set the cookie, so links and images keep working, and drop the token from the address bar.
            rest = urllib.parse.urlencode([(k, v) for k, v in pairs if k != "token"])
            # Path: plotserve's own prefix when known, so other applications behind the same proxy
            # never see the token; else the browser's default, the folder of this (top-level) page.
            prefix = mount_prefix(request, self.base_url)
            cookie = f"{cookie_name}={self.token}; HttpOnly; SameSite=Strict" + (f"; Path={prefix}" if prefix else "")
            return Response(303, b"", headers={"Location": _here(url.path, rest), "Set-Cookie": cookie})
        if self._is_token(header_token) or self._is_token(cookie_token):
            return None
        return Response(403, error_page(403, "This server needs its token: open the URL it printed at start-up, which carries ?token=…"))

    def _foreign_host(self, name: str) -> Response:
        """403 for a Host this server does not answer to, naming it: proxies such as jupyter-server-proxy
        and code-server pass the browser's host name on, and the user has to allow it once."""
        message = (
            f"This server does not answer to the host name {name}. If you reach it through a proxy that passes "
            f"that name on (JupyterHub, code-server), start plotserve with --allow-host {name}."
        )
        return Response(403, error_page(403, message))

    def _is_token(self, given: str) -> bool:
        """Whether a client gave the right token, compared in constant time."""
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    # -- WSGI ---------------------------------------------------------------------------------------

    def __call__(self, environ: dict, start_response) -> list[bytes]:
        """The WSGI application (PEP 3333): the same request path as the built-in server."""
        headers = email.message.Message()
        for key, value in environ.items():
            if key == "HTTP_HOST":
                # A WSGI server joins repeated headers with commas, and a host name has none:
                # give each back, so the request path sees two Hosts and refuses them (400).
                for part in value.split(","):
                    headers["Host"] = part.strip()
            elif key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").title()] = value
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").title()] = environ[key]
        method = environ.get("REQUEST_METHOD", "GET")
        version = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
        request = HttpRequest(method, _wsgi_target(environ), headers, environ.get("REMOTE_ADDR", ""), version)
        # A held request waits in this worker thread: the WSGI server's worker class decides how many can.
        response = self.finish(self.respond(request))
        start_response(f"{response.status} {http.HTTPStatus(response.status).phrase}", response.header_list())
        return [] if method == "HEAD" or response.status == 304 else [response.body]


def _wsgi_target(environ: dict) -> str:
    """The request target as the client sent it, so both transports route the same bytes.

    gunicorn (``RAW_URI``) and waitress or uWSGI (``REQUEST_URI``) keep it; PATH_INFO has lost
    what decoding and clean-up took away (waitress turns ``//x`` into ``/x``). Mounted under a
    SCRIPT_NAME, or on a server that keeps no raw target, PATH_INFO is encoded again instead.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
    if raw.startswith("/") and not environ.get("SCRIPT_NAME"):
        return raw
    # PATH_INFO is decoded (as latin-1 bytes, PEP 3333): encode it again, as the client sent it.
    path = urllib.parse.quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/:@!$&'()*+,;=-._~") or "/"
    return _with_query(path, environ.get("QUERY_STRING", ""))


class PlotRequestHandler(http.server.BaseHTTPRequestHandler):
    """Serves plots; subclass it and add ``plot_*`` methods to serve them too.

    Routes: ``/`` index, ``/NAME`` page, ``/NAME.png|svg|pdf`` image, ``/NAME.json`` and
    ``/index.json`` parameters, ``/-/health.json`` counters, ``/-/static/`` page assets.
    The answers come from ``PlotApp.respond``; this class only carries them over http.server.
    """

    server_version = f"plotserve/{__version__}"
    protocol_version = "HTTP/1.1"
    # A request line without a version (HTTP/0.9, or garbage) is answered as 1.0: an HTTP/0.9
    # answer has no status line and no headers, so not even X-Content-Type-Options.
    default_request_version = "HTTP/1.0"
    timeout = 15  # seconds a client may keep a socket silent: slow or idle clients let go
    # Seconds from a request's first byte to the end of its headers, however the bytes trickle in:
    # a per-read time-out alone lets a client that sends one header line every 10 s hold its
    # connection for ever (slowloris).
    head_deadline = 10
    # Headers and body go out as two writes; with Nagle's algorithm on, a keep-alive client's
    # delayed ACK holds the body back 40 ms.
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, self.timeout))

    def do_GET(self):
        self._answer(send_body=True)

    def do_HEAD(self):
        self._answer(send_body=False)

    def _refuse_method(self):
        self._answer(send_body=True)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method  # noqa: N815

    def parse_request(self) -> bool:
        """http.server's request parsing, with a tighter limit on the request line."""
        if self._slot is not None and self._slot.evicted:
            self.close_connection = True  # let go for a newcomer: what was read may be half a request
            return False
        if len(self.raw_requestline) > MAX_REQUEST_LINE:
            self.requestline, self.request_version, self.command = "", "HTTP/1.0", ""
            self.close_connection = True
            self.send_error(414)
            return False
        if not super().parse_request():
            return False
        self.rfile.raw.end_head()
        self._phase("work")
        if self.headers.get("Content-Length") or self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # a body we will not read: never parse it as a request
        return True

    def _answer(self, send_body: bool) -> None:
        """Ask the app for the answer and write it; a client that went away is not an error."""
        # The target as sent: http.server has already turned //x into /x in self.path (gh-87389).
        target = self.requestline.split()[1]
        gone = functools.partial(_closed_by_peer, self.connection)
        request = HttpRequest(self.command, target, self.headers, self.client_address[0], self.request_version, gone)
        response = self.server.app.respond(request)
        if response.held is not None:
            parking = getattr(self.server, "parking", None)
            if parking is not None and not self._more_to_read():
                # Held without a thread: the selector answers it when its view changes; this thread is free.
                parking.park(_Parked(self.connection, self.client_address, self, response.held, send_body, not self.close_connection))
                self.parked = self.close_connection = True
                return
            response = self.server.app.finish(response, gone)
        self._phase("write")
        try:
            self.send_response(response.status)
            for name, value in response.header_list():
                self.send_header(name, value)
            self.end_headers()
            if send_body and response.status != 304:
                self.wfile.write(response.body)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    parked = False  # the connection went to the server's parking: this thread lets go of it

    def _more_to_read(self) -> bool:
        """Whether the client sent more than this request already (pipelined): read here, in this thread."""
        self.rfile.raw.paused = True
        try:
            return bool(self.rfile.peek(1))
        finally:
            self.rfile.raw.paused = False

    def response_bytes(self, response: Response, send_body: bool, keep_alive: bool) -> bytes:
        """The whole answer as it goes on the wire (for the parking, which writes it without this thread), logged."""
        lines = [f"{self.protocol_version} {response.status} {http.HTTPStatus(response.status).phrase}"]
        lines += [f"Server: {self.version_string()}", f"Date: {self.date_time_string()}"]
        lines += [f"{name}: {value}" for name, value in response.header_list()]
        if not keep_alive:
            lines.append("Connection: close")
        self.log_request(response.status, len(response.body))
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        return head + (response.body if send_body and response.status != 304 else b"")

    def send_error(self, code, message=None, explain=None):
        """Errors http.server raises itself (bad request lines, 414, 431): our page, no echoes."""
        self._phase("write")
        try:
            self.send_response(code)
            root = _root(urllib.parse.urlsplit(getattr(self, "path", "") or "/").path)  # unset when the line was unreadable
            body = error_page(code, http.HTTPStatus(code).description or "The request could not be read.", root)
            self.send_header("Content-Type", HTML)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def log_request(self, code="-", size="-"):
        """Log one line per answer, never the token; quiet with ``--quiet``."""
        if not getattr(self.server, "quiet", False):
            line = _without_token(self.requestline, getattr(self.server, "token", ""))
            self.log_message('"%s" %s %s', line, str(getattr(code, "value", code)), str(size))

    def log_error(self, format, *args):
        """Log an error, except the timeout of a socket that went quiet: that is a client done with it."""
        # http.server logs "Request timed out" when a keep-alive connection sits idle for
        # ``timeout`` seconds waiting for a next request that never comes: normal, not an error.
        if format.startswith("Request timed out"):
            return
        super().log_error(format, *args)

    _slot = None  # this connection's entry in the server's table, when the server keeps one

    def _phase(self, phase: str) -> None:
        """Say what the connection is doing: reading a request head, working on it, or writing."""
        if self._slot is not None:
            self._slot.phase, self._slot.since = phase, time.monotonic()
        if phase == "write":  # sendall's time-out bounds the whole write, not each piece of it
            with contextlib.suppress(OSError):
                self.connection.settimeout(self.timeout)

    def handle_one_request(self):
        self._slot = getattr(self.server, "connections", None) and self.server.connections.slot_of(self.request)
        self._phase("head")
        self.rfile.raw.start_head(self.head_deadline)
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True


def _without_token(requestline: str, token: str) -> str:
    """The request line for the log: every token masked, however its name or value is percent-encoded."""

    def mask(match: re.Match) -> str:
        name = urllib.parse.unquote_plus(match.group(1))
        return f"{match.group(1)}=…" if name.strip().lower() == "token" else match.group(0)

    line = re.sub(r"([^?&=\s]+)=([^?&\s]*)", mask, requestline)
    return line.replace(token, "…") if token else line


# RFC 3986 section 3.2.2: an IP literal in brackets, or a name (letters, digits, -._~ and
# percent-escapes; sub-delimiters are allowed there but no browser sends them), then a port in digits.
_HOST_HEADER = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%-]+)(:[0-9]{0,5})?")


def _absolute_target(target: str) -> urllib.parse.SplitResult | None:
    """The parts of an absolute-form request target (``GET http://host/path``), else None."""
    if target.startswith("/") or "://" not in target:
        return None
    return urllib.parse.urlsplit(target)


def _host_problem(request: HttpRequest) -> str:
    """Why the Host header or an absolute-form target cannot be read (RFC 9112 section 3.2), or ""."""
    hosts = request.headers.get_all("Host") or []
    if len(hosts) > 1:  # answer 400, do not pick one
        return "The request has more than one Host header."
    host = hosts[0].strip() if hosts else None
    if request.version != "HTTP/1.0" and not host:
        return "An HTTP/1.1 request needs a Host header naming this server."
    if host and not _HOST_HEADER.fullmatch(host):
        return "The Host header is not a host name with an optional port."
    absolute = _absolute_target(request.target)
    if absolute is not None and (absolute.scheme.lower() not in ("http", "https") or not _HOST_HEADER.fullmatch(absolute.netloc)):
        return "The request target is not an http URL of this server."
    return ""


def _authority(request: HttpRequest) -> str:
    """The host the request is for: an absolute-form target's (which overrides Host, RFC 9112 section 3.2.2), else Host."""
    absolute = _absolute_target(request.target)
    return absolute.netloc if absolute is not None else (request.headers.get("Host") or "").strip()


def _from_another_site(request: HttpRequest, host: str) -> bool:
    """Whether a web page on another site made the browser send this request: an image, a fetch, a form.

    Browsers say so in Sec-Fetch-Site (and in Origin when they send one). A top-level navigation
    (a link followed, a bookmark) is allowed: it is the user's own click, and it shows the page
    to the user rather than to the site.
    """
    headers = request.headers
    navigation = headers.get("Sec-Fetch-Mode", "") == "navigate" and headers.get("Sec-Fetch-Dest", "") == "document"
    if navigation:
        return False
    if headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
        return True
    origin = headers.get("Origin")
    if origin is None:
        return False
    origin_host = urllib.parse.urlsplit(origin.strip()).netloc.lower()
    return origin_host != host.lower()  # "null" (a sandboxed or file page) has no host: foreign too


def token_cookie(host: str) -> str:
    """The token cookie's name for a Host (``plotserve_token_9999``): one per port.

    Browsers send a host's cookies to every port on it; a name per port keeps two plotserves on
    one machine from overwriting each other's, and the port is the one the browser used, proxy or not.
    """
    port = host.rpartition(":")[2] if not host.endswith("]") and ":" in host else "80"
    return f"{TOKEN_COOKIE}_{port if port.isdigit() else '80'}"


def _host_name(header: str) -> str:
    """The name in a Host header, without the port: ``[::1]:9999`` gives ``::1``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    return header.rpartition(":")[0] if ":" in header else header


def _is_loopback(host: str) -> bool:
    try:
        return host in LOOPBACK_HOSTS or any(
            info[4][0].startswith("127.") or info[4][0] == "::1" for info in socket.getaddrinfo(host, None)
        )
    except OSError:
        return False


class _DeadlineReader(io.RawIOBase):
    """A socket read with a deadline for the whole request head, not just for each recv.

    The deadline starts with the request's first byte: until then a keep-alive connection waits
    for its next request as long as the idle time-out allows.
    """

    def __init__(self, sock: socket.socket, idle: float | None):
        self.sock, self.idle = sock, idle
        self.head_seconds: float | None = None  # for the head that is being read, once it starts
        self.deadline: float | None = None
        self.paused = False  # read nothing more from the socket: look only at what is buffered

    def start_head(self, seconds: float) -> None:
        """A new request head is awaited: it will have ``seconds`` from its first byte."""
        self.head_seconds, self.deadline = seconds, None

    def end_head(self) -> None:
        """The head has been read: no deadline for what follows."""
        self.head_seconds = self.deadline = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int | None:
        if self.paused:
            return None  # as a non-blocking read with nothing to read
        timeout = self.idle
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the request head took too long")
            timeout = left if timeout is None else min(timeout, left)
        self.sock.settimeout(timeout)
        count = self.sock.recv_into(buffer)
        if count and self.head_seconds is not None and self.deadline is None:
            self.deadline = time.monotonic() + self.head_seconds
        return count


@dataclasses.dataclass(eq=False)
class _Slot:
    """One open connection: who it is from and what it is doing since when."""

    sock: socket.socket
    client: str
    phase: str = "head"  # head (reading a request), work (answering it), write (sending the answer)
    since: float = dataclasses.field(default_factory=time.monotonic)
    evicted: bool = False


class ConnectionTable:
    """Open connections counted per client address, each address held to its share.

    A connection past a cap does not wait for a slow one to time out: it takes the slot of the
    connection that has spent longest reading its request or writing its answer (slowloris and
    slow readers), from its own address when that address is at its share, else from the
    address holding the most. A connection is slow once it has spent ``slow_after`` seconds at
    it: a normal client sends its request at once. When no connection is slow, a newcomer is refused.
    """

    slow_after = 1.0

    def __init__(self, limit: int, per_client: int):
        self.limit, self.per_client = limit, max(1, min(per_client, limit))
        self.lock = threading.Lock()
        self.slots: dict[socket.socket, _Slot] = {}
        self.by_client: dict[str, set[_Slot]] = collections.defaultdict(set)
        self.evictions = 0

    def admit(self, sock: socket.socket, client: str) -> bool:
        """Take a slot for a new connection, evicting a slow one if need be; False if none can be had."""
        with self.lock:
            victim = None
            if len(self.by_client[client]) >= self.per_client:
                victim = self._slowest(self.by_client[client])
                if victim is None:
                    return False
            elif len(self.slots) >= self.limit:
                busiest = max(self.by_client.values(), key=len)
                victim = self._slowest(busiest) or self._slowest(self.slots.values())
                if victim is None:
                    return False
            if victim is not None:
                victim.evicted = True
                self._drop(victim)
                self.evictions += 1
            slot = _Slot(sock, client)
            self.slots[sock] = slot
            self.by_client[client].add(slot)
        if victim is not None:
            with contextlib.suppress(OSError):  # wakes its thread: its read ends, or its write fails
                victim.sock.shutdown(socket.SHUT_RDWR)
        return True

    def _slowest(self, slots) -> _Slot | None:
        started = time.monotonic() - self.slow_after
        slow = [slot for slot in slots if slot.phase != "work" and slot.since < started]
        return min(slow, key=lambda slot: slot.since) if slow else None

    def _drop(self, slot: _Slot) -> None:
        if self.slots.get(slot.sock) is slot:
            del self.slots[slot.sock]
            self.by_client[slot.client].discard(slot)
            if not self.by_client[slot.client]:
                del self.by_client[slot.client]

    def slot_of(self, sock: socket.socket) -> _Slot | None:
        """The table's entry for a connection (None once it was evicted)."""
        with self.lock:
            return self.slots.get(sock)

    def release(self, sock: socket.socket) -> None:
        """Give a closed connection's slot back (nothing happens if it was evicted already)."""
        with self.lock:
            slot = self.slots.get(sock)
            if slot is not None:
                self._drop(slot)

    def __len__(self) -> int:
        with self.lock:
            return len(self.slots)


class _Parked:
    """A connection no thread serves: its held request, then its answer being written, then idle until the next."""

    def __init__(self, sock: socket.socket, client_address, handler: "PlotRequestHandler", held: Held, send_body: bool, keep_alive: bool):
        self.sock, self.client_address, self.handler, self.held = sock, client_address, handler, held
        self.send_body, self.keep_alive = send_body, keep_alive
        self.phase = "held"  # held (waiting for a change), write (sending the answer), idle (keep-alive), closed
        self.events = 0  # what the selector listens for on it
        self.out = memoryview(b"")
        self.deadline = math.inf  # for writing the answer, and for the next request to come


class Parking:
    """Connections parked on one selector instead of a thread each: held requests cost no thread.

    One thread runs the selector (the standard library's ``selectors``). A held request waits
    there until its watch ends; a client that closes its connection meanwhile ends it at once.
    Then one of a few answer threads makes the answer (a render, done once per change and shared
    by everyone waiting on the view), and the selector writes it out; a keep-alive connection then
    waits there for its next request, which goes back to a thread of its own. The answer threads
    are daemons, as the connection threads are: a plot that hangs never keeps the server from
    exiting. A step of the selector thread that fails costs its own connection, never the thread.
    """

    def __init__(self, server: "PlotServer", answer_threads: int = 8):
        self.server = server
        self.selector = selectors.DefaultSelector()
        self.wake_read, self.wake_write = socket.socketpair()
        for end in (self.wake_read, self.wake_write):
            end.setblocking(False)
        self.selector.register(self.wake_read, selectors.EVENT_READ)
        self.calls: collections.deque = collections.deque()  # for the selector thread to do, in order
        self.parked: dict[socket.socket, _Parked] = {}  # the selector thread's alone
        self.answers: queue.SimpleQueue = queue.SimpleQueue()  # (parked, outcome) to answer; None stops a thread
        self.answer_threads = answer_threads
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="plotserve-parking", daemon=True)
        self.thread.start()

    def __len__(self) -> int:
        return len(self.parked)

    def park(self, parked: _Parked) -> None:
        """Take a connection over from its thread, its held request waiting for its watch to end."""
        self._call(self._register, parked)
        parked.held.watch.add_done_callback(lambda watch: self._ended(parked, watch.result()))

    def close(self) -> None:
        """Close every parked connection and stop."""
        self.closed = True
        self._call(lambda: None)
        for _ in range(self.answer_threads):
            self.answers.put(None)

    # -- any thread: over to the selector's ------------------------------------------------------------

    def _call(self, function, *args) -> None:
        self.calls.append((function, args))
        with contextlib.suppress(OSError):  # a full wake-up pipe: the selector is awake already
            self.wake_write.send(b"\0")

    def _ended(self, parked: _Parked, outcome: str) -> None:
        """The watch ended (in the watcher's thread): answer in an answer thread, never in the watcher's."""
        if outcome == "gone" or self.closed:
            self._call(self._close, parked)
            return
        self.answers.put((parked, outcome))

    def _answering(self) -> None:
        while (work := self.answers.get()) is not None:
            if self.closed:
                self._call(self._close, work[0])
            else:
                self._answer(*work)

    def _answer(self, parked: _Parked, outcome: str) -> None:
        try:
            response = self.server.app.answer_held(parked.held, outcome)
            data = parked.handler.response_bytes(response, parked.send_body, parked.keep_alive)
        except Exception:  # never a connection left parked with no answer coming
            traceback.print_exc()
            self._call(self._close, parked)
            return
        self._call(self._write, parked, data)

    # -- the selector thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        # Started here, not by the server's constructor: a start does not wait for nine threads to run.
        for number in range(self.answer_threads):
            threading.Thread(target=self._answering, name=f"plotserve-answer-{number}", daemon=True).start()
        next_sweep = time.monotonic() + 1
        while not self.closed:
            for key, mask in self.selector.select(timeout=1.0):
                if key.fileobj is self.wake_read:
                    with contextlib.suppress(OSError):
                        self.wake_read.recv(65536)
                elif mask & selectors.EVENT_WRITE:
                    self._step(self._send, key.data)
                elif mask & selectors.EVENT_READ:
                    self._step(self._readable, key.data)
            while self.calls:
                function, args = self.calls.popleft()
                self._step(function, *args)
            now = time.monotonic()
            if now >= next_sweep:  # slow readers of an answer, and keep-alive connections gone quiet
                next_sweep = now + 1
                for parked in [parked for parked in self.parked.values() if parked.deadline < now]:
                    self._step(self._close, parked)
                watcher = self.server.app.watcher
                for parked in [
                    parked for parked in self.parked.values() if parked.phase == "held" and watcher.is_late(parked.held.watch, now)
                ]:
                    self._step(watcher.end_late, parked.held.watch)
        for parked in list(self.parked.values()):
            self._step(self._close, parked)
        self.selector.close()
        self.wake_read.close()
        self.wake_write.close()

    def _step(self, function, *args) -> None:
        """One step of the selector thread. One that fails is printed, and closes the connection it was for."""
        try:
            function(*args)
        except Exception:
            traceback.print_exc()
            for parked in args:
                if isinstance(parked, _Parked) and parked.phase != "closed":
                    self.parked.pop(parked.sock, None)
                    parked.phase = "closed"  # once: ending its watch below closes it no second time
                    with contextlib.suppress(Exception):
                        self.selector.unregister(parked.sock)
                    with contextlib.suppress(Exception):
                        self.server.app.watcher.cancel(parked.held.watch)
                    with contextlib.suppress(Exception):
                        self.server.finish_connection(parked.sock)

    def _listen(self, parked: _Parked, events: int) -> None:
        if events == parked.events:
            return
        if not events:
            self.selector.unregister(parked.sock)
        elif not parked.events:
            self.selector.register(parked.sock, events, parked)
        else:
            self.selector.modify(parked.sock, events, parked)
        parked.events = events

    def _register(self, parked: _Parked) -> None:
        try:
            parked.sock.setblocking(False)
        except OSError:  # closed meanwhile (evicted): the watch ends with the connection
            self.server.app.watcher.cancel(parked.held.watch)
            return
        self.parked[parked.sock] = parked
        self._listen(parked, selectors.EVENT_READ)  # to hear of a client that leaves

    def _readable(self, parked: _Parked) -> None:
        try:
            data = parked.sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if parked.phase == "held":
            self._listen(parked, 0)  # left, or sent its next request early: either way, nothing more to hear now
            if not data:
                self.server.app.watcher.cancel(parked.held.watch)  # its slot is free at once, not in 25 s
        elif not data:
            self._close(parked)
        else:  # the next request on a kept-alive connection: a thread of its own reads it
            self._forget(parked)
            try:
                parked.sock.setblocking(True)
                self.server.resume(parked.sock, parked.client_address)
            except Exception:
                self.server.finish_connection(parked.sock)

    def _write(self, parked: _Parked, data: bytes) -> None:
        if self.parked.get(parked.sock) is not parked:
            return  # closed meanwhile
        parked.phase, parked.out = "write", memoryview(data)
        parked.deadline = time.monotonic() + parked.handler.timeout
        self._send(parked)

    def _send(self, parked: _Parked) -> None:
        try:
            sent = parked.sock.send(parked.out)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._close(parked)
            return
        parked.out = parked.out[sent:]
        if parked.out:
            self._listen(parked, selectors.EVENT_WRITE)
        elif not parked.keep_alive:
            self._close(parked)
        else:  # idle until the next request, as long as a thread would wait for it
            parked.phase, parked.deadline = "idle", time.monotonic() + parked.handler.timeout
            slot = self.server.connections.slot_of(parked.sock)
            if slot is None:  # evicted for a newcomer
                self._close(parked)
                return
            slot.phase, slot.since = "head", time.monotonic()
            self._listen(parked, selectors.EVENT_READ)

    def _forget(self, parked: _Parked) -> None:
        if self.parked.get(parked.sock) is parked:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._listen(parked, 0)
            del self.parked[parked.sock]

    def _close(self, parked: _Parked) -> None:
        if self.parked.get(parked.sock) is parked or parked.phase == "held":
            self._forget(parked)
            parked.phase = "closed"
            self.server.finish_connection(parked.sock)


_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")
_WILDCARDS = ("0.0.0.0", "::", "")
_REFUSAL = b"Too many open connections; try again soon.\n"
_TOO_MANY_CONNECTIONS = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 2\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_REFUSAL), _REFUSAL)
)


def _raise_open_files(wanted: int) -> None:
    """Let this process open ``wanted`` files (a socket each), as far as the hard limit allows."""
    try:
        import resource  # not on Windows
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


class PlotServer(http.server.ThreadingHTTPServer):
    """The built-in HTTP server: a PlotApp served by http.server, one thread per connection at work;
    held requests and idle keep-alive connections after them wait on one selector (``Parking``)."""

    daemon_threads = True
    block_on_close = False
    # A burst of connections waits in the kernel's queue until accepted, and is then answered or
    # refused at once; with a short queue the kernel drops SYNs and clients wait seconds to retry.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int] = ("127.0.0.1", 0),
        sources: typing.Sequence[str] = (),
        *,
        handler_class: type = PlotRequestHandler,
        max_connections: int = 4096,
        max_connections_per_client: int | None = None,
        token: str | None = None,
        allow_hosts: typing.Sequence[str] = (),
        quiet: bool = False,
        **options,
    ):
        """``options`` are PlotApp's: limits, workers, timeout, cache_mb, data_cache_mb, max_pending, start_method, worker_max_*,
        max_memory_mb, max_waiting (default: three quarters of ``max_connections``), reload."""
        host = address[0]
        local = _is_loopback(host)
        # Bound to loopback, the Host check is what keeps other web pages out (DNS rebinding);
        # bound to anything else, the token is.
        token = (secrets.token_urlsafe(24) if token is None else token) if not local else (token or "")
        allowed = {name.lower() for name in allow_hosts}
        if local:
            allowed |= {*_LOOPBACK_NAMES, host.lower()}  # 127.0.0.2 too, as the URL printed names it
        elif allowed:
            allowed |= {host.lower(), socket.gethostname().lower()}
            if host in _WILDCARDS:  # the URL printed names loopback
                allowed |= set(_LOOPBACK_NAMES)
        self.quiet, self.local = quiet, local
        # One thread per open connection; one address may hold half of them.
        self.connections = ConnectionTable(max_connections, max_connections_per_client or max(1, max_connections // 2))
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler_class)
        # Held requests are parked without a thread (``Parking``): they may take three quarters of
        # the connections, and the rest stay for everything else.
        options.setdefault("max_waiting", max_connections * 3 // 4)
        _raise_open_files(max_connections + 256)
        try:
            self.app = PlotApp(sources, handler_class=handler_class, token=token, allowed_hosts=allowed, quiet=quiet, **options)
        except BaseException:
            super().server_close()
            raise
        self.parking = Parking(self)

    # The app's state, as the server's own: tests, --get and subclasses read it here.
    plots = property(lambda self: self.app.plots)
    images = property(lambda self: self.app.images)
    watcher = property(lambda self: self.app.watcher)
    reloader = property(lambda self: self.app.reloader)
    renderer = property(lambda self: self.app.renderer)
    limits = property(lambda self: self.app.limits)
    token = property(lambda self: self.app.token)
    allowed_hosts = property(lambda self: self.app.allowed_hosts)

    @property
    def url(self) -> str:
        """The address to open on this machine, with the token where one is needed."""
        host, port = self.server_address[:2]
        # Every address means this machine's loopback too: the one address sure to work from here.
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/" + (f"?token={self.token}" if self.token else "")

    @property
    def public_url(self) -> str:
        """The address a proxy publishes plotserve at (``--base-url``, when a whole URL), with the token; else ``""``."""
        base = self.app.base_url
        if not urllib.parse.urlsplit(base).scheme:
            return ""
        return base.rstrip("/") + "/" + (f"?token={self.token}" if self.token else "")

    def process_request(self, request, client_address) -> None:
        """Serve a connection in a thread of its own, or refuse it with 503 when all slots are taken."""
        if not self.connections.admit(request, client_address[0]):
            with contextlib.suppress(OSError):
                request.settimeout(1.0)
                request.sendall(_TOO_MANY_CONNECTIONS)
                request.setblocking(False)
                request.recv(65536)  # closing with the request unread would reset the connection, answer and all
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.connections.release(request)  # no thread started: nothing else will give the slot back
            raise

    def process_request_thread(self, request, client_address) -> None:
        """Serve a connection until it closes, or until its held request is parked (the parking has it then)."""
        parked = False
        try:
            parked = self.RequestHandlerClass(request, client_address, self).parked
        except Exception:
            self.handle_error(request, client_address)
        finally:
            if not parked:
                self.finish_connection(request)

    def finish_connection(self, request) -> None:
        """Close a connection and give its slot back."""
        try:
            self.shutdown_request(request)
        finally:
            self.connections.release(request)

    def resume(self, request, client_address) -> None:
        """Serve a parked keep-alive connection's next request in a thread of its own (it has its slot already)."""
        http.server.ThreadingHTTPServer.process_request(self, request, client_address)

    def server_close(self) -> None:
        """Stop listening and stop the render workers."""
        super().server_close()
        # socketserver calls this when bind() fails, before there is an app: the OSError
        # must reach _bind (next port, or "cannot listen"), not an AttributeError from here.
        if hasattr(self, "app"):
            self.app.close()
        if hasattr(self, "parking"):
            self.parking.close()


def make_app(*sources: str, token: str | None = None, allow_hosts: typing.Sequence[str] = (), data_dir: str | None = None, **options):
    """A WSGI application that answers exactly as ``plotserve SOURCES`` does.

    ``gunicorn -w 4 'plotserve:make_app("myplots.py")'`` serves it. Renders run in the WSGI
    server's own worker processes (``workers=0`` unless given), so its time-out applies; ETags
    come from the content, so any worker or replica answers a revalidation with a 304.

    The token is ``token``, else the ``PLOTSERVE_TOKEN`` environment variable, else none: then
    only loopback host names are answered, as by ``plotserve`` on 127.0.0.1; with a token, any
    host name, as by ``plotserve --host 0.0.0.0``. ``allow_hosts`` names the host names to answer
    (loopback ones stay allowed); ``"*"`` among them allows any. Set a token when anyone else can
    reach the server.

    Live updates: ``max_waiting`` (default 0) requests may be held until their view changes, per
    process; ``reload=True`` reloads edited sources.
    """
    if not sources:
        sources = tuple(str(path) for path in sorted(examples_dir().glob("*.py")) if not path.name.startswith("_"))
    if data_dir is not None:
        options["limits"] = Limits(data_dir=pathlib.Path(data_dir).resolve())
    token = os.environ.get("PLOTSERVE_TOKEN", "") if token is None else token
    allowed = {name.lower() for name in allow_hosts}
    if allowed or not token:  # with a token and no names, any host name, as plotserve --host 0.0.0.0
        allowed |= set(_LOOPBACK_NAMES)
    if "*" in allowed:
        allowed = set()  # every host name: the proxy in front checks them
    options.setdefault("workers", 0)
    # A sync worker held for 25 s serves nobody else: no held requests unless asked for (pages go by
    # their period); with threads to spare, max_waiting=N below the thread count pushes changes.
    options.setdefault("max_waiting", 0)
    return PlotApp(sources, token=token, allowed_hosts=allowed, **options)


# ==============================================================================================
# Command line
# ==============================================================================================


def _bind(host: str, port: int | None, **options) -> PlotServer:
    """A server on the given port, or on the next free one from 9999 when no port was given."""
    if port is not None:
        try:
            return PlotServer((host, port), **options)
        except OSError as error:
            raise SystemExit(f"plotserve: cannot listen on {host}:{port}: {error.strerror or error}") from None
    for candidate in range(DEFAULT_PORT, DEFAULT_PORT + 50):
        try:
            return PlotServer((host, candidate), **options)
        except OSError:
            continue
    raise SystemExit(f"plotserve: no free port between {DEFAULT_PORT} and {DEFAULT_PORT + 49}")


def examples_dir() -> pathlib.Path:
    """The example plots: ``plots/`` beside this file in a checkout, the installed ``plotserve_examples`` otherwise."""
    beside = HERE / "plots"
    if beside.is_dir():
        return beside
    spec = importlib.util.find_spec("plotserve_examples")
    if spec is not None and spec.submodule_search_locations:
        return pathlib.Path(next(iter(spec.submodule_search_locations)))
    return beside


def _examples(data_dir: str | None) -> tuple[list[str], pathlib.Path, tempfile.TemporaryDirectory | None]:
    """The example sources, and a data folder where their demo (a simulated training run) writes."""
    sources = [str(path) for path in sorted(examples_dir().glob("*.py")) if not path.name.startswith("_")]
    if data_dir is not None:
        return sources, pathlib.Path(data_dir), None
    folder = tempfile.TemporaryDirectory(prefix="plotserve-demo-")
    for source in sources:
        start_demo = getattr(load_source(source), "start_demo", None)
        if callable(start_demo):
            start_demo(pathlib.Path(folder.name))
    return sources, pathlib.Path(folder.name), folder


def get_url(server: PlotServer, url: str, timeout: float) -> tuple[int, bytes, str]:
    """Ask a running server for a URL over HTTP: (status, body, error message)."""
    import http.client

    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    path = url if url.startswith("/") else "/" + url
    connection.request("GET", path, headers={"Authorization": f"token {server.token}"} if server.token else {})
    answer = connection.getresponse()
    body = answer.read()
    message = answer.getheader("X-Plotserve-Error") or answer.reason
    connection.close()
    return answer.status, body, message


def ssh_tunnel(server: PlotServer, environ: typing.Mapping[str, str]) -> str:
    """The ``ssh -L`` command that brings a loopback-bound server started over SSH to the user's computer; else ``""``.

    ``SSH_CONNECTION`` is ``client_ip client_port server_ip server_port``: the server address is
    the one the user reached this machine at, so it is the one to tunnel through.
    """
    parts = environ.get("SSH_CONNECTION", "").split()
    if len(parts) != 4 or not server.local:
        return ""
    _, _, ssh_host, ssh_port = parts
    user = environ.get("USER") or environ.get("LOGNAME") or ""
    port = server.server_address[1]
    loopback = "[::1]" if ":" in server.server_address[0] else "127.0.0.1"
    return f"ssh -L {port}:{loopback}:{port}" + ("" if ssh_port == "22" else f" -p {ssh_port}") + f" {user + '@' if user else ''}{ssh_host}"


def _warn_empty_sources(sources: typing.Sequence[str], plots: dict[str, Plot]) -> None:
    """Say which sources gave no plot: a misspelt prefix or the wrong file is the usual reason."""
    found = {plot.source.partition(":")[0] for plot in plots.values()}
    for source in sources:
        if source_label(source) not in found and not is_data_source(source):
            print(
                f"plotserve: {source} has no plot_* functions (nor PlotRequestHandler subclasses with plot_* methods)",
                file=sys.stderr,
                flush=True,
            )


def print_plots(plots: dict[str, Plot]) -> None:
    """Print each plot and its parameters (``--list``)."""
    for plot in plots.values():
        print(f"/{plot.name}  {plot.summary}  [{plot.source}]")
        for param in plot.params:
            default = "required" if param.required else f"default {param.text(param.default) or 'None'}"
            bounds = ""
            if param.minimum is not None or param.maximum is not None:
                bounds = f", {param.minimum if param.minimum is not None else ''}..{param.maximum if param.maximum is not None else ''}"
            help_text = f"  {param.help}" if param.help else ""
            print(f"    {param.name}: {param.type_name} ({default}{bounds}){help_text}")


# plac reads these as the command line: (help, kind, short flag, type, choices).
CLI = {
    "port": ("port to listen on (default 9999, or the next free one); 0 picks any free port", "option", "p", int, None, "N"),
    "host": ("address to listen on (default 127.0.0.1: this machine only)", "option", "H", str, None, "ADDR"),
    "no_browser": ("do not open a web browser", "flag", "n"),
    "data_dir": ("folder whose files file parameters may name (default: the current folder)", "option", "d", str, None, "DIR"),
    "workers": ("render processes (default: one per core); 0 renders in the server process", "option", "w", int, None, "N"),
    "timeout": ("seconds one render may take (default 30)", "option", "t", float, None, "S"),
    "cache_mb": ("megabytes of rendered images to keep (default 8)", "option", "c", float, None, "MB"),
    "data_cache_mb": (
        "megabytes of parsed data files each render process keeps (default: an eighth of this machine's memory "
        "shared among the workers, at least 128)",
        "option",
        "C",
        float,
        None,
        "MB",
    ),
    # plac gives an option without a short flag only a one-dash name (-max-dpi): every option has one.
    "max_pixels": ("largest image, in megapixels (default 25)", "option", "M", float, None, "MP"),
    "max_dpi": ("highest dpi a request may ask for (default 600)", "option", "D", int, None, "N"),
    "max_file_mb": ("largest data file a file parameter may name, in MB (default 1024)", "option", "F", float, None, "MB"),
    "max_memory_mb": (
        "memory one render process may use, in MB (default: half of this machine's, shared among the workers); 0 for no limit",
        "option",
        "m",
        float,
        None,
        "MB",
    ),
    "start_method": ("how render processes start", "option", "S", str, ["fork", "spawn", "forkserver"], "METHOD"),
    "token": ("token clients must give; generated when --host is not loopback; '' for none", "option", "T", str, None, "TOKEN"),
    "allow_host": ("comma-separated host names the server may be reached by", "option", "A", str, None, "HOSTS"),
    "base_url": (
        "the address a proxy publishes plotserve at (https://host/team/plots/ or /team/plots/); pages need none: "
        "it is the printed address and the token cookie's path, and its path is served too, for proxies that keep it",
        "option",
        "B",
        str,
        None,
        "URL",
    ),
    "get": ("render this URL (e.g. '/NAME.png?x=1') to stdout or --output and exit", "option", "g", str, None, "URL"),
    "output": ("with --get, write the body to this file", "option", "o", str, None, "FILE"),
    "export": ("write the views to FILE.html, FILE.pdf (a page each) or DIR/ (image files) and exit", "option", "x", str, None, "TARGET"),
    "view": ("with --export, a view such as 'training?smooth=5' (repeatable; default: every plot)", "option", "V", str, None, "URL"),
    "format_": ("image format of an HTML or folder export", "option", "f", str, ["png", "svg"], "FMT"),
    "list_": ("list the plots and their parameters and exit", "flag", "l"),
    "quiet": ("do not log requests", "flag", "q"),
    "no_reload": ("do not reload the plots when their source files change", "flag", "r"),
    "sources": (
        "plot files (.py) or module names, or data files, folders of them or patterns (runs/*/metrics.csv) to see as logs; "
        "the examples in plots/ if none are given",
        "positional",
    ),
}


def main(
    port: int | None = None,
    host: str = "127.0.0.1",
    no_browser: bool = False,
    data_dir: str | None = None,
    workers: int | None = None,
    timeout: float = 30.0,
    cache_mb: float = 8.0,
    data_cache_mb: float | None = None,
    max_pixels: float = 25.0,
    max_dpi: int = 600,
    max_file_mb: float = 1024.0,
    max_memory_mb: float | None = None,
    start_method: str | None = None,
    token: str | None = None,
    allow_host: str = "",
    base_url: str = "",
    get: str | None = None,
    output: str | None = None,
    export: str | None = None,
    view: str = "",
    format_: str = "png",
    list_: bool = False,
    quiet: bool = False,
    no_reload: bool = False,
    *sources: str,
) -> None:
    """Serve plot_* functions as live web pages."""
    sources = list(sources)
    demo = None
    if not sources:
        sources, data_path, demo = _examples(data_dir)
    else:
        data_path = pathlib.Path(data_dir or ".")
        sources, data_path = _data_sources_within(sources, data_path, data_dir is None)
    if not data_path.is_dir():
        raise SystemExit(f"plotserve: no such data directory: {data_path}")
    limits = Limits(
        data_dir=data_path.resolve(),
        max_file_bytes=int(max_file_mb * 2**20),
        max_pixels=int(max_pixels * 1e6),
        max_dpi=max_dpi,
        data_cache_bytes=default_data_cache_bytes(workers) if data_cache_mb is None else int(data_cache_mb * 2**20),
    )
    if list_:
        plots = discover_plots(sources)
        _warn_empty_sources(sources, plots)
        print_plots(plots)
        return
    options = dict(
        sources=sources,
        limits=limits,
        workers=workers,
        timeout=timeout,
        cache_mb=cache_mb,
        start_method=start_method,
        max_memory_mb=max_memory_mb,
        quiet=quiet,
        base_url=base_url,
    )
    if export is not None:
        # write_export() is in the Exports section, after this one (STYLE.md: exports after the command line).
        options.pop("quiet")
        raise SystemExit(write_export(export, view.split() or None, format_, **options))
    if get is not None:
        server = PlotServer(("127.0.0.1", 0), **{**options, "workers": 0, "quiet": True})
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            status, body, message = get_url(server, get, timeout)
        except TimeoutError:
            status, body, message = 504, b"", f"no answer within the {timeout:g} s limit"
        finally:
            server.shutdown()
            server.server_close()
        if status != 200:
            print(f"plotserve: {get}: {status} {message}", file=sys.stderr)
            raise SystemExit(1)
        if output:
            pathlib.Path(output).write_bytes(body)
        else:
            sys.stdout.buffer.write(body)
            sys.stdout.flush()
        _exit_if_stalled(get, body)
        return
    if token == "":
        print(
            "plotserve: warning: --token '' turns authentication off: anyone who can reach this address can run your plots", file=sys.stderr
        )
    hosts = [name.strip() for name in allow_host.split(",") if name.strip()]
    server = _bind(host, port, token=token, allow_hosts=hosts, reload=not no_reload, **options)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    _warn_empty_sources(sources, server.plots)
    if port is None and server.server_address[1] != DEFAULT_PORT:
        print(
            f"plotserve: port {DEFAULT_PORT} is taken, so this server is on port {server.server_address[1]}: "
            f"a saved link or SSH tunnel to {DEFAULT_PORT} will not find it (--port N chooses one)",
            file=sys.stderr,
            flush=True,
        )
    print(f"plotserve: serving {plural(len(server.plots), 'plot')} on {server.url}", flush=True)
    if server.public_url:
        print(f"plotserve: published at {server.public_url}", flush=True)
    tunnel = ssh_tunnel(server, os.environ)
    if tunnel:
        print(f"plotserve: started over SSH; on your own computer run  {tunnel}  and open {server.url}", flush=True)
    if not no_browser:
        import webbrowser  # only to open the browser: not a cost of every start

        threading.Thread(target=webbrowser.open, args=(server.public_url or server.url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("plotserve: stopping", file=sys.stderr)
    finally:
        server.server_close()
        if demo is not None:
            demo.cleanup()


STALLED_EXIT = 3  # --get of a JSON twin whose view is stalled: for a cron job to notice a run that stopped


def _exit_if_stalled(url: str, body: bytes) -> None:
    """Exit with STALLED_EXIT when ``--get`` fetched a JSON twin that says its view is stalled."""
    if not urllib.parse.urlsplit(url).path.endswith(".json"):
        return
    with contextlib.suppress(ValueError, AttributeError):
        data = json.loads(body)
        if data.get("stalled"):
            print(f"plotserve: {url}: stalled: {quiet_for(data['no_change_seconds'])} (last change {data['last_change']})", file=sys.stderr)
            raise SystemExit(STALLED_EXIT)


def _data_sources_within(sources: list[str], data_path: pathlib.Path, chosen: bool) -> tuple[list[str], pathlib.Path]:
    """The data sources, and the data directory they are served from.

    With no ``--data-dir``, data sources outside the current folder make their common folder the
    data directory. Where the data directory is not the current folder, data sources are given
    as absolute paths, so that every process reads the same files whatever its own folder.
    """
    data = [source for source in sources if is_data_source(source)]
    if not data:
        return sources, data_path
    here = pathlib.Path.cwd()
    folders = [os.path.abspath(re.split(r"[*?[,]", source)[0] or ".") for source in data]
    if chosen and not all(pathlib.Path(folder).is_relative_to(here) for folder in folders):
        common = pathlib.Path(os.path.commonpath(folders))
        data_path = common if common.is_dir() else common.parent
        print(f"plotserve: serving data files from {data_path}", file=sys.stderr, flush=True)
    if data_path.resolve() != here.resolve():
        sources = [os.path.abspath(source) if is_data_source(source) else source for source in sources]
    return sources, data_path


def _gather_views(argv: list[str]) -> list[str]:
    """plac takes an option once: every ``--view URL`` (``-V URL``) becomes one ``--view`` of URLs
    separated by spaces, which a URL never holds (its spaces are %20 or +)."""
    views, rest, args = [], [], iter(argv)
    for arg in args:
        if arg == "--":
            rest += [arg, *args]
        elif arg in ("-V", "--view"):
            views.append(next(args, ""))
        elif arg.startswith("--view="):
            views.append(arg.removeprefix("--view="))
        elif arg.startswith("-V") and not arg.startswith("--"):
            views.append(arg[2:])
        else:
            rest.append(arg)
    return (["--view", " ".join(views)] if views else []) + rest


def cli() -> None:
    """The ``plotserve`` command."""
    try:
        # plac's core is all the command needs; the plac package would also import tkinter for its GUI monitor.
        try:
            import plac_core as plac
        except ModuleNotFoundError:
            import plac
    except ModuleNotFoundError:
        sys.exit(f"plotserve: plac is not installed for {sys.executable}: run  {sys.executable} -m pip install plac")
    try:
        plac.call(plac.annotations(**CLI)(main), _gather_views(sys.argv[1:]))
    except SourceError as error:
        sys.exit(f"plotserve: {error}")


# ==============================================================================================
# Exports
# ==============================================================================================

REPORT_STYLE = """\
.view { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; margin: 0 0 1.25rem; }
.view h2 { font-size: 1.2rem; margin: 0 0 0.2rem; }
.view img { display: block; max-width: 100%; height: auto; margin: 0.5rem 0; }
.view .url { font-size: 0.85rem; color: var(--muted); margin: 0 0 0.5rem; }
.view table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
.view th, .view td { text-align: left; padding: 0.15rem 0.8rem 0.15rem 0; vertical-align: top; }
.view th { color: var(--muted); font-weight: 600; }
.view .drawn { color: var(--muted); font-size: 0.8rem; margin: 0.3rem 0 0; }
.view .files a { color: var(--accent); margin-right: 0.6rem; }
"""

REPORT = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{style}</style>
</head>
<body>
<header><span class="brand">plotserve</span><span class="crumb">› {title}</span></header>
<main>
<h1>{title}</h1>
<p class="summary">{summary}</p>
{views}
</main>
</body>
</html>
"""

REPORT_VIEW = """\
<section class="view{failed}" id="{anchor}">
<h2>{title}</h2>
<p class="url"><code>{url}</code></p>
{summary}{description}{figure}
<table>{rows}</table>
<p class="drawn">{drawn}</p>
</section>"""


@dataclasses.dataclass
class ExportedView:
    """One view of an export: where it came from, and its images or why it has none."""

    url: str  # relative, as a user would open it: NAME?query
    plot: Plot | None = None
    request: Request | None = None
    images: dict = dataclasses.field(default_factory=dict)  # format -> Rendered
    error: str = ""
    details: str = ""

    @property
    def drawn(self) -> str:
        """When and how fast it was drawn, or that it failed."""
        if self.error or not self.images:
            return "not drawn: it failed"
        first = next(iter(self.images.values()))
        when = datetime.datetime.fromtimestamp(first.rendered_at).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        return f"drawn {when} in {first.seconds * 1000:.0f} ms"


def export_kind(target: str) -> str:
    """html, pdf or dir, from what ``--export`` names (a folder ends with / or already exists)."""
    if target.endswith(("/", os.sep)) or os.path.isdir(target):
        return "dir"
    suffix = pathlib.Path(target).suffix.lower()
    if suffix in (".html", ".htm"):
        return "html"
    if suffix == ".pdf":
        return "pdf"
    raise SystemExit(f"plotserve: --export takes FILE.html, FILE.pdf or a folder ending in /, not {target}")


def export_views(plots: dict[str, Plot], limits: Limits, urls: typing.Sequence[str] | None) -> list[ExportedView]:
    """The views to export: those the URLs name, or every plot that needs no parameter."""
    if not urls:
        views = []
        for plot in plots.values():
            request = parse_query(plot, [], limits)
            if request.missing or request.errors:
                needs = ", ".join(request.missing) or "other defaults"
                print(f"plotserve: export: {plot.name} left out: it needs {needs}", file=sys.stderr)
                continue
            views.append(ExportedView(plot.name, plot, request))
        return views
    views = []
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        name = parts.path.rstrip("/").rpartition("/")[2].partition(".")[0]
        view = ExportedView(url.lstrip("/"))
        view.plot = plots.get(name)
        pairs, problem = split_query(parts.query)
        pairs = [(k, v) for k, v in pairs if k != "token"]
        if view.plot is None:
            view.error = f"there is no plot {name!r}: the plots are {', '.join(plots) or 'none'}"
        elif problem:
            view.error = problem
        elif comparing(pairs):  # side by side: each of its pictures is a view
            comparison = parse_comparison(view.plot, pairs, limits)
            if comparison.error:
                view.error = comparison.error
            else:
                panels = [_with_query(name, request.canonical_query(view.plot, image=True)) for request in comparison.requests]
                views.extend(export_views(plots, limits, panels))
                continue
        else:
            view.request = parse_query(view.plot, pairs, limits)
            if view.request.errors or view.request.missing:
                problems = [f"{field or 'query'}: {message}" for field, message in view.request.errors.items()]
                view.error = "; ".join(problems) or f"missing {', '.join(view.request.missing)}"
            else:
                view.url = _with_query(view.plot.name, view.request.canonical_query(view.plot, image=True))
        views.append(view)
    return views


def render_views(app: PlotApp, views: list[ExportedView], formats: typing.Sequence[str]) -> None:
    """Draw every view in every format through the app's ImageService: in its worker pool, in
    parallel, with its time limit and cache; a failure is kept on its view."""

    def draw(view: ExportedView) -> None:
        for fmt in formats:
            try:
                view.images[fmt] = app.images.get(view.plot, view.request, fmt)
            except PlotFailed as failure:
                view.error, view.details = f"{failure.status}: {failure}", failure.details
                view.images.clear()
                return

    todo = [view for view in views if not view.error]
    parallel = max(1, getattr(app.renderer, "size", 1))
    with concurrent.futures.ThreadPoolExecutor(parallel, thread_name_prefix="plotserve-export") as pool:
        list(pool.map(draw, todo))


def _report_view(view: ExportedView, figure: str) -> str:
    """One view's section of a report: title, URL, description, picture or error, parameters, time."""
    plot, request = view.plot, view.request
    rows = []
    if plot is not None and request is not None:
        for param in plot.params:
            rows.append(f"<tr><th>{e(param.name)}</th><td>{e(request.texts.get(param.name, '')) or '<i>None</i>'}</td></tr>")
    if view.error:
        figure = f'<p class="problem">{e(view.error)}</p>'
        figure += f'<pre class="traceback">{e(view.details)}</pre>' if view.details else ""
    return REPORT_VIEW.format(
        failed=" failed" if view.error else "",
        anchor=e(re.sub(r"[^A-Za-z0-9_-]+", "-", view.url)),
        title=e(plot.title if plot else view.url),
        url=e(view.url),
        summary=f'<p class="summary">{e(plot.summary)}</p>' if plot and plot.summary else "",
        description=f'<p class="description">{e(plot.description)}</p>' if plot and plot.description else "",
        figure=figure,
        rows="".join(rows),
        drawn=e(view.drawn),
    )


def _report(title: str, views: list[ExportedView], figures: list[str]) -> str:
    failed = sum(bool(view.error) for view in views)
    summary = f"{len(views)} views" + (f", {failed} failed" if failed else "") + f", made {time.strftime('%Y-%m-%d %H:%M:%S %Z')}"
    sections = "\n".join(_report_view(view, figure) for view, figure in zip(views, figures, strict=True))
    return REPORT.format(title=e(title), style=STYLESHEET + REPORT_STYLE, summary=e(summary), views=sections or "<p>No views.</p>")


def _image_tag(view: ExportedView, src: str) -> str:
    return f'<img src="{e(src)}" alt="{e(view.plot.title)}">'  # no width and height: a plot may set its own size


def write_html_report(target: pathlib.Path, views: list[ExportedView], fmt: str) -> None:
    """One self-contained HTML file: the stylesheet inline, every picture a data: URI, no script."""
    figures = []
    for view in views:
        if view.error:
            figures.append("")
            continue
        data = base64.b64encode(view.images[fmt].body).decode()
        figures.append(_image_tag(view, f"data:{IMAGE_FORMATS[fmt]};base64,{data}"))
    target.write_text(_report(target.stem, views, figures), encoding="utf-8")


def _file_names(views: list[ExportedView]) -> list[str]:
    """A file name stem per view: the plot's name, and its query made safe where it has one."""
    names, taken = [], set()
    for view in views:
        stem = view.url.partition("?")[0] or "view"
        query = view.url.partition("?")[2]
        if query:
            slug = re.sub(r"[^A-Za-z0-9._=-]+", "_", urllib.parse.unquote_plus(query)).strip("_")
            if len(slug) > 60:
                slug = slug[:50] + "_" + hashlib.sha256(query.encode()).hexdigest()[:8]
            stem += "-" + slug
        stem = re.sub(r"[^A-Za-z0-9._=-]+", "_", stem).lstrip(".") or "view"
        unique, count = stem, 1
        while unique.lower() in taken:
            count += 1
            unique = f"{stem}-{count}"
        taken.add(unique.lower())
        names.append(unique)
    return names


def write_image_folder(folder: pathlib.Path, views: list[ExportedView], formats: typing.Sequence[str]) -> None:
    """Each view's image files in a folder, and an index.html that shows and links them."""
    folder.mkdir(parents=True, exist_ok=True)
    figures = []
    for view, stem in zip(views, _file_names(views), strict=True):
        if view.error:
            figures.append("")
            continue
        links = []
        for fmt in formats:
            name = f"{stem}.{fmt}"
            (folder / name).write_bytes(view.images[fmt].body)
            links.append(f'<a href="{e(urllib.parse.quote(name, safe="="))}">{fmt.upper()}</a>')
        figure = _image_tag(view, urllib.parse.quote(f"{stem}.{formats[0]}", safe="="))
        figures.append(f'{figure}<p class="files">{" ".join(links)}</p>')
    (folder / "index.html").write_text(_report(folder.resolve().name, views, figures), encoding="utf-8")


def write_pdf_report(target: pathlib.Path, views: list[ExportedView]) -> None:
    """One PDF page per view, drawn as vectors by matplotlib's PdfPages; a failed view gets a page saying why."""
    from matplotlib.backends.backend_pdf import PdfPages

    with PdfPages(target, metadata={"Title": target.stem, "Creator": "plotserve", "CreationDate": None}) as pdf:
        for view in views:
            if view.error:
                figure = Figure(figsize=(DEFAULT_WIDTH, DEFAULT_HEIGHT))
                message = "\n".join(textwrap.fill(line, 100) for line in f"{view.error}\n\n{view.details}".splitlines()[-30:])
                figure.text(0.04, 0.94, f"{view.url}: failed", color="#b00020", fontsize=13, weight="bold", va="top")
                figure.text(0.04, 0.86, message, fontsize=7, family="monospace", va="top")
            else:
                # Pickled by the render process that drew it, which runs the same trusted plot code.
                figure = pickle.loads(view.images[FIGURE_FORMAT].body)  # noqa: S301
                figure.text(0.005, 0.005, f"{view.url} · {view.drawn}", fontsize=6, color="#5d6878", va="bottom")
            pdf.savefig(figure)
            pyplot = _pyplot()
            if pyplot is not None and figure in map(pyplot.figure, pyplot.get_fignums()):
                pyplot.close(figure)  # a pyplot figure comes back registered with pyplot


def write_export(target: str, urls: typing.Sequence[str] | None, fmt: str = "png", **options) -> int:
    """Write the views to ``target`` (FILE.html, FILE.pdf or DIR/) and say which failed: 0 if none did, else 1.

    ``options`` are PlotApp's: the renders run in its worker pool, with its limits, as a server's do.
    """
    kind = export_kind(target)
    app = PlotApp(**options)
    try:
        views = export_views(app.plots, app.limits, urls)
        formats = {"html": [fmt], "pdf": [FIGURE_FORMAT], "dir": ["png", "svg"] if fmt == "svg" else ["png"]}[kind]
        render_views(app, views, formats)
    finally:
        app.close()
    path = pathlib.Path(target)
    if kind == "html":
        write_html_report(path, views, fmt)
    elif kind == "pdf":
        write_pdf_report(path, views)
    else:
        write_image_folder(path, views, formats)
    failed = [view for view in views if view.error]
    for view in failed:
        print(f"plotserve: export: {view.url} failed: {view.error}", file=sys.stderr)
    shown = str(path / "index.html") if kind == "dir" else str(path)
    print(f"plotserve: wrote {shown}: {len(views)} views" + (f", {len(failed)} failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    cli()
