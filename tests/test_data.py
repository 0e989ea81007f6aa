"""DataFrame and Series parameters: files pandas reads from the data directory, parsed once per
file version in each render process, extended when a CSV only grew, and never spoilt by a plot.

What the plot saw is read from the X-Plotserve-Error header of plots that fail on purpose with a
summary of their frame (tests/sources/frames.py); how often a file was parsed from the render
processes' own counters in /-/health.json.
"""

import json
import os
import pathlib
import re
import urllib.parse

import pandas as pd
import pytest
from conftest import ROOT, running_server

import plotserve

FRAMES = str(ROOT / "tests" / "sources" / "frames.py")


def write_rows(path: pathlib.Path, start: int, stop: int, header: bool = True) -> None:
    with path.open("a" if not header else "w", newline="") as file:
        if header:
            file.write("step,loss\n")
        for step in range(start, stop):
            file.write(f"{step},{1 / (step + 1):.6f}\n")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> pathlib.Path:
    """A data directory with the same three-row table in every format pandas reads here, and others."""
    root = tmp_path_factory.mktemp("frames")
    frame = pd.DataFrame({"step": [1, 2, 3], "loss": [0.5, 0.25, 0.125]})
    frame.to_csv(root / "table.csv", index=False)
    frame.to_csv(root / "table.tsv", index=False, sep="\t")
    frame.to_json(root / "table.jsonl", orient="records", lines=True)
    frame.to_parquet(root / "table.parquet")
    frame.to_feather(root / "table.feather")
    frame.to_excel(root / "table.xlsx", index=False)
    (root / "dated.csv").write_text("when;value\n2024-01-01;1\n2024-01-03;2\n")
    (root / "notes.txt").write_text("not a table\n")
    (root / "README").write_text("no suffix\n")
    (root / "picture.png").write_bytes(b"\x89PNG")
    (root / ".hidden.csv").write_text("a\n1\n")
    (root / "sub").mkdir()
    (root / "sub" / "deep.csv").write_text("a,b\n1,2\n")
    (root / "broken.csv").write_bytes(b'a,b\n"1,2\n3,4\n')
    (root.parent / "outside.csv").write_text("a\n1\n")
    return root


@pytest.fixture(scope="module")
def frames(folder):
    with running_server(FRAMES, limits=plotserve.Limits(data_dir=folder), workers=1) as client:
        yield client


def seen(client, path: str) -> dict:
    """What the plot said it was given (it fails with a JSON summary as its message)."""
    answer = client.get(path)
    assert answer.status == 500, answer.headers
    return json.loads(answer.headers["x-plotserve-error"].removeprefix("ValueError: "))


def test_the_form_offers_only_files_pandas_reads(frames):
    page = frames.get("/lines").text
    select = re.search(r'<select id="field-data" name="data"[^>]*>(.*?)</select>', page).group(1)
    offered = re.findall(r'<option value="([^"]*)"', select)
    assert offered == [
        "",
        "broken.csv",
        "dated.csv",
        "table.csv",
        "table.feather",
        "table.jsonl",
        "table.parquet",
        "table.tsv",
        "table.xlsx",
        "sub/deep.csv",
    ]
    listed = json.loads(frames.get("/lines.json").body)["params"][0]
    assert (listed["kind"], listed["type"], listed["required"]) == ("table", "DataFrame", True)


@pytest.mark.parametrize("name", ["table.csv", "table.tsv", "table.jsonl", "table.parquet", "table.feather", "table.xlsx"])
def test_every_format_reaches_the_plot_as_a_frame(frames, name):
    summary = seen(frames, f"/echo.png?data={name}")
    assert summary["type"] == "DataFrame"
    assert (summary["rows"], summary["columns"], summary["first"], summary["last"]) == (3, ["step", "loss"], "1", "3")


def test_table_options_and_series(frames):
    dated = seen(frames, "/dated.png?data=dated.csv")
    assert dated["columns"] == ["value"] and dated["index"].startswith("datetime64") and dated["rows"] == 2
    column = seen(frames, "/column.png?data=table.csv")
    assert column["type"] == "Series" and column["columns"] == ["step"] and column["last"] == "3"


def test_a_drawn_frame_is_a_png(frames):
    answer = frames.get("/lines.png?data=table.csv")
    assert answer.status == 200
    image = answer.image()
    assert image.size == (800, 500) and len(image.convert("L").getcolors(65536)) > 2


@pytest.mark.parametrize(
    "value, status, message",
    [
        ("../outside.csv", 403, "outside the data directory"),
        ("/etc/passwd", 403, "outside the data directory"),
        ("http://127.0.0.1/table.csv", 403, "URLs, drive and network paths are not accepted"),
        ("~/table.csv", 403, "~ paths are not accepted"),
        ("missing.csv", 400, "no such file under the data directory"),
        ("notes.txt", 400, "pandas cannot read .txt files here"),
        ("README", 400, "pandas cannot read files without a suffix here"),
        ("sub", 400, "not a regular file"),
        ("", 400, "a value is required"),
    ],
)
def test_refused_files_name_the_field(frames, value, status, message):
    query = urllib.parse.urlencode({"data": value})
    page = frames.get(f"/echo?{query}")
    assert page.status == status
    assert message in page.text and "field invalid" in page.text
    image = frames.get(f"/echo.png?{query}")
    assert image.status == status and message in image.headers["x-plotserve-error"]
    assert frames.get(f"/echo.json?{query}").status == status


def test_a_file_pandas_cannot_parse_fails_that_render(frames):
    answer = frames.get("/lines.png?data=broken.csv")
    assert answer.status == 500
    assert "data: pandas could not read broken.csv" in answer.headers["x-plotserve-error"]
    assert frames.get("/lines.png?data=table.csv").status == 200  # and nothing else


def moved(before: dict, after: dict) -> dict:
    return {name: after[name] - before[name] for name in after if name.startswith("data_") and name in before}


def test_parsed_once_per_file_version(tmp_path):
    log = tmp_path / "log.csv"
    write_rows(log, 0, 500)
    with running_server(FRAMES, limits=plotserve.Limits(data_dir=tmp_path), workers=1) as client:
        before = client.health()
        for query in ("scale=1", "scale=2", "scale=3&_width=4", "scale=3&_dpi=50"):
            assert client.get(f"/lines.png?data=log.csv&{query}").status == 200
        assert client.get("/lines.svg?data=log.csv").status == 200
        assert client.get("/lines.pdf?data=log.csv&scale=9").status == 200
        change = moved(before, client.health())
        assert change["data_parses"] == 1 and change["data_hits"] == 5 and change["data_rows_parsed"] == 500
        assert client.health()["data_cache_entries"] == 1 and client.health()["data_cache_bytes"] > 0
        # A new version of the file (rewritten, not grown): parsed again, once.
        write_rows(log, 0, 400)
        os.utime(log, ns=(1, 1))
        assert seen(client, "/echo.png?data=log.csv")["rows"] == 400
        assert seen(client, "/echo.png?data=log.csv&tag=1")["rows"] == 400
        change = moved(before, client.health())
        assert change["data_parses"] == 2 and change["data_extensions"] == 0


def test_a_grown_csv_is_extended_by_its_new_rows_alone(tmp_path):
    log = tmp_path / "log.csv"
    write_rows(log, 0, 1000)
    with running_server(FRAMES, limits=plotserve.Limits(data_dir=tmp_path), workers=1) as client:
        first = client.get("/lines.png?data=log.csv")
        assert seen(client, "/echo.png?data=log.csv")["rows"] == 1000
        before = client.health()
        write_rows(log, 1000, 1010, header=False)
        summary = seen(client, "/echo.png?data=log.csv&tag=1")
        change = moved(before, client.health())
        assert change == {**change, "data_parses": 0, "data_extensions": 1, "data_rows_parsed": 10}
        # The same frame a full parse gives: rows, values and types.
        assert (summary["rows"], summary["last"], summary["dtypes"]) == (1010, "1009", ["int64", "float64"])
        # ... and the image saw the new rows too: its ETag moved.
        second = client.get("/lines.png?data=log.csv")
        assert second.headers["etag"] != first.headers["etag"]
        # A log grows again and again: each time by its new rows.
        for rows in (1020, 1030):
            write_rows(log, rows - 10, rows, header=False)
            assert seen(client, f"/echo.png?data=log.csv&tag={rows}")["rows"] == rows
        change = moved(before, client.health())
        assert change == {**change, "data_parses": 0, "data_extensions": 3, "data_rows_parsed": 30}
        # A half-written last line is read as a full parse reads it (not extended by half a row).
        with log.open("a") as file:
            file.write("1030,0.5")
        assert seen(client, "/echo.png?data=log.csv&tag=2")["rows"] == 1031
        assert moved(before, client.health())["data_parses"] == 1
        with log.open("a") as file:
            file.write("\n")
        assert seen(client, "/echo.png?data=log.csv&tag=3")["rows"] == 1031
        # A file whose start was rewritten and which grew is a new file, not a longer one.
        log.write_text(log.read_text().replace("\n0,", "\n7,", 1) + "1031,0.1\n")
        summary = seen(client, "/echo.png?data=log.csv&tag=4")
        assert (summary["rows"], summary["first"], summary["last"]) == (1032, "7", "1031")
        change = moved(before, client.health())
        assert (change["data_parses"], change["data_extensions"]) == (3, 3)


def test_a_plot_cannot_spoil_the_next_render(frames):
    first = seen(frames, "/spoil.png?data=table.csv")
    again = seen(frames, "/spoil.png?data=table.csv&tag=1")
    assert first == again == {**first, "rows": 3, "columns": ["step", "loss"], "first": "1", "index": "int64"}
    assert seen(frames, "/echo.png?data=table.csv&tag=5")["first"] == "1"


@pytest.mark.parametrize("workers", [0, 1])
def test_the_data_cache_bound_reaches_the_render_processes(tmp_path, workers):
    write_rows(tmp_path / "log.csv", 0, 100)
    with running_server(FRAMES, limits=plotserve.Limits(data_dir=tmp_path), workers=workers, data_cache_mb=0) as client:
        for tag in range(3):
            seen(client, f"/echo.png?data=log.csv&tag={tag}")
        health = client.health()
        assert (health["data_parses"], health["data_hits"], health["data_cache_entries"]) == (3, 0, 0)


def test_json_lines_grow_by_their_new_lines_too(tmp_path):
    log = tmp_path / "events.jsonl"
    log.write_text("".join(f'{{"step": {step}, "loss": {1 / (step + 1):.4f}}}\n' for step in range(100)))
    with running_server(FRAMES, limits=plotserve.Limits(data_dir=tmp_path), workers=1) as client:
        assert seen(client, "/echo.png?data=events.jsonl")["rows"] == 100
        before = client.health()
        with log.open("a") as file:
            file.write('{"step": 100, "loss": 0.0099}\n{"step": 101, "loss": 0.0098}\n')
        summary = seen(client, "/echo.png?data=events.jsonl&tag=1")
        assert (summary["rows"], summary["last"], summary["dtypes"]) == (102, "101", ["int64", "float64"])
        change = moved(before, client.health())
        assert (change["data_parses"], change["data_extensions"], change["data_rows_parsed"]) == (0, 1, 2)
