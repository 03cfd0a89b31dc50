"""Chains of transforms (``Augmenter``): the ready-made ones of each kind of data, and those
``nanocnn train --augment NAMES`` builds (:data:`STEPS`, :func:`named`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from nanocnn.augment.transforms import (
    random_affine,
    random_brightness_contrast,
    random_flip,
    random_shift,
)

# what the trainer calls on each training batch: (N, C, H, W) and a generator -> a new batch
Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass
class Augmenter:
    """A chain of random augmentations, applied in order: ``augment(x, rng) -> x``.

    Each step is a function ``f(x, rng)``: one of the random functions above with its options
    bound, e.g. ``Augmenter([partial(random_flip, p=0.5), partial(random_shift, max_shift=4)])``.
    """

    steps: list[Augment] = field(default_factory=list)  # each f(x, rng) -> new x

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Apply every step to the batch ``x`` (N, C, H, W); returns a new array."""
        if not self.steps:
            return x.copy()
        for step in self.steps:
            x = step(x, rng)
        return x


def digits() -> Augmenter:
    """Mild augmentation for handwritten digits: rotation ±10°, scale 0.9-1.1, shift ±2 px.

    No flips: a mirrored digit is a different symbol (or none).
    """
    return Augmenter([partial(random_affine, max_rotation=10.0, scale=(0.9, 1.1), max_shift=2.0)])


def faces() -> Augmenter:
    """Augmentation for face crops: mirror, shift by ±4 px, rotation ±10°, brightness/contrast.

    The shift is a crop with zero padding; brightness and contrast vary by ±0.1.
    """
    return Augmenter(
        [
            partial(random_flip, p=0.5),
            partial(random_shift, max_shift=4),
            partial(random_affine, max_rotation=10.0, scale=(1.0, 1.0)),
            partial(random_brightness_contrast, brightness=0.1, contrast=0.1),
        ]
    )


def natural(size: int) -> Augmenter:
    """Augmentation for natural images of ``size`` × ``size`` pixels, standardised per channel.

    A random crop with zero padding (a shift by up to ``size / 8`` pixels, 4 px at 32 px), a
    mirror with probability 0.5, and brightness/contrast varied by ±0.1, never clipped. It is
    meant for inputs already standardised as ``(x / 255 - mean) / std``: there zero is the
    mean colour, so the padding shows the average image, and values have no fixed range.
    """
    if size < 1:
        raise ValueError(f"size must be at least 1, not {size}")
    return Augmenter(
        [
            partial(random_shift, max_shift=max(1, round(size / 8))),
            partial(random_flip, p=0.5),
            partial(random_brightness_contrast, brightness=0.1, contrast=0.1, clip=False),
        ]
    )


# The augmentations ``--augment NAMES`` chooses from, each built for pictures of a side: what
# it does must keep every class what it is, so the right ones depend on the data (no flips
# for digits or text, no rotations for textures of a given angle...).
STEPS: dict[str, Callable[[int], Augment]] = {
    "digits": lambda size: digits(),  # MNIST's: rotation ±10°, scale ±10%, shift ±2 px
    "shift": lambda size: partial(random_shift, max_shift=max(1, round(size / 8))),
    "rotate": lambda size: partial(random_affine, max_rotation=10.0, scale=(1.0, 1.0)),
    "flip": lambda size: partial(random_flip, p=0.5),
    "brightness": lambda size: partial(
        random_brightness_contrast, brightness=0.1, contrast=0.1, clip=False
    ),
}


def named(names: str | Sequence[str], size: int) -> Augmenter:
    """The augmentation ``names`` give, in order (a comma-separated string or a list of keys
    of :data:`STEPS`), for pictures of ``size`` pixels a side; ValueError for an unknown
    name, listing the known ones."""
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in names if name not in STEPS]
    if unknown:
        raise ValueError(
            f"unknown augmentation {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(STEPS)} (comma-separated), or none"
        )
    return Augmenter([STEPS[name](size) for name in names])
