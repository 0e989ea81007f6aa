"""A training log: the classic plotserve use, a plot of a CSV that keeps growing.

Run `python plots/training.py [ROWS [PATH]]` to write a demo log.
"""

import math
import sys
import threading
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

try:
    from plotserve import Range
except ModuleNotFoundError:  # run as a script: plotserve.py sits one folder up
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from plotserve import Range

LOG_NAME = "training_log.csv"
LOSSES = ("loss", "val_loss")
METRICS = ("precision", "recall", "f1")
COLUMNS = ("epoch", *LOSSES, *METRICS)
# Fixed colours per series, so a line keeps its colour whichever metrics are chosen.
COLORS = {"loss": "C0", "val_loss": "C1", "precision": "C2", "recall": "C3", "f1": "C4"}


def _epoch_row(epoch: int, seed: int) -> dict[str, float]:
    """One epoch's values; a function of (epoch, seed) alone, so a log can be extended."""
    rng = np.random.default_rng([seed, epoch])
    loss = (0.08 + 2.2 * math.exp(-epoch / 30)) * (1 + 0.04 * rng.standard_normal())
    # Validation loss sits above the training loss and creeps up late on (overfitting).
    val_loss = 1.08 * loss + 0.05 + 0.0004 * epoch + 0.02 * rng.standard_normal()
    precision = 0.93 - 0.55 * math.exp(-epoch / 25) + 0.012 * rng.standard_normal()
    recall = 0.89 - 0.65 * math.exp(-epoch / 40) + 0.015 * rng.standard_normal()
    precision = round(min(max(precision, 0.01), 1.0), 4)
    recall = round(min(max(recall, 0.01), 1.0), 4)
    f1 = 2 * precision * recall / (precision + recall)
    return {
        "epoch": epoch,
        "loss": round(max(loss, 1e-4), 4),
        "val_loss": round(max(val_loss, 1e-4), 4),
        "precision": precision,
        "recall": recall,
        "f1": round(f1, 4),
    }


def _csv_line(row: dict[str, float]) -> str:
    return ",".join(str(row[column]) for column in COLUMNS) + "\n"


def make_training_log(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """A plausible training log of `rows` epochs, numbered from 1."""
    return pd.DataFrame([_epoch_row(epoch, seed) for epoch in range(1, rows + 1)], columns=COLUMNS)


def write_training_log(path: str | Path, rows: int = 200, seed: int = 0) -> Path:
    """Write a training log of `rows` epochs to `path` as CSV and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    make_training_log(rows, seed).to_csv(path, index=False, lineterminator="\n")
    return path


def append_epoch(path: str | Path, seed: int = 0) -> int:
    """Append the next epoch to the log at `path` and return its new row count."""
    path = Path(path)
    epochs = pd.read_csv(path, usecols=["epoch"])["epoch"]
    next_epoch = int(epochs.iloc[-1]) + 1 if len(epochs) else 1
    # One short write of a whole line, flushed before closing, so a reader polling the
    # file sees either the old log or the old log plus one complete line.
    with path.open("a", encoding="utf-8", newline="") as file:
        file.write(_csv_line(_epoch_row(next_epoch, seed)))
        file.flush()
    return len(epochs) + 1


def start_demo(data_dir: Path, every: float = 3.0) -> threading.Thread:
    """Write a 20-epoch log into `data_dir` and keep appending an epoch every `every` seconds."""
    path = write_training_log(Path(data_dir) / LOG_NAME, rows=20)

    def train_forever() -> None:
        while True:
            time.sleep(every)
            append_epoch(path)

    thread = threading.Thread(target=train_forever, name="training-demo", daemon=True)
    thread.start()
    return thread


def plot_training(
    fig: Figure,
    log: Path = Path(LOG_NAME),
    smooth: Annotated[int, Range(1, 50)] = 1,
    logy: bool = False,
    metrics: list[str] = METRICS,
    last: int | None = None,
) -> None:
    """Loss and precision/recall/F-score of a training run, read from a CSV log.

    Args:
        log: CSV file with columns epoch, loss, val_loss, precision, recall, f1.
        smooth: Average each curve over this many epochs (1 for the raw values).
        logy: Draw the losses on a logarithmic scale.
        metrics: Scores to draw on the right axis: precision, recall and/or f1.
        last: Show only the last this many epochs; empty for all of them.
    """
    unknown = [name for name in metrics if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {', '.join(map(repr, unknown))}; valid metrics: {', '.join(METRICS)}")
    if last is not None and last < 1:
        raise ValueError(f"last must be at least 1, got {last}")
    metrics = list(dict.fromkeys(metrics))

    log = Path(log).resolve()
    data = pd.read_csv(log)
    row_count = len(data)
    # Smooth before cutting, so the first shown epochs still average over earlier ones.
    curves = data[[*LOSSES, *metrics]].rolling(smooth, min_periods=1).mean()
    curves.insert(0, "epoch", data["epoch"])
    if last is not None:
        curves = curves.tail(last)

    fig.set_layout_engine("constrained")
    loss_ax = fig.add_subplot()
    for name in LOSSES:
        loss_ax.plot(curves["epoch"], curves[name], color=COLORS[name], label=name)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss")
    if logy:
        loss_ax.set_yscale("log")
    loss_ax.grid(True, alpha=0.4)
    handles, labels = loss_ax.get_legend_handles_labels()

    if metrics:
        score_ax = loss_ax.twinx()
        for name in metrics:
            score_ax.plot(curves["epoch"], curves[name], color=COLORS[name], label=name)
        score_ax.set_ylim(0, 1)
        score_ax.set_ylabel("score")
        more_handles, more_labels = score_ax.get_legend_handles_labels()
        handles += more_handles
        labels += more_labels

    if row_count:
        title = f"{log.name}: {row_count} epochs, last epoch {data['epoch'].iloc[-1]}"
    else:
        title = f"{log.name}: no epochs logged yet"
    if smooth > 1:
        title += f" (mean of {smooth})"
    if fig.get_figwidth() < 4:  # a phone's picture: the title in two lines, not cut at both ends
        title = title.replace(": ", ":\n", 1)
    loss_ax.set_title(title)
    # Below the axes, so the legend never hides a curve; in two rows on a narrow figure (a thumbnail).
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels) if fig.get_figwidth() >= 6 else 3)


if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    path = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(LOG_NAME)
    print(write_training_log(path, rows=rows))
