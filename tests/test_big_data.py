"""Big data files: the parsed-data cache is sized from the machine's memory, and a log that pages
keep asking for outlasts files asked for once.

How often a file was parsed is read from the render processes' counters in /-/health.json.
"""

import json
import os
import pathlib
import time

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, running_server

import plotserve

FRAMES = str(ROOT / "tests" / "sources" / "frames.py")


def write_rows(path: pathlib.Path, rows: int) -> None:
    pd.DataFrame({"step": range(rows), "loss": [1 / (step + 1) for step in range(rows)]}).to_csv(path, index=False)


def test_the_default_data_cache_is_a_share_of_memory():
    memory = plotserve.machine_memory()
    assert memory > 0
    assert plotserve.default_data_cache_bytes(2) == max(128 << 20, memory // 8 // 2)
    assert plotserve.default_data_cache_bytes(0) == max(128 << 20, memory // 8)  # in-process: one process
    assert plotserve.Limits().data_cache_bytes == plotserve.default_data_cache_bytes(os.cpu_count())
    # A 24 GB box with 2 cores keeps 1.5 GB a process: a 5,000,000-row log (240 MB parsed) stays parsed.
    if memory >= 16 << 30:
        assert plotserve.default_data_cache_bytes(2) >= 1 << 30


def test_a_log_asked_for_again_and_again_outlasts_files_asked_for_once(tmp_path):
    for name in ("watched.csv", "once.csv", "other.csv"):
        write_rows(tmp_path / name, 5000)
    one = int(pd.read_csv(tmp_path / "once.csv").memory_usage(deep=True).sum())
    limits = plotserve.Limits(data_dir=tmp_path)
    with running_server(FRAMES, limits=limits, workers=1, data_cache_mb=2.5 * one / 2**20) as client:

        def draw(name: str, scale: int) -> None:
            assert client.get(f"/lines.png?data={name}&scale={scale}").status == 200

        draw("watched.csv", 1)
        draw("watched.csv", 2)  # a page's second render: the same frame, from the cache
        draw("once.csv", 1)
        draw("other.csv", 1)  # no room for three: one goes
        assert client.health()["data_cache_entries"] == 2
        draw("watched.csv", 3)  # still parsed: once.csv went, though watched.csv was used less recently
        health = client.health()
        assert (health["data_parses"], health["data_hits"]) == (3, 2)
        draw("once.csv", 2)
        assert client.health()["data_parses"] == 4


def test_frames_kept_in_the_cache_do_not_count_as_a_worker_growing(tmp_path):
    """A worker is replaced when it grows by worker_max_growth_mb (a leak in plot code); a second big
    log parsed into the cache is not a leak, and replacing the worker would throw the cache away."""
    frame = pd.DataFrame({name: np.arange(1_000_000, dtype=float) for name in "abcd"})  # 32 MB parsed
    for name in ("first", "second", "third"):
        frame.to_parquet(tmp_path / f"{name}.parquet")  # parquet: its reader leaves little else behind
    limits = plotserve.Limits(data_dir=tmp_path)
    with running_server(FRAMES, limits=limits, workers=1, worker_max_growth_mb=40) as client:
        # plot_echo draws nothing (it fails with a summary of its frame): the frames are what the worker keeps
        assert seen(client, "/echo.png?data=first.parquet")["rows"] == 1_000_000
        pids = client.health()["worker_pids"]
        for name in ("second", "third"):  # the cache grows by 64 MB
            assert seen(client, f"/echo.png?data={name}.parquet")["rows"] == 1_000_000
        assert seen(client, "/echo.png?data=second.parquet&tag=2")["rows"] == 1_000_000
        health = client.health()
        assert health["worker_pids"] == pids  # the same worker, with the three frames still parsed
        assert (health["data_parses"], health["data_hits"], health["data_cache_entries"]) == (3, 1, 3)


def test_a_worker_frees_each_figure_when_its_render_ends(tmp_path):
    """A figure is a web of reference cycles; the render process collects it at once, so big renders
    do not pile up until the collector's next full pass (which would also replace the worker for growing)."""
    pd.DataFrame({"y": [float(row) for row in range(1_000_000)]}).to_csv(tmp_path / "big.csv", index=False)
    limits = plotserve.Limits(data_dir=tmp_path)
    with running_server(FRAMES, limits=limits, workers=1, worker_max_growth_mb=64) as client:
        assert client.get("/lines.png?data=big.csv&_decimate=0").status == 200
        pids = client.health()["worker_pids"]
        for scale in range(2, 12):  # every point drawn: some 100 MB of arrays in each figure
            assert client.get(f"/lines.png?data=big.csv&_decimate=0&scale={scale}").status == 200
        assert client.health()["worker_pids"] == pids


def dirty_memory(pid: int) -> dict[str, int]:
    """The kilobytes of a process's written pages it shares (Shared_Dirty) and has alone (Private_Dirty)."""
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        fields = dict(line.split()[:2] for line in rollup if line.split()[-1] == "kB")
    return {name.rstrip(":"): int(fields[name]) for name in ("Shared_Dirty:", "Private_Dirty:")}


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"), reason="reads Linux's /proc/PID/smaps_rollup")
def test_a_fresh_render_process_keeps_what_it_inherited_shared():
    """Render processes are forked with the collector's objects frozen: a worker's first collection
    never writes to the objects it inherited, so their pages stay shared with the server instead of
    being copied into each worker (a fifth of its pages, more than it shares, before)."""
    with running_server(FRAMES, workers=2, start_method="fork") as client:
        pool = client.server.renderer
        deadline = time.monotonic() + 30
        while True:
            with pool.lock:
                workers = list(pool.workers)
            if len(workers) == 2 and all(worker.ready for worker in workers):
                break
            assert time.monotonic() < deadline, "the render processes did not load the plots"
            time.sleep(0.05)
        for pid in pool.pids():
            memory = dirty_memory(pid)
            assert memory["Private_Dirty"] < memory["Shared_Dirty"] / 4, memory


def seen(client, path: str) -> dict:
    """What the plot said it was given (it fails with a JSON summary as its message)."""
    answer = client.get(path)
    assert answer.status == 500, answer.headers
    return json.loads(answer.headers["x-plotserve-error"].removeprefix("ValueError: "))


def append_rows(path: pathlib.Path, start: int, stop: int) -> None:
    with path.open("a") as file:
        file.writelines(f"{step},{1 / (step + 1)}\n" for step in range(start, stop))


@pytest.mark.parametrize("workers", [0, 1])
def test_a_log_grown_in_place_is_the_frame_a_full_parse_gives(tmp_path, workers):
    log = tmp_path / "log.csv"
    write_rows(log, 1000)
    with running_server(FRAMES, limits=plotserve.Limits(data_dir=tmp_path), workers=workers) as client:
        assert seen(client, "/echo.png?data=log.csv")["rows"] == 1000
        for tag, rows in enumerate(range(1010, 1100, 10), 1):
            append_rows(log, rows - 10, rows)
            # A plot that writes to its frame, every way it can, between two appends, spoils nothing.
            spoiled = seen(client, f"/spoil.png?data=log.csv&tag={tag}")
            summary = seen(client, f"/echo.png?data=log.csv&tag={tag}")
            assert spoiled == summary == {**summary, "rows": rows, "first": "0", "last": str(rows - 1), "dtypes": ["int64", "float64"]}
        health = client.health()
        assert (health["data_parses"], health["data_extensions"], health["data_rows_parsed"]) == (1, 9, 1090)
        grown = client.get("/lines.png?data=log.csv&scale=2")
    # The rows themselves, as a full parse reads them: the same picture from a server that parses the file once.
    with running_server(FRAMES, limits=plotserve.Limits(data_dir=tmp_path), workers=workers) as fresh:
        whole = fresh.get("/lines.png?data=log.csv&scale=2")
        assert fresh.health()["data_extensions"] == 0
    assert grown.status == whole.status == 200 and grown.body == whole.body
