"""Live the moment anything changes, over real HTTP: held conditional GETs answered when a view's
files change, one render for many waiting viewers, the bound on held requests, pages that answer
before a slow render, and the plots reloaded when their source files are edited.

Behaviour only: statuses, ETags, headers, pixels and the counters of /-/health.json.
"""

import http.client
import pathlib
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import EXAMPLES, ROOT, running_server, training
from test_live import health_when, moved, wait_for

import plotserve

SLOW = str(ROOT / "tests" / "sources" / "live_slow.py")


@pytest.fixture
def server(log_dir):
    with running_server(*EXAMPLES, SLOW, limits=plotserve.Limits(data_dir=log_dir), workers=2) as client:
        yield client


def held(client, path: str, etag: str, results: list, slot: int) -> threading.Thread:
    """Send a held request in a thread of its own; its answer lands in results[slot]."""

    def ask():
        results[slot] = client.get(path, {"If-None-Match": etag})

    thread = threading.Thread(target=ask)
    thread.start()
    return thread


def waiting(client, count: int) -> dict:
    return health_when(client, lambda health: health["waiting"] == count, f"{count} requests held")


# -- 1. data changes, pushed ----------------------------------------------------------------------


def test_a_held_request_answers_304_when_nothing_changes_and_renders_nothing(server):
    etag = server.get("/training.png").headers["etag"]
    before = server.health()
    answer = server.get("/training.png?_wait=1", {"If-None-Match": etag})
    assert answer.status == 304 and answer.headers["etag"] == etag
    assert answer.headers["x-plotserve-watch"] == "held"
    after = server.health()
    assert moved(before, after)["renders"] == 0
    assert moved(before, after)["watch_looks"] > 0  # it was watched while it was held
    assert moved(before, after)["watch_timeouts"] == 1
    assert after["waiting"] == after["watched_views"] == 0


def test_a_held_request_answers_with_the_new_picture_when_the_log_grows(server, log_dir):
    first = server.get("/training.png")
    before = server.health()
    results = [None]
    thread = held(server, "/training.png?_wait=25", first.headers["etag"], results, 0)
    waiting(server, 1)
    training.append_epoch(log_dir / training.LOG_NAME)
    thread.join(60)
    answer = results[0]
    assert answer.status == 200 and answer.headers["x-plotserve-watch"] == "held"
    assert answer.headers["etag"] != first.headers["etag"]
    assert answer.body == server.get("/training.png").body  # the picture of the grown log
    assert answer.image().convert("RGB").tobytes() != first.image().convert("RGB").tobytes()
    change = moved(before, server.health())
    assert change["renders"] == 1
    assert (change["watch_changed"], change["watch_timeouts"]) == (1, 0)  # answered by the change, not the clock


def test_ten_waiting_viewers_cost_one_render_per_change(server, log_dir):
    etag = server.get("/training.png?smooth=3").headers["etag"]
    before = server.health()
    for change in range(2):
        results = [None] * 10
        threads = [held(server, "/training.png?smooth=3&_wait=25", etag, results, slot) for slot in range(10)]
        health = waiting(server, 10)
        assert health["watched_views"] == 1  # one view, looked at once per tick for all ten
        training.append_epoch(log_dir / training.LOG_NAME)
        for thread in threads:
            thread.join(60)
        assert {answer.status for answer in results} == {200}
        assert len({answer.headers["etag"] for answer in results}) == 1
        assert results[0].headers["etag"] != etag
        etag = results[0].headers["etag"]
        assert moved(before, server.health())["renders"] == change + 1
        assert moved(before, server.health())["watch_changed"] == 10 * (change + 1)


def test_a_view_with_no_tracked_input_is_not_held(server):
    before = server.health()
    answer = server.get("/wave.png?_wait=25")
    assert answer.status == 200 and answer.headers["x-plotserve-watch"] == "untracked"
    again = server.get("/wave.png?_wait=25", {"If-None-Match": answer.headers["etag"]})
    assert again.status == 304 and again.headers["x-plotserve-watch"] == "untracked"
    assert moved(before, server.health())["watch_looks"] == 0


def test_held_requests_past_their_bound_fall_back_to_the_period(log_dir):
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=log_dir), workers=1, max_waiting=2) as client:
        etag = client.get("/training.png").headers["etag"]
        results = [None] * 2
        threads = [held(client, "/training.png?_wait=25", etag, results, slot) for slot in range(2)]
        waiting(client, 2)
        before = client.health()
        third = client.get("/training.png?_wait=25", {"If-None-Match": etag})
        assert third.status == 304 and third.headers["x-plotserve-watch"] == "full"
        assert moved(before, client.health())["watch_refused"] == 1
        # The held ones hold no render slot: a fresh render goes through while they wait.
        assert client.get("/training.png?smooth=9").status == 200
        training.append_epoch(log_dir / training.LOG_NAME)
        for thread in threads:
            thread.join(60)
        assert [answer.status for answer in results] == [200, 200]


def test_a_client_that_leaves_frees_its_held_slot(server):
    etag = server.get("/training.png").headers["etag"]
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.sendall(f"GET /training.png?_wait=25 HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: {etag}\r\n\r\n".encode())
    waiting(server, 1)
    sock.close()
    health = waiting(server, 0)  # well before the 25 s hold is over
    assert (health["watch_gone"], health["watch_timeouts"]) == (1, 0)


def test_a_step_of_the_parking_that_fails_costs_only_its_own_connection(server, log_dir, monkeypatch, capfd):
    """A bug in one step of the selector thread (here: hearing from a client that left) is printed and
    closes that connection; the other held requests are still answered, and new ones still held."""
    readable = plotserve.Parking._readable
    failed = []

    def fails_once(parking, parked):
        if not failed:
            failed.append(parked)
            raise RuntimeError("a fault in the parking")
        readable(parking, parked)

    monkeypatch.setattr(plotserve.Parking, "_readable", fails_once)
    etag = server.get("/training.png").headers["etag"]
    leaving = socket.create_connection((server.host, server.port), timeout=10)
    leaving.sendall(f"GET /training.png?_wait=25 HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: {etag}\r\n\r\n".encode())
    waiting(server, 1)
    results = [None]
    thread = held(server, "/training.png?_wait=25", etag, results, 0)
    waiting(server, 2)
    leaving.close()  # the selector hears of it, and that step fails
    waiting(server, 1)  # its watch ended with its connection, well before the 25 s hold is over
    assert failed and "RuntimeError: a fault in the parking" in capfd.readouterr().err
    wait_for(lambda: len(server.server.connections) == 1, "its slot free again: only the other held request's open")
    training.append_epoch(log_dir / training.LOG_NAME)
    thread.join(60)
    assert results[0].status == 200 and results[0].headers["etag"] != etag
    again = [None]
    thread = held(server, "/training.png?_wait=25", results[0].headers["etag"], again, 0)
    waiting(server, 1)  # a new request is still parked: the selector thread is alive
    training.append_epoch(log_dir / training.LOG_NAME)
    thread.join(60)
    assert again[0].status == 200


def test_a_parked_request_is_answered_at_its_deadline_if_the_watcher_thread_is_gone(server, monkeypatch):
    monkeypatch.setattr(plotserve.Watcher, "_run", lambda watcher: None)  # its thread ends at once: no clock, no looks
    etag = server.get("/training.png").headers["etag"]
    answer = server.get("/training.png?_wait=1", {"If-None-Match": etag})  # parked on the selector: no thread waits
    assert answer.status == 304 and answer.headers["x-plotserve-watch"] == "held"
    assert server.health()["waiting"] == 0


def test_a_thread_holding_a_request_stops_at_its_deadline_if_the_watcher_thread_is_gone(monkeypatch):
    monkeypatch.setattr(plotserve.Watcher, "_run", lambda watcher: None)  # its thread ends at once: no clock, no looks
    watcher = plotserve.Watcher(max_waiting=4, interval=0.1)
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(watcher.hold("view", lambda: "same", "same", 0.2)), daemon=True)
    thread.start()
    thread.join(30)
    assert outcome == ["timeout"] and watcher.health()["waiting"] == 0


def test_wait_is_checked_like_every_option(server):
    answer = server.get("/training.png?_wait=99")
    assert answer.status == 400 and "_wait" in answer.headers["x-plotserve-error"]
    assert "_wait" not in server.get("/training.json?_wait=3").text.split('"image"')[1].split("\n")[0]


# -- 3. slow renders, visible ---------------------------------------------------------------------


def test_the_page_of_a_slow_plot_answers_before_its_render_ends_and_shares_it(server):
    before = server.health()
    page = server.get("/sleepy?seconds=3")
    assert page.status == 200
    assert moved(before, server.health())["renders"] == 0  # answered while the plot still sleeps
    assert 'id="rendering"' in page.text and re.search(r'<img id="plot"[^>]* hidden[ >]', page.text)  # no picture yet
    assert '<noscript><img src="sleepy.png?seconds=3"' in page.text  # without JavaScript, the image still comes
    image = server.get("/sleepy.png?seconds=3")
    assert image.status == 200 and image.image().size == (800, 500)
    change = moved(before, server.health())
    assert change["renders"] == 1 and change["shared_renders"] == 1  # the page's render, joined


def test_a_slow_failure_is_rendered_once_for_the_page_its_image_and_its_traceback(server):
    before = server.health()
    page = server.get("/sleepy_failure?seconds=1.5")
    assert page.status == 200 and 'id="rendering"' in page.text
    image = server.get("/sleepy_failure.png?seconds=1.5")
    assert image.status == 500 and image.image().size[0] > 100
    again = server.get("/sleepy_failure?seconds=1.5")  # what the page script asks for the traceback
    assert again.status == 500
    assert "the &lt;b&gt;sensor&lt;/b&gt; went away" in again.text and 'class="traceback"' in again.text
    assert "<b>sensor" not in again.text
    change = moved(before, server.health())
    assert change["errors"] == 1 and change["renders"] == 0


# -- 2. code changes, reloaded --------------------------------------------------------------------

FIRST = '''\
import pathlib

import plotserve
from HELPER import COLOR


def plot_one(ax):
    """A line."""
    ax.plot([0, 1], [0, 1], color=COLOR, linewidth=8)


def plot_gone(ax):
    """Removed by the edit."""
    ax.plot([0, 1], [1, 0])


class Handler(plotserve.PlotRequestHandler):
    def plot_method(self, ax):
        """A handler method."""
        ax.bar([1, 2], [1, 2], color="C0")


def plot_file(ax, path: pathlib.Path = pathlib.Path("HELPER.py")):
    """Reads a file: a view plotserve watches."""
    ax.set_title(path.read_text())
'''


@pytest.fixture
def source(tmp_path) -> pathlib.Path:
    """A plot file, and a helper beside it that it imports (named after the test: imports are per process)."""
    helper = "helper_" + "".join(char if char.isalnum() else "_" for char in tmp_path.name)
    (tmp_path / f"{helper}.py").write_text("COLOR = 'C0'\n")
    path = tmp_path / "edited_plots.py"
    path.write_text(FIRST.replace("HELPER", helper))
    return path


def reloads(client, count: int) -> dict:
    return health_when(client, lambda health: health["reloads"] == count, f"{count} reloads")


@pytest.mark.parametrize("workers", [1, 0])
def test_an_edit_reloads_the_plots(source, workers):
    with running_server(str(source), limits=plotserve.Limits(data_dir=source.parent), workers=workers, reload=True) as client:
        one, method = client.get("/one.png"), client.get("/method.png")
        started = client.health()["workers_started"]
        text = source.read_text().replace('"C0"', '"C3"')  # the handler method changes colour
        text = text.replace("def plot_gone", "def plot_new")
        source.write_text(text)
        reloads(client, 1)
        index = client.get("/")
        assert 'href="new"' in index.text and 'href="gone"' not in index.text
        missing = client.get("/gone")
        assert missing.status == 404 and "plot_gone was removed from edited_plots.py" in missing.text
        assert client.get("/gone.png").status == 404
        assert client.get("/new.png").status == 200
        changed = client.get("/method.png")
        assert changed.headers["etag"] != method.headers["etag"] and changed.body != method.body
        # plot_one's code did not change, but the source did: its ETag changes too.
        assert client.get("/one.png").headers["etag"] != one.headers["etag"]

        # A helper beside the source is watched as well.
        etag = client.get("/one.png").headers["etag"]
        next(source.parent.glob("helper_*.py")).write_text("COLOR = 'C1'\n")
        wait_for(lambda: client.get("/one.png").headers["etag"] != etag, "the helper's edit in the ETag")
        redrawn = client.get("/one.png")
        assert redrawn.image().convert("RGB").tobytes() != one.image().convert("RGB").tobytes()
        if workers:
            health = client.health()
            assert health["workers_started"] >= started + 2 and health["workers_alive"] == 1


def test_a_reload_lets_the_render_under_way_finish(source):
    source.write_text(source.read_text() + "\n\ndef plot_slow(ax, seconds: float = 2.0):\n    import time\n    time.sleep(seconds)\n")
    with running_server(str(source), limits=plotserve.Limits(data_dir=source.parent), workers=1, reload=True) as client:
        results = [None]
        thread = threading.Thread(target=lambda: results.__setitem__(0, client.get("/slow.png")))
        thread.start()
        health_when(client, lambda health: health["renders_under_way"] == 1, "the slow render under way")
        old = client.health()["worker_pids"]
        source.write_text(source.read_text().replace("def plot_gone", "def plot_new"))
        reloads(client, 1)
        thread.join(60)
        assert results[0].status == 200  # drawn to the end by the old worker
        health = health_when(client, lambda health: health["workers_alive"] == 1 and health["worker_pids"] != old, "a new worker")
        assert set(health["worker_pids"]).isdisjoint(old)
        assert client.get("/new.png").status == 200


def test_a_helper_imported_through_a_link_to_a_file_beside_the_source_is_watched(tmp_path, monkeypatch):
    """The module's own folder is not the source's, but its file is a link to one beside the source."""
    name = "linked_helper_" + "".join(char if char.isalnum() else "_" for char in tmp_path.name)
    (tmp_path / "colour.py").write_text("COLOR = 'C0'\n")
    links = tmp_path / "elsewhere"
    links.mkdir()
    (links / f"{name}.py").symlink_to(tmp_path / "colour.py")
    monkeypatch.syspath_prepend(str(links))
    source = tmp_path / "linked_plots.py"
    source.write_text(f"import {name}\n\n\ndef plot_one(ax):\n    ax.plot([0, 1], color={name}.COLOR, linewidth=8)\n")
    with running_server(str(source), limits=plotserve.Limits(data_dir=tmp_path), workers=0, reload=True) as client:
        etag = client.get("/one.png").headers["etag"]
        (tmp_path / "colour.py").write_text("COLOR = 'C3'\n")
        reloads(client, 1)
        assert client.get("/one.png").headers["etag"] != etag


def test_a_module_given_by_name_is_reloaded(tmp_path, monkeypatch):
    name = "edited_module_" + "".join(char if char.isalnum() else "_" for char in tmp_path.name)
    (tmp_path / f"{name}.py").write_text("def plot_first(ax):\n    ax.plot([0, 1])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with running_server(name, limits=plotserve.Limits(data_dir=tmp_path), workers=0, reload=True) as client:
        assert client.get("/first.png").status == 200
        (tmp_path / f"{name}.py").write_text("def plot_second(ax):\n    ax.plot([1, 0])\n")
        reloads(client, 1)
        assert client.get("/second.png").status == 200
        assert client.get("/first.png").status == 404


def test_a_held_request_is_answered_by_a_reload(source):
    with running_server(str(source), limits=plotserve.Limits(data_dir=source.parent), workers=1, reload=True) as client:
        etag = client.get("/file.png").headers["etag"]
        results = [None]
        thread = held(client, "/file.png?_wait=25", etag, results, 0)
        waiting(client, 1)
        source.write_text(source.read_text().replace("ax.set_title(path.read_text())", "ax.set_title('edited')"))
        thread.join(60)
        assert results[0].status == 200 and results[0].headers["etag"] != etag
        assert results[0].body == client.get("/file.png").body
        assert client.health()["watch_changed"] == 1


def test_a_broken_edit_keeps_the_last_good_plots_and_says_so_once(source, capfd):
    with running_server(str(source), limits=plotserve.Limits(data_dir=source.parent), workers=1, reload=True) as client:
        good = client.get("/one.png")
        capfd.readouterr()
        source.write_text(source.read_text() + "\nraise RuntimeError('<script>no</script>')\n")
        line = len(source.read_text().splitlines())
        health = health_when(client, lambda health: health["source_error"], "the error")
        assert f"edited_plots.py:{line}: RuntimeError: <script>no</script>" in health["source_error"]
        assert client.get("/one.png").body == good.body  # the last good plots keep serving
        for path in ("/", "/one"):
            page = client.get(path)
            assert page.status == 200
            assert f"edited_plots.py:{line}: RuntimeError: &lt;script&gt;no&lt;/script&gt;" in page.text
            assert "<script>no" not in page.text
        # A syntax error: file, line and message.
        source.write_text(source.read_text().replace("raise RuntimeError('<script>no</script>')", "def broken(:"))
        health = health_when(client, lambda health: "SyntaxError" in health["source_error"], "the syntax error")
        assert f"edited_plots.py:{line}: SyntaxError" in health["source_error"]
        held_answer = client.get("/one.png?_wait=1")
        assert "SyntaxError" in held_answer.headers["x-plotserve-source-error"]
        # Fixed: it recovers by itself.
        source.write_text(source.read_text().replace("def broken(:", ""))
        health = health_when(client, lambda health: health["reloads"] == 1, "the fixed reload")
        assert health["source_error"] == ""
        assert 'id="source-error"' not in client.get("/").text
        assert client.get("/one.png").status == 200
        err = capfd.readouterr().err
        assert err.count("cannot reload") == 2  # once for each error, however long it lasted
        assert err.count("RuntimeError") == 1 and err.count("the error is fixed") == 1


def test_no_reload_turns_it_off(source):
    command = [sys.executable, str(ROOT / "plotserve.py"), str(source), "-p", "0", "-n", "-q", "-w", "0", "--no-reload"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=source.parent)
    try:
        line = process.stdout.readline()
        port = int(line.rsplit(":", 1)[1].strip("/\n"))
        with running_server(str(source), limits=plotserve.Limits(data_dir=source.parent), workers=0, reload=True) as client:
            source.write_text(source.read_text().replace("def plot_gone", "def plot_new"))
            reloads(client, 1)
            time.sleep(4 * plotserve.RELOAD_INTERVAL)  # a reloading server has long seen it: this one must not
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/gone.png")
            assert connection.getresponse().status == 200  # still the code it started with
            connection.close()
    finally:
        process.terminate()
        process.wait(10)
