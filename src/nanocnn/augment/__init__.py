"""Data augmentation for image batches ``x`` of shape (N, C, H, W), vectorised over the batch.

Every function here takes a batch and returns a new one of the same shape and dtype; the input
is never written to and labels are never touched, since every transform keeps the class. The
random functions ``f(x, rng, ...)`` draw one set of parameters per image from the
``numpy.random.Generator`` they are given, then call a deterministic function that takes those
parameters explicitly (``affine``, ``shift``), so the geometry can be tested on its own.

Coordinates are (row, col) = (y, x) with rows pointing down, as NumPy indexes an image.
Geometric transforms fill with zeros where the output looks outside the source image.

An ``Augmenter`` chains steps; ``digits()``, ``faces()`` and ``natural()`` are ready-made ones,
and :func:`named` builds one from the names ``nanocnn train --augment shift,flip,...`` gives
(:data:`STEPS`). The training loop calls ``augment(x_batch, rng)`` on each training batch,
never on test data: any function of that form (``Augment``) will do.
"""

from nanocnn.augment.recipes import STEPS, Augment, Augmenter, digits, faces, named, natural
from nanocnn.augment.transforms import (
    affine,
    affine_matrices,
    random_affine,
    random_brightness_contrast,
    random_flip,
    random_shift,
    shift,
)

__all__ = [
    "STEPS",
    "Augment",
    "Augmenter",
    "affine",
    "affine_matrices",
    "digits",
    "faces",
    "named",
    "natural",
    "random_affine",
    "random_brightness_contrast",
    "random_flip",
    "random_shift",
    "shift",
]
