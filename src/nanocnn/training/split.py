"""The validation split: which samples of a training set are held out, by seed."""

from __future__ import annotations

import numpy as np


def split_indices(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted indices (kept, held out) of a validation split: ``fraction`` of ``count``
    samples (at least one) held out, chosen by ``seed``."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be between 0 and 1, got {fraction}")
    order = np.random.default_rng([seed, 1]).permutation(count)
    held = held_out_count(count, fraction)
    return np.sort(order[held:]), np.sort(order[:held])


def held_out_count(count: int, fraction: float) -> int:
    """How many of ``count`` samples a validation split of ``fraction`` holds out (at least
    one)."""
    return max(1, round(count * fraction))
