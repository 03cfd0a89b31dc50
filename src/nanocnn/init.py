"""Weight initialisation: He (Kaiming) for layers followed by ReLU, Xavier (Glorot) otherwise.

``fan_in`` is the number of inputs that feed one output unit (``in * kh * kw`` for a
convolution), ``fan_out`` the number of outputs one input feeds.

- He normal:       W ~ N(0, 2 / fan_in)              keeps the variance through ReLUs;
- Xavier uniform:  W ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out))   for tanh / sigmoid / linear.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

Init = Literal["he", "xavier"]


def init_weight(
    shape: tuple[int, ...],
    fan_in: int,
    fan_out: int,
    init: Init,
    rng: np.random.Generator,
    dtype: np.typing.DTypeLike,
) -> np.ndarray:
    """A freshly initialised weight array of ``shape`` and ``dtype``."""
    if init == "he":
        weight = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    elif init == "xavier":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        weight = rng.uniform(-limit, limit, size=shape)
    else:
        raise ValueError(f"init must be 'he' or 'xavier', got {init!r}")
    return weight.astype(dtype)
