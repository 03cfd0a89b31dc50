"""``python -m benchmarks.scaling``: data-parallel training, 1 process × 2 threads against
2 MPI ranks × 1 thread (``nanocnn train --workers 2``), on the trainer's real epoch.

Each configuration is a preset trained as ``nanocnn train`` trains it (its batch size, its
task's augmentation and input conversion, Adam, the trainer's loop); a run warms up on ten
batches, then trains and times one epoch of a subset. The two ways alternate run by run
(A B A B ...), each run in fresh processes after waiting for idle CPUs, and the table gives
medians and the median of the per-pair ratios. The step is split into compute and
communication as rank 0 sees it: the gradient ``Allreduce`` (with any wait for the slower
rank) and BatchNorm's statistics reductions. Writes ``benchmarks/results/scaling.json`` and
``scaling.md``.

``python -m benchmarks.scaling --worker CONFIG`` runs one measurement (under ``mpiexec`` for
the ranks) and prints it as JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import nanocnn as nc
from benchmarks.quiet import QuietWaiter
from nanocnn import augment, presets
from nanocnn.inputs import input_converter
from nanocnn.parallel import MPIWorkers, Workers
from nanocnn.parallel.launch import mpiexec
from nanocnn.training.callbacks import Callback
from nanocnn.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
EPOCH_IMAGES = 60_000  # the epoch the table extrapolates to (MNIST's training set)
WAYS = {"1x2": (1, 2), "2x1": (2, 1), "1x1": (1, 1)}  # ranks x BLAS threads per rank
QUIET = 0.2  # the busy fraction of the CPUs under which a run starts on an idle machine

# name: (preset, input shape, images per run, batch size, augmentation, with BatchNorm)
CONFIGS: dict[str, tuple[str, tuple[int, int, int], int, int, str | None, bool]] = {
    "lenet": ("lenet", (1, 28, 28), 6_400, 64, None, False),
    "cnn": ("cnn", (1, 28, 28), 3_200, 64, "digits", False),
    "cnn+bn": ("cnn", (1, 28, 28), 3_200, 64, "digits", True),
    "cnn, no augmentation": ("cnn", (1, 28, 28), 3_200, 64, None, False),
    "images cnn 32px": ("cnn", (3, 32, 32), 1_920, 32, "natural", False),
    "age_cnn 64px": ("age_cnn", (3, 64, 64), 960, 32, "faces", False),
    "resnet": ("resnet", (1, 28, 28), 1_280, 64, "digits", False),
}


class Timed(MPIWorkers):
    """Workers whose sums are timed: the gradient buffer's apart from BatchNorm's."""

    def __init__(self, comm: Any) -> None:
        super().__init__(comm)
        self.seconds = {"gradients": 0.0, "batchnorm": 0.0}
        self.gradient_buffer: np.ndarray | None = None

    def sum(self, values: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        super().sum(values)
        kind = "gradients" if values is self.gradient_buffer else "batchnorm"
        self.seconds[kind] += time.perf_counter() - start
        return values


class ResetTimers(Callback):
    """Zero the communication timers when an epoch begins (the last is the one timed)."""

    def __init__(self, workers: Timed | None) -> None:
        self.workers = workers

    def on_epoch_begin(self, trainer: Any) -> None:
        if self.workers is not None:
            self.workers.seconds = dict.fromkeys(self.workers.seconds, 0.0)


def with_batchnorm(model: nc.Sequential) -> nc.Sequential:
    """``model`` with a BatchNorm2D after every convolution."""
    layers: list[Any] = []
    for layer in model:
        layers.append(layer)
        if isinstance(layer, nc.Conv2D):
            layers.append(nc.BatchNorm2D(layer.out_channels))
    return nc.Sequential(*layers)


def measure(name: str) -> dict[str, Any] | None:
    """Train configuration ``name`` for a warm-up and an epoch; rank 0 returns the epoch's
    figures."""
    preset, shape, images, batch, augmentation, batchnorm = CONFIGS[name]
    workers = None
    if isinstance(base := Workers.from_environment(), MPIWorkers):
        workers = Timed(base.comm)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(images, *shape), dtype=np.uint8)
    regression = preset == "age_cnn"
    y = rng.standard_normal(images, np.float32) if regression else rng.integers(0, 10, images)
    model = presets.build(preset, shape, 1 if regression else 10, seed=0)
    if batchnorm:
        model = with_batchnorm(model)
    normalization = {"mean": [0.5] * shape[0], "std": [0.25] * shape[0]}
    inputs = input_converter({"normalization": normalization})
    augmenter = {
        None: None,
        "digits": augment.digits(),
        "natural": augment.natural(shape[1]),
        "faces": augment.faces(),
    }[augmentation]
    trainer = Trainer(
        model, nc.L1Loss() if regression else nc.SoftmaxCrossEntropy(),
        nc.Adam(model.parameters(), lr=1e-3), batch_size=batch, augment=augmenter, inputs=inputs,
        progress="off", callbacks=[ResetTimers(workers)], workers=workers,
    )  # fmt: skip
    if workers is not None:
        workers.gradient_buffer = trainer.parallel.gradients
    trainer.fit(x[: 10 * batch], y[: 10 * batch], epochs=1)  # warm-up
    trainer.fit(x, y, epochs=2)
    if workers is not None and not workers.is_root:
        return None
    seconds = trainer.history.rows[-1]["seconds"]
    steps = images // batch
    communication = workers.seconds if workers is not None else {"gradients": 0.0, "batchnorm": 0.0}
    return {
        "images_per_s": images / seconds,
        "epoch_s": EPOCH_IMAGES / (images / seconds),
        "step_ms": 1000 * seconds / steps,
        "allreduce_ms": 1000 * communication["gradients"] / steps,
        "batchnorm_ms": 1000 * communication["batchnorm"] / steps,
    }


def run_once(name: str, ranks: int, threads: int) -> dict[str, Any]:
    """One measurement in fresh processes: ``ranks`` ranks of ``threads`` BLAS threads each."""
    command = [sys.executable, "-m", "benchmarks.scaling", "--worker", name]
    if ranks > 1:
        command = [mpiexec(), "-n", str(ranks), *command]
    path = [str(ROOT / "src"), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    env.update({v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def benchmark(names: list[str], ways: list[str], repeats: int, max_wait: float) -> dict[str, Any]:
    """Interleaved runs: for each repeat and configuration, each way in turn."""
    waiter = QuietWaiter(max_wait, limit=QUIET)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {n: {w: [] for w in ways} for n in names}
    for repeat in range(repeats):
        for name in names:
            for way in ways:
                ranks, threads = WAYS[way]
                busy = waiter.wait()
                result = run_once(name, ranks, threads)
                result.update(busy=busy, load=os.getloadavg()[0])
                runs[name][way].append(result)
                print(f"{repeat + 1}/{repeats} {name} {way}: {result['epoch_s']:.1f} s/epoch "
                      f"(busy {busy:.0%} before)", file=sys.stderr, flush=True)  # fmt: skip
    return runs


def summary(runs: dict[str, dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Per configuration: medians of each way, and the median ratio of 2-rank to 1-process
    epoch time, pair by pair. Only the repeats whose every run started on an idle machine
    count, when there are any (on a busy machine, 2 BLAS threads slow down many times over)."""
    rows = []
    for name, all_ways in runs.items():
        repeats = range(len(all_ways["2x1"]))
        quiet = [i for i in repeats if all(w[i]["busy"] <= QUIET for w in all_ways.values())]
        ways = {way: [results[i] for i in quiet or repeats] for way, results in all_ways.items()}
        row: dict[str, Any] = {"config": name, "repeats": len(quiet or repeats)}
        row["quiet"] = bool(quiet)
        for way, results in ways.items():
            for key in results[0]:
                row[f"{way} {key}"] = statistics.median(r[key] for r in results)
        for one in ("1x2", "1x1"):
            if one in ways:  # epoch time of 2 ranks over one process's, pair by pair
                pairs = zip(ways[one], ways["2x1"], strict=True)
                row[f"2x1/{one}"] = statistics.median(b["epoch_s"] / a["epoch_s"] for a, b in pairs)
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], ways: list[str], header: str) -> str:
    """The table: per way img/s, epoch and step time; the ratios; 2 ranks' communication."""
    ratios = [f"2x1/{one}" for one in ("1x2", "1x1") if one in ways]
    columns = [f"{w} img/s" for w in ways] + [f"{w} epoch (s)" for w in ways] + ratios
    columns += [f"{w} step (ms)" for w in ways]
    columns += ["2x1 Allreduce + wait (ms/step)", "2x1 BatchNorm sync (ms/step)"]
    columns += ["repeats counted"]
    rule = "|---" + "|--:" * len(columns) + "|"
    lines = [header, "", f"| Config | {' | '.join(columns)} |", rule]
    for r in rows:
        cells = [f"{r[f'{w} images_per_s']:,.0f}" for w in ways]
        cells += [f"{r[f'{w} epoch_s']:.1f}" for w in ways]
        cells += [f"**{r[ratio]:.2f}**" for ratio in ratios]
        cells += [f"{r[f'{w} step_ms']:.1f}" for w in ways]
        cells += [f"{r['2x1 allreduce_ms']:.2f}", f"{r['2x1 batchnorm_ms']:.2f}"]
        cells += [f"{r['repeats']} {'idle' if r['quiet'] else 'busy (no idle repeat)'}"]
        lines.append(f"| {r['config']} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=CONFIGS, help="run one measurement, print JSON")
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of each way")
    parser.add_argument(
        "--ways",
        nargs="+",
        choices=WAYS,
        default=["1x2", "2x1"],
        help="processes x threads to compare (1x1: one process, one thread)",
    )
    parser.add_argument("--max-wait", type=float, default=120.0, help="seconds of waiting")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.worker:
        if (result := measure(args.worker)) is not None:
            print(json.dumps(result))
        return
    start = time.time()
    if "2x1" not in args.ways:
        parser.error("--ways must include 2x1")
    runs = benchmark(args.configs, args.ways, args.repeats, args.max_wait)
    rows = summary(runs)
    busy = [r["busy"] for ways in runs.values() for rs in ways.values() for r in rs]
    loads = [r["load"] for ways in runs.values() for rs in ways.values() for r in rs]
    header = (
        f"# Data-parallel scaling\n\n{datetime.datetime.now():%Y-%m-%dT%H:%M}, "
        f"{time.time() - start:.0f} s, {os.cpu_count()} cores. 1x2 = one process with 2 BLAS "
        f"threads; 2x1 = `mpiexec -n 2`, 1 BLAS thread per rank; 1x1 = one process, one "
        f"thread. Medians of the repeats (of {args.repeats} interleaved) whose runs all "
        f"started on idle CPUs; epochs extrapolated to {EPOCH_IMAGES:,} images. Machine busy "
        f"before a run: median {statistics.median(busy):.0%}, max {max(busy):.0%}; load "
        f"average median {statistics.median(loads):.2f}."
    )
    table = markdown(rows, args.ways, header)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.md").write_text(table)
    (args.out / "scaling.json").write_text(json.dumps({"rows": rows, "runs": runs}, indent=1))


if __name__ == "__main__":
    main()
