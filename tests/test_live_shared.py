"""Many live pictures on one held request, and held requests that cost no thread, over real HTTP:
``/-/changes.json`` answers when any of its views changes and says which; a held request is
parked on the server's selector (a thousand viewers need no thousand threads), lets go when its
client leaves, and keeps its connection alive for the next request; gunicorn's threaded workers
hold it in a thread.

Behaviour only: statuses, ETags, JSON answers and the counters of /-/health.json.
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.parse

import pytest
from conftest import EXAMPLES, ROOT, Client, running_server, training
from test_live import health_when, moved
from test_wsgi import free_port, stop, wait_until_listening

import plotserve

VIEWS = ["training.png", "training.png?smooth=3", "training.png?smooth=9"]


@pytest.fixture
def server(log_dir):
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=log_dir), workers=1) as client:
        yield client


def changes_url(views: dict, wait: float = 25) -> str:
    """``/-/changes.json`` for views given as {url: etag}."""
    pairs = [pair for view, etag in views.items() for pair in (("view", view), ("etag", etag))]
    return "/-/changes.json?" + urllib.parse.urlencode([*pairs, ("_wait", wait)])


def etags(client, views) -> dict:
    return {view: client.get("/" + view).headers["etag"] for view in views}


def ask(client, path: str, results: list) -> threading.Thread:
    """A held request in a thread of its own; its answer is appended to results."""
    thread = threading.Thread(target=lambda: results.append(client.get(path)))
    thread.start()
    return thread


def waiting(client, count: int) -> dict:
    return health_when(client, lambda health: health["waiting"] == count, f"{count} requests held")


def test_one_request_for_many_views_answers_when_one_changes_and_says_which(server, log_dir):
    shown = etags(server, VIEWS)
    before = server.health()
    results: list = []
    thread = ask(server, changes_url(shown), results)
    health = waiting(server, 1)
    assert health["watched_views"] == 3  # one held request, three views watched
    training.append_epoch(log_dir / training.LOG_NAME)
    thread.join(60)
    answer = json.loads(results[0].body)
    assert results[0].status == 200 and answer["watch"] == "held"
    assert [entry["view"] for entry in answer["views"]] == VIEWS
    now = etags(server, VIEWS)
    for entry in answer["views"]:  # every view listed with its ETag now: all three read the log
        assert entry["changed"] and entry["etag"] == now[entry["view"]] != shown[entry["view"]]
    change = moved(before, server.health())
    assert change["renders"] == 3  # the pictures, drawn once each when asked for above; the hold drew none
    assert (change["watch_changed"], change["watch_timeouts"]) == (1, 0)


def test_nothing_changed_answers_when_the_hold_times_out(server):
    shown = etags(server, VIEWS[:2])
    before = server.health()
    answer = server.get(changes_url(shown, wait=1))
    listed = json.loads(answer.body)["views"]
    assert answer.status == 200 and [entry["changed"] for entry in listed] == [False, False]
    assert {entry["view"]: entry["etag"] for entry in listed} == shown
    change = moved(before, server.health())
    assert (change["watch_timeouts"], change["renders"]) == (1, 0)


def test_an_old_etag_is_answered_at_once(server):
    shown = etags(server, VIEWS[:2])
    shown[VIEWS[1]] = '"old"'
    before = server.health()
    answer = json.loads(server.get(changes_url(shown)).body)
    assert answer["views"][1]["etag"] not in ('"old"', None)
    assert moved(before, server.health())["watch_looks"] == 0  # never held


def test_untracked_and_unknown_views_are_said_so_and_not_held(server):
    shown = etags(server, ["training.png"])
    views = {**shown, "wave.png": "", "nosuch.png": "", "training.png?smooth=-5": ""}
    answer = server.get(changes_url(views))
    listed = {entry["view"]: entry for entry in json.loads(answer.body)["views"]}
    assert answer.status == 200
    assert listed["wave.png"]["untracked"] is True  # no file to watch: the page asks on its period
    assert listed["nosuch.png"]["error"] and listed["training.png?smooth=-5"]["error"]
    # Only untracked views: nothing to hold, answered at once.
    alone = json.loads(server.get(changes_url({"wave.png": ""})).body)
    assert alone["views"][0]["untracked"] is True and server.health()["waiting"] == 0


@pytest.mark.parametrize(
    "query",
    ["", "view=training.png&_wait=99", "view=training.png&what=1", "&".join(f"view=training.png%3Fsmooth%3D{n}" for n in range(201))],
)
def test_a_bad_changes_query_is_400_with_its_reason(server, query):
    answer = server.get("/-/changes.json?" + query)
    assert answer.status == 400 and json.loads(answer.body)["errors"][""]


def test_past_the_bound_the_answer_says_full(log_dir):
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=log_dir), workers=1, max_waiting=1) as client:
        shown = etags(client, VIEWS[:1])
        results: list = []
        thread = ask(client, changes_url(shown, wait=5), results)
        waiting(client, 1)
        answer = json.loads(client.get(changes_url(shown)).body)
        assert answer["watch"] == "full" and not answer["views"][0]["changed"]
        thread.join(30)


def test_held_requests_from_many_addresses_cost_no_thread_each(server, log_dir):
    etag = server.get("/training.png").headers["etag"]
    idle = server.health()["threads"]
    sockets = []
    try:
        for n in range(200):  # each from its own loopback address, as 200 viewers
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30, source_address=(f"127.0.{n // 250}.{n % 250 + 2}", 0))
            sock.sendall(f"GET /training.png?_wait=25 HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: {etag}\r\n\r\n".encode())
            sockets.append(sock)
        health = waiting(server, 200)
        assert health["threads"] < idle + 20, (idle, health["threads"])  # not one per held request
        before = server.health()
        training.append_epoch(log_dir / training.LOG_NAME)
        answers = []
        for sock in sockets:
            response = http.client.HTTPResponse(sock)
            response.begin()
            answers.append((response.status, response.getheader("ETag"), response.read()))
        assert {status for status, _, _ in answers} == {200}
        assert len({etag for _, etag, _ in answers}) == 1 and answers[0][1] != etag
        assert moved(before, server.health())["renders"] == 1  # one render for the 200
    finally:
        for sock in sockets:
            sock.close()


def test_a_parked_connection_stays_alive_for_the_next_request(server, log_dir):
    etag = server.get("/training.png").headers["etag"]
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", "/training.png?_wait=25", headers={"If-None-Match": etag})
        waiting(server, 1)
        training.append_epoch(log_dir / training.LOG_NAME)
        first = connection.getresponse()
        assert first.status == 200 and first.getheader("X-Plotserve-Watch") == "held"
        first.read()
        local = connection.sock.getsockname()
        connection.request("GET", "/training.png?_wait=1", headers={"If-None-Match": first.getheader("ETag")})
        second = connection.getresponse()
        assert second.status == 304 and connection.sock.getsockname() == local  # the same connection
        second.read()
        connection.request("HEAD", "/training.png")  # and once more, past a hold that timed out
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_a_parked_request_whose_client_leaves_lets_go_at_once(server):
    shown = etags(server, VIEWS[:2])
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(f"GET {changes_url(shown)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    waiting(server, 1)
    sock.close()
    health = waiting(server, 0)  # well before the 25 s hold is over
    assert (health["watch_gone"], health["watch_timeouts"], health["watched_views"]) == (1, 0, 0)


def test_gunicorn_threaded_workers_hold_requests_in_their_threads(log_dir):
    """gunicorn's gthread workers hold a request in one of their threads: with 4 threads and
    max_waiting=3, three are held and the fourth thread still serves everything else."""
    port = free_port()
    app = f'make_app("plots/training.py", data_dir="{log_dir}", max_waiting=3)'
    args = ["-m", "gunicorn", "-k", "gthread", "-w", "1", "--threads", "4", "-b", f"127.0.0.1:{port}", "--no-control-socket"]
    environment = {**{k: v for k, v in os.environ.items() if k != "PLOTSERVE_TOKEN"}, "PYTHONPATH": str(ROOT)}
    logfile = open(log_dir / "gunicorn.log", "w+b")  # noqa: SIM115  (closed in stop())
    process = subprocess.Popen(
        [sys.executable, *args, f"plotserve:{app}"], cwd=ROOT, env=environment, stdout=logfile, stderr=subprocess.STDOUT
    )
    try:
        wait_until_listening(process, port, logfile)
        client = Client(None, "127.0.0.1", port)
        shown = etags(client, VIEWS[:2])
        results: list = []
        threads = [ask(client, changes_url(shown), results) for _ in range(3)]
        waiting(client, 3)
        assert client.get("/training.png?smooth=5").status == 200  # the fourth thread is free for the rest
        assert json.loads(client.get(changes_url(shown)).body)["watch"] == "full"  # a fourth hold: past max_waiting
        training.append_epoch(log_dir / training.LOG_NAME)
        for thread in threads:
            thread.join(60)
        assert [answer.status for answer in results] == [200] * 3
        assert all(entry["changed"] for answer in results for entry in json.loads(answer.body)["views"])
    finally:
        stop(process, logfile)


def test_a_held_request_with_the_next_one_already_sent_is_held_in_its_thread_and_both_are_answered(server):
    etag = server.get("/training.png").headers["etag"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        held = f"GET /training.png?_wait=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nIf-None-Match: {etag}\r\n\r\n"
        sock.sendall((held + "HEAD /training.png HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").encode())  # pipelined
        # One reader for both answers (neither has a body): an http.client.HTTPResponse each would
        # each read ahead, and the first could swallow the second when both have arrived.
        answers = sock.makefile("rb")
        first, first_headers = int(answers.readline().split()[1]), http.client.parse_headers(answers)
        assert first == 304 and first_headers["X-Plotserve-Watch"] == "held"
        second, second_headers = int(answers.readline().split()[1]), http.client.parse_headers(answers)
        assert second == 200 and second_headers["ETag"] == etag
