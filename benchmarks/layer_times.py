"""``python -m benchmarks.layer_times [NETWORK]``: where a training step's time goes, by layer
type (forward and backward apart), for a benchmarked network on batches of 64 of its input shape.

Every leaf layer's ``forward`` and ``backward`` are wrapped with a timer, then the trainer's
step runs (``Trainer.train_step``: ``fast_forward``, the loss, ``fast_backward``, an SGD
step) for ``--steps`` steps after a warm-up. What no layer accounts for (the loss, the
optimizer, the residual sums and the containers' own work) is the "other" row. One thread
or many: set OPENBLAS_NUM_THREADS.
"""

from __future__ import annotations

import argparse
import collections
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import nanocnn as nc
from benchmarks.networks import NETWORKS, build, input_shape
from nanocnn.training import Trainer

Timings = collections.defaultdict[tuple[str, str], float]


def timed(method: Callable[..., Any], key: tuple[str, str], totals: Timings) -> Callable[..., Any]:
    """``method`` that adds its running time to ``totals[key]``."""

    def run(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = method(*args, **kwargs)
        totals[key] += time.perf_counter() - start
        return result

    return run


def layer_times(network: str, steps: int, batch: int = 64) -> tuple[dict, float]:
    """({(layer type, "forward"/"backward"): seconds per step}, seconds per whole step)."""
    model = build(network)
    totals: Timings = collections.defaultdict(float)
    for layer in model.modules():
        kind = type(layer).__name__
        layer.forward = timed(layer.forward, (kind, "forward"), totals)  # type: ignore[method-assign]
        layer.backward = timed(layer.backward, (kind, "backward"), totals)  # type: ignore[method-assign]
    optimizer = nc.SGD(model.parameters(), 0.01, momentum=0.9, nesterov=True)
    trainer = Trainer(model, nc.SoftmaxCrossEntropy(), optimizer, progress="off")
    rng = np.random.default_rng(0)
    x = rng.random((batch, *input_shape(network)), dtype=np.float32)
    y = rng.integers(0, 10, batch)

    def step() -> None:
        trainer.train_step(x, y)

    for _ in range(3):
        step()
    totals.clear()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    whole = (time.perf_counter() - start) / steps
    return {key: value / steps for key, value in totals.items()}, whole


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("network", nargs="?", default="resnet", choices=NETWORKS)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    times, whole = layer_times(args.network, args.steps)
    kinds = sorted({kind for kind, _ in times}, key=lambda k: -times.get((k, "forward"), 0)
                   - times.get((k, "backward"), 0))  # fmt: skip
    print(f"{args.network}: {whole * 1e3:.0f} ms a training step (batch 64)")
    print(f"{'layer type':<16} {'forward ms':>10} {'backward ms':>11} {'share':>6}")
    for kind in kinds:
        forward, backward = times.get((kind, "forward"), 0.0), times.get((kind, "backward"), 0.0)
        share = (forward + backward) / whole
        print(f"{kind:<16} {forward * 1e3:>10.1f} {backward * 1e3:>11.1f} {share:>6.0%}")
    other = whole - sum(times.values())
    print(f"{'other':<16} {other * 1e3:>22.1f} {other / whole:>6.0%}")


if __name__ == "__main__":
    main()
