"""Run the recipes benchmark: per data set, nanocnn's default command, then side by side
``nanocnn tune`` with ``TUNE_FACTOR`` times the default's training time and the PyTorch
reference trained for the CPU time the default's training took
(:mod:`benchmarks.recipes.reference`); every process on ``THREADS`` thread(s).

    python -m benchmarks.recipes.run --data /tmp/recipes [--only shapes] [--reuse]

Each step writes its run folder or file under ``DATA/runs/<name>/``; ``--reuse`` keeps the
steps already done there. The table of every data set with results goes to
``benchmarks/results/recipes.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.recipes.datasets import DATA_SETS, DataSet, ensure
from nanocnn.io import load
from nanocnn.parallel.launch import BLAS_THREAD_VARIABLES

THREADS = 1  # for nanocnn and PyTorch alike: the machine's other core is someone else's
TUNE_FACTOR = 2.0  # nanocnn tune's budget, in default runs' training times
RESULTS = Path(__file__).resolve().parents[1] / "results"
TARGET = 0.5  # points of test accuracy the default may miss the reference by


def environment() -> dict[str, str]:
    """This process's environment with every BLAS and OpenMP pool at ``THREADS``."""
    return {**os.environ, **dict.fromkeys(BLAS_THREAD_VARIABLES, str(THREADS))}


def command(words: list[str], log: Path) -> dict[str, float]:
    """Run ``python -m WORDS`` with ``THREADS`` thread(s), its output in ``log``; its wall
    and CPU seconds."""
    start, used = time.perf_counter(), cpu_seconds()
    with log.open("w") as file:
        subprocess.run([sys.executable, "-m", *words], check=True, env=environment(),
                       stdout=file, stderr=subprocess.STDOUT)  # fmt: skip
    return {"wall": time.perf_counter() - start, "cpu": cpu_seconds() - used}


def start(words: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m WORDS`` with ``THREADS`` thread(s), its output in ``log``."""
    with log.open("w") as file:
        return subprocess.Popen([sys.executable, "-m", *words], env=environment(), stdout=file,
                                stderr=subprocess.STDOUT)  # fmt: skip


def cpu_seconds() -> float:
    """The CPU seconds of this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def read_default(folder: Path) -> dict[str, Any]:
    """What a ``nanocnn train`` run folder's metrics.json says of the run."""
    report = json.loads((folder / "metrics.json").read_text())
    training = report["training"]  # its "epochs" are those run; the model's, those planned
    planned = load(folder / "model.npz").metadata["training_options"]
    recipe = {key: planned.get(key) for key in ("model", "lr", "batch_size", "epochs",
                                                 "patience", "augment")}  # fmt: skip
    return {"accuracy": report["accuracy"], "seconds": training["seconds"],
            "epochs_run": training["epochs"], "best_epoch": training.get("best_epoch"),
            "stopped_early": training.get("stopped_early"), "recipe": recipe,
            "train_images": training.get("train_images")}  # fmt: skip


def read_tune(folder: Path) -> dict[str, Any]:
    """What a ``nanocnn tune`` folder's metrics.json says: the test accuracy of the best
    recipe, that recipe as flags, and the number of trials."""
    report = json.loads((folder / "metrics.json").read_text())
    training = report["training"]
    return {"accuracy": report["accuracy"], "command": training["command"],
            "trials": training["trials"], "final_seconds": training["seconds"]}  # fmt: skip


def measure(data: DataSet, root: Path, reuse: bool) -> dict[str, Any]:
    """The row of ``data``: its three runs (each kept when ``reuse`` and already done)."""
    folder = ensure(data, root)
    work = root / "runs" / data.name
    work.mkdir(parents=True, exist_ok=True)
    flags = [*data.task_flags(), "--data-dir", str(folder)]
    default = work / "default"
    if not (reuse and (default / "metrics.json").exists()):
        times = command(["nanocnn", "train", *flags, "--out", str(default), "--overwrite"],
                        work / "default.log")  # fmt: skip
        (work / "default.time.json").write_text(json.dumps(times) + "\n")
    row = {"name": data.name, "form": data.form, "description": data.description,
           "default": read_default(default)}  # fmt: skip
    seconds = row["default"]["seconds"]
    # the CPU seconds the default's training took (its process's share of the CPU alike):
    # the reference's time, robust to other work on the machine
    times = json.loads((work / "default.time.json").read_text())
    cpu = row["default"]["cpu_seconds"] = seconds * min(1.0, times["cpu"] / times["wall"])
    tune, budget = work / "tune", round(TUNE_FACTOR * seconds)
    reference = work / "reference.json"
    steps = []  # the two run side by side, a thread each
    if not (reuse and (tune / "metrics.json").exists()):
        shutil.rmtree(tune, ignore_errors=True)
        (work / "tune.budget").write_text(f"{budget}\n")  # a later default's time may differ
        steps.append(start(["nanocnn", "tune", *flags, "--budget", f"{budget}s", "--out",
                            str(tune)], work / "tune.log"))  # fmt: skip
    if not (reuse and reference.exists()):
        words = ["benchmarks.recipes.reference", *flags, "--cpu-seconds", f"{cpu:.1f}"]
        steps.append(start([*words, "--out", str(reference)], work / "reference.log"))
    for process in steps:
        if process.wait():
            raise subprocess.CalledProcessError(process.returncode, process.args)
    row["tune"] = {**read_tune(tune), "budget": int((work / "tune.budget").read_text())}
    row["reference"] = json.loads(reference.read_text())
    (work / "row.json").write_text(json.dumps(row, indent=2) + "\n")
    return row


def markdown(rows: list[dict[str, Any]]) -> str:
    """The table of ``rows``, with what each column is."""
    lines = [
        "| Data set | Form | Training pictures | nanocnn default: test acc (time, epochs) | "
        "nanocnn tune: test acc (budget) | PyTorch reference: test acc (time) | "
        "Default − reference | Reference's recipe |",
        "|---|---|--:|--:|--:|--:|--:|---|",
    ]
    for row in rows:
        default, tune, ref = row["default"], row["tune"], row["reference"]
        gap = 100 * (default["accuracy"] - ref["test_accuracy"])
        recipe = ref["recipe"]
        chosen = (
            f"lr {recipe['lr']:.1e}, batch {recipe['batch_size']}, wd "
            f"{recipe['weight_decay']:g}, augment {recipe['augment']}, {ref['epochs']} ep"
        )
        lines.append(
            f"| {row['name']} | {row['form']} | {default['train_images']:,} | "
            f"{100 * default['accuracy']:.2f}% ({default['seconds']:.0f} s, "
            f"{default['cpu_seconds']:.0f} s CPU, "
            f"{default['epochs_run']}/{default['recipe']['epochs']}) | "
            f"{100 * tune['accuracy']:.2f}% ({tune['budget']} s, {tune['trials']} trials) | "
            f"{100 * ref['test_accuracy']:.2f}% ({ref['cpu_seconds']:.0f} s CPU) | "
            f"{gap:+.2f}{'' if gap >= -TARGET else ' ✗'} | {chosen} |"
        )  # fmt: skip
    return "\n".join(lines) + "\n"


def write_results(rows: list[dict[str, Any]]) -> None:
    """benchmarks/results/recipes.md and .json."""
    RESULTS.mkdir(exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {THREADS} thread per process"
    (RESULTS / "recipes.json").write_text(json.dumps({"machine": machine, "rows": rows},
                                                     indent=2) + "\n")  # fmt: skip
    (RESULTS / "recipes.md").write_text(
        f"# Recipes: nanocnn's default and tune against a tuned PyTorch reference\n\n"
        f"Machine: {machine}; `python -m benchmarks.recipes.run`, "
        f"{time.strftime('%Y-%m-%d')}. ✗: the default more than {TARGET} points below the "
        f"reference. Times: the training's, wall-clock and CPU (the reference trains for "
        f"the default's CPU time; tune's budget is wall-clock).\n\n{markdown(rows)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="where data and runs go")
    parser.add_argument(
        "--only",
        choices=list(DATA_SETS),
        action="append",
        help="measure this data set (again: several); the table keeps others'",
    )
    parser.add_argument("--reuse", action="store_true", help="keep the steps already done")
    args = parser.parse_args()
    for name in args.only or list(DATA_SETS):
        row = measure(DATA_SETS[name], args.data, args.reuse)
        print(markdown([row]), flush=True)
    rows = [json.loads(path.read_text()) for name in DATA_SETS
            if (path := args.data / "runs" / name / "row.json").exists()]  # fmt: skip
    write_results(rows)
    print(markdown(rows))


if __name__ == "__main__":
    main()
