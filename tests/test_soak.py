"""Soak: 16 keep-alive clients send a mix of good, bad and conditional requests for a while.

CI runs a short form (600 requests); set PLOTSERVE_SOAK_REQUESTS=4000 for the full one. The
server is the real command (``plotserve.py ... --workers 2``), so its memory is its own.
"""

import collections
import hashlib
import http.client
import io
import json
import os
import random
import re
import select
import subprocess
import sys
import threading
import time

import psutil
import pytest
from conftest import ROOT
from PIL import Image

CLIENTS = 16
REQUESTS = int(os.environ.get("PLOTSERVE_SOAK_REQUESTS", "600"))
WARM_UP = 8  # requests per client before the memory baseline is taken
# Resident memory the server and its workers may gain after warm-up: the 8 MB cache filling, the
# allocator settling (+14 MB measured over 4,000 requests), and room for the rest.
MAX_GROWTH = 40 * 2**20

# (path, expected status, kind); "cond" ones are sent again with If-None-Match and must be 304.
GOOD = [
    *[(f"/wave.png?cycles={cycles}", 200, "cond") for cycles in range(1, 7)],
    *[(f"/heatmap.png?size={size}", 200, "cond") for size in (10, 20, 30)],
    *[(f"/histogram.png?n=500&seed={seed}", 200, "cond") for seed in range(4)],
    ("/training.png", 200, "cond"),
    ("/training.png?smooth=3&last=10", 200, "cond"),
    ("/spectrum.svg", 200, "image"),
    ("/wave", 200, "page"),
    ("/training", 200, "page"),
    ("/wave.json?cycles=3", 200, "json"),
    ("/index.json", 200, "json"),
    ("/-/static/plotserve.js", 200, "static"),
]
BAD = [
    ("/wave.png?cycles=x", 400, "image"),
    ("/wave?frequency=nan", 400, "page"),
    ("/wave.json?self=1", 400, "json"),
    ("/nope", 404, "page"),
    ("/training.json?log=/etc/passwd", 403, "json"),
    ("/wave.png?_dpi=100000", 400, "image"),
    ("/heatmap.png?size=1000", 400, "image"),
]


def resident_bytes(pid: int) -> int:
    """Resident memory of a process and all its children."""
    parent = psutil.Process(pid)
    total = 0
    for process in [parent, *parent.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


@pytest.fixture
def command_server(tmp_path):
    """plotserve.py serving the examples from a data folder, as a subprocess; yields (process, port)."""
    sys.path.insert(0, str(ROOT / "plots"))
    import training

    training.write_training_log(tmp_path / training.LOG_NAME, rows=200)
    sources = [str(ROOT / "plots" / name) for name in ("waves.py", "gallery.py", "training.py")]
    command = [sys.executable, str(ROOT / "plotserve.py"), *sources, "--port", "0", "--no-browser", "--workers", "2", "--quiet"]
    process = subprocess.Popen([*command, "--data-dir", str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "plotserve printed nothing"
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", process.stdout.readline()).group(1))
        deadline = time.monotonic() + 60
        while _health(port)["workers_alive"] != 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield process, port
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
        assert "Traceback" not in err, err[-3000:]


def _health(port: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/-/health.json")
    data = json.loads(connection.getresponse().read())
    connection.close()
    return data


class SoakClient(threading.Thread):
    """One keep-alive connection sending its share of the mix, checking every answer."""

    def __init__(self, port: int, count: int, seed: int, warmed: threading.Barrier):
        super().__init__(daemon=True)
        self.port, self.count, self.random, self.warmed = port, count, random.Random(seed), warmed  # noqa: S311 (a repeatable mix)
        self.connection_errors: list[str] = []
        self.wrong: list[str] = []
        self.corrupt: list[str] = []
        self.etags: dict[str, str] = {}
        self.bodies: dict[str, set[str]] = collections.defaultdict(set)
        self.statuses: collections.Counter = collections.Counter()
        self.connection = None

    def ask(self, path: str, headers: dict) -> http.client.HTTPResponse | None:
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            self.connection.request("GET", path, headers=headers)
            response = self.connection.getresponse()
            response.body = response.read()
            return response
        except (OSError, http.client.HTTPException) as error:
            self.connection_errors.append(f"{path}: {type(error).__name__}: {error}")
            self.connection.close()
            self.connection = None
            return None

    def run(self) -> None:
        for index in range(self.count):
            if index == WARM_UP:
                self.warmed.wait(120)
            roll = self.random.random()
            path, status, kind = self.random.choice(BAD if roll < 0.25 else GOOD)
            headers = {}
            if kind == "cond" and path in self.etags and self.random.random() < 0.5:
                headers["If-None-Match"] = self.etags[path]
                status = 304
            response = self.ask(path, headers)
            if response is None:
                continue
            self.statuses[response.status] += 1
            if response.status != status:
                self.wrong.append(f"{path} {headers}: {response.status}, expected {status}")
                continue
            content_type = response.getheader("Content-Type", "")
            if content_type == "image/png" and response.status != 304:
                try:
                    Image.open(io.BytesIO(response.body)).load()
                except Exception as error:
                    self.corrupt.append(f"{path}: {error}")
            if response.status == 200 and kind == "cond":
                self.etags[path] = response.getheader("ETag")
                self.bodies[path].add(hashlib.sha256(response.body).hexdigest())
        if self.count <= WARM_UP:
            self.warmed.wait(120)
        if self.connection is not None:
            self.connection.close()


@pytest.mark.soak
def test_soak(command_server):
    process, port = command_server
    warmed = threading.Barrier(CLIENTS + 1)
    per_client = max(1, REQUESTS // CLIENTS)
    clients = [SoakClient(port, per_client, seed, warmed) for seed in range(CLIENTS)]
    for client in clients:
        client.start()
    warmed.wait(120)
    baseline = peak = resident_bytes(process.pid)
    deadline = time.monotonic() + 60 + REQUESTS * 0.5
    while any(client.is_alive() for client in clients):
        assert time.monotonic() < deadline, "the soak did not finish"
        peak = max(peak, resident_bytes(process.pid))
        time.sleep(0.2)
    final = resident_bytes(process.pid)

    statuses = sum((client.statuses for client in clients), collections.Counter())
    assert sum(statuses.values()) == per_client * CLIENTS
    assert [error for client in clients for error in client.connection_errors] == []
    assert [wrong for client in clients for wrong in client.wrong] == []
    assert [corrupt for client in clients for corrupt in client.corrupt] == []
    assert {200, 304, 400, 403, 404} <= set(statuses)  # every kind of answer was exercised
    # The same view gave the same picture to every client: no answer went to the wrong request.
    bodies = collections.defaultdict(set)
    for client in clients:
        for path, digests in client.bodies.items():
            bodies[path] |= digests
    assert {path: len(digests) for path, digests in bodies.items() if len(digests) != 1} == {}
    growth = max(peak, final) - baseline
    megabytes = ", ".join(f"{name} {value / 2**20:.0f} MB" for name, value in (("warm", baseline), ("peak", peak), ("end", final)))
    print(f"soak: {dict(statuses)}; resident memory: {megabytes}")
    assert growth < MAX_GROWTH, f"resident memory grew by {growth / 2**20:.0f} MB"
    health = _health(port)
    assert health["status"] == "ok" and health["workers_alive"] == 2
