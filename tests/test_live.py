"""Live and fast, over real HTTP: ETags, 304s, one render for many viewers, the render cache,
worker processes that time out, crash and are recycled, the demo, and /-/health.json.

Behaviour only: every check reads statuses, ETags, decoded pixels or the counters of
/-/health.json, never the clock.
"""

import contextlib
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest
from conftest import EXAMPLES, ROOT, Client, running_server, training

import plotserve

FAULTS = str(ROOT / "tests" / "sources" / "live_faults.py")
HEALTH_COUNTERS = ("renders", "cache_hits", "not_modified", "cache_bytes", "workers_alive", "open_figures")


def wait_for(condition, what: str, seconds: float = 20.0, every: float = 0.05):
    """Poll until condition() is truthy and return it; fail naming what did not happen."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting: {what}")
        time.sleep(every)


def health_when(client, condition, what: str) -> dict:
    """Poll /-/health.json until condition(health) holds, and return that health."""

    def check():
        health = client.health()
        return health if condition(health) else None

    return wait_for(check, what)


def workers_up(client, count: int) -> dict:
    """Wait until ``count`` workers are alive (after a start or a replacement); return the health."""
    return health_when(client, lambda health: health["workers_alive"] == count, f"{count} workers alive")


def moved(before: dict, after: dict) -> dict:
    """How much each numeric health counter changed."""
    return {name: after[name] - before[name] for name in after if isinstance(after[name], int) and name in before}


def pixels(answer) -> bytes:
    return answer.image().convert("RGB").tobytes()


@pytest.fixture
def log_dir(tmp_path) -> pathlib.Path:
    """A data directory of its own, with a 30-epoch training log that tests may append to."""
    training.write_training_log(tmp_path / training.LOG_NAME, rows=30)
    (tmp_path / "notes.txt").write_text("first\n")
    return tmp_path


@pytest.fixture
def live(log_dir):
    """The examples and the misbehaving plots, two workers, a 2 s time limit."""
    with running_server(*EXAMPLES, FAULTS, limits=plotserve.Limits(data_dir=log_dir), workers=2, timeout=2) as client:
        workers_up(client, 2)
        yield client


# -- 1. ETags, conditional requests, one render for concurrent requests -------------------------


def test_etag_is_stable_until_the_log_grows(live, log_dir):
    first, again = live.get("/training.png"), live.get("/training.png")
    assert first.status == again.status == 200
    assert first.headers["etag"] == again.headers["etag"]
    assert first.body == again.body

    training.append_epoch(log_dir / training.LOG_NAME)
    grown = live.get("/training.png")
    assert grown.status == 200
    assert grown.headers["etag"] != first.headers["etag"]
    assert pixels(grown) != pixels(first)  # the title counts 31 epochs now: the picture changed

    # The old ETag no longer matches: the full new image comes back; the new one gets a 304.
    stale = live.get("/training.png", {"If-None-Match": first.headers["etag"]})
    assert stale.status == 200 and stale.body == grown.body
    fresh = live.get("/training.png", {"If-None-Match": grown.headers["etag"]})
    assert fresh.status == 304 and fresh.body == b""
    assert fresh.headers["etag"] == grown.headers["etag"]


def test_etag_covers_each_parameter_and_format(live):
    etags = {live.get(path).headers["etag"] for path in ("/training.png", "/training.png?smooth=5", "/training.png?logy=true")}
    assert len(etags) == 3
    # Spelling a default out, or reordering, is the same view: same ETag.
    assert live.get("/training.png?smooth=1").headers["etag"] == live.get("/training.png").headers["etag"]
    assert live.get("/wave.png?cycles=4&kind=square").headers["etag"] == live.get("/wave.png?kind=square&cycles=4").headers["etag"]


@pytest.mark.parametrize("name", ["training", "wave"])
def test_formats_have_different_etags(live, name):
    answers = {fmt: live.get(f"/{name}.{fmt}") for fmt in plotserve.IMAGE_FORMATS}
    assert all(answer.status == 200 for answer in answers.values())
    assert len({answer.headers["etag"] for answer in answers.values()}) == len(answers)
    assert answers["png"].image().format == "PNG"


def test_conditional_request_answers_304_without_rendering(log_dir):
    # No cache at all: the 304 must come from the inputs' ETag, not from a kept image.
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=log_dir), workers=1, cache_mb=0) as client:
        etag = client.get("/training.png?smooth=3").headers["etag"]
        before = client.health()
        for _ in range(3):
            answer = client.get("/training.png?smooth=3", {"If-None-Match": etag})
            assert answer.status == 304 and answer.body == b""
            assert answer.headers["etag"] == etag
        head = client.get("/training.png?smooth=3", {"If-None-Match": f'"nope", {etag}'}, method="HEAD")
        assert head.status == 304
        change = moved(before, client.health())
        assert change["renders"] == 0
        assert change["not_modified"] == 4
        # Without the cache, an unconditional request has to draw it again.
        assert client.get("/training.png?smooth=3").status == 200
        assert moved(before, client.health())["renders"] == 1


def test_a_str_parameter_naming_a_data_file_is_tracked(live, log_dir):
    # wave's title is a str: when its value names a file under the data dir, that file is an input.
    first = live.get("/wave.png?title=notes.txt")
    assert live.get("/wave.png?title=notes.txt").headers["etag"] == first.headers["etag"]
    before = live.health()
    assert live.get("/wave.png?title=notes.txt", {"If-None-Match": first.headers["etag"]}).status == 304
    assert moved(before, live.health())["renders"] == 0
    with (log_dir / "notes.txt").open("a") as notes:
        notes.write("second\n")
    changed = live.get("/wave.png?title=notes.txt")
    assert changed.status == 200 and changed.headers["etag"] != first.headers["etag"]
    assert moved(before, live.health())["renders"] == 1


def test_live_plot_is_rendered_once_per_interval_however_many_ask(live):
    images = live.server.images
    assert images.live_seconds == 2.0
    try:
        images.live_seconds = 3600  # the interval never ends within this part of the test
        before = live.health()
        answers = [live.get("/wave.png?cycles=7") for _ in range(6)]
        assert {answer.headers["etag"] for answer in answers} == {answers[0].headers["etag"]}
        change = moved(before, live.health())
        assert (change["renders"], change["cache_hits"]) == (1, 5)
        assert live.get("/wave.png?cycles=7", {"If-None-Match": answers[0].headers["etag"]}).status == 304
        assert moved(before, live.health())["renders"] == 1

        images.live_seconds = 0  # every interval is over: each request draws the plot again
        before = live.health()
        again = live.get("/wave.png?cycles=7")
        assert again.status == 200 and again.headers["etag"] == answers[0].headers["etag"]  # same picture, same ETag
        unchanged = live.get("/wave.png?cycles=7", {"If-None-Match": again.headers["etag"]})
        assert unchanged.status == 304
        change = moved(before, live.health())
        assert change["renders"] == 2 and change["not_modified"] == 1
    finally:
        images.live_seconds = 2.0


@pytest.mark.parametrize("path", ["/slow.png?label=together", "/slow.svg?label=together&seconds=0.6"])
def test_concurrent_identical_requests_share_one_render(live, path):
    before = live.health()
    start = threading.Barrier(8)
    answers = [None] * 8

    def ask(slot):
        start.wait()
        answers[slot] = live.get(path)

    threads = [threading.Thread(target=ask, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [answer.status for answer in answers] == [200] * 8
    assert len({answer.body for answer in answers}) == 1
    assert len({answer.headers["etag"] for answer in answers}) == 1
    change = moved(before, live.health())
    assert change["renders"] == 1
    assert change["shared_renders"] + change["cache_hits"] == 7


# -- 3. the render cache ---------------------------------------------------------------------


def test_second_viewer_and_reload_cost_no_render(live):
    before = live.health()
    page = live.get("/training?smooth=4")  # the page draws the image it embeds
    assert page.status == 200 and 'src="training.png?smooth=4"' in page.text
    assert moved(before, live.health())["renders"] == 1
    first_viewer = live.get("/training.png?smooth=4")
    second_viewer = live.get("/training.png?smooth=4")
    reload = live.get("/training?smooth=4")
    assert first_viewer.body == second_viewer.body and reload.status == 200
    change = moved(before, live.health())
    assert change["renders"] == 1
    assert change["cache_hits"] == 3
    assert live.health()["cache_bytes"] >= len(first_viewer.body)


def test_cache_stays_under_its_byte_bound(log_dir):
    bound = int(0.2 * 2**20)
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=log_dir), workers=1, cache_mb=0.2) as client:
        sizes = []
        for smooth in range(1, 17):
            answer = client.get(f"/training.png?smooth={smooth}")
            assert answer.status == 200
            sizes.append(len(answer.body))
            health = client.health()
            assert 0 < health["cache_bytes"] <= bound
        assert sum(sizes) > 2 * bound  # the views did not all fit
        assert health["cache_entries"] < 16
        # Least recently used went first: the newest view is still kept, the oldest is not.
        before = client.health()
        client.get("/training.png?smooth=16")
        assert moved(before, client.health())["cache_hits"] == 1
        client.get("/training.png?smooth=1")
        change = moved(before, client.health())
        assert change["renders"] == 1
        assert client.health()["cache_bytes"] <= bound


def test_cache_keeps_one_picture_per_view(log_dir):
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=log_dir), workers=1) as client:
        first = client.get("/training.png?smooth=2")
        other = client.get("/training.png?smooth=3")
        assert first.status == other.status == 200
        assert client.health()["cache_entries"] == 2
        for _ in range(3):  # each new epoch makes a new picture of both views
            training.append_epoch(log_dir / training.LOG_NAME)
            newer = client.get("/training.png?smooth=2")
            assert newer.status == 200 and newer.headers["etag"] != first.headers["etag"]
            assert client.get("/training.png?smooth=3").status == 200
            health = client.health()
            assert health["cache_entries"] == 2  # the pictures of older epochs were replaced, not kept
            assert health["cache_bytes"] < 2 * len(newer.body) + len(other.body)
        before = client.health()
        assert client.get("/training.png?smooth=2").body == newer.body
        assert moved(before, client.health())["cache_hits"] == 1
        # The old ETag is answered with the new picture, drawn once already.
        stale = client.get("/training.png?smooth=2", {"If-None-Match": first.headers["etag"]})
        assert stale.status == 200 and stale.body == newer.body
        assert moved(before, client.health())["renders"] == 0


# -- 4. worker processes -------------------------------------------------------------------------


def test_hanging_plot_times_out_and_its_worker_is_replaced(live):
    before = live.health()
    answer = live.get("/hang.png")
    assert answer.status == 504
    assert answer.headers["content-type"] == "image/png"
    assert "took longer than the 2 s limit" in answer.headers["x-plotserve-error"]
    assert answer.image().size[0] > 100  # an image that says so, not a broken icon

    after = workers_up(live, 2)
    assert len(after["worker_pids"]) == 2
    assert set(after["worker_pids"]) != set(before["worker_pids"])
    assert after["workers_started"] == before["workers_started"] + 1
    assert live.get("/line.png?n=9").status == 200

    page = live.get("/hang")
    assert page.status == 504
    assert "took longer than the 2 s limit" in page.text
    workers_up(live, 2)
    assert live.get("/bars.png?n=7").status == 200


@pytest.mark.parametrize("plot, code", [("exit", "exit code 3"), ("segfault", f"exit code {-signal.SIGSEGV}")])
def test_dead_worker_gives_500_and_the_next_request_works(live, plot, code):
    before = live.health()
    answer = live.get(f"/{plot}.png")
    assert answer.status == 500
    assert f"plot_{plot} died ({code})" in answer.headers["x-plotserve-error"]
    assert answer.image().size[0] > 100
    after = workers_up(live, 2)
    assert after["workers_started"] == before["workers_started"] + 1
    good = live.get("/line.png?n=11")
    assert good.status == 200 and good.image().size == (800, 500)


def test_worker_is_recycled_after_max_jobs():
    with running_server(FAULTS, workers=2, worker_max_jobs=5) as client:
        before = workers_up(client, 2)
        for n in range(20):
            answer = client.get(f"/pid.png?n={n}")
            assert answer.status == 200, answer.headers.get("x-plotserve-error")
        after = workers_up(client, 2)
        # 20 jobs, at most 5 per process: at least three processes finished their term.
        assert after["workers_started"] >= before["workers_started"] + 3
        assert not set(after["worker_pids"]) & set(before["worker_pids"])
        assert after["renders"] - before["renders"] == 20
        assert client.get("/line.png").status == 200


def test_worker_is_recycled_when_it_grows(log_dir):
    # hoard keeps 40 MB more each time it draws: past 100 MB of growth its worker is replaced.
    with running_server(FAULTS, workers=1, worker_max_growth_mb=100) as client:
        before = workers_up(client, 1)
        for n in range(3):  # grown by 0, 40 and 80 MB since the first render: kept
            assert client.get(f"/hoard.png?n={n}").status == 200
            assert client.health()["worker_pids"] == before["worker_pids"]
        assert client.get("/hoard.png?n=3").status == 200  # 120 MB: replaced
        health_when(client, lambda health: health["workers_started"] == before["workers_started"] + 1, "a new worker")
        after = workers_up(client, 1)
        assert not set(after["worker_pids"]) & set(before["worker_pids"])
        assert client.get("/hoard.png?n=4").status == 200  # a fresh start: its own memory is small again


@pytest.mark.parametrize("client", ["examples", "inprocess"])
def test_no_open_figures_after_many_pyplot_renders(request, client):
    client = request.getfixturevalue(client)
    before = client.health()
    for n in range(30):
        answer = client.get(f"/histogram.png?n={500 + n}&bins={10 + n % 7}")
        assert answer.status == 200
    health = client.health()
    assert moved(before, health)["renders"] == 30
    assert health["open_figures"] == 0


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
@pytest.mark.parametrize("given_as", ["source file", "handler class"])
def test_worker_processes_render_functions_and_handler_methods(start_method, given_as):
    if given_as == "source file":
        sources, options, names = (FAULTS,), {}, ["line", "bars"]
    else:
        sources, options, names = (), {"handler_class": plotserve.load_source(FAULTS).Faults}, ["bars"]
    with running_server(*sources, workers=1, start_method=start_method, timeout=30, **options) as client:
        health = workers_up(client, 1)
        assert health["worker_pids"] and os.getpid() not in health["worker_pids"]
        for name in names:
            answer = client.get(f"/{name}.png?n=5")
            assert answer.status == 200, answer.headers.get("x-plotserve-error")
            image = answer.image().convert("RGB")
            assert image.size == (800, 500)
            assert len(image.getcolors(maxcolors=1 << 20)) > 10  # drawn, not blank
        if given_as == "source file":
            assert client.get("/exit.png").status == 500  # and its replacement, started the same way, works
            workers_up(client, 1)
        assert client.get("/bars.png?n=6").status == 200


# -- 5. the demo ---------------------------------------------------------------------------------


def test_demo_log_grows_and_is_removed_on_sigterm(tmp_path):
    elsewhere, temp = tmp_path / "elsewhere", tmp_path / "tmp"
    elsewhere.mkdir()
    temp.mkdir()
    command = [sys.executable, str(ROOT / "plotserve.py"), "--port", "0", "--no-browser", "--quiet", "--workers", "2"]
    process = subprocess.Popen(
        command, cwd=elsewhere, env={**os.environ, "TMPDIR": str(temp)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"serving (\d+) plots on (http://127\.0\.0\.1:\d+)/", line)
        assert match, f"no address in {line!r}"
        (folder,) = temp.glob("plotserve-demo-*")
        assert (folder / training.LOG_NAME).is_file()

        host, port = match.group(2).removeprefix("http://").split(":")
        client = Client(None, host, int(port))
        workers_up(client, 2)
        first = client.get("/training.png")
        assert first.status == 200
        # The simulated run appends an epoch every 3 s: the ETag changes without anyone touching it.

        def new_epoch():
            answer = client.get("/training.png")
            return answer if answer.headers["etag"] != first.headers["etag"] else None

        changed = wait_for(new_epoch, "a new epoch in the demo log", seconds=12, every=0.3)
        assert pixels(changed) != pixels(first)

        workers = psutil.Process(process.pid).children(recursive=True)
        assert len(workers) >= 2
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read()
    assert "Traceback" not in stderr, stderr
    assert not folder.exists()

    def gone(child: psutil.Process) -> bool:
        with contextlib.suppress(psutil.NoSuchProcess):
            return not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
        return True

    wait_for(lambda: all(gone(child) for child in workers), "the worker processes gone", 10)


# -- 6. the health endpoint ----------------------------------------------------------------------


def test_health_reports_every_counter(live):
    answer = live.get("/-/health.json")
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/json")
    health = live.health()
    for name in HEALTH_COUNTERS:
        assert isinstance(health[name], int) and health[name] >= 0, name
    assert health["workers_alive"] == 2 and len(health["worker_pids"]) == 2
    assert health["open_figures"] == 0

    etag = live.get("/line.png?n=21").headers["etag"]
    live.get("/line.png?n=21")
    live.get("/line.png?n=21", {"If-None-Match": etag})
    after = live.health()
    change = moved(health, after)
    assert (change["renders"], change["cache_hits"], change["not_modified"]) == (1, 1, 1)
    assert change["cache_bytes"] > 0
