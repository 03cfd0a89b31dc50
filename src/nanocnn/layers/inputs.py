"""What a model takes as input, and the one-hot gradient that picks some of its outputs."""

from __future__ import annotations

import math

import numpy as np


def as_input(x: np.ndarray, dtype: np.typing.DTypeLike, name: str = "x") -> np.ndarray:
    """``x`` checked and converted for a model of ``dtype``: the data rule of ``predict`` and
    ``Trainer.fit``.

    Floating-point values are converted to ``dtype`` (an explicit copy when they differ, e.g.
    float64 to float32). Integer values, such as uint8 images, are refused: converted as they
    are they would give silently wrong answers, so scale them first
    (``x.astype(np.float32) / 255``). NaN or infinite values (also those that overflow
    ``dtype``) are refused.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"{name} has dtype {x.dtype}; pass floating-point values, e.g. "
            f"{name}.astype(np.float32) / 255 for 8-bit images"
        )
    with np.errstate(over="ignore"):  # values too large for dtype become inf, refused below
        x = x.astype(dtype, copy=False)
    # min and max pass any NaN on, and an infinity is one of them: no array of flags needed
    if x.size and not (np.isfinite(x.min()) and np.isfinite(x.max())):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def select_outputs(out: np.ndarray, target: int | np.ndarray | None) -> np.ndarray:
    """The gradient of ``sum_n out[n, target[n]]`` with respect to ``out`` (N, K): one-hot
    rows (``target`` None: each row's largest output)."""
    rows = out.reshape(len(out), math.prod(out.shape[1:]))  # (N, K); -1 fails for N = 0
    if target is None:
        chosen = rows.argmax(axis=1)
    else:
        if np.ndim(target) > 1:
            raise ValueError(f"target must be an int or (N,) ints, got shape {np.shape(target)}")
        chosen = np.broadcast_to(np.asarray(target), (len(rows),))
        if not np.issubdtype(chosen.dtype, np.integer):
            raise ValueError(f"target must hold integer output indices, got {chosen.dtype}")
        if chosen.size and (chosen.min() < 0 or chosen.max() >= rows.shape[1]):
            raise ValueError(f"target must lie in [0, {rows.shape[1]}), got {target}")
    dout = np.zeros_like(rows)
    dout[np.arange(len(rows)), chosen] = 1.0
    return dout.reshape(out.shape)
