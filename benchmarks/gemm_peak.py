"""The machine's peak float32 matrix-product rate, the ceiling every implementation shares.

A convolution network's time is mostly matrix products, so ``FLOPs / peak GEMM rate`` is the
shortest an epoch could take on this machine: the "physical limit" of the report.
"""

from __future__ import annotations

import time

import numpy as np


def gemm_peak(size: int = 2048, repeats: int = 8) -> float:
    """The best float32 GFLOP/s of ``size x size @ size x size`` (2 * size**3 FLOPs each)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    out = np.empty_like(a)
    np.matmul(a, b, out=out)  # warm-up: thread pool, caches, page faults
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


if __name__ == "__main__":
    print(f"{gemm_peak():.1f}")
