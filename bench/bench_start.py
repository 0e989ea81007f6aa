"""Benchmark the start: from the command to the first PNG of a convergence plot.

Run from anywhere (paths are taken from this file)::

    python bench/bench_start.py              # medians of 5, under a minute
    python bench/bench_start.py --repeat 9
    python bench/bench_start.py --kinds "classic,plotserve -m" --against ../old-checkout

The servers draw the same convergence plot (the same function, written with pyplot):

- **classic**: the one-file recipe plotserve grew out of, written below: a ``BaseHTTPRequestHandler``
  that imports matplotlib at start and draws ``?mode=plot&graph=plot_NAME`` to a PNG;
- **plotserve**: ``python plotserve.py convergence.py --port P --no-browser``, asked ``/convergence.png``;
- **plotserve -m**: the same as ``python -m plotserve ...`` (as the installed ``plotserve`` command runs it);
- **flask**: a Flask app under gunicorn (one sync worker), if both are installed (Flask may be
  installed for the interpreter the virtual environment was made from; it is found there);
- **before** (with ``--against DIR``): ``python -m plotserve`` from another checkout (a folder holding
  its ``plotserve.py``), to compare two versions in the same interleaved runs.

Each run starts the server as a subprocess on a port of 127.0.0.1, asks for the PNG until it comes
and stops the server; the servers take turns (interleaved runs), after one unmeasured run each.
Medians, and ratios to classic. The servers run with bytecode caching on, as Python runs by default,
whatever PYTHONDONTWRITEBYTECODE says here.
"""

import argparse
import http.client
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0

CONVERGENCE = '''\
import matplotlib.pyplot as plt
import numpy as np


def plot_convergence(iterations: int = 200):
    """Residual of an iterative solver, per iteration."""
    step = np.arange(1, iterations + 1)
    residual = np.exp(-step / 25) * (1 + 0.3 * np.sin(step / 3)) + 1e-6
    plt.semilogy(step, residual, label="residual")
    plt.axhline(1e-4, color="gray", linestyle="--", label="tolerance")
    plt.xlabel("iteration")
    plt.ylabel("residual")
    plt.legend()
'''

CLASSIC = '''\
"""The classic recipe: one BaseHTTPRequestHandler drawing plot_* functions with pyplot."""
import io
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import convergence


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        name = query.get("graph", [""])[0]
        plot = getattr(convergence, name, None) if name.startswith("plot_") else None
        if query.get("mode") != ["plot"] or plot is None:
            self.send_error(404)
            return
        plt.figure(figsize=(8, 5), dpi=100)
        plot()
        buffer = io.BytesIO()
        plt.savefig(buffer, format="png")
        plt.close("all")
        body = buffer.getvalue()
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
'''

FLASK = '''\
"""The same plot served by a Flask app."""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from flask import Flask, Response, abort

import convergence

app = Flask(__name__)


@app.route("/<name>.png")
def picture(name):
    plot = getattr(convergence, "plot_" + name, None)
    if plot is None:
        abort(404)
    plt.figure(figsize=(8, 5), dpi=100)
    plot()
    buffer = io.BytesIO()
    plt.savefig(buffer, format="png")
    plt.close("all")
    return Response(buffer.getvalue(), mimetype="image/png")
'''

FLASK_PACKAGES = ("flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def png_status(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        body = answer.read()
        return answer.status == 200 and body.startswith(b"\x89PNG")
    finally:
        connection.close()


def flask_path(folder: pathlib.Path) -> str | None:
    """A folder holding Flask and its dependencies (links), if the venv lacks them and its base has them."""
    try:
        import flask  # noqa: F401

        return ""
    except ImportError:
        pass
    base = pathlib.Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    if not (base / "flask").is_dir():
        return None
    links = folder / "flask-packages"
    links.mkdir()
    for name in FLASK_PACKAGES:
        if (base / name).is_dir():
            (links / name).symlink_to(base / name)
    return str(links)


def commands(folder: pathlib.Path, kinds: list[str]) -> dict:
    """What starts each server on a port, and the path of its PNG."""
    python = sys.executable
    found = {
        "classic": (lambda port: [python, str(folder / "classic.py"), str(port)], "/?mode=plot&graph=plot_convergence"),
        "plotserve": (
            lambda port: [
                python,
                str(REPO / "plotserve.py"),
                str(folder / "convergence.py"),
                "--port",
                str(port),
                "--no-browser",
                "--quiet",
            ],
            "/convergence.png",
        ),
        # As a module (python -m plotserve, or the installed plotserve command): Python reuses the
        # compiled bytecode of plotserve.py, which it compiles afresh each time it runs it as a script.
        "plotserve -m": (
            lambda port: [python, "-m", "plotserve", str(folder / "convergence.py"), "-p", str(port), "--no-browser", "--quiet"],
            "/convergence.png",
        ),
    }
    if "flask" in kinds:
        gunicorn = pathlib.Path(python).with_name("gunicorn")
        extra = flask_path(folder)
        if extra is None or not gunicorn.exists():
            print("flask: skipped (Flask or gunicorn is not installed)")
        else:
            found["flask"] = (
                lambda port: [
                    str(gunicorn),
                    "--chdir",
                    str(folder),
                    "-w",
                    "1",
                    "-b",
                    f"127.0.0.1:{port}",
                    "--log-level",
                    "warning",
                    "flaskapp:app",
                ],
                "/convergence.png",
            )
            os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [extra, os.environ.get("PYTHONPATH", "")]))
    return {kind: found[kind] for kind in kinds if kind in found}


def first_png(command: list[str], path: str, folder: pathlib.Path, port: int, repo: pathlib.Path = REPO) -> tuple[float, float]:
    """Seconds from the command until the port accepts a connection, and until the first PNG."""
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), str(repo), os.environ.get("PYTHONPATH", "")]))}
    environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user's Python runs: compiled modules are cached
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=folder, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    listening = None
    try:
        while time.perf_counter() - started < START_TIMEOUT:
            try:
                if listening is None:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    listening = time.perf_counter() - started
                if png_status(port, path):
                    return listening, time.perf_counter() - started
            except OSError:
                pass
            if process.poll() is not None:
                raise SystemExit(f"bench: {command[1]} exited: {process.stderr.read().decode()[-2000:]}")
            time.sleep(0.005)
        raise SystemExit(f"bench: no PNG from {command} within {START_TIMEOUT} s")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stderr.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kinds", default="classic,plotserve,plotserve -m,flask")
    parser.add_argument("--against", metavar="DIR", help="also run python -m plotserve from this checkout, as 'before'")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plotserve-bench-start-") as name:
        folder = pathlib.Path(name)
        (folder / "convergence.py").write_text(CONVERGENCE)
        (folder / "classic.py").write_text(CLASSIC)
        (folder / "flaskapp.py").write_text(FLASK)
        servers = commands(folder, args.kinds.split(","))
        repos = {}
        if args.against:
            repos["before"] = pathlib.Path(args.against).resolve()
            module = servers.get("plotserve -m") or commands(folder, ["plotserve -m"])["plotserve -m"]
            servers["before"] = module  # the same command, finding plotserve.py in the other checkout
        times = {kind: [] for kind in servers}
        for kind, (command, path) in servers.items():  # once each, unmeasured: files in the page cache
            port = free_port()
            first_png(command(port), path, folder, port, repos.get(kind, REPO))
        for _ in range(args.repeat):
            for kind, (command, path) in servers.items():
                port = free_port()
                times[kind].append(first_png(command(port), path, folder, port, repos.get(kind, REPO)))
    firsts = {kind: [png for _, png in values] for kind, values in times.items()}
    base = statistics.median(firsts["classic"]) if "classic" in firsts else None
    print(f"start to first PNG, medians of {args.repeat} interleaved runs")
    print()
    print("| server | first PNG | ratio to classic | port open | runs (first PNG) |")
    print("|---|---|---|---|---|")
    for kind, values in times.items():
        median = statistics.median(firsts[kind])
        ratio = f"{median / base:.2f}x" if base else ""
        listening = statistics.median(listen for listen, _ in values)
        runs = ", ".join(f"{png * 1000:.0f}" for png in firsts[kind])
        print(f"| {kind} | {median * 1000:.0f} ms | {ratio} | {listening * 1000:.0f} ms | {runs} |")


if __name__ == "__main__":
    main()
