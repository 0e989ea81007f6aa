"""A data file that vanishes, or changes kind, between the server's check and the render process's read.

The server checks a file parameter when it parses the query; the render process opens the file again
later. Whatever happened to the file in between, the answer is the one the server's own check would
have given: 400 with the field's message (a file that is gone or is now a folder), 403 for a link
out of the data directory, never a 500, and never a path of the server's.
"""

import json
import pathlib
import re
import subprocess
import sys
import threading
import time

import pytest
from conftest import running_server

import plotserve

SOURCE = str(pathlib.Path(__file__).parent / "sources" / "churn.py")
SMALL = "_width=2&_height=1.5&_dpi=40"
FIELD_MESSAGES = ("no such file under the data directory", "not a regular file")
# Writes the file whole (a hidden temporary renamed into place: a reader sees all of it or nothing),
# deletes it, puts a folder in its place, removes that, and again, until stopped.
CHURN = r"""
import os, sys, time
folder, name = sys.argv[1], sys.argv[2]
path, temporary = os.path.join(folder, name), os.path.join(folder, ".writing")
step = 0
while not os.path.exists(os.path.join(folder, ".stop")):
    step += 1
    with open(temporary, "w") as file:
        file.write("value\n" + "\n".join(str(step + i) for i in range(50)) + "\n")
    os.replace(temporary, path)
    time.sleep(0.002)
    os.unlink(path)
    os.mkdir(path)
    time.sleep(0.001)
    os.rmdir(path)
"""


def churning(folder, name):
    """Start the writer in a process of its own (true concurrency with the server's threads)."""
    return subprocess.Popen([sys.executable, "-c", CHURN, str(folder), name])


def assert_answered_as_the_server_would(answer, path, folder):
    assert answer.status in (200, 400), (path, answer.status, answer.body[:300], answer.headers.get("x-plotserve-error"))
    shown = answer.body + repr(answer.headers).encode()
    for internal in (str(folder), str(folder.resolve()), "/proc/self/fd", "/tmp/"):
        assert internal.encode() not in shown, (path, internal)
    if answer.status == 400:
        text = answer.headers.get("x-plotserve-error", "") if ".png?" in path else answer.text
        assert any(message in text for message in FIELD_MESSAGES), (path, text[:500])


@pytest.mark.parametrize("workers", [1, 0], ids=["workers", "in-process"])
def test_a_file_written_and_deleted_while_asked_for_never_gives_a_500(tmp_path, capfd, workers):
    data = tmp_path / "data"
    data.mkdir()
    limits = plotserve.Limits(data_dir=data)
    paths = [f"/{plot}{suffix}?data=run.csv&{SMALL}" for plot in ("size", "table") for suffix in (".png", ".json", "")]
    statuses = []
    with running_server(SOURCE, limits=limits, workers=workers, quiet=False) as client:
        writer = churning(data, "run.csv")
        try:
            for number in range(150):
                path = paths[number % len(paths)]
                answer = client.get(path)
                assert_answered_as_the_server_would(answer, path, tmp_path)
                statuses.append(answer.status)
        finally:
            (data / ".stop").touch()
            writer.wait(10)
    log = capfd.readouterr().err
    assert "internal error" not in log and "Traceback" not in log, log[-2000:]
    assert not re.search(r'" 5\d\d ', log), [line for line in log.splitlines() if re.search(r'" 5\d\d ', line)][:5]
    assert 200 in statuses and 400 in statuses, statuses  # the file was there for some answers and not for others


OUTCOMES = {  # what the file became: the status and message the server's own check gives then
    "deleted": (400, "no such file under the data directory"),
    "folder": (400, "not a regular file"),
    "link outside": (403, "that file is outside the data directory"),
}


@pytest.mark.parametrize("replace", list(OUTCOMES))
@pytest.mark.parametrize("suffix", [".png", ".json"])
@pytest.mark.parametrize("plot", ["size", "table"])
def test_a_file_gone_while_its_render_waits_gets_the_servers_answer(tmp_path, plot, replace, suffix):
    """Deterministic: the one render process is busy, the request is checked and queued, then the
    file goes (or becomes a folder, or a link out of the data directory) before the render process opens it."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "run.csv").write_text("value\n1\n2\n")
    (tmp_path / "secret.csv").write_text("value\n3\n")
    with running_server(SOURCE, limits=plotserve.Limits(data_dir=data), workers=1) as client:
        client.get(f"/slow.png?seconds=0&{SMALL}")  # the worker is up
        busy = threading.Thread(target=client.get, args=(f"/slow.png?seconds=1.5&{SMALL}",))
        busy.start()
        time.sleep(0.3)
        answers = []
        asking = threading.Thread(target=lambda: answers.append(client.get(f"/{plot}{suffix}?data=run.csv&{SMALL}")))
        asking.start()
        time.sleep(0.5)  # checked by the server by now, and waiting for the render process
        (data / "run.csv").unlink()
        if replace == "folder":
            (data / "run.csv").mkdir()
        elif replace == "link outside":
            (data / "run.csv").symlink_to(tmp_path / "secret.csv")
        asking.join(30)
        busy.join(30)
    answer = answers[0]
    status, expected = OUTCOMES[replace]
    assert answer.status == status, (answer.status, answer.body[:300])
    if suffix == ".png":
        assert answer.headers["x-plotserve-error"] == f"data: {expected}"
        assert answer.image().size == (80, 60)
    else:
        assert json.loads(answer.body)["errors"] == {"data": expected}
    assert str(tmp_path).encode() not in answer.body
