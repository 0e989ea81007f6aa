"""Fixtures: a real plotserve on 127.0.0.1, an HTTP helper, and headless Chromium."""

import contextlib
import dataclasses
import http.client
import io
import os
import pathlib
import shutil
import socket
import stat
import sys
import threading
import urllib.parse

import pytest
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plots"))

import training  # noqa: E402  (plots/training.py)

import plotserve  # noqa: E402

EXAMPLES = [str(path) for path in sorted((ROOT / "plots").glob("*.py"))]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclasses.dataclass
class Answer:
    """One HTTP answer, read whole."""

    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def image(self) -> Image.Image:
        """The body decoded as an image (fails the test if it is not one)."""
        image = Image.open(io.BytesIO(self.body))
        image.load()
        return image


@dataclasses.dataclass
class Client:
    """A running server's address, and a way to ask it things over HTTP."""

    server: plotserve.PlotServer
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def get(self, path: str, headers: dict | None = None, method: str = "GET", timeout: float = 60) -> Answer:
        """Send one request on a fresh connection and read the answer.

        A relative URL (``wave.png?x=1``, as plotserve writes them) is taken from the top, as a browser
        on a top-level page would."""
        if path and path[0] not in "/*" and "://" not in path:
            path = urllib.parse.urljoin("/", path)
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
        finally:
            connection.close()

    def health(self) -> dict:
        import json

        return json.loads(self.get("/-/health.json").body)


@contextlib.contextmanager
def running_server(*sources: str, address=("127.0.0.1", 0), **options):
    """Start a real PlotServer (on 127.0.0.1 and an ephemeral port unless ``address`` says
    otherwise; it is always asked over 127.0.0.1), and stop it afterwards."""
    options.setdefault("quiet", True)
    server = plotserve.PlotServer(address, sources, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Client(server, "127.0.0.1", server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture
def log_dir(tmp_path) -> pathlib.Path:
    """A data directory of the test's own, with a 30-epoch training log the test may append to."""
    training.write_training_log(tmp_path / training.LOG_NAME, rows=30)
    return tmp_path


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> pathlib.Path:
    """A data directory holding the examples' training log."""
    folder = tmp_path_factory.mktemp("data")
    training.write_training_log(folder / training.LOG_NAME, rows=200)
    return folder


@pytest.fixture(scope="session")
def examples(data_dir):
    """The example plots served by worker processes, shared by the session's tests."""
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=data_dir), workers=2) as client:
        yield client


@pytest.fixture(scope="session")
def inprocess(data_dir):
    """The example plots rendered in the server process (``--workers 0``)."""
    with running_server(*EXAMPLES, limits=plotserve.Limits(data_dir=data_dir), workers=0) as client:
        yield client


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's package) driven by Playwright."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: apt-get install chromium")
    before = _open_pipes()
    with sync_playwright() as playwright:
        # Render workers forked from this process later would inherit the pipes to Playwright's driver,
        # and the driver waits for its stdin to close before it exits: a worker still alive then (a
        # session-scoped server torn down after the browser) would hold the session open for ever.
        driver_pipes = {fd: inode for fd, inode in _open_pipes().items() if before.get(fd) != inode}
        os.register_at_fork(after_in_child=lambda: _close_pipes(driver_pipes))
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
        driver_pipes.clear()


def _open_pipes() -> dict[int, int]:
    """This process's open pipes: file descriptor -> inode."""
    pipes = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            info = os.fstat(int(name))
            if stat.S_ISFIFO(info.st_mode):
                pipes[int(name)] = info.st_ino
    return pipes


def _close_pipes(pipes: dict[int, int]) -> None:
    """In a forked child: close its copies of the given pipes, where the descriptor still names the same pipe."""
    for fd, inode in list(pipes.items()):
        with contextlib.suppress(OSError):
            if os.fstat(fd).st_ino == inode:
                os.close(fd)


@pytest.fixture
def context_of(browser):
    """Browser contexts with options (viewport, colour scheme, permissions), closed afterwards."""
    contexts = []

    def make(**options):
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(browser):
    """A fresh browser page; console errors are collected on page.errors."""
    context = browser.new_context()
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes exactly as given; read until the server closes the connection."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            if not chunks:
                raise
    return b"".join(chunks)
