"""Big data files: the parsed-data cache is sized from the machine's memory, and a log that pages
keep asking for outlasts files asked for once.

How often a file was parsed is read from the render processes' counters in /-/health.json.
"""

import os
import pathlib

import pandas as pd
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
