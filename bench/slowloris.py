"""A normal client's latency while slowhttptest attacks plotserve, against a baseline.

    python bench/slowloris.py                    # this checkout, slow headers then slow read
    python bench/slowloris.py --baseline 0f9ae47 # the same, and plotserve.py as of that commit first

Starts ``plotserve.py tests/sources/sec_faults.py --workers 1`` on 127.0.0.1, runs Debian's
``slowhttptest`` against it (``-c 500 -r 100 -i 10 -x 24 -p 3``, slow headers ``-H`` and slow read
``-X``, ``-l`` seconds long), and meanwhile asks ``/ok.json`` every 0.25 s on a fresh connection as
a normal client would. Prints, per server and mode, the median, 90th percentile and worst latency
of the normal client and how many of its requests were not answered 200.
"""

import argparse
import http.client
import pathlib
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "sources" / "sec_faults.py"
MODES = {"slow headers": ["-H"], "slow read": ["-X", "-k", "3"]}


def start(plotserve: pathlib.Path) -> tuple[subprocess.Popen, int]:
    """plotserve.py as a command on a free port: (process, port)."""
    command = [sys.executable, str(plotserve), str(SOURCE), "--port", "0", "--no-browser", "--workers", "1", "--quiet"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ready, _, _ = select.select([process.stdout], [], [], 60)
    if not ready:
        process.kill()
        raise SystemExit("plotserve printed nothing")
    port = int(re.search(r":(\d+)/", process.stdout.readline()).group(1))
    return process, port


def ask(port: int) -> tuple[int | str, float]:
    """One normal request on a fresh connection: (status or error name, seconds)."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/ok.json")
        status = connection.getresponse().status
    except OSError as error:
        status = type(error).__name__
    finally:
        connection.close()
    return status, time.perf_counter() - started


def attack(port: int, mode: str, seconds: int, path: str = "/") -> list[tuple[int | str, float]]:
    """Run slowhttptest for ``seconds`` and probe as a normal client meanwhile; the probes' answers."""
    command = ["slowhttptest", *MODES[mode], "-c", "500", "-r", "100", "-i", "10", "-x", "24", "-p", "3"]
    command += ["-t", "GET", "-u", f"http://127.0.0.1:{port}{path}", "-l", str(seconds)]
    tool = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    answers = []
    try:
        time.sleep(3)  # let the attack open its connections
        while tool.poll() is None and len(answers) < 4 * seconds:
            answers.append(ask(port))
            time.sleep(0.25)
    finally:
        tool.terminate()
        tool.wait(30)
    return answers


def summary(answers: list[tuple[int | str, float]]) -> str:
    latencies = sorted(seconds * 1000 for _, seconds in answers)
    failed = sum(status != 200 for status, _ in answers)
    p90 = latencies[int(0.9 * (len(latencies) - 1))]
    median, worst = statistics.median(latencies), latencies[-1]
    return f"{len(answers):4d} requests  median {median:8.1f} ms  p90 {p90:8.1f} ms  worst {worst:8.1f} ms  not 200: {failed}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a commit whose plotserve.py to measure first")
    parser.add_argument("--seconds", type=int, default=20, help="length of each attack (-l)")
    options = parser.parse_args()
    if not shutil.which("slowhttptest"):
        raise SystemExit("slowhttptest is not installed: apt-get install slowhttptest")
    servers = []
    with tempfile.TemporaryDirectory() as folder:
        if options.baseline:
            old = pathlib.Path(folder, "plotserve.py")
            git = [shutil.which("git") or "git", "show", f"{options.baseline}:plotserve.py"]
            old.write_bytes(subprocess.run(git, cwd=ROOT, capture_output=True, check=True).stdout)
            servers.append((f"baseline {options.baseline}", old))
        servers.append(("this checkout", ROOT / "plotserve.py"))
        for label, path in servers:
            for mode in MODES:
                process, port = start(path)
                try:
                    print(f"{label:22s} {mode:12s} idle:   {summary([ask(port) for _ in range(20)])}", flush=True)
                    answers = attack(port, mode, options.seconds)
                    print(f"{label:22s} {mode:12s} attack: {summary(answers)}", flush=True)
                finally:
                    process.terminate()
                    process.wait(30)


if __name__ == "__main__":
    main()
