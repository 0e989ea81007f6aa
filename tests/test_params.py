"""Rich parameters over real HTTP: inputs, parsing, validation, the data directory, formats,
the JSON twins, thumbnails, classic URLs, errors and escaping, and concurrent pyplot renders."""

import concurrent.futures
import contextlib
import dataclasses
import datetime
import html.parser
import json
import os
import pathlib
import stat
import sys
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from conftest import ROOT, running_server

import plotserve

KINDS = str(ROOT / "tests" / "sources" / "kinds.py")
GALLERY = str(ROOT / "plots" / "gallery.py")
EXAMPLE_PLOTS = ["heatmap", "histogram", "scatter", "spectrum", "training", "wave"]
SCRIPT = "<script>alert(1)</script>"


# -- a small HTML tree, to read pages the way a browser would ----------------------------------

VOID = {"input", "img", "meta", "link", "br", "hr", "source"}


@dataclasses.dataclass
class Node:
    tag: str
    attrs: dict
    children: list = dataclasses.field(default_factory=list)
    parent: "Node | None" = None

    @property
    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text for child in self.children)

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs) -> list["Node"]:
        found = []
        for child in self.children:
            if isinstance(child, str):
                continue
            matches = (tag is None or child.tag == tag) and (cls is None or cls in child.classes())
            if matches and all(child.attrs.get(key.rstrip("_")) == value for key, value in attrs.items()):
                found.append(child)
            found.extend(child.find_all(tag, cls, **attrs))
        return found

    def find(self, tag: str | None = None, cls: str | None = None, **attrs) -> "Node | None":
        found = self.find_all(tag, cls, **attrs)
        return found[0] if found else None


class _TreeBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {name: "" if value is None else value for name, value in attrs}, parent=self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse_html(text: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def field(document: Node, name: str) -> tuple[Node, Node]:
    """(the field's div, its input or select) for a parameter of a plot page."""
    control = document.find(name=name)
    assert control is not None, f"no form control named {name!r}"
    div = control.parent
    while div is not None and "field" not in div.classes():
        div = div.parent
    assert div is not None, f"{name!r} is not inside a field"
    return div, control


def message_of(document: Node, name: str) -> str:
    div, _ = field(document, name)
    message = div.find(cls="message")
    return message.text if message is not None else ""


# -- every open() in this process, while a test listens ------------------------------------------

_opened: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _opened is not None and event in ("open", "os.listdir", "os.scandir") and args and args[0] is not None:
        with contextlib.suppress(TypeError):
            _opened.append(os.fsdecode(args[0]) if not isinstance(args[0], int) else f"fd {args[0]}")


sys.addaudithook(_audit)


def forbidden(touched: list[str], data: pathlib.Path) -> list[str]:
    """The touched paths that (symbolic links followed) leave the data directory for its
    neighbour ``outside`` or for /etc, or that are FIFOs (opening one would hang the server)."""
    data = data.resolve()
    found = []
    for path in touched:
        if path.startswith("fd "):
            continue
        real = pathlib.Path(os.path.realpath(path))
        leaves = real.is_relative_to(data.parent) and not real.is_relative_to(data)
        if leaves or real.is_relative_to("/etc") or (real.exists() and stat.S_ISFIFO(real.stat().st_mode)):
            found.append(path)
    return found


@contextlib.contextmanager
def files_touched():
    """Collect the paths this process opens or lists (the in-process server included)."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


# -- servers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> pathlib.Path:
    """A data directory with files, a folder, a FIFO and symbolic links in and out of it."""
    base = tmp_path_factory.mktemp("tree")
    data, outside = base / "data", base / "outside"
    (data / "sub").mkdir(parents=True)
    (data / "folder").mkdir()
    outside.mkdir()
    (data / "a.csv").write_text("1 2 3\n")
    (data / "sub" / "b.txt").write_text("4 5\n")
    (data / ".hidden.csv").write_text("0\n")
    (outside / "secret.txt").write_text("top secret\n")
    os.mkfifo(data / "fifo")
    os.mkfifo(outside / "secret.fifo")
    (data / "link_in").symlink_to(data / "a.csv")
    (data / "link_out").symlink_to(outside / "secret.txt")
    (data / "link_dir_out").symlink_to(outside, target_is_directory=True)
    return data


@pytest.fixture(scope="module")
def kinds(tree):
    """tests/sources/kinds.py in-process, uncached, so each request reaches the plot function."""
    with running_server(KINDS, workers=0, cache_mb=0, limits=plotserve.Limits(data_dir=tree)) as client:
        yield client


def received(client, plot: str) -> dict:
    """The keyword arguments of the latest call of a plot in kinds.py."""
    record = client.server.plots[plot].func.__globals__["RECEIVED"]
    calls = [values for name, values in record if name == plot]
    assert calls, f"plot_{plot} was never called"
    return calls[-1]


def in_data(relative: str):
    return lambda data: data.resolve() / relative


# plot, control (tag, attributes; None: must be absent), options of a select, good text,
# expected value (a function of the data directory where it depends on it), bad text, message.
KIND_CASES = [
    ("integer", "input", {"type": "number", "step": "1", "min": None}, None, "42", 42, "4.5", "expected a whole number"),
    ("floating", "input", {"type": "number", "step": "any"}, None, "-2.25", -2.25, "abc", "expected a number"),
    ("bounded_int", "input", {"type": "range", "min": "1", "max": "10", "step": "1"}, None, "7", 7, "11", "must be at most 10"),
    ("bounded_float", "input", {"type": "range", "min": "0", "max": "1", "step": "0.05"}, None, "0.25", 0.25, "-0.5", "must be at least 0"),
    ("annotated_types", "input", {"type": "range", "min": "-1", "max": "1", "step": "0.25"}, None, "0.75", 0.75, "2", "must be at most 1"),
    ("lower_bound", "input", {"type": "number", "min": "0", "max": None, "step": "1"}, None, "12", 12, "-1", "must be at least 0"),
    ("text", "input", {"type": "text"}, None, "a b & c", "a b & c", None, None),
    ("flag", "input", {"type": "checkbox", "value": "true", "checked": None}, None, "true", True, "maybe", "expected true or false"),
    ("literal", "select", {}, ["sine", "square"], "square", "square", "triangle", "must be one of: sine, square"),
    ("literal_int", "select", {}, ["1", "2", "4"], "4", 4, "3", "must be one of: 1, 2, 4"),
    ("color", "select", {}, ["RED", "GREEN", "BLUE"], "BLUE", "Color.BLUE", "PURPLE", "must be one of: RED, GREEN, BLUE"),
    ("day", "input", {"type": "date"}, None, "2024-02-29", datetime.date(2024, 2, 29), "2023-02-29", "expected a date as YYYY-MM-DD"),
    (
        "moment",
        "input",
        {"type": "datetime-local"},
        None,
        "2024-03-05T10:30",
        datetime.datetime(2024, 3, 5, 10, 30),
        "yesterday",
        "expected a date and time",
    ),
    ("ints", "input", {"type": "text"}, None, "3, 4,5", [3, 4, 5], "1, x", "item 2: expected a whole number"),
    ("floats", "input", {"type": "text"}, None, "0.5, 2", [0.5, 2.0], "1, 2, abc", "item 3: expected a number"),
    ("strings", "input", {"type": "text"}, None, "a, b c", ["a", "b c"], None, None),
    ("optional_int", "input", {"type": "number", "placeholder": None}, None, "", None, "five", "expected a whole number"),
    ("optional_float", "input", {"type": "number", "placeholder": None}, None, "", None, "1,5", "expected a number"),
    ("optional_choice", "select", {}, ["", "x", "y"], "", None, "z", "must be one of: x, y"),
    ("datafile", "select", {}, ["a.csv", "link_in", "sub/b.txt"], "sub/b.txt", in_data("sub/b.txt"), "missing.csv", "no such file"),
    ("untyped_int", "input", {"type": "number", "step": "1"}, None, "8", 8, "eight", "expected a whole number"),
    ("untyped_float", "input", {"type": "number", "step": "any"}, None, "1e-3", 0.001, "x", "expected a number"),
    ("untyped_bool", "input", {"type": "checkbox", "checked": ""}, None, "false", False, "2", "expected true or false"),
    ("untyped_list", "input", {"type": "text"}, None, "1, 2.5", [1.0, 2.5], "1;2", "item 1: expected a number"),
    ("untyped", "input", {"type": "text", "required": ""}, None, "anything", "anything", None, None),
]


def _expected(expected, data: pathlib.Path, client):
    if callable(expected):
        return expected(data)
    if expected == "Color.BLUE":
        return client.server.plots["color"].func.__globals__["Color"].BLUE
    return expected


def _same_value(actual, expected) -> None:
    if isinstance(actual, plotserve.DataFile):  # names the file the server opened; checked is where it was
        assert actual.name == expected.name and actual.parent == expected.parent
        actual = actual.checked
    assert actual == expected
    assert type(actual) is type(expected), f"{actual!r} is a {type(actual).__name__}, expected a {type(expected).__name__}"
    if isinstance(expected, list):
        assert [type(item) for item in actual] == [type(item) for item in expected]


@pytest.mark.parametrize("plot, tag, attrs, options, good, expected, bad, message", KIND_CASES, ids=[c[0] for c in KIND_CASES])
def test_each_type_gets_its_input(kinds, plot, tag, attrs, options, good, expected, bad, message):
    answer = kinds.get(f"/{plot}")
    assert answer.status == 200
    document = parse_html(answer.text)
    _, control = field(document, "value")
    assert control.tag == tag
    for name, value in attrs.items():
        if value is None:
            assert name not in control.attrs, f"{name} should not be set: {control.attrs}"
        else:
            assert control.attrs.get(name) == value, f"{name}: {control.attrs}"
    if options is not None:
        assert [option.attrs["value"] for option in control.find_all("option")] == options
    if control.attrs.get("type") == "range":  # the slider shows its value next to it
        assert document.find("output", for_=control.attrs["id"]) is not None


@pytest.mark.parametrize("plot, tag, attrs, options, good, expected, bad, message", KIND_CASES, ids=[c[0] for c in KIND_CASES])
def test_each_type_round_trips_to_the_function(kinds, tree, plot, tag, attrs, options, good, expected, bad, message):
    query = urllib.parse.urlencode({"value": good})
    answer = kinds.get(f"/{plot}.png?{query}")
    assert answer.status == 200, answer.headers.get("x-plotserve-error")
    answer.image()
    _same_value(received(kinds, plot)["value"], _expected(expected, tree, kinds))
    # The page shows the value as given, and a form submission of it comes back to the same view.
    page = parse_html(kinds.get(f"/{plot}?{query}").text)
    _, control = field(page, "value")
    if control.tag == "select":
        chosen = [option.attrs["value"] for option in control.find_all("option") if "selected" in option.attrs]
        assert chosen == ([good] if good else [])
    elif control.attrs["type"] == "checkbox":
        assert ("checked" in control.attrs) is expected
    else:
        assert control.attrs["value"] == good
    submitted = kinds.get(f"/{plot}?_form=1&{query}")
    assert submitted.status == 303
    location = submitted.headers["location"]
    assert location.startswith(f"./{plot}")  # relative: plotserve may be mounted under any prefix
    kinds.get(location.replace(f"./{plot}", f"/{plot}.png", 1))
    _same_value(received(kinds, plot)["value"], _expected(expected, tree, kinds))


@pytest.mark.parametrize(
    "plot, tag, attrs, options, good, expected, bad, message",
    [case for case in KIND_CASES if case[6] is not None],
    ids=[case[0] for case in KIND_CASES if case[6] is not None],
)
def test_each_type_refuses_a_bad_value_naming_the_field(kinds, plot, tag, attrs, options, good, expected, bad, message):
    query = urllib.parse.urlencode({"value": bad})
    answer = kinds.get(f"/{plot}?{query}")
    assert answer.status == 400
    document = parse_html(answer.text)
    assert message in message_of(document, "value")
    div, control = field(document, "value")
    assert "invalid" in div.classes()
    if control.tag == "input" and control.attrs["type"] != "checkbox":
        assert control.attrs["value"] == bad  # what was typed stays in the form
    assert "Correct the fields" in answer.text and 'id="plot"' not in answer.text
    image = kinds.get(f"/{plot}.png?{query}")
    assert image.status == 400
    assert image.headers["content-type"] == "image/png"
    image.image()
    assert "value" in image.headers["x-plotserve-error"] and message in image.headers["x-plotserve-error"]
    data = json.loads(kinds.get(f"/{plot}.json?{query}").body)
    assert message in data["errors"]["value"]


@pytest.mark.parametrize("text", ["true", "TRUE", "1", "yes", "on", "false", "False", "0", "no", "off", ""])
def test_bool_words(kinds, text):
    answer = kinds.get(f"/flag.png?value={text}")
    assert answer.status == 200
    _same_value(received(kinds, "flag")["value"], text.lower() in ("true", "1", "yes", "on"))


@pytest.mark.parametrize("text, expected", [("green", "GREEN"), ("RED", "RED")])
def test_enum_takes_names_and_values(kinds, text, expected):
    assert kinds.get(f"/color.png?value={text}").status == 200
    value = received(kinds, "color")["value"]
    assert value is getattr(kinds.server.plots["color"].func.__globals__["Color"], expected)


@pytest.mark.parametrize(
    "plot, text, expected",
    [("text", "", ""), ("ints", "", []), ("optional_float", "", None), ("optional_choice", "", None), ("strings", " , ", [])],
)
def test_an_emptied_field_reaches_the_function_empty(kinds, plot, text, expected):
    """Not the default: an empty value in the URL is a value (it used to be dropped on the way to the renderer)."""
    assert kinds.get(f"/{plot}.png?value={urllib.parse.quote(text)}").status == 200
    _same_value(received(kinds, plot)["value"], expected)


def test_worker_processes_get_the_same_values(kinds, tree):
    """The worker pool parses the query again in its own process: the picture (the repr of the
    values the plot received, drawn as text) matches the in-process one for every type."""
    with running_server(KINDS, workers=1, cache_mb=0, limits=plotserve.Limits(data_dir=tree)) as pool:
        for plot, *_, good, _expected_value, _bad, _message in KIND_CASES:
            path = f"/{plot}.png?{urllib.parse.urlencode({'value': good})}"
            here, there = kinds.get(path), pool.get(path)
            assert here.status == there.status == 200, (plot, there.headers.get("x-plotserve-error"))
            assert here.image().tobytes() == there.image().tobytes(), plot


# -- docstrings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plot, summary, description",
    [
        ("google", "Google-style help for each parameter.", "A longer description of the plot,\nover two lines."),
        ("numpy", "NumPy-style help for each parameter.", "The description, NumPy style."),
    ],
)
def test_docstring_help_is_shown_next_to_each_field(kinds, plot, summary, description):
    document = parse_html(kinds.get(f"/{plot}").text)
    assert document.find("p", cls="summary").text == summary
    assert document.find("p", cls="description").text == description
    helps = {name: field(document, name)[0].find(cls="help").text for name in ("count", "label")}
    assert helps == {"count": "How many things to draw.", "label": "Text under the things; continued on a second line."}
    data = json.loads(kinds.get(f"/{plot}.json").body)
    assert data["summary"] == summary and data["description"] == description
    assert {param["name"]: param["help"] for param in data["params"]} == helps
    assert "Returns" not in kinds.get(f"/{plot}").text  # other sections are not help


@pytest.mark.parametrize(
    "doc, summary, description, helps",
    [
        ("One line.", "One line.", "", {}),
        ("Summary.\n\n    Args:\n        a: First.\n        b (int): Second.\n    ", "Summary.", "", {"a": "First.", "b": "Second."}),
        (
            "Summary.\n\n    Rest of it.\n\n    Parameters\n    ----------\n"
            "    a : int\n        First,\n        twice.\n    b\n        Second.\n",
            "Summary.",
            "Rest of it.",
            {"a": "First, twice.", "b": "Second."},
        ),
        (
            "Summary.\n\n    Arguments:\n        *args: Ignored.\n        **kwargs: Also.\n",
            "Summary.",
            "",
            {"args": "Ignored.", "kwargs": "Also."},
        ),
        ("", "", "", {}),
        # A continuation line with "word:" in it is still the same parameter's help.
        (
            "S.\n\n    Args:\n        a: First line,\n            note: continues.\n        b: Second.\n",
            "S.",
            "",
            {"a": "First line, note: continues.", "b": "Second."},
        ),
        (
            "S.\n\n    Parameters\n    ----------\n    a : int\n        Note: continues.\n    b\n        Second.\n",
            "S.",
            "",
            {"a": "Note: continues.", "b": "Second."},
        ),
    ],
)
def test_parse_docstring(doc, summary, description, helps):
    assert plotserve.parse_docstring(doc) == (summary, description, helps)


# -- validation ------------------------------------------------------------------------------------

MANY_BAD = {
    "count": ("11", "must be at most 10"),
    "kind": ("c", "must be one of: a, b"),
    "day": ("2024-13-01", "expected a date as YYYY-MM-DD, got '2024-13-01'"),
    "ratio": ("abc", "expected a number, got 'abc'"),
    "ints": ("1,x", "item 2: expected a whole number, got 'x'"),
    "grid": ("maybe", "expected true or false, got 'maybe'"),
}


def test_every_bad_value_is_reported_at_once(kinds):
    query = urllib.parse.urlencode({name: text for name, (text, _) in MANY_BAD.items()} | {"note": "kept", "_refresh": "0"})
    answer = kinds.get(f"/many?{query}&extra=1&other=2")
    assert answer.status == 400
    document = parse_html(answer.text)
    for name, (text, message) in MANY_BAD.items():
        assert message in message_of(document, name), name
        div, control = field(document, name)
        assert "invalid" in div.classes()
        if control.tag == "input" and control.attrs["type"] not in ("checkbox",):
            assert control.attrs["value"] == text, name
    assert message_of(document, "note") == ""
    assert field(document, "note")[1].attrs["value"] == "kept"
    problems = " ".join(node.text for node in document.find_all("p", cls="problem"))
    assert "unknown parameters 'extra', 'other'" in problems
    data = json.loads(kinds.get(f"/many.json?{query}").body)
    assert set(data["errors"]) == {*MANY_BAD, "_refresh"}
    assert "between 1 and 86400" in data["errors"]["_refresh"]


def test_a_missing_required_value_asks_for_it(kinds):
    answer = kinds.get("/untyped")
    assert answer.status == 200
    assert "Fill in value to see the plot." in answer.text
    image = kinds.get("/untyped.png")
    assert image.status == 400 and "missing value" in image.headers["x-plotserve-error"]
    assert json.loads(kinds.get("/untyped.json").body)["missing"] == ["value"]


@pytest.mark.parametrize(
    "query, location",
    [
        ("_form=1&count=5&kind=a&day=2024-01-01&ratio=0.5&ints=1&grid=true&note=", "./many"),  # all defaults
        ("_form=1&count=5&kind=b&day=2024-01-01&ratio=0.5&ints=1&grid=true", "./many?kind=b"),
        ("_form=1&count=5&kind=a&day=2024-01-01&ratio=0.5&ints=1", "./many?grid=false"),  # unchecked box
        ("_form=1&count=7&ratio=2&grid=true&note=hi+there&_refresh=7", "./many?count=7&ratio=2&note=hi+there&_refresh=7"),
        ("_form=1&_refresh=5&ints=1%2C2", "./many?ints=1%2C2&grid=false"),
    ],
)
def test_a_form_submission_redirects_to_the_canonical_url(kinds, query, location):
    answer = kinds.get(f"/many?{query}")
    assert answer.status == 303
    assert answer.headers["location"] == location
    assert kinds.get(urllib.parse.urljoin("/many", location)).status == 200


def test_a_bad_form_submission_is_not_redirected(kinds):
    answer = kinds.get("/many?_form=1&count=0&grid=true")
    assert answer.status == 400
    assert "must be at least 1" in message_of(parse_html(answer.text), "count")


# -- the data directory ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, status, message",
    [
        ("../outside/secret.txt", 403, "outside the data directory"),
        ("sub/../../outside/secret.txt", 403, "outside the data directory"),
        ("link_out", 403, "outside the data directory"),
        ("link_dir_out/secret.txt", 403, "outside the data directory"),
        ("link_dir_out/secret.fifo", 403, "outside the data directory"),
        ("OUTSIDE_ABSOLUTE", 403, "outside the data directory"),
        ("/etc/passwd", 403, "outside the data directory"),
        ("http://example.com/a.csv", 403, "URLs"),
        ("file:///etc/passwd", 403, "URLs"),
        ("s3://bucket/a.csv", 403, "URLs"),
        ("simplecache::s3://bucket/a.csv", 403, "URLs"),
        ("\\\\server\\share\\a.csv", 403, "URLs"),
        ("~/a.csv", 403, "~ paths"),
        ("~root/.bashrc", 403, "~ paths"),
        ("folder", 400, "not a regular file"),
        ("fifo", 400, "not a regular file"),
        ("missing.csv", 400, "no such file"),
        ("../outside/missing.csv", 403, "outside the data directory"),  # never tells what exists outside
        ("a.csv\x00.png", 400, "give a file name"),
        ("", 400, "a value is required"),
    ],
)
def test_file_parameters_only_reach_files_under_the_data_directory(kinds, tree, text, status, message):
    text = text.replace("OUTSIDE_ABSOLUTE", str(tree.parent / "outside" / "secret.txt"))
    query = urllib.parse.urlencode({"value": text})
    calls = len(kinds.server.plots["datafile"].func.__globals__["RECEIVED"])
    with files_touched() as touched:
        page = kinds.get(f"/datafile?{query}")
        image = kinds.get(f"/datafile.png?{query}")
        data = kinds.get(f"/datafile.json?{query}")
    assert page.status == image.status == data.status == status
    assert message in message_of(parse_html(page.text), "value")
    assert message in json.loads(data.body)["errors"]["value"]
    image.image()
    assert len(kinds.server.plots["datafile"].func.__globals__["RECEIVED"]) == calls  # the plot never ran
    assert forbidden(touched, tree) == [], "a file outside the data directory, or a FIFO, was opened or listed"
    assert "top secret" not in page.text + data.text
    assert kinds.get("/datafile.png?value=a.csv").status == 200  # and the server keeps serving


@pytest.mark.parametrize(
    "text, relative", [("a.csv", "a.csv"), ("./sub/b.txt", "sub/b.txt"), ("sub/../a.csv", "a.csv"), ("link_in", "a.csv")]
)
def test_file_parameters_accept_files_under_the_data_directory(kinds, tree, text, relative):
    answer = kinds.get(f"/datafile.png?{urllib.parse.urlencode({'value': text})}")
    assert answer.status == 200
    value = received(kinds, "datafile")["value"]
    assert isinstance(value, pathlib.Path) and value.checked == tree.resolve() / relative


def test_an_absolute_path_inside_the_data_directory_is_accepted(kinds, tree):
    absolute = str(tree.resolve() / "sub" / "b.txt")
    assert kinds.get(f"/datafile.png?{urllib.parse.urlencode({'value': absolute})}").status == 200
    assert received(kinds, "datafile")["value"].checked == pathlib.Path(absolute)


def test_the_file_picker_lists_regular_files_under_the_data_directory_only(kinds, tree):
    with files_touched() as touched:
        document = parse_html(kinds.get("/survey").text)
    _, control = field(document, "log")
    assert control.tag == "select" and "required" in control.attrs
    assert [option.attrs["value"] for option in control.find_all("option")] == ["", "a.csv", "link_in", "sub/b.txt"]
    assert forbidden(touched, tree) == []


# -- image formats -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLE_PLOTS)
@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_svg_and_pdf_are_whole_documents(examples, name, fmt):
    answer = examples.get(f"/{name}.{fmt}")
    assert answer.status == 200
    assert answer.headers["content-type"] == plotserve.IMAGE_FORMATS[fmt]
    assert answer.headers["content-disposition"] == f'inline; filename="{name}.{fmt}"'
    if fmt == "svg":
        root = ET.fromstring(answer.body)  # noqa: S314 (our own server's output)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert len(root.findall(".//{http://www.w3.org/2000/svg}path")) > 10
    else:
        assert answer.body.startswith(b"%PDF-")
        assert answer.body.rstrip().endswith(b"%%EOF")
        assert b"/Type /Page" in answer.body


@pytest.mark.parametrize("path, query", [("/wave", "cycles=4&kind=square"), ("/spectrum", ""), ("/histogram", "n=200&density=true")])
def test_the_page_offers_downloads_and_a_2x_image(examples, path, query):
    name = path[1:]
    # Drawn already, so the page embeds the picture (a slower first render gets a placeholder).
    assert examples.get(f"{path}.png?{query}").status == 200
    document = parse_html(examples.get(f"{path}?{query}" if query else path).text)
    links = {link.attrs["download"]: link.attrs["href"] for link in document.find_all("a") if "download" in link.attrs}
    assert set(links) == {f"{name}.png", f"{name}.svg", f"{name}.pdf", f"{name}.csv"}  # the pictures, and the drawn data
    for filename, href in links.items():
        fmt = filename.rpartition(".")[2]
        target = urllib.parse.urlsplit(href)
        assert target.path == f"{name}.{fmt}"
        assert sorted(urllib.parse.parse_qsl(target.query)) == sorted(urllib.parse.parse_qsl(query))
        answer = examples.get(href)
        content_type = plotserve.IMAGE_FORMATS.get(fmt, "text/csv; charset=utf-8")
        assert answer.status == 200 and answer.headers["content-type"] == content_type
    img = document.find("img", id="plot")
    candidates = dict(reversed(item.strip().rsplit(" ", 1)) for item in img.attrs["srcset"].split(","))
    assert set(candidates) == {"1x", "2x"}
    assert candidates["1x"] == img.attrs["src"]
    assert dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(candidates["2x"]).query)) == dict(urllib.parse.parse_qsl(query), _dpi="200")
    one, two = examples.get(candidates["1x"]).image(), examples.get(candidates["2x"]).image()
    assert two.size == (2 * one.size[0], 2 * one.size[1])


def test_an_image_size_is_asked_for_in_the_query(examples):
    image = examples.get("/wave.png?_width=4&_height=3&_dpi=50").image()
    assert image.size == (200, 150)
    answer = examples.get("/wave.png?_dpi=5000")
    assert answer.status == 400 and "_dpi" in answer.headers["x-plotserve-error"]


# -- JSON twins ----------------------------------------------------------------------------------------

PARAM_KEYS = {"name", "type", "kind", "default", "required", "optional", "choices", "minimum", "maximum", "step", "help"}


def _check_plot_json(data: dict, plot: plotserve.Plot) -> None:
    assert {"name", "title", "summary", "description", "source", "page", "image", "json", "params"} <= set(data)
    assert data["name"] == plot.name and data["page"] == plot.name and data["json"] == f"{plot.name}.json"
    assert [param["name"] for param in data["params"]] == [param.name for param in plot.params]
    for param in data["params"]:
        assert set(param) >= PARAM_KEYS
        assert isinstance(param["required"], bool) and isinstance(param["optional"], bool)
        assert isinstance(param["type"], str) and isinstance(param["help"], str)
        assert param["choices"] is None or all(isinstance(choice, str) for choice in param["choices"])
        for bound in ("minimum", "maximum", "step"):
            assert param[bound] is None or isinstance(param[bound], (int, float))


def test_index_json_lists_every_plot(kinds, examples):
    for client in (kinds, examples):
        answer = client.get("/index.json")
        assert answer.status == 200 and answer.headers["content-type"] == "application/json; charset=utf-8"
        plots = json.loads(answer.body)["plots"]
        assert [plot["name"] for plot in plots] == list(client.server.plots)
        for data in plots:
            _check_plot_json(data, client.server.plots[data["name"]])


@pytest.mark.parametrize(
    "plot, query, param, values",
    [
        ("bounded_int", "value=7", {"type": "int", "kind": "int", "default": 5, "minimum": 1, "maximum": 10}, {"value": 7}),
        ("annotated_types", "", {"minimum": -1, "maximum": 1, "step": 0.25, "default": 0.0}, {"value": 0.0}),
        (
            "color",
            "value=GREEN",
            {"type": "Color", "kind": "choice", "choices": ["RED", "GREEN", "BLUE"], "default": "RED"},
            {"value": "GREEN"},
        ),
        ("literal_int", "value=2", {"choices": ["1", "2", "4"], "default": 1}, {"value": 2}),
        ("day", "value=2024-02-29", {"type": "date", "default": "2024-01-01", "required": False}, {"value": "2024-02-29"}),
        ("moment", "", {"type": "datetime", "default": "2024-01-01T12:00:00"}, {"value": "2024-01-01T12:00:00"}),
        ("ints", "value=3,4", {"type": "list[int]", "kind": "list", "default": [1, 2]}, {"value": [3, 4]}),
        ("optional_int", "", {"optional": True, "default": None, "required": False}, {"value": None}),
        ("untyped", "value=x", {"type": "str", "required": True, "default": None}, {"value": "x"}),
        ("untyped_bool", "value=no", {"type": "bool", "default": True}, {"value": False}),
        ("datafile", "value=sub/b.txt", {"type": "file", "kind": "path", "default": "a.csv"}, {"value": "sub/b.txt"}),
        ("google", "count=9", {"help": "How many things to draw."}, {"count": 9, "label": "x"}),
    ],
)
def test_plot_json_describes_parameters_and_resolved_values(kinds, tree, plot, query, param, values):
    answer = kinds.get(f"/{plot}.json?{query}")
    assert answer.status == 200
    data = json.loads(answer.body)
    _check_plot_json(data, kinds.server.plots[plot])
    first = data["params"][0]
    for key, value in param.items():
        assert first[key] == value, key
    assert data["values"] == values  # a data file by its path under the data directory, not the server's
    assert data["errors"] == {} and data["missing"] == []
    image = urllib.parse.urlsplit(data["image"])
    assert image.path == f"{plot}.png"
    assert urllib.parse.parse_qsl(image.query) == urllib.parse.parse_qsl(query)


@pytest.mark.parametrize(
    "path, twin",
    [
        ("/", "index.json"),
        ("/wave", "wave.json"),
        ("/wave?cycles=4&_refresh=7", "wave.json?cycles=4&_refresh=7"),
        ("/wave?cycles=x", None),
    ],
)
def test_html_pages_link_their_json_twin(examples, path, twin):
    answer = examples.get(path)
    links = parse_html(answer.text).find_all("link", rel="alternate", type="application/json")
    assert len(links) == 1
    href = links[0].attrs["href"]
    if twin is not None:
        assert href == twin
    twin_answer = examples.get(href)
    assert twin_answer.status == answer.status
    assert twin_answer.headers["content-type"] == "application/json; charset=utf-8"
    json.loads(twin_answer.body)


# -- the index ---------------------------------------------------------------------------------------


def test_the_index_shows_thumbnails_of_plots_that_render_with_defaults(examples):
    document = parse_html(examples.get("/").text)
    cards = {card.attrs["href"]: card for card in document.find_all("a", cls="card")}
    assert sorted(cards) == EXAMPLE_PLOTS
    page_size = examples.get("/wave.png").image().size
    for name, card in cards.items():
        img = card.find("img")
        assert img is not None, name
        src = urllib.parse.urlsplit(img.attrs["src"])
        assert src.path == f"{name}.png"
        assert {"_width", "_height", "_dpi"} <= dict(urllib.parse.parse_qsl(src.query)).keys()
        image = examples.get(img.attrs["src"]).image()
        assert image.size[0] < page_size[0] and image.size[1] < page_size[1], name
        if name in ("wave", "spectrum", "scatter", "training"):  # figures plotserve sizes
            assert image.size == (320, 200)


def test_the_index_has_no_thumbnail_for_plots_that_need_parameters(kinds):
    document = parse_html(kinds.get("/").text)
    cards = {card.attrs["href"]: card for card in document.find_all("a", cls="card")}
    assert sorted(cards) == sorted(kinds.server.plots)
    for name in ("untyped", "survey"):
        assert cards[name].find("img") is None
        assert "needs parameters" in cards[name].text
    assert cards["integer"].find("img") is not None


# -- classic URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, location",
    [
        ("mode=paramcheck&graph=plot_wave", "./wave"),
        ("mode=plotpage&graph=plot_wave&cycles=4&kind=square", "./wave?cycles=4&kind=square"),
        ("mode=plot&graph=plot_wave&cycles=4", "./wave.png?cycles=4"),
        ("mode=plot&graph=plot_heatmap&size=10", "./heatmap.png?size=10"),  # a handler method
        ("graph=plot_training&mode=plotpage", "./training"),
    ],
)
def test_classic_urls_redirect(examples, query, location):
    answer = examples.get(f"/?{query}")
    assert answer.status in (301, 302, 303, 307, 308)
    assert answer.headers["location"] == location
    assert examples.get(urllib.parse.urljoin("/", location)).status == 200


@pytest.mark.parametrize(
    "query",
    [
        "mode=plot&graph=do_GET",
        "mode=plot&graph=plot_nope",
        "mode=plotpage&graph=wave",
        "mode=plot&graph=",
        "mode=plot",
        "mode=other&graph=plot_wave",
    ],
)
def test_classic_urls_for_non_plots_are_404(examples, query):
    assert examples.get(f"/?{query}").status == 404
    assert examples.get("/").status == 200


# -- errors and escaping ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/nope.png",
        "/nope.json",
        "/WAVE",
        "/wave/",
        "/wave.bmp",
        "/wave.json.png",
        "/plot_wave",
        "/do_GET",
        "/-/nope",
        "/%2e%2e/etc/passwd",
    ],
)
def test_unknown_plots_are_404_and_the_server_keeps_serving(examples, path):
    answer = examples.get(path)
    assert answer.status == 404
    assert "no such plot" in answer.text
    assert examples.get("/wave.png?cycles=2").status == 200


@pytest.mark.parametrize(
    "client, path, needle", [("kinds", "/broken", "the plot failed: boom"), ("examples", "/wave?noise=-1", "noise must not be negative")]
)
def test_a_raising_plot_shows_its_traceback(request, client, path, needle):
    client = request.getfixturevalue(client)
    answer = client.get(path)
    assert answer.status == 500
    document = parse_html(answer.text)
    failure = document.find("div", id="failure")
    traceback = failure.find("pre", cls="traceback").text
    assert traceback.startswith("Traceback (most recent call last):")
    headline = failure.find("p", cls="headline").text
    assert needle in headline
    assert headline not in traceback  # said once, in the headline; the frames under it
    assert "plotserve.py" not in traceback  # the plot's frames, not the server's
    image_path = path.replace("?", ".png?") if "?" in path else path + ".png"
    image = client.get(image_path)
    assert image.status == 500
    assert image.headers["content-type"] == "image/png"
    assert needle in image.headers["x-plotserve-error"]
    picture = image.image().convert("RGB")
    colours = {colour: count for count, colour in picture.getcolors(1 << 20)}
    assert max(colours, key=colours.get) == (255, 245, 245)  # the error image's paper
    assert sum(count for colour, count in colours.items() if colour[0] > 120 and colour[1] < 60) > 50  # its red title
    assert client.get("/").status == 200
    assert client.get("/index.json").status == 200


PAYLOADS = [SCRIPT, '"><img src=x onerror=alert(1)>', "' onmouseover='alert(1)"]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(
    "template, status",
    [
        ("/text?value={q}", 200),
        ("/integer?value={q}", 400),
        ("/broken?message={q}", 500),
        ("/many?kind={q}&note={q}", 400),
        ("/text?{q}=1", 400),
        ("/color?value={q}", 400),
        ("/datafile?value={q}", None),
        ("/moment?value={q}", 400),
        ("/strings?value={q}", 200),
        ("/{q}", 404),
        ("/?mode=plot&graph={q}", 404),
    ],
)
def test_values_are_escaped_on_every_page(kinds, template, status, payload):
    answer = kinds.get(template.format(q=urllib.parse.quote(payload, safe="")))
    if status is not None:
        assert answer.status == status
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert payload not in answer.text
    for fragment in ("<script>alert", "<img src=x", "' onmouseover"):
        assert fragment not in answer.text
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert kinds.get("/integer.png?value=11").status == 200  # and the server keeps serving


def test_an_echoed_value_is_shown_escaped(kinds):
    for path in ("/text?value=", "/integer?value=", "/broken?message="):
        text = kinds.get(path + urllib.parse.quote(SCRIPT)).text
        assert html.escape(SCRIPT) in text or html.escape(repr(SCRIPT)) in text, path


# -- concurrent pyplot renders ---------------------------------------------------------------------


@pytest.mark.parametrize("workers", [0, 2])
def test_concurrent_pyplot_renders_match_serial_ones(workers):
    """plot_histogram draws on pyplot's global figure: concurrent renders must not mix."""
    queries = [f"/histogram.png?n={100 + 37 * i}&bins={5 + i}&seed={i}&density={'true' if i % 2 else 'false'}" for i in range(8)]
    with running_server(GALLERY, workers=workers, cache_mb=0) as client:
        serial = [client.get(query) for query in queries]
        before = client.health()
        with concurrent.futures.ThreadPoolExecutor(len(queries)) as pool:
            concurrent_answers = list(pool.map(client.get, queries))
        after = client.health()
    assert after["renders"] - before["renders"] == len(queries)  # each one drawn, none shared or cached
    assert after["shared_renders"] == before["shared_renders"] and after["cache_hits"] == 0
    for query, one, other in zip(queries, serial, concurrent_answers, strict=True):
        assert one.status == other.status == 200, query
        first, second = one.image(), other.image()
        assert first.size == second.size
        assert first.tobytes() == second.tobytes(), f"{query} drew differently when rendered concurrently"
    assert len({answer.image().tobytes() for answer in serial}) == len(queries)
    assert after["open_figures"] == 0  # pyplot's figures are closed after each render


def test_every_example_renders_the_same_with_and_without_workers(examples, inprocess):
    for name in EXAMPLE_PLOTS:
        if name == "training":
            continue  # the data directory's log is the same, but its path is drawn in the title either way
        assert examples.get(f"/{name}.png").image().tobytes() == inprocess.get(f"/{name}.png").image().tobytes(), name
