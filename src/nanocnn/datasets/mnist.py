"""MNIST, or any data set in its four IDX files: find, download if needed, verify and load it.

>>> x_train, y_train, x_test, y_test = load_mnist()  # doctest: +SKIP
>>> x_train.shape, x_train.dtype, y_train.dtype  # doctest: +SKIP
((60000, 1, 28, 28), dtype('float32'), dtype('int64'))

A folder of your own holding the same four files (Fashion-MNIST, KMNIST, EMNIST...) loads the
same way, with images of any H × W and labels 0..K-1, named by an optional ``classes.txt``:

>>> data = load_mnist("data/fashion")  # doctest: +SKIP
>>> read_class_names("data/fashion")  # doctest: +SKIP
['T-shirt/top', 'Trouser', 'Pullover', ...]
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from nanocnn.datasets.download import download_idx
from nanocnn.datasets.idx import parse_idx, read_idx_bytes
from nanocnn.errors import DataError

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
PARTS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"train": (TRAIN_IMAGES, TRAIN_LABELS), "test": (TEST_IMAGES, TEST_LABELS)}
)
CLASS_NAMES = "classes.txt"  # beside the IDX files of a data set: one class name a line
MAX_CLASS_NAMES_BYTES = 1 << 20

# Base URLs tried in order; a file's URL is the base plus its name plus ".gz".
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

# SHA-256 of each file's decompressed content, by file name without ".gz".
CHECKSUMS: Mapping[str, str] = MappingProxyType(
    {
        TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    }
)

# Mean and standard deviation of the training pixels scaled to [0, 1].
MEAN = np.float32(0.1307)
STD = np.float32(0.3081)

BUNDLED_DIR = Path(__file__).parents[3] / "data" / "mnist"  # the repository's copy (src layout)


class MNIST(NamedTuple):
    """The train and test sets of MNIST (or of an MNIST-format data set), ready for a network."""

    x_train: np.ndarray  # (60000, 1, 28, 28) float32, in [0, 1] or normalized; (0, 1, H, W) if
    y_train: np.ndarray  # (60000,) int64 digits 0..9              not loaded (see ``parts``)
    x_test: np.ndarray  # (10000, 1, 28, 28) float32
    y_test: np.ndarray  # (10000,) int64


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    normalize: bool = False,
    download: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] = MIRRORS,
    checksums: Mapping[str, str] = CHECKSUMS,
    parts: Collection[str] = ("train", "test"),
) -> MNIST:
    """Load MNIST, or a data set in its format: images (N, 1, H, W) float32 in [0, 1], labels (N,)
    int64.

    The four IDX files (``train-images-idx3-ubyte`` etc., each gzipped or not; only the two of
    a part for ``parts=("test",)`` or ``("train",)``) are taken from the first of these that
    applies:

    1. ``data_dir`` if given: your own folder, MNIST or any data set in the same files, e.g.
       Fashion-MNIST. It must exist and hold them: nothing is ever downloaded into a folder
       of yours (a mistyped name is an error, not a new folder of MNIST);
    2. ``cache_dir/mnist`` if ``cache_dir`` is given; files missing there are downloaded into it;
    3. the copy bundled with the repository, ``data/mnist``, if all four files are there;
    4. ``mnist/`` under ``$NANOCNN_CACHE``, else ``$XDG_CACHE_HOME/nanocnn``, else
       ``~/.cache/nanocnn``; files missing there are downloaded into it.

    Downloads try ``mirrors`` (base URLs, or a single one) in order; only a file whose checksum
    matches is kept, written atomically. The decompressed content of every file downloaded or
    found in 2.-4. must have the SHA-256 in ``checksums`` (file name -> hex digest; a name
    left out is not checked); the files of 1. are yours and are not. Every file gets the
    structural checks: images (N, H, W) uint8, labels (N,) uint8, one label per image, train
    and test images of one size, test labels among the training classes. A part left out of
    ``parts`` is returned as empty arrays (0, 1, H, W) and (0,). ``normalize=True`` returns
    ``(x - MEAN) / STD`` (MNIST's statistics) instead of ``x``, still float32. Raises
    ``DataError`` naming the file on any missing, corrupt or inconsistent file.
    """
    if isinstance(mirrors, str):  # one URL, not a sequence of one-letter mirrors
        mirrors = (mirrors,)
    wanted = [part for part in PARTS if part in parts]
    if not wanted or set(parts) - set(PARTS):
        raise ValueError(f"parts must be some of {tuple(PARTS)}, not {tuple(parts)}")
    directory = _data_dir(data_dir, cache_dir)
    names = [name for part in wanted for name in PARTS[part]]
    found = {name: _find(directory, name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing and data_dir is not None:
        _refuse_folder(directory, missing)
    if missing and not download:
        listed = ", ".join(f"{name}[.gz]" for name in missing)
        raise DataError(f"IDX file(s) {listed} not found in {directory} and download=False")
    arrays, sources = {}, {}
    for name, path in found.items():
        if path is not None:
            sha256 = checksums.get(name) if data_dir is None else None
            arrays[name] = _load_file(path, sha256)
            sources[name] = str(path)
        else:
            arrays[name], sources[name] = download_idx(
                name, directory, mirrors, checksums.get(name), _offline_hint(directory)
            )
    data = {}
    for part in wanted:
        images, labels = PARTS[part]
        y = _labels(arrays[labels], sources[labels])
        data[part] = _images(arrays[images], sources[images], y, sources[labels]), y
    _check_consistent(data, sources)
    if normalize:
        for x, _ in data.values():
            x -= MEAN
            x /= STD
    shape = next(iter(data.values()))[0].shape[1:]  # (1, H, W)
    empty = np.zeros((0, *shape), np.float32), np.zeros(0, np.int64)
    return MNIST(*data.get("train", empty), *data.get("test", empty))


def read_class_names(data_dir: str | os.PathLike[str]) -> list[str] | None:
    """Return the class names in ``data_dir/classes.txt``, one a line, or None without the file.

    Blank lines are ignored and names stripped of surrounding spaces; class ``k`` is the
    ``k``-th name. Raises ``DataError`` naming the file if it is unreadable, too large (1 MB),
    or names a class twice; check it against the labels with ``check_class_names``.
    """
    path = Path(data_dir) / CLASS_NAMES
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_CLASS_NAMES_BYTES:
        raise DataError(f"{path}: larger than {MAX_CLASS_NAMES_BYTES} bytes; one name a line")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot read the class names ({error})") from error
    names = [line.strip() for line in text.splitlines() if line.strip()]
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        raise DataError(f"{path}: class names given twice: {', '.join(repeated)}")
    return names


def check_class_names(names: Sequence[str], labels: np.ndarray, source: str) -> None:
    """Raise ``DataError`` unless ``names`` name exactly the classes 0..K-1 of ``labels``.

    K is the largest label plus one; pass the training labels (a test set may lack a class).
    ``source`` (the file the names came from) is named in the message.
    """
    classes = int(labels.max()) + 1 if labels.size else 0
    if len(names) != classes:
        raise DataError(
            f"{source}: names {len(names)} classes, but the labels are 0..{classes - 1} "
            f"({classes} classes); give one name a line, in label order"
        )


def default_cache_dir() -> Path:
    """Return nanocnn's cache root: $NANOCNN_CACHE, $XDG_CACHE_HOME/nanocnn or ~/.cache/nanocnn."""
    if os.environ.get("NANOCNN_CACHE"):
        return Path(os.environ["NANOCNN_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "nanocnn"
    return Path.home() / ".cache" / "nanocnn"


def _data_dir(
    data_dir: str | os.PathLike[str] | None, cache_dir: str | os.PathLike[str] | None
) -> Path:
    """Return the one directory to read MNIST from (and download into), as ``load_mnist`` says."""
    if data_dir is not None:
        return Path(data_dir)
    if cache_dir is not None:
        return Path(cache_dir) / "mnist"
    if all(_find(BUNDLED_DIR, name) is not None for name in FILES):
        return BUNDLED_DIR
    return default_cache_dir() / "mnist"


def _find(directory: Path, name: str) -> Path | None:
    """Return ``directory/name.gz`` or ``directory/name``, whichever exists first, else None."""
    for path in (directory / f"{name}.gz", directory / name):
        if path.is_file():
            return path
    return None


def _refuse_folder(directory: Path, missing: list[str]) -> None:
    """The error for a folder of the user's that does not hold the IDX files asked for."""
    if not directory.exists():
        raise DataError(f"{directory} does not exist (a folder of IDX files was expected)")
    if not directory.is_dir():
        raise DataError(f"{directory} is not a folder (a folder of IDX files was expected)")
    listed = ", ".join(f"{name}[.gz]" for name in missing)
    raise DataError(
        f"{directory} does not hold {listed}: a data set in MNIST's format is the four files "
        f"{', '.join(FILES)} (each .gz or not); nanocnn downloads nothing into a folder of yours"
    )


def _load_file(path: Path, sha256: str | None) -> np.ndarray:
    """Read the IDX file at ``path``, checking its decompressed content against ``sha256``."""
    content = read_idx_bytes(path)
    digest = hashlib.sha256(content).hexdigest()
    if sha256 is not None and digest != sha256:
        raise DataError(
            f"{path}: SHA-256 of the decompressed content is {digest}, expected {sha256}; the "
            "file is corrupt or not the MNIST file of that name (delete it to download again)"
        )
    return parse_idx(content, name=str(path))


def _offline_hint(directory: Path) -> str:
    """How to get MNIST-format files without a network, for a failed download's message."""
    files = ", ".join(FILES)
    return (
        f"Put the four files ({files}; .gz or not) in a folder and pass it with "
        f"--data-dir FOLDER (data_dir= in Python), or copy them into {directory}"
    )


def _labels(labels: np.ndarray, source: str) -> np.ndarray:
    """Check (N,) uint8 labels; return them as (N,) int64."""
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{source}: expected (N,) uint8 labels, got {labels.shape} {labels.dtype}")
    return labels.astype(np.int64)


def _images(images: np.ndarray, source: str, labels: np.ndarray, labels_source: str) -> np.ndarray:
    """Check (N, H, W) uint8 images, one per label; return (N, 1, H, W) float32 in [0, 1]."""
    if images.dtype != np.uint8 or images.ndim != 3 or 0 in images.shape[1:]:
        raise DataError(
            f"{source}: expected (N, H, W) uint8 images, got {images.shape} {images.dtype}"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{source}: {len(images)} images, but {labels_source} has {len(labels)} labels"
        )
    x = images[:, None].astype(np.float32)  # (N, H, W) -> (N, 1, H, W)
    x /= np.float32(255)
    return x


def _check_consistent(
    data: Mapping[str, tuple[np.ndarray, np.ndarray]], sources: Mapping[str, str]
) -> None:
    """Raise ``DataError`` if train and test images differ in size, or test has a new class."""
    if len(data) < 2:
        return
    (x_train, y_train), (x_test, y_test) = data["train"], data["test"]
    if x_train.shape[2:] != x_test.shape[2:]:
        raise DataError(
            f"{sources[TEST_IMAGES]}: images are {x_test.shape[2]}×{x_test.shape[3]}, but those "
            f"of {sources[TRAIN_IMAGES]} are {x_train.shape[2]}×{x_train.shape[3]}"
        )
    classes = int(y_train.max()) + 1 if y_train.size else 0
    if y_test.size and y_test.max() >= classes:
        raise DataError(
            f"{sources[TEST_LABELS]}: label {y_test.max()} is not a class of the training "
            f"labels in {sources[TRAIN_LABELS]} (0..{classes - 1})"
        )
