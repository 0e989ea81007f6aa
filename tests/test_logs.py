"""Data files as sources: a file, a folder of runs or a pattern served as the built-in log plot,
with no code; the drawn data (/NAME.csv) and smoothing (_smooth) of any plot.

What was drawn is read back from /NAME.csv (every line the picture draws, in long form) and the
JSON twin's series; how often a file was parsed from the render processes' counters in /-/health.json.
"""

import csv
import io
import json
import math
import os
import pathlib
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, running_server

import plotserve

COLUMNS = ("loss", "acc")


def log_frame(rows: int, scale: float = 1.0, start: int = 0) -> pd.DataFrame:
    steps = np.arange(start, start + rows)
    return pd.DataFrame({"step": steps, "loss": scale / (steps + 1), "acc": 1 - scale / (steps + 2)})


def append_rows(path: pathlib.Path, start: int, stop: int) -> None:
    with path.open("a") as file:
        for step in range(start, stop):
            file.write(f"{step},{1 / (step + 1)!r},{1 - 1 / (step + 2)!r}\n")


def drawn(client, path: str) -> pd.DataFrame:
    answer = client.get(path)
    assert answer.status == 200, answer.body[:500]
    assert answer.headers["content-type"].startswith("text/csv")
    return pd.read_csv(io.BytesIO(answer.body))


@pytest.fixture
def runs(tmp_path) -> pathlib.Path:
    """A data directory with a folder of three runs, each a metrics.csv."""
    for number, name in enumerate("abc"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        log_frame(20, scale=number + 1).to_csv(tmp_path / "runs" / name / "metrics.csv", index=False)
    return tmp_path


def serve(folder: pathlib.Path, *sources: str, **options):
    options.setdefault("workers", 1)
    return running_server(*sources, limits=plotserve.Limits(data_dir=folder), **options)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_a_data_file_is_a_page_with_a_line_per_numeric_column(tmp_path, suffix):
    frame = log_frame(30)
    path = tmp_path / f"train{suffix}"
    {
        ".csv": lambda: frame.to_csv(path, index=False),
        ".tsv": lambda: frame.to_csv(path, index=False, sep="\t"),
        ".jsonl": lambda: frame.to_json(path, orient="records", lines=True),
        ".parquet": lambda: frame.to_parquet(path),
    }[suffix]()
    with serve(tmp_path, str(path)) as client:
        assert "train" in json.loads(client.get("/index.json").body)["plots"][0]["name"]
        page = client.get("/train")
        assert page.status == 200 and b"<img" in page.body
        data = drawn(client, "/train.csv")
        assert sorted(data["axes"].unique()) == sorted(COLUMNS)  # one panel per numeric column, against step
        for column in COLUMNS:
            line = data[data["axes"] == column]
            assert line["series"].nunique() == 1
            np.testing.assert_allclose(line["x"], frame["step"])
            np.testing.assert_allclose(line["y"], frame[column])
        twin = json.loads(client.get("/train.json").body)
        assert [[series["points"] for series in ax["series"]] for ax in twin["axes"]] == [[30], [30]]
        png = client.get("/train.png")
        assert png.status == 200 and png.body.startswith(b"\x89PNG")


def test_one_axes_and_chosen_columns(runs):
    with serve(runs, str(runs / "runs" / "a" / "metrics.csv")) as client:
        data = drawn(client, "/metrics.csv?panels=false")
        assert data["axes"].nunique() == 1 and sorted(data["series"].unique()) == sorted(COLUMNS)
        data = drawn(client, "/metrics.csv?y=acc&x=loss")
        assert list(data["axes"].unique()) == ["acc"]
        np.testing.assert_allclose(data["x"], log_frame(20)["loss"])
        bad = client.get("/metrics.png?y=nothing")
        assert bad.status == 500 and "nothing" in bad.headers["x-plotserve-error"]


def test_a_folder_of_runs_overlays_them_named_by_their_distinguishing_part(runs):
    with serve(runs, str(runs / "runs")) as client:
        names = [plot["name"] for plot in json.loads(client.get("/index.json").body)["plots"]]
        assert names == ["runs", "runs_a", "runs_b", "runs_c"]  # the overlay, and a page per file
        data = drawn(client, "/runs.csv")
        for column in COLUMNS:
            assert sorted(data[data["axes"] == column]["series"].unique()) == ["a", "b", "c"]
        loss_b = data[(data["axes"] == "loss") & (data["series"] == "b")]
        np.testing.assert_allclose(loss_b["y"], log_frame(20, scale=2)["loss"])
        single = drawn(client, "/runs_b.csv")
        np.testing.assert_allclose(single[single["axes"] == "loss"]["y"], log_frame(20, scale=2)["loss"])
        # The run checkboxes' parameter: a run keeps its colour whichever runs are shown.
        every = json.loads(client.get("/runs.json").body)["axes"][0]["series"]
        some = json.loads(client.get("/runs.json?runs=b,c").body)["axes"][0]["series"]
        assert [series["label"] for series in some] == ["b", "c"]
        assert {s["label"]: s["color"] for s in every}["c"] == {s["label"]: s["color"] for s in some}["c"]
        assert [series["color"] for series in every] == list(plotserve.RUN_COLOURS[:3])
        dark = json.loads(client.get("/runs.json?_theme=dark").body)["axes"][0]["series"]
        assert [series["color"] for series in dark] == list(plotserve.RUN_COLOURS[:3])  # as the checkboxes show them
        for place, colour in enumerate(plotserve.RUN_COLOURS):
            assert f".c{place} {{ background: {colour}; }}" in plotserve.STYLESHEET
        assert client.get("/runs.png?runs=zzz").status == 500


def test_a_pattern_and_its_runs(runs):
    (runs / "runs" / "b" / "eval.csv").write_text("step,score\n1,2\n")
    with serve(runs, str(runs / "runs" / "*" / "metrics.csv")) as client:
        data = drawn(client, "/runs.csv")
        assert sorted(data["series"].unique()) == ["a", "b", "c"]
        # The same plot reads any pattern the form gives, inside the data directory.
        data = drawn(client, "/runs.csv?files=runs/b/*.csv")
        assert sorted(data["series"].unique()) == ["eval", "metrics"]


@pytest.mark.parametrize(
    "pattern",
    ["../*.csv", "runs/../../*.csv", "/etc/*", "/", "~/x.csv", "file:///etc/passwd", "C:/x.csv"],
)
def test_a_pattern_outside_the_data_directory_is_refused(runs, pattern):
    with serve(runs, str(runs / "runs"), workers=0) as client:
        for suffix in ("", ".json", ".png", ".csv"):
            answer = client.get(f"/runs{suffix}?files={pattern}")
            assert answer.status == 403, (suffix, answer.status)
            assert b"/etc" not in answer.body or suffix == ""


def test_a_pattern_takes_a_bounded_number_of_files_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(plotserve, "MAX_RUNS", 3)
    for number in range(5):
        log_frame(3).to_csv(tmp_path / f"run{number}.csv", index=False)
    files = plotserve.resolve_table_patterns(tmp_path, "*.csv", 1 << 30)
    assert [path.name for path in files] == ["run0.csv", "run1.csv", "run2.csv"] and files.more == 2
    monkeypatch.setattr(plotserve, "MAX_LOOKED", 4)  # a pattern over a big tree lists a bounded number of names
    assert len(plotserve.resolve_table_patterns(tmp_path, "**", 1 << 30)) < 4


def test_a_pattern_walks_a_bounded_number_of_folders_and_a_link_loop_once(tmp_path, monkeypatch):
    deep = tmp_path.joinpath(*(f"d{number}" for number in range(60)))  # 60 folders in a chain, no match on the way
    deep.mkdir(parents=True)
    log_frame(3).to_csv(deep / "metrics.csv", index=False)
    (tmp_path / "d0" / "loop").symlink_to(tmp_path)  # ** goes round it once
    log_frame(3).to_csv(tmp_path / "top.csv", index=False)
    monkeypatch.setattr(plotserve, "MAX_LOOKED", 200)  # some 65 entries, each looked at once: not round the loop
    files = plotserve.resolve_table_patterns(tmp_path, "**/*.csv", 1 << 30)
    assert [path.relative_to(tmp_path).parts[-1] for path in files] == ["metrics.csv", "top.csv"] and not files.stopped
    assert plotserve.resolve_table_patterns(tmp_path, "**/", 1 << 30) == ()  # a pattern ending in / names folders
    monkeypatch.setattr(plotserve, "MAX_LOOKED", 20)  # every folder looked into counts, matching or not
    files = plotserve.resolve_table_patterns(tmp_path, "**/metrics.csv", 1 << 30)
    assert files == () and files.stopped  # and the listing says it stopped
    monkeypatch.setattr(plotserve, "MAX_LOOKED", 200)
    assert plotserve.resolve_table_patterns(tmp_path, "d0/**/**/metrics.csv", 1 << 30) == (deep / "metrics.csv",)


def test_a_run_folder_that_is_a_link_is_a_run(runs, monkeypatch):
    (runs / "archive" / "d").mkdir(parents=True)
    log_frame(20, scale=4).to_csv(runs / "archive" / "d" / "metrics.csv", index=False)
    (runs / "runs" / "d").symlink_to(runs / "archive" / "d")  # runs kept elsewhere in the data directory
    for pattern in ("runs", "runs/**/metrics.csv", "runs/*/metrics.csv"):
        files = plotserve.resolve_table_patterns(runs, pattern, 1 << 30)
        assert [path.parent.name for path in files] == ["d", "a", "b", "c"], pattern  # d is archive/d, resolved
    monkeypatch.setattr(plotserve, "MAX_LOOKED", 3)
    with serve(runs, str(runs / "runs"), workers=0) as client:
        svg = client.get("/runs.svg?files=runs/**/*.csv").body.decode()
        assert "the listing stopped after 3 entries: give a narrower pattern" in svg


def test_labels_are_the_distinguishing_part():
    paths = [pathlib.PurePath(p) for p in ("runs/a/metrics.csv", "runs/b/metrics.csv")]
    assert plotserve.run_labels(paths) == ["a", "b"]
    assert plotserve.run_labels([pathlib.PurePath(p) for p in ("x/lr=1.csv", "x/lr=2.csv")]) == ["lr=1", "lr=2"]
    assert plotserve.run_labels([pathlib.PurePath("only/one.csv")]) == ["one"]


def test_the_legend_names_eight_runs_and_says_how_many_more(tmp_path):
    for number in range(11):
        log_frame(5, scale=number + 1).to_csv(tmp_path / f"r{number:02d}.csv", index=False)
    with serve(tmp_path, str(tmp_path / "*.csv"), workers=0) as client:
        name = json.loads(client.get("/index.json").body)["plots"][0]["name"]
        assert name == plotserve._plot_name(tmp_path.name)  # named after the folder the pattern is in
        svg = client.get(f"/{name}.svg?y=loss").body.decode()
        legend = svg[svg.index('id="legend_1"') :]
        assert "<!-- r07 -->" in legend and "<!-- r08 -->" not in legend and "<!-- and 3 more -->" in legend
        assert drawn(client, f"/{name}.csv?y=loss")["series"].nunique() == 11


def test_names_are_drawn_as_they_are(tmp_path):
    """A run called _tmp is in the legend and the drawn data; a $ in a column's name is not mathtext."""
    for number, name in enumerate(("_tmp", "b")):
        (tmp_path / "runs" / name).mkdir(parents=True)
        frame = log_frame(5, scale=number + 1).rename(columns={"loss": r"cost $\notacommand$", "acc": "price ($)"})
        frame.to_csv(tmp_path / "runs" / name / "metrics.csv", index=False)
    with serve(tmp_path, str(tmp_path / "runs"), workers=0) as client:
        answer = client.get("/runs.svg")
        assert answer.status == 200, answer.headers.get("x-plotserve-error")
        svg = answer.body.decode()
        legend = svg[svg.index('id="legend_1"') :]
        assert "<!-- _tmp -->" in legend and "<!-- b -->" in legend
        assert client.get("/runs.png?panels=false").status == 200
        data = drawn(client, "/runs.csv")
        assert set(data["series"]) == {"_tmp", "b"}
        assert set(data["axes"]) == {r"cost $\notacommand$", "price ($)"}
        series = json.loads(client.get("/runs.json").body)["axes"][0]["series"]
        assert [line["label"] for line in series] == ["_tmp", "b"]


def test_a_file_that_cannot_be_parsed_shows_its_error_on_its_page(tmp_path):
    log_frame(5).to_csv(tmp_path / "good.csv", index=False)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "notes.csv").write_text("not,given\n")
    with serve(tmp_path, str(tmp_path / "good.csv"), str(tmp_path / "bad.parquet")) as client:
        names = [plot["name"] for plot in json.loads(client.get("/index.json").body)["plots"]]
        folder = plotserve._plot_name(tmp_path.name)
        assert names == [folder, f"{folder}_bad", f"{folder}_good"]  # the two files given, overlaid, and each
        assert client.get(f"/{folder}_good.png").status == 200
        page = client.get(f"/{folder}_bad")
        assert page.status == 500 and b"bad.parquet" in page.body
        assert str(tmp_path).encode() not in page.body


def test_data_sources_mix_with_plot_code(runs):
    source = runs / "mine.py"
    source.write_text("def plot_mine(ax, n: int = 3):\n    ax.plot(range(n))\n")
    with serve(runs, str(source), str(runs / "runs" / "a" / "metrics.csv"), workers=0) as client:
        names = [plot["name"] for plot in json.loads(client.get("/index.json").body)["plots"]]
        assert names == ["metrics", "mine"]
        index = client.get("/").body
        assert b'src="metrics.png' in index or b"metrics.png" in index  # shown like plots, with thumbnails


def held(client, path: str, etag: str, result: dict) -> None:
    result["answer"] = client.get(path, headers={"If-None-Match": etag}, timeout=30)


def test_an_appended_run_is_pushed_and_costs_one_extension_parse(runs):
    with serve(runs, str(runs / "runs")) as client:
        first = client.get("/runs.png")
        assert first.status == 200
        before = client.health()
        result = {}
        waiter = threading.Thread(target=held, args=(client, "/runs.png?_wait=20", first.headers["etag"], result))
        waiter.start()
        time.sleep(0.5)
        append_rows(runs / "runs" / "b" / "metrics.csv", 20, 25)
        waiter.join(30)
        answer = result["answer"]
        assert answer.status == 200 and answer.headers["etag"] != first.headers["etag"]
        assert answer.headers["x-plotserve-watch"] == "held"
        after = client.health()
        assert after["data_extensions"] - before["data_extensions"] == 1
        assert after["data_parses"] == before["data_parses"]
        assert after["data_hits"] - before["data_hits"] == 2  # the other two runs
        assert after["data_rows_parsed"] - before["data_rows_parsed"] == 5
        data = drawn(client, "/runs.csv?y=loss")
        assert len(data[data["series"] == "b"]) == 25


def test_a_file_added_to_the_folder_joins_the_page(runs):
    with serve(runs, str(runs / "runs")) as client:
        first = client.get("/runs.png")
        result = {}
        waiter = threading.Thread(target=held, args=(client, "/runs.png?_wait=20", first.headers["etag"], result))
        waiter.start()
        time.sleep(0.5)
        (runs / "runs" / "d").mkdir()
        log_frame(7).to_csv(runs / "runs" / "d" / "metrics.csv", index=False)
        waiter.join(30)
        assert result["answer"].status == 200 and result["answer"].headers["etag"] != first.headers["etag"]
        assert sorted(drawn(client, "/runs.csv")["series"].unique()) == ["a", "b", "c", "d"]


# -- smoothing and the drawn data, for any plot ---------------------------------------------------

LINES = """\
import numpy as np


def plot_lines(ax, n: int = 200):
    x = np.arange(n)
    noisy = np.sin(x / 10) + np.random.default_rng(1).normal(0, 0.3, n)
    noisy[50] = np.nan
    ax.plot(x, noisy, label="noisy")
    ax.plot(x, np.cos(x / 10), "o", label="dots")
"""


def reference_ema(values, weight):
    """TensorBoard's smoothing, written out: a running average debiased by 1 - w**count; NaN passes through."""
    last, count, out = 0.0, 0, []
    for value in values:
        if not math.isfinite(value):
            out.append(value)
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        out.append(last / (1 - weight**count))
    return np.array(out)


@pytest.fixture(scope="module")
def lines(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lines")
    (folder / "lines.py").write_text(LINES)
    with serve(folder, str(folder / "lines.py")) as client:
        yield client


@pytest.mark.parametrize("weight", [0.6, 0.95, 0.999])
def test_smoothing_is_the_debiased_ema_of_plain_lines(lines, weight):
    data = drawn(lines, f"/lines.csv?_smooth={weight}")
    raw = data[data["series"] == "noisy (raw)"]["y"].to_numpy()
    smoothed = data[data["series"] == "noisy"]["y"].to_numpy()
    assert len(raw) == len(smoothed) == 200
    np.testing.assert_allclose(smoothed, reference_ema(raw, weight), rtol=0, atol=1e-9)
    assert not np.allclose(smoothed[np.isfinite(raw)], raw[np.isfinite(raw)])
    # A line with markers is data points, not a curve: it is drawn as it is.
    assert "dots (raw)" not in set(data["series"])
    np.testing.assert_allclose(data[data["series"] == "dots"]["y"], np.cos(np.arange(200) / 10))
    twin = json.loads(lines.get(f"/lines.json?_smooth={weight}").body)
    assert [series["label"] for series in twin["axes"][0]["series"]] == ["noisy", "dots"]


def test_smooth_zero_is_no_option_byte_for_byte(lines):
    for suffix in ("png", "svg", "csv"):
        plain, zero = lines.get(f"/lines.{suffix}"), lines.get(f"/lines.{suffix}?_smooth=0")
        assert plain.status == zero.status == 200
        assert plain.body == zero.body and plain.headers["etag"] == zero.headers["etag"]
    assert lines.get("/lines.png?_smooth=0.5").body != lines.get("/lines.png").body


@pytest.mark.parametrize("text", ["1", "-0.1", "1.5", "nan", "x", "0.9999999"])
def test_smooth_outside_its_range_is_a_400_naming_it(lines, text):
    for suffix in ("", ".json", ".png", ".csv"):
        answer = lines.get(f"/lines{suffix}?_smooth={text}")
        assert answer.status == 400, (suffix, answer.status)
        assert b"_smooth" in answer.body or "_smooth" in answer.headers.get("x-plotserve-error", "")


def test_no_cell_of_the_drawn_data_is_a_spreadsheet_formula(tmp_path):
    source = tmp_path / "formulas.py"
    source.write_text(
        "def plot_formulas(ax):\n"
        "    ax.set_title('=HYPERLINK(\"http://example.com\")')\n"
        "    ax.plot(['@SUM(A1)', '-2', 'plain'], [1, 2, 3], label='+cmd|calc')\n"
        "    ax.plot([0, 1], [-1, 2], label='-1')\n"
    )
    with serve(tmp_path, str(source), workers=0) as client:
        rows = list(csv.reader(io.StringIO(client.get("/formulas.csv").text)))
    assert rows[1][:3] == ['\'=HYPERLINK("http://example.com")', "'+cmd|calc", "'@SUM(A1)"]
    assert [row[2] for row in rows[1:4]] == ["'@SUM(A1)", "-2", "plain"]  # a number stays a number
    assert rows[4][1:] == ["-1", "0", "-1"]
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_the_drawn_data_has_etags_and_304s_like_the_picture(runs):
    with serve(runs, str(runs / "runs")) as client:
        first = client.get("/runs.csv?_smooth=0.5")
        renders = client.health()["renders"]
        again = client.get("/runs.csv?_smooth=0.5", headers={"If-None-Match": first.headers["etag"]})
        assert again.status == 304 and again.headers["etag"] == first.headers["etag"]
        assert client.health()["renders"] == renders
        append_rows(runs / "runs" / "a" / "metrics.csv", 20, 21)
        changed = client.get("/runs.csv?_smooth=0.5", headers={"If-None-Match": first.headers["etag"]})
        assert changed.status == 200 and changed.headers["etag"] != first.headers["etag"]


# -- a run that stopped ---------------------------------------------------------------------------


def test_a_log_written_every_half_second_is_not_stalled_until_it_stops(runs):
    path = runs / "runs" / "a" / "metrics.csv"
    stop = threading.Event()

    def write():
        step = 20
        while not stop.wait(0.5):
            append_rows(path, step, step + 1)
            step += 1

    writer = threading.Thread(target=write)
    with serve(runs, str(runs / "runs"), workers=0) as client:
        writer.start()
        try:
            seen = []
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                seen.append(json.loads(client.get("/runs_a.json").body))
                time.sleep(0.2)
        finally:
            stop.set()
            writer.join()
        assert [data["stalled"] for data in seen] == [False] * len(seen)
        assert seen[-1]["usual_interval"] == pytest.approx(0.5, abs=0.2)
        stopped_at = time.monotonic()
        while not json.loads(client.get("/runs_a.json").body)["stalled"]:
            assert time.monotonic() - stopped_at < 10, "not stalled 10 s after the writes stopped"
            time.sleep(0.2)
        data = json.loads(client.get("/runs_a.json").body)
        assert data["no_change_seconds"] >= plotserve.MIN_STALL_SECONDS
        assert data["last_change"].endswith("Z")
        # The overlay's other runs stood still all along: the busiest file sets the pace.
        assert json.loads(client.get("/runs.json").body)["stalled"] is True
        # A plot with no input file says nothing about stalling.
        assert "stalled" not in json.loads(client.get("/runs.json?files=nothing*").body)


def run_cli(folder: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "plotserve.py"), *args]
    return subprocess.run(command, cwd=folder, capture_output=True, timeout=120, check=False)


def test_get_exits_non_zero_for_a_stalled_view(runs):
    fresh = run_cli(runs, "runs", "--get", "/runs_a.json")
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout)["stalled"] is False
    an_hour_ago = time.time() - 3600
    for name in "abc":
        os.utime(runs / "runs" / name / "metrics.csv", (an_hour_ago, an_hour_ago))
    stalled = run_cli(runs, "runs", "--get", "/runs.json")
    assert stalled.returncode == plotserve.STALLED_EXIT
    assert b"no change for 1 h" in stalled.stderr
    assert json.loads(stalled.stdout)["stalled"] is True
    picture = run_cli(runs, "runs", "--get", "/runs.png", "-o", "out.png")  # only a JSON twin says
    assert picture.returncode == 0 and (runs / "out.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "column, values",
    [
        ("time", ["2026-01-01T00:00:00", "2026-01-01T00:01:00", "2026-01-01T00:03:00"]),
        ("wall_time", [1767225600.0, 1767225660.0, 1767225780.0]),  # epoch seconds, as TensorBoard writes them
    ],
)
def test_a_time_column_is_drawn_as_dates(tmp_path, column, values):
    pd.DataFrame({column: values, "loss": [3.0, 2.0, 1.0]}).to_csv(tmp_path / "timed.csv", index=False)
    with serve(tmp_path, str(tmp_path / "timed.csv"), workers=0) as client:
        twin = json.loads(client.get("/timed.json").body)
        assert twin["axes"][0]["x"]["scale"] == "date"
        assert twin["axes"][0]["x"]["dates"][1].startswith("2026-01-01T00:03")  # the last point, and a margin
        data = drawn(client, "/timed.csv")
        assert data["x"].tolist()[0].startswith("2026-01-01") and data["y"].tolist() == [3.0, 2.0, 1.0]
        # A zoom by dates, as the page asks for after a drag over a date axis.
        assert client.get("/timed.png?_xlim=2026-01-01T00:00:30,2026-01-01T00:02:00").status == 200


def test_with_no_step_column_the_first_increasing_column_or_the_row_number(tmp_path):
    pd.DataFrame({"loss": [3.0, 1.0, 2.0], "seen": [10, 20, 40]}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"loss": [3.0, 1.0, 2.0]}).to_csv(tmp_path / "b.csv", index=False)
    with serve(tmp_path, str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), workers=0) as client:
        folder = plotserve._plot_name(tmp_path.name)
        assert drawn(client, f"/{folder}_a.csv")["x"].tolist() == [10, 20, 40]
        assert drawn(client, f"/{folder}_b.csv")["x"].tolist() == [0, 1, 2]


def test_a_run_gone_between_its_listing_and_its_read_is_left_out(runs):
    limits = plotserve.Limits(data_dir=runs)
    files = plotserve.resolve_table_patterns(runs, "runs", limits.max_file_bytes)
    param = plotserve.describe_plot(plotserve.data_plots([str(runs / "runs")])[0].func).params[0]
    (runs / "runs" / "b" / "metrics.csv").unlink()
    read = plotserve._load_runs(files, param, plotserve.FrameCache(1 << 20), limits)
    assert list(read) == ["a", "c"]


def test_a_folder_outside_the_current_one_becomes_the_data_directory(runs):
    (runs / "elsewhere").mkdir()
    answer = run_cli(runs / "elsewhere", str(runs / "runs"), "--get", "/runs.json")
    assert answer.returncode == 0, answer.stderr
    data = json.loads(answer.stdout)
    assert data["title"] == "Runs in runs" and data["values"]["files"] == ["a/metrics.csv", "b/metrics.csv", "c/metrics.csv"]
    assert str(runs).encode() not in answer.stdout
    assert b"serving data files from" in answer.stderr
