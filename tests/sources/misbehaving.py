"""Plots for tests/test_misbehaving.py: ones that allocate too much, fork, or start processes.

Each one checks its own result and raises when it is wrong, so a 200 means it worked.
"""

import multiprocessing
import os
import pathlib
import subprocess
import sys
import time


def plot_ok(ax, view: int = 0):
    """A plain line: what must still work after each fault (view only makes views distinct)."""
    ax.plot([0, 1, 2], [0, 1, 4])
    ax.set_title(f"view {view}")


def plot_allocate(ax, mb: int = 900):
    """Allocates mb megabytes and writes to every page of them."""
    block = bytearray(mb << 20)
    ax.plot([0, 1], [0, len(block)])


def plot_fork(ax):
    """Forks a child that exits with 5, and waits for it."""
    pid = os.fork()
    if pid == 0:
        os._exit(5)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 5:
        raise RuntimeError(f"the child ended with {status}")
    ax.plot([0, 1], [0, 5])


def plot_fork_and_return(ax):
    """Forks, and the child carelessly returns from the plot as the parent does."""
    os.fork()
    ax.plot([0, 1], [1, 0])


def plot_subprocess(ax):
    """Runs a Python child and reads its output."""
    out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True, timeout=60, check=True).stdout
    if out.strip() != "42":
        raise RuntimeError(f"the child printed {out!r}")
    ax.plot([0, 1], [0, 42])


def _square(value: int) -> int:
    return value * value


def plot_pool(ax):
    """Squares numbers in a multiprocessing.Pool of two processes."""
    with multiprocessing.Pool(2) as pool:
        squares = pool.map(_square, range(6))
    if squares != [0, 1, 4, 9, 16, 25]:
        raise RuntimeError(f"the pool gave {squares}")
    ax.plot(range(6), squares)


def plot_start_child(ax, pidfile: str = "", seconds: float = 600):
    """Starts a process that outlives any render, writes 'worker child' pids to pidfile, then sleeps."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    pathlib.Path(pidfile).write_text(f"{os.getpid()} {child.pid}")
    time.sleep(seconds)
    ax.plot([0, 1], [0, 1])
