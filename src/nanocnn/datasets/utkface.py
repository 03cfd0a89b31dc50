"""UTKFace, faces labelled with age: read a folder of its images, or write a synthetic one.

UTKFace names each file ``[age]_[gender]_[race]_[date&time].jpg`` (the aligned and cropped
release adds ``.chip.jpg``): age 0..116 years, gender 0 or 1, race 0..4. Files whose names do
not follow the pattern, and images that cannot be read, are skipped with one warning.

>>> data = load_utkface("data/UTKFace", image_size=64)  # doctest: +SKIP
>>> data.x_train.shape, data.y_train.dtype  # doctest: +SKIP
((18966, 3, 64, 64), dtype('float32'))
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nanocnn._optional import require
from nanocnn.errors import DataError
from nanocnn.images import ImageSource, open_image

PATTERN = "[age]_[gender]_[race]_[date&time].jpg"
NAME = re.compile(r"(\d{1,3})_([01])_([0-4])_([^_]*)\.jpe?g(\.chip\.jpe?g)?", re.IGNORECASE)
MAX_AGE = 116
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")  # files looked at; others in the folder are ignored
CACHE_VERSION = 1  # bump when the cached arrays change meaning
SHOWN_NAMES = 5  # file names a warning lists before "..."


class UTKFace(NamedTuple):
    """UTKFace split three ways; rows in the order of ``files`` (train, then val, then test)."""

    x_train: np.ndarray  # (N_train, 3, S, S) float32 RGB in [0, 1]
    y_train: np.ndarray  # (N_train,) float32 ages in years
    x_val: np.ndarray  # (N_val, 3, S, S)
    y_val: np.ndarray  # (N_val,)
    x_test: np.ndarray  # (N_test, 3, S, S)
    y_test: np.ndarray  # (N_test,)
    files: tuple[str, ...]  # the file name of every row, train rows first, then val, then test
    skipped_names: int  # files skipped because their names break the pattern
    skipped_unreadable: int  # files skipped because their images could not be read


def load_utkface(
    data_dir: str | os.PathLike[str],
    image_size: int = 128,
    *,
    split: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    cache: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
) -> UTKFace:
    """Load the UTKFace images in ``data_dir`` (not its subfolders) with their ages.

    Images are read as RGB, resized to ``image_size`` × ``image_size`` (stretched if not
    square) and decoded straight into one preallocated array. The files are shuffled by
    ``seed`` (a ``numpy.random.Generator`` permutation), cut to the first ``limit`` if given,
    and split into train, validation and test by the fractions ``split``.

    With ``cache``, the decoded images are kept in two ``.npy`` files in ``cache_dir`` (default
    ``data_dir``), named by a hash of the image size and the file names and sizes, and memory
    mapped on the next call; unless ``limit`` picks a subset, the cache does not depend on
    ``seed`` or ``split``.

    Raises ``DataError`` when ``data_dir`` holds no file named like UTKFace's, or when no image
    can be read. Warns (once) about the files it skips.
    """
    if len(split) != 3 or min(split) < 0 or not np.isclose(sum(split), 1):
        raise ValueError(f"split must be three fractions >= 0 summing to 1, not {split}")
    if image_size < 1:
        raise ValueError(f"image_size must be at least 1, not {image_size}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1 or None, not {limit}")
    folder = Path(data_dir)
    names, ages, malformed = _scan(folder)
    order = np.random.default_rng(seed).permutation(len(names))[:limit]  # (n,) into names
    if cache:
        images, kept = _cached_images(folder, names, order, image_size, cache_dir)
    else:
        images, kept = _read_images(folder, [names[i] for i in order], image_size)
        kept = order[kept]
    unreadable = [names[i] for i in sorted(set(order.tolist()) - set(kept.tolist()))]
    _warn_skipped(folder, malformed, unreadable)
    if len(kept) == 0:
        raise DataError(f"{folder}: none of the {len(order)} UTKFace images could be read")
    n = len(kept)
    n_val, n_test = round(n * split[1]), round(n * split[2])
    a, b = n - n_val - n_test, n - n_test  # rows [0, a) train, [a, b) val, [b, n) test
    y = ages[kept]
    return UTKFace(
        x_train=images[:a],
        y_train=y[:a],
        x_val=images[a:b],
        y_val=y[a:b],
        x_test=images[b:],
        y_test=y[b:],
        files=tuple(names[i] for i in kept),
        skipped_names=len(malformed),
        skipped_unreadable=len(unreadable),
    )


def _scan(folder: Path) -> tuple[list[str], np.ndarray, list[str]]:
    """Return the sorted UTKFace file names in ``folder``, their ages, and the malformed names."""
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder (expected UTKFace images named {PATTERN})")
    candidates = sorted(
        entry.name
        for entry in os.scandir(folder)
        if entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES)
    )
    names, ages, malformed = [], [], []
    for name in candidates:
        match = NAME.fullmatch(name)
        if match and int(match[1]) <= MAX_AGE:
            names.append(name)
            ages.append(int(match[1]))
        else:
            malformed.append(name)
    if not names:
        subfolders = sorted(entry.name for entry in os.scandir(folder) if entry.is_dir())
        hint = f"; it has subfolders: {', '.join(subfolders)}" if subfolders else ""
        raise DataError(
            f"{folder}: no UTKFace images found (looked for files named {PATTERN}, "
            f"or .jpg.chip.jpg; found {len(malformed)} other image files{hint})"
        )
    return names, np.array(ages, np.float32), malformed


def _read_images(folder: Path, names: Sequence[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode the images ``names`` into one (n, 3, size, size) float32 array in [0, 1].

    Returns the k readable images, (k, 3, size, size) in the order of ``names`` (the first
    rows of one preallocated buffer), and their positions in ``names``, (k,) int64.
    """
    images = np.empty((len(names), 3, size, size), np.float32)
    kept: list[int] = []
    for position, name in enumerate(names):
        try:
            images[len(kept)] = read_face(folder / name, size)
        except DataError:
            continue
        kept.append(position)
    return images[: len(kept)], np.array(kept, np.int64)


def read_face(source: ImageSource, size: int) -> np.ndarray:
    """Read one face image as the loader does: RGB, resized to ``size`` × ``size`` (bilinear,
    stretched if not square), as (3, size, size) float32 in [0, 1].

    Raises ``DataError`` naming the image when it cannot be read (see ``open_image``).
    """
    Image = require("PIL.Image", extra="cli")
    pixels = open_image(source, mode="RGB")  # (H, W, 3) uint8
    resized = Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR)
    chw = np.asarray(resized, np.float32).transpose(2, 0, 1)  # (S, S, 3) -> (3, S, S)
    return chw / 255


def _cached_images(
    folder: Path,
    names: list[str],
    order: np.ndarray,
    size: int,
    cache_dir: str | os.PathLike[str] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the images of ``names[order]`` that can be read, in that order, and their indices.

    The cache holds the chosen files in sorted order: ``images.npy`` (n, 3, S, S) float32 and
    ``kept.npy`` (k,) int64, the indices into ``names`` of its first k, readable, rows.
    """
    chosen = np.sort(order)
    key = hashlib.sha256(f"v{CACHE_VERSION} {size}\n".encode())
    for i in chosen:
        key.update(f"{names[i]}\t{(folder / names[i]).stat().st_size}\n".encode())
    stem = Path(cache_dir or folder) / f"utkface-{size}px-{key.hexdigest()[:16]}"
    images_path, kept_path = Path(f"{stem}.images.npy"), Path(f"{stem}.kept.npy")
    try:
        images = np.load(images_path, mmap_mode="r", allow_pickle=False)
        kept = np.load(kept_path, allow_pickle=False)
        if images.shape != (len(kept), 3, size, size) or not np.isin(kept, chosen).all():
            raise ValueError(f"{stem}: cache does not match the images")
    except (OSError, ValueError):
        images, positions = _read_images(folder, [names[i] for i in chosen], size)
        kept = chosen[positions]
        images_path.parent.mkdir(parents=True, exist_ok=True)
        _save_atomically(images_path, images)
        _save_atomically(kept_path, kept)
    rows = np.full(len(names), -1)
    rows[kept] = np.arange(len(kept))  # row of each readable file in the cache
    wanted = rows[order]  # (n,) rows in shuffled order, -1 for unreadable
    indices = order[wanted >= 0]
    return np.asarray(images[wanted[wanted >= 0]]), indices


def _save_atomically(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as a ``.npy`` file at ``path`` so a reader never sees half of it."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    with open(partial, "wb") as file:
        np.save(file, array, allow_pickle=False)
    os.replace(partial, path)


def _warn_skipped(folder: Path, malformed: list[str], unreadable: list[str]) -> None:
    """Warn once about the files skipped, with their number and the first few names."""

    def some(names: list[str]) -> str:
        more = ", ..." if len(names) > SHOWN_NAMES else ""
        return ", ".join(names[:SHOWN_NAMES]) + more

    problems = []
    if malformed:
        problems.append(
            f"{len(malformed)} file(s) with names not in the UTKFace pattern {PATTERN}: "
            f"{some(malformed)}"
        )
    if unreadable:
        problems.append(f"{len(unreadable)} unreadable image(s): {some(unreadable)}")
    if problems:
        warnings.warn(f"{folder}: skipped {'; and '.join(problems)}", UserWarning, stacklevel=3)


def make_synthetic_utkface(
    directory: str | os.PathLike[str],
    n: int,
    image_size: int = 64,
    *,
    seed: int = 0,
    malformed: int = 3,
    unreadable: int = 1,
) -> Path:
    """Write a folder of ``n`` UTKFace-like JPEGs in which the age can be seen; return it.

    Each image is a disc of a random bright colour at a random place on a dark noisy background;
    its radius grows linearly with the age in the file name, from 5% of ``image_size`` at age 0
    to 45% at age 116. Every other name has the aligned release's ``.jpg.chip.jpg`` form. Also
    writes ``malformed`` images whose names break the pattern (in turn: the race missing, age
    200, a non-numeric age) and ``unreadable`` files with good names holding garbage bytes.
    """
    Image = require("PIL.Image", extra="cli")
    rng = np.random.default_rng(seed)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    ys, xs = np.mgrid[:image_size, :image_size] + 0.5  # pixel centres, (S, S) each
    for i in range(n + malformed + unreadable):
        age, gender, race = rng.integers(0, MAX_AGE + 1), rng.integers(2), rng.integers(5)
        date = 20170101000000000 + i
        if i < n:
            name = f"{age}_{gender}_{race}_{date}.jpg" + (".chip.jpg" if i % 2 else "")
        elif i < n + malformed:
            bad = (f"{age}_{gender}_{date}", f"200_{gender}_{race}_{date}", f"x{age}_0_0_{date}")
            name = bad[(i - n) % 3] + ".jpg"
        else:
            (folder / f"{age}_{gender}_{race}_{date}.jpg").write_bytes(rng.bytes(64))
            continue
        radius = image_size * (0.05 + 0.4 * age / MAX_AGE)
        cy, cx = rng.uniform(radius, image_size - radius, size=2)
        disc = (ys - cy) ** 2 + (xs - cx) ** 2 <= radius**2  # (S, S)
        colour = np.where(disc[..., np.newaxis], rng.uniform(150, 255, 3), rng.uniform(0, 90, 3))
        pixels = colour + rng.normal(0, 12, colour.shape)  # (S, S, 3)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / name, quality=95)
    return folder
