"""Your own images, one folder per class: scan, split and load them for a classifier.

``load_image_folder`` reads ``DIR/<class>/<image>`` (or ``DIR/train/...``, ``DIR/test/...``
and optionally ``DIR/val/...``, see ``folder_scan``) into uint8 arrays of square images,
class ``k`` being the ``k``-th class-folder name in sorted order. Without a test/ folder, a
stratified split seeded by ``seed`` holds out ``test_fraction`` of every class;
``train_test_items`` recomputes it from the folder alone, so ``evaluate`` finds the same test
images from the seed and fraction a model records.

>>> data = load_image_folder("flowers", size=32)  # doctest: +SKIP
>>> data.x_train.shape, data.x_train.dtype, data.classes  # doctest: +SKIP
((3303, 3, 32, 32), dtype('uint8'), ('daisy', 'dandelion', 'rose', 'sunflower', 'tulip'))
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from nanocnn.datasets.folder_scan import (
    FolderIndex,
    Item,
    describe_skipped,
    relative_name,
    scan_image_folder,
)
from nanocnn.datasets.image_arrays import image_channels, load_images
from nanocnn.errors import DataError
from nanocnn.progress import Style

if TYPE_CHECKING:
    from nanocnn.parallel import Workers

PARTS = ("train", "val", "test")


class ImageFolder(NamedTuple):
    """An image folder loaded for a classifier; images stay uint8 until a batch is drawn."""

    x_train: np.ndarray  # (N_train, C, S, S) uint8
    y_train: np.ndarray  # (N_train,) int64 class indices
    x_val: np.ndarray | None  # (N_val, C, S, S) uint8, None without a val/ folder
    y_val: np.ndarray | None  # (N_val,) int64
    x_test: np.ndarray  # (N_test, C, S, S) uint8
    y_test: np.ndarray  # (N_test,) int64
    classes: tuple[str, ...]  # class k is classes[k]
    channels: int  # C: 1 (all images grayscale, or forced) or 3
    skipped: int  # entries skipped while scanning and reading, for every reason
    test_files: tuple[Path, ...]  # the file of each row of x_test


def load_image_folder(
    root: str | os.PathLike[str],
    size: int = 32,
    *,
    channels: int | None = None,
    test_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    progress: Style = "auto",
    parts: Collection[str] = PARTS,
    workers: Workers | None = None,
) -> ImageFolder:
    """Load the image folder ``root`` as ``size`` × ``size`` uint8 images with class indices.

    ``channels`` is 1 or 3, or None to decide from the image headers: 1 if all are grayscale.
    Without a test/ folder, ``test_fraction`` of each class is held out by ``seed`` (see
    ``stratified_split``). ``limit`` keeps at most that many images of each of train, val and
    test, a random subset drawn with ``seed`` (for quick trials). All images are decoded into
    one preallocated uint8 array (see ``load_images``), of which the three sets are views.
    ``parts`` are the sets to decode, e.g. ``("test",)`` to evaluate a model (pass its
    ``channels`` then); the others come back empty, (0, C, S, S) and (0,), or None for val.

    Warns once about every entry skipped (hidden, not an image, unreadable...). Raises
    ``DataError`` naming the folder when ``scan_image_folder`` does, when there is no training
    image, or when none of a class's training images can be read.
    """
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be 1, 3 or None, not {channels}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1 or None, not {limit}")
    if not parts or set(parts) - set(PARTS):
        raise ValueError(f"parts must be some of {PARTS}, not {tuple(parts)}")
    index = scan_image_folder(root)
    train, test = train_test_items(index, test_fraction, seed)
    if not train and "train" in parts:
        raise DataError(f"{index.root}: no training images (expected {index.root}/train/<class>)")
    found = {"train": train, "val": index.val, "test": test}
    chosen = [found[name] if name in parts else () for name in PARTS]  # train, val, test
    if limit is not None:
        chosen = [_subset(items, limit, seed) for items in chosen]
    items = [item for part in chosen for item in part]
    files = [path for path, _ in items]
    channels = channels or image_channels(files)
    loaded = load_images(files, size, channels, progress, workers)
    labels = np.array([label for _, label in items], np.int64)[loaded.kept]
    a, b = np.searchsorted(loaded.kept, [len(chosen[0]), len(chosen[0]) + len(chosen[1])])
    all_skipped = {**index.skipped, "unreadable": loaded.unreadable}
    skipped = warn_skipped(index.root, all_skipped, stacklevel=3)
    _check_every_class_read(index, chosen[0], labels[:a], loaded.unreadable)
    kept_test = loaded.kept[b:] - len(chosen[0]) - len(chosen[1])
    has_val = bool(index.val) and "val" in parts
    return ImageFolder(
        x_train=loaded.x[:a],
        y_train=labels[:a],
        x_val=loaded.x[a:b] if has_val else None,
        y_val=labels[a:b] if has_val else None,
        x_test=loaded.x[b:],
        y_test=labels[b:],
        classes=index.classes,
        channels=channels,
        skipped=skipped,
        test_files=tuple(chosen[2][i][0] for i in kept_test),
    )


def train_test_items(
    index: FolderIndex, test_fraction: float = 0.1, seed: int = 0
) -> tuple[tuple[Item, ...], tuple[Item, ...]]:
    """Return the training and test (file, class) items of a scanned folder.

    With a test/ folder, they are ``index.train`` and ``index.test``; otherwise
    ``stratified_split`` of ``index.train`` by ``test_fraction`` and ``seed``: the same items
    for the same folder contents, however often it is called.
    """
    if index.test:
        return index.train, index.test
    labels = np.array([label for _, label in index.train], np.int64)
    kept, held = stratified_split(labels, test_fraction, seed)
    return tuple(index.train[i] for i in kept), tuple(index.train[i] for i in held)


def stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of each class: return the (kept, held) positions, each sorted.

    Class c with n_c items gives ``round(fraction n_c)`` of them, drawn by one
    ``numpy.random.Generator(seed)`` permutation per class in increasing class order, and at
    least one but never all when ``fraction > 0`` and n_c >= 2. Deterministic given
    ``labels`` (in their order), ``fraction`` and ``seed``; the two parts are disjoint and
    together are every position.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"the test fraction must be in [0, 1), not {fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held = [np.zeros(0, np.int64)]
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)  # (n_c,) positions of class ``label``
        count = int(np.floor(fraction * len(members) + 0.5))
        if fraction > 0 and len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        held.append(rng.permutation(members)[:count])
    held_positions = np.sort(np.concatenate(held))
    kept_positions = np.setdiff1d(np.arange(len(labels)), held_positions)
    return kept_positions, held_positions


def warn_skipped(root: Path, skipped: Mapping[str, Sequence[Path]], stacklevel: int = 2) -> int:
    """Warn once about the entries of ``root`` skipped, by reason, naming a few; return how many.

    ``stacklevel`` is ``warnings.warn``'s: 2 names the line that called this function.

    >>> warn_skipped(Path("pets"), {"hidden": [Path("pets/.DS_Store")]})  # doctest: +SKIP
    UserWarning: pets: skipped 1 entry: 1 hidden (.DS_Store)
    """
    described = describe_skipped(root, skipped)
    if described:
        warnings.warn(f"{root}: {described}", UserWarning, stacklevel=stacklevel)
    return sum(len(paths) for paths in skipped.values())


def _subset(items: tuple[Item, ...], limit: int, seed: int) -> tuple[Item, ...]:
    """At most ``limit`` of ``items``, drawn at random with ``seed``, in their order."""
    if len(items) <= limit:
        return items
    chosen = np.sort(np.random.default_rng(seed).choice(len(items), limit, replace=False))
    return tuple(items[i] for i in chosen)


def _check_every_class_read(
    index: FolderIndex, train: Sequence[Item], labels: np.ndarray, unreadable: Sequence[Path]
) -> None:
    """Raise ``DataError`` if some class has training files but none of them could be read."""
    wanted = {label for _, label in train}
    bad = set(unreadable)
    for label in sorted(wanted - set(labels.tolist())):
        name = index.classes[label]
        first = next(path for path, k in train if k == label and path in bad)
        raise DataError(
            f"{index.root}: none of the training images of class {name!r} could be read "
            f"(e.g. {relative_name(first, index.root)}); fix or remove that class folder"
        )
