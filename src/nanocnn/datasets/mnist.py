"""The MNIST handwritten digits: find, download if needed, verify and load them.

>>> x_train, y_train, x_test, y_test = load_mnist()  # doctest: +SKIP
>>> x_train.shape, x_train.dtype, y_train.dtype  # doctest: +SKIP
((60000, 1, 28, 28), dtype('float32'), dtype('int64'))
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from nanocnn.datasets.idx import GZIP_MAGIC, decode_idx_bytes, parse_idx, read_idx_bytes
from nanocnn.errors import DataError

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

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
DOWNLOAD_TIMEOUT_S = 30.0  # per network operation
MAX_DOWNLOAD_BYTES = 64 << 20  # the largest file, train images, is about 10 MB gzipped


class MNIST(NamedTuple):
    """The MNIST train and test sets, ready for a network."""

    x_train: np.ndarray  # (60000, 1, 28, 28) float32, in [0, 1] or normalized
    y_train: np.ndarray  # (60000,) int64 digits 0..9
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
) -> MNIST:
    """Load MNIST: images as (N, 1, 28, 28) float32 in [0, 1], labels as (N,) int64.

    The four files (``train-images-idx3-ubyte`` etc., each gzipped or not) are taken from the
    first of these that applies:

    1. ``data_dir`` if given; files missing there are downloaded into it;
    2. ``cache_dir/mnist`` if ``cache_dir`` is given; files missing there are downloaded into it;
    3. the copy bundled with the repository, ``data/mnist``, if all four files are there;
    4. ``mnist/`` under ``$NANOCNN_CACHE``, else ``$XDG_CACHE_HOME/nanocnn``, else
       ``~/.cache/nanocnn``; files missing there are downloaded into it.

    Downloads try ``mirrors`` (base URLs, or a single one) in order; only a file whose checksum
    matches is kept, written atomically. Every file's decompressed content must have the SHA-256
    in ``checksums`` (file name -> hex digest; a name left out is not checked).
    ``normalize=True`` returns ``(x - MEAN) / STD`` instead of ``x``, still float32. Raises
    ``DataError`` naming the file on any missing, corrupt or inconsistent file.
    """
    if isinstance(mirrors, str):  # one URL, not a sequence of one-letter mirrors
        mirrors = (mirrors,)
    directory = _data_dir(data_dir, cache_dir)
    arrays, sources = {}, {}
    for name in FILES:
        path = _find(directory, name)
        if path is not None:
            arrays[name], sources[name] = _load_file(path, checksums.get(name)), str(path)
        elif download:
            arrays[name], sources[name] = _download(name, directory, mirrors, checksums.get(name))
        else:
            raise DataError(f"MNIST file {name}[.gz] not found in {directory} and download=False")
    y_train = _labels(arrays[TRAIN_LABELS], sources[TRAIN_LABELS])
    y_test = _labels(arrays[TEST_LABELS], sources[TEST_LABELS])
    x_train = _images(arrays[TRAIN_IMAGES], sources[TRAIN_IMAGES], y_train, sources[TRAIN_LABELS])
    x_test = _images(arrays[TEST_IMAGES], sources[TEST_IMAGES], y_test, sources[TEST_LABELS])
    if normalize:
        for x in (x_train, x_test):
            x -= MEAN
            x /= STD
    return MNIST(x_train, y_train, x_test, y_test)


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


def _load_file(path: Path, sha256: str | None) -> np.ndarray:
    """Read the IDX file at ``path``, checking its decompressed content against ``sha256``."""
    content = read_idx_bytes(path)
    digest = hashlib.sha256(content).hexdigest()
    if sha256 is not None and digest != sha256:
        raise DataError(
            f"{path}: SHA-256 of the decompressed content is {digest}, expected {sha256}; "
            "the file is corrupt or not the MNIST file of that name (delete it to download again)"
        )
    return parse_idx(content, name=str(path))


def _download(
    name: str, directory: Path, mirrors: Sequence[str], sha256: str | None
) -> tuple[np.ndarray, str]:
    """Download ``name`` from the first mirror that serves it intact and save it in ``directory``.

    Returns its array and the URL it came from.
    """
    failures = []
    for mirror in mirrors:
        url = (mirror if mirror.endswith("/") else f"{mirror}/") + f"{name}.gz"
        try:
            blob = _fetch(url)
            content = decode_idx_bytes(blob, name=url)
        except (OSError, http.client.HTTPException, ValueError) as error:  # DataError included
            failures.append(f"{url}: {error}")
            continue
        digest = hashlib.sha256(content).hexdigest()
        if sha256 is not None and digest != sha256:
            failures.append(f"{url}: SHA-256 of the content is {digest}, expected {sha256}")
            continue
        suffix = ".gz" if blob.startswith(GZIP_MAGIC) else ""
        _write_atomically(directory / f"{name}{suffix}", blob)
        return parse_idx(content, name=url), url
    tried = "".join(f"\n  {failure}" for failure in failures) or " no mirrors given"
    raise DataError(f"could not download MNIST file {name} into {directory}; tried:{tried}")


def _fetch(url: str) -> bytes:
    """Return the body at ``url``, refusing one larger than ``MAX_DOWNLOAD_BYTES``."""
    body = bytearray()
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        while chunk := response.read(1 << 20):
            body += chunk
            if len(body) > MAX_DOWNLOAD_BYTES:
                raise DataError(f"{url}: larger than {MAX_DOWNLOAD_BYTES} bytes")
    return bytes(body)


def _write_atomically(path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` through a temporary file in the same directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(blob)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _labels(labels: np.ndarray, source: str) -> np.ndarray:
    """Check (N,) uint8 labels in 0..9; return them as (N,) int64."""
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{source}: expected (N,) uint8 labels, got {labels.shape} {labels.dtype}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{source}: labels must be digits 0..9, found {labels.max()}")
    return labels.astype(np.int64)


def _images(images: np.ndarray, source: str, labels: np.ndarray, labels_source: str) -> np.ndarray:
    """Check (N, 28, 28) uint8 images, one per label; return (N, 1, 28, 28) float32 in [0, 1]."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(
            f"{source}: expected (N, 28, 28) uint8 images, got {images.shape} {images.dtype}"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{source}: {len(images)} images, but {labels_source} has {len(labels)} labels"
        )
    x = images.reshape(-1, 1, 28, 28).astype(np.float32)  # (N, 28, 28) -> (N, 1, 28, 28)
    x /= np.float32(255)
    return x
