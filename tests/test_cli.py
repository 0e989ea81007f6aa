"""The command line, run as a real subprocess: serving, ports, the browser, --get and --list."""

import contextlib
import dataclasses
import io
import json
import os
import pathlib
import queue
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import xml.etree.ElementTree as ET

import psutil
import pytest
import training  # plots/training.py, on sys.path through conftest
from conftest import ROOT, Client
from PIL import Image

PLOTSERVE = str(ROOT / "plotserve.py")
WAVES = str(ROOT / "plots" / "waves.py")
TRAINING = str(ROOT / "plots" / "training.py")
KINDS = str(ROOT / "tests" / "sources" / "kinds.py")
EXAMPLE_PLOTS = ["heatmap", "histogram", "scatter", "spectrum", "training", "wave"]
URL_LINE = re.compile(r"(http://127\.0\.0\.1:(\d+)/)\S*")
START_TIMEOUT = 60  # seconds to wait for the URL line: generous, a loaded CI machine is slow


@dataclasses.dataclass
class Served:
    """A plotserve subprocess that printed its URL."""

    process: subprocess.Popen
    url: str
    port: int
    line: str
    stderr: list
    stdout: list  # every line, the URL line's followers too; whole once the process has ended

    @property
    def client(self) -> Client:
        return Client(None, "127.0.0.1", self.port)


def clean_env(**extra) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "BROWSER")}
    env.update(extra)
    return env


@pytest.fixture
def browser_log(tmp_path) -> tuple[pathlib.Path, str]:
    """A stand-in web browser (for $BROWSER) that writes the URL it was asked to open to a file."""
    log = tmp_path / "opened.txt"
    script = tmp_path / "fake-browser"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{log}.part" && mv "{log}.part" "{log}"\n')
    script.chmod(0o755)
    return log, str(script)


@contextlib.contextmanager
def serve(*args: str, cwd=None, env=None):
    """Run ``python ARGS`` until it prints the URL it serves on; SIGTERM it afterwards."""
    process = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env or clean_env()
    )
    lines: queue.Queue = queue.Queue()
    stdout: list[str] = []
    stderr: list[str] = []

    def read_stdout():
        for line in process.stdout:
            stdout.append(line)
            lines.put(line)
        lines.put(None)

    readers = [
        threading.Thread(target=read_stdout, daemon=True),
        threading.Thread(target=stderr.extend, args=(process.stderr,), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        while True:
            try:
                line = lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                pytest.fail(f"plotserve printed no URL within {START_TIMEOUT} s; stderr: {''.join(stderr)}")
            if line is None:
                process.wait(10)
                pytest.fail(f"plotserve exited with {process.returncode} before serving; stderr: {''.join(stderr)}")
            match = URL_LINE.search(line)
            if match:
                break
        yield Served(process, match.group(1), int(match.group(2)), line, stderr, stdout)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for reader in readers:
            reader.join(10)
    assert process.returncode == 0, f"plotserve did not stop cleanly on SIGTERM: {''.join(stderr)}"


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    return {
        (connection.laddr.ip, connection.laddr.port)
        for connection in psutil.Process(pid).net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN
    }


def run(*args: str, cwd=None, env=None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, cwd=cwd, env=env or clean_env(), timeout=timeout)


def decode(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


# -- serving --------------------------------------------------------------------------------------

MINE = """\
import plotserve


def plot_line(ax, n: int = 3):
    \"\"\"A line from a module-level function.\"\"\"
    ax.plot(range(n), color="red", linewidth=8)


class Mine(plotserve.PlotRequestHandler):
    def _heights(self, n):
        return [i + 1 for i in range(n)]

    def plot_bar(self, ax, n: int = 2):
        \"\"\"Bars from a method, which may use its own helpers.\"\"\"
        ax.bar(range(n), self._heights(n), color="blue")
"""


@pytest.mark.parametrize("workers", ["0", "1"])
def test_a_file_with_functions_and_a_handler_subclass(tmp_path, browser_log, workers):
    source = tmp_path / "mine.py"
    source.write_text(MINE)
    log, fake_browser = browser_log
    with serve(PLOTSERVE, str(source), "--port", "0", "--no-browser", "--workers", workers, env=clean_env(BROWSER=fake_browser)) as served:
        assert served.line.startswith("plotserve: serving 2 plots on http://127.0.0.1:")
        assert served.port != 0
        assert listening_addresses(served.process.pid) == {("127.0.0.1", served.port)}  # --host defaults to loopback
        client = served.client
        index = json.loads(client.get("/index.json").body)
        assert [plot["name"] for plot in index["plots"]] == ["bar", "line"]
        for path, colour in (("/line.png?n=5", (255, 0, 0)), ("/bar.png?n=4", (0, 0, 255))):
            answer = client.get(path)
            assert answer.status == 200, answer.headers.get("x-plotserve-error")
            image = answer.image().convert("RGB")
            assert image.size == (800, 500)
            assert colour in {rgb for _, rgb in image.getcolors(1 << 20)}, path
        assert client.get("/bar").status == 200 and client.get("/line").status == 200
    assert not log.exists(), "--no-browser opened a browser"


def test_one_plot_is_one_plot_on_the_console(tmp_path):
    source = tmp_path / "one.py"
    source.write_text("def plot_line(ax):\n    ax.plot([1, 2])\n")
    with serve(PLOTSERVE, str(source), "--port", "0", "--no-browser", "--workers", "0") as served:
        assert served.line.startswith("plotserve: serving 1 plot on http://127.0.0.1:")
        assert "1 plot. " in served.client.get("/").text


def test_the_browser_is_opened_on_the_url(tmp_path, browser_log):
    log, fake_browser = browser_log
    with serve(PLOTSERVE, WAVES, "--port", "0", "--workers", "0", env=clean_env(BROWSER=fake_browser)) as served:
        deadline = time.monotonic() + START_TIMEOUT
        while not log.exists() and time.monotonic() < deadline and served.process.poll() is None:
            time.sleep(0.05)
        assert log.exists(), "the browser was not started"
        assert log.read_text().split() == [served.url]


def test_base_url_is_the_address_printed_and_opened(tmp_path, browser_log):
    """Behind a proxy the local address is not the one to open: --base-url is printed and opened, with the token."""
    log, fake_browser = browser_log
    public = "https://hub.example.org/user/alice/proxy/9999"
    args = ["--port", "0", "--workers", "0", "--token", "tok", "--base-url", public]
    with serve(PLOTSERVE, WAVES, *args, env=clean_env(BROWSER=fake_browser)) as served:
        deadline = time.monotonic() + START_TIMEOUT
        while not log.exists() and time.monotonic() < deadline and served.process.poll() is None:
            time.sleep(0.05)
        assert log.read_text().split() == [f"{public}/?token=tok"]
        assert f"plotserve: published at {public}/?token=tok\n" in served.stdout
        # Its path is the token cookie's.
        answer = served.client.get("/?token=tok")
        assert answer.headers["set-cookie"].endswith("; Path=/user/alice/proxy/9999")


@pytest.mark.parametrize("how", ["-m from the repository", "-m with PYTHONPATH", "script from elsewhere"])
def test_with_no_source_the_examples_are_served(tmp_path, how):
    if how == "-m from the repository":
        args, cwd, env = ["-m", "plotserve"], ROOT, clean_env()
    elif how == "-m with PYTHONPATH":
        args, cwd, env = ["-m", "plotserve"], tmp_path, clean_env(PYTHONPATH=str(ROOT))
    else:
        args, cwd, env = [PLOTSERVE], tmp_path, clean_env()
    with serve(*args, "--port", "0", "--no-browser", "--workers", "1", "--quiet", cwd=cwd, env=env) as served:
        plots = json.loads(served.client.get("/index.json").body)["plots"]
        assert [plot["name"] for plot in plots] == EXAMPLE_PLOTS
        for name in ("training", "heatmap"):  # the demo's training log, and a handler method
            answer = served.client.get(f"/{name}.png")
            assert answer.status == 200, answer.headers.get("x-plotserve-error")
            answer.image()
    assert list(tmp_path.iterdir()) == [], "the examples wrote into the current directory"


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_render_processes_start_every_way(tmp_path, start_method):
    source = tmp_path / "mine.py"
    source.write_text(MINE)
    with serve(PLOTSERVE, str(source), "--port", "0", "--no-browser", "-w", "1", "--start-method", start_method, "-q") as served:
        assert served.client.get("/bar.png?n=3").status == 200
        time.sleep(1.5)  # idle past the workers' one-second watch for an orphaned worker
        for path in ("/bar.png?n=5", "/line.png?n=5"):
            answer = served.client.get(path)
            assert answer.status == 200, answer.headers.get("x-plotserve-error")
        assert served.client.health()["workers_alive"] == 1


# -- ports ------------------------------------------------------------------------------------------


# Run as ``python -c REPORT_MODULES plotserve.py ARGS``: plotserve as a script, then, as it exits, which
# of the modules it has no use for at start were imported after all.
REPORT_MODULES = (
    "import atexit, runpy, sys; "
    "unused = ('tkinter', 'webbrowser', 'statistics'); "
    "atexit.register(lambda: print('unused modules:', *sorted(set(unused) & set(sys.modules)), file=sys.stderr)); "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def test_a_start_imports_only_what_it_uses():
    """plac's package brings tkinter (for a GUI plotserve does not have); the browser module is for
    opening the browser, and the median of a few intervals needs no statistics module."""
    with serve("-c", REPORT_MODULES, PLOTSERVE, WAVES, "--port", "0", "--no-browser") as served:
        assert served.client.get("/wave.png").status == 200
        assert served.client.get("/wave.json").status == 200
    assert "unused modules:\n" in served.stderr, served.stderr
    result = run("-c", REPORT_MODULES, PLOTSERVE, WAVES, "--get", "/wave.json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode() == "unused modules:\n"


def test_the_default_port_moves_on_when_9999_is_taken():
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 9999))
        holder.listen()
    except OSError:
        holder.close()
        pytest.skip("port 9999 is in use already: cannot hold it for this test")
    try:
        env = clean_env(SSH_CONNECTION="192.0.2.10 51234 198.51.100.7 22", USER="alice")
        with serve(PLOTSERVE, WAVES, "--no-browser", "--workers", "0", env=env) as served:
            assert 10000 <= served.port < 10049
            assert served.client.get("/wave.png").status == 200
    finally:
        holder.close()
    port = served.port
    # Said plainly, before the address: a tunnel or bookmark saved for 9999 will not find it.
    assert (
        f"plotserve: port 9999 is taken, so this server is on port {port}: a saved link or SSH tunnel to 9999 will not find it"
        " (--port N chooses one)\n"
    ) in served.stderr
    assert f"ssh -L {port}:127.0.0.1:{port} alice@198.51.100.7" in "".join(served.stdout)


def test_a_port_that_was_asked_for_is_not_said_to_have_moved():
    with serve(PLOTSERVE, WAVES, "--no-browser", "--workers", "0", "--port", "0") as served:
        assert served.client.get("/wave.png").status == 200
    assert not [line for line in served.stderr if "taken" in line]


# -- over SSH -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("connection", "user", "expected"),
    [
        ("192.0.2.10 51234 198.51.100.7 22", {"USER": "alice"}, "ssh -L {port}:127.0.0.1:{port} alice@198.51.100.7"),
        ("192.0.2.10 51234 198.51.100.7 2222", {"USER": "", "LOGNAME": "bob"}, "ssh -L {port}:127.0.0.1:{port} -p 2222 bob@198.51.100.7"),
        ("2001:db8::10 51234 2001:db8::7 22", {"USER": "carol"}, "ssh -L {port}:127.0.0.1:{port} carol@2001:db8::7"),
    ],
)
def test_started_over_ssh_it_prints_the_tunnel_command(connection, user, expected):
    env = clean_env(SSH_CONNECTION=connection, **user)
    with serve(PLOTSERVE, WAVES, "--no-browser", "--workers", "0", "--port", "0", env=env) as served:
        command = expected.format(port=served.port)
        tunnel = [line for line in served.stdout if "ssh -L" in line]
        while not tunnel and served.process.poll() is None:  # printed just after the URL line
            time.sleep(0.05)
            tunnel = [line for line in served.stdout if "ssh -L" in line]
        assert tunnel == [f"plotserve: started over SSH; on your own computer run  {command}  and open {served.url}\n"]
        # The command is right: its forward names the port this server answers on.
        assert served.client.get("/wave.png").status == 200


@pytest.mark.parametrize("where", ["not over SSH", "bound to every interface"])
def test_no_tunnel_command_where_none_is_needed(where):
    env = clean_env()
    args = []
    if where == "bound to every interface":
        env["SSH_CONNECTION"], args = "192.0.2.10 51234 198.51.100.7 22", ["--host", "0.0.0.0"]
    else:
        env.pop("SSH_CONNECTION", None)
    with serve(PLOTSERVE, WAVES, "--no-browser", "--workers", "0", "--port", "0", *args, env=env) as served:
        token = served.line.rpartition("token=")[2].strip()
        assert served.client.get("/wave.png", {"Authorization": f"token {token}"} if args else {}).status == 200
    assert not [line for line in served.stdout if "ssh" in line], served.stdout


def test_a_given_port_that_is_taken_is_an_error():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        result = run(PLOTSERVE, WAVES, "--port", str(port), "--no-browser", "--workers", "0", timeout=60)
    finally:
        holder.close()
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr.decode()
    assert b"serving" not in result.stdout


# -- --get and --list -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, check",
    [
        ("/wave.png?cycles=4&kind=square", lambda body: decode(body).size == (800, 500)),
        ("/wave.png?_width=4&_height=2&_dpi=50", lambda body: decode(body).size == (200, 100)),
        ("/wave.svg", lambda body: ET.fromstring(body).tag == "{http://www.w3.org/2000/svg}svg"),  # noqa: S314
        ("/wave.pdf", lambda body: body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")),
        ("/wave.json?cycles=4", lambda body: json.loads(body)["values"]["cycles"] == 4),
        ("wave.png", lambda body: decode(body).format == "PNG"),
    ],
)
def test_get_writes_the_body_to_stdout(url, check):
    result = run(PLOTSERVE, WAVES, "--get", url)
    assert result.returncode == 0, result.stderr
    assert check(result.stdout)
    assert result.stderr == b""


def test_get_writes_to_a_file_with_output(tmp_path):
    target = tmp_path / "wave.png"
    result = run(PLOTSERVE, WAVES, "-g", "/wave.png?cycles=2", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert decode(target.read_bytes()).size == (800, 500)


def test_get_reads_files_under_the_data_directory(tmp_path):
    training.write_training_log(tmp_path / "run.csv", rows=30)
    result = run(PLOTSERVE, TRAINING, "--data-dir", str(tmp_path), "--get", "/training.png?log=run.csv&smooth=3")
    assert result.returncode == 0, result.stderr
    decode(result.stdout)
    (tmp_path / "inner").mkdir()
    refused = run(PLOTSERVE, TRAINING, "-d", str(tmp_path / "inner"), "--get", "/training.png?log=../run.csv")
    assert refused.returncode != 0
    assert "403" in refused.stderr.decode() and "outside the data directory" in refused.stderr.decode()


@pytest.mark.parametrize(
    "args, url, expected",
    [
        ([], "/wave.png?cycles=x", ["400", "cycles", "expected a whole number"]),
        ([], "/wave?cycles=99", ["400"]),
        ([], "/nope.png", ["404"]),
        ([], "/wave.png?noise=-1", ["500", "noise must not be negative"]),
        (["--max-dpi", "50"], "/wave.png?_dpi=100", ["400", "_dpi", "between 10 and 50"]),
        (["--max-pixels", "0.1"], "/wave.png", ["400", "megapixel limit"]),
    ],
)
def test_get_fails_with_the_error_on_stderr(args, url, expected):
    result = run(PLOTSERVE, WAVES, *args, "--get", url)
    assert result.returncode != 0
    assert result.stdout == b""
    stderr = result.stderr.decode()
    assert stderr.startswith(f"plotserve: {url}: ")
    for text in expected:
        assert text in stderr
    assert "Traceback" not in stderr


def test_get_gives_up_after_the_timeout():
    slow = str(pathlib.Path(__file__).parent / "sources" / "live_faults.py")
    result = run(PLOTSERVE, slow, "--timeout", "1", "--get", "/slow.png?seconds=5")
    assert result.returncode == 1
    assert result.stderr.decode().startswith("plotserve: /slow.png?seconds=5: 504 no answer within the 1 s limit")
    assert "Traceback" not in result.stderr.decode()


def test_list_prints_the_plots_and_their_parameters():
    result = run(PLOTSERVE, WAVES, KINDS, "--list")
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    expected = textwrap.dedent(
        """\
        /wave  A few cycles of a sine, square or sawtooth wave, optionally noisy.  [waves.py]
            kind: one of sine, square, sawtooth (default sine)  Shape of the wave.
            frequency: float (default 1.0, 0.1..10)  Cycles per second.
            cycles: int (default 3, 1..20)  Number of whole cycles to draw.
        """
    )
    assert expected in out
    for line in (
        "    value: Color (default RED)",
        "    value: list[int] (default 1, 2)",
        "    value: str (required)",
        "    value: file (default a.csv)",
        "    value: int (default None)",
        "    log: file (required)  Data file to draw.",
    ):
        assert line in out.splitlines(), line
    names = [line.split()[0] for line in out.splitlines() if line.startswith("/")]
    assert names == sorted(names) and "/spectrum" in names and "/survey" in names
