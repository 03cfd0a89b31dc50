"""One measurement in a process of its own: ``python -m benchmarks.worker IMPL NETWORK``.

Prints one JSON object: training images/s, inference images/s at batch 1000, single-image
latency and the peak resident memory of training. ``workers`` is nanocnn data-parallel as
``nanocnn train --workers N`` trains: run it under ``mpiexec -n N`` (one BLAS thread a rank);
it measures training only (inference is one process's), and rank 0 prints. A process per
measurement keeps BLAS and OpenMP thread pools (which spin on after a call) from stealing
cores from the next one.

Training and inference rates are the median over chunks of steps after a warm-up; peak memory
is read right after training, before inference allocates its larger batches.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import nanocnn as nc
from benchmarks.naive import NaiveNetwork
from benchmarks.networks import INPUT_SHAPE, NETWORKS, build, input_shape
from nanocnn.datasets import load_mnist
from nanocnn.parallel import Workers
from nanocnn.training import Trainer

IMPLEMENTATIONS = ("nanocnn", "workers", "torch", "naive")
RANDOM_IMAGES = 2048  # random data: enough for the inference batch, little memory at 64x64 RGB


class NanocnnRunner:
    """Training steps as the trainer runs them (``Trainer.train_step``: SoftmaxCrossEntropy,
    Adam(lr=1e-3), the fast order of ReLU after MaxPool) over ``workers``: this process, or
    the ranks of ``mpiexec`` (each its share of the batch, one ``Allreduce`` of the
    gradients, BatchNorm's statistics summed over the ranks); inference as ``predict`` runs
    it."""

    def __init__(self, model: nc.Sequential, workers: Workers | None = None) -> None:
        self.model = model
        optimizer = nc.Adam(model.parameters(), lr=1e-3)
        self.trainer = Trainer(
            model, nc.SoftmaxCrossEntropy(), optimizer, progress="off", workers=workers
        )
        self.workers = self.trainer.workers
        self.inference: nc.Sequential | None = None  # the fused copy, after training

    def train_step(self, x: np.ndarray, y: np.ndarray) -> None:
        mine = self.trainer.parallel.my_rows(np.arange(len(x)))  # noted for the draws
        self.trainer.train_step(x[mine], y[mine], len(x))

    def infer(self, x: np.ndarray) -> None:
        """Inference as ``predict`` runs it: the fast order, in chunks, on the model's
        ``fused()`` copy (its batch norms folded), made once as a deployed model is."""
        if self.inference is None:
            self.inference = self.model.fused()
        self.inference.fast_forward(x)

    def agree(self, go_on: bool) -> bool:
        """Rank 0's decision, so that every rank runs the same number of steps."""
        return bool(self.workers.broadcast(go_on))


class TorchRunner:
    """The same with PyTorch on the CPU: ``threads`` intra-op threads, the same weights."""

    def __init__(self, model: nc.Sequential, threads: int) -> None:
        import torch

        from benchmarks.torch_reference import to_torch

        torch.set_num_threads(threads)
        self.torch, self.net = torch, to_torch(model)
        self.loss = torch.nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> None:
        self.net.train()
        self.optimizer.zero_grad()
        self.loss(self.net(self.torch.from_numpy(x)), self.torch.from_numpy(y)).backward()
        self.optimizer.step()

    def infer(self, x: np.ndarray) -> None:
        self.net.eval()
        with self.torch.inference_mode():
            self.net(self.torch.from_numpy(x))


def load_data(
    images: int, shape: tuple[int, int, int] = INPUT_SHAPE
) -> tuple[np.ndarray, np.ndarray, str]:
    """The first ``images`` normalised MNIST training images and labels, and where they came
    from; random data if MNIST cannot be loaded or the images are of another ``shape``
    (C, H, W) (the timing is the same), at most ``RANDOM_IMAGES`` of them (batches repeat)."""
    if shape == INPUT_SHAPE:
        try:
            data = load_mnist(normalize=True, download=False)
            return data.x_train[:images], data.y_train[:images], "MNIST"
        except nc.DataError:
            pass
    rng, images = np.random.default_rng(0), min(images, RANDOM_IMAGES)
    x = rng.standard_normal((images, *shape), dtype=np.float32)
    source = "random (MNIST not found)" if shape == INPUT_SHAPE else f"random {shape}"
    return x, rng.integers(0, 10, images), source


def rate(
    work: Callable[[int], None],
    items_per_call: int,
    seconds: float,
    chunk: int,
    agree: Callable[[bool], bool] = bool,
) -> float:
    """Median items/s of ``work(i)`` over chunks of ``chunk`` calls, for at least ``seconds``
    and at least three chunks, after one warm-up chunk (``agree`` makes the ranks of a
    data-parallel run decide together whether to go on)."""
    for i in range(chunk):
        work(i)
    rates: list[float] = []
    begin = time.perf_counter()
    calls = chunk
    while agree(len(rates) < 3 or time.perf_counter() - begin < seconds):
        start = time.perf_counter()
        for i in range(calls, calls + chunk):
            work(i)
        rates.append(chunk * items_per_call / (time.perf_counter() - start))
        calls += chunk
    return statistics.median(rates)


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(impl: str, network: str, args: argparse.Namespace, workers: Workers) -> dict:
    """Run the measurements of one implementation on one network (``workers``: the ranks
    of the ``workers`` implementation)."""
    model = build(network, seed=args.seed)
    x, y, source = load_data(args.images, input_shape(network))
    if impl == "naive":
        naive = NaiveNetwork(model)
        start = time.perf_counter()
        for first in range(0, len(x), args.batch):
            naive.train_step(x[first : first + args.batch], y[first : first + args.batch])
        seconds = time.perf_counter() - start
        return {"train_images_per_s": len(x) / seconds, "data": source}

    runner: NanocnnRunner | TorchRunner
    if impl == "workers":
        if workers.size == 1:
            raise SystemExit("the workers implementation runs under mpiexec -n 2 (or more)")
        runner = NanocnnRunner(model, workers)
    elif impl == "nanocnn":
        runner = NanocnnRunner(model)
    else:
        runner = TorchRunner(model, args.threads)
    order = np.random.default_rng(args.seed).permutation(len(x))
    batches = max(1, len(x) // args.batch)

    def train(i: int) -> None:
        picked = order[(i % batches) * args.batch :][: args.batch]
        runner.train_step(x[picked], y[picked])

    if impl == "workers":
        assert isinstance(runner, NanocnnRunner)
        images_per_s = rate(train, args.batch, args.seconds, args.chunk, runner.agree)
        workers.check_same_weights(model, runner.trainer.step)  # the ranks trained as one
        return {"train_images_per_s": images_per_s, "peak_rss_mb": peak_rss_mb(), "data": source}
    result: dict[str, Any] = {
        "train_images_per_s": rate(train, args.batch, args.seconds, args.chunk)
    }
    result["peak_rss_mb"] = peak_rss_mb()
    big = x[: args.infer_batch]
    result["infer_images_per_s"] = rate(lambda i: runner.infer(big), len(big), args.seconds / 4, 2)
    one = x[:1]
    result["latency_s"] = 1 / rate(lambda i: runner.infer(one), 1, args.seconds / 8, 20)
    result["data"] = source
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("impl", choices=IMPLEMENTATIONS)
    parser.add_argument("network", choices=NETWORKS)
    parser.add_argument("--seconds", type=float, default=4.0, help="training time to measure")
    parser.add_argument("--chunk", type=int, default=10, help="training steps per timed chunk")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--infer-batch", type=int, default=1000)
    parser.add_argument("--images", type=int, default=60000, help="MNIST images to load")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    workers = Workers.from_environment()
    result = measure(args.impl, args.network, args, workers)
    if workers.is_root:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
