"""A safe file container for named arrays plus a JSON header: models and checkpoints.

The path's suffix chooses the container. ``.safetensors`` is the format of Hugging Face and
PyTorch (see :mod:`nanocnn.safetensors`): the header goes into its ``__metadata__`` as one JSON
string under ``"nanocnn"``, the arrays are its tensors. Any other suffix is an ordinary NumPy
``.npz`` (a zip of ``.npy`` files) that holds the arrays and one extra entry, ``__header__``,
the UTF-8 JSON header as uint8. Reading either never unpickles and never runs code: only plain
numeric dtypes are accepted, and every declared size is checked against the bytes that are
really there before anything is allocated. Writing is atomic (:mod:`nanocnn.atomic`): a crash
at any moment leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from nanocnn import safetensors
from nanocnn.atomic import write_atomically
from nanocnn.errors import ModelFileError

HEADER = "__header__"
SAFETENSORS_KEY = "nanocnn"  # the __metadata__ entry of a safetensors file that holds the header
ALLOWED_KINDS = "fiub"  # float, signed and unsigned int, bool: nothing that can hold code
MAX_BYTES = 2**31  # refuse files that would expand to more than 2 GiB of arrays


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray], header: dict) -> Path:
    """Write ``arrays`` and the JSON ``header`` to ``path`` atomically, as safetensors if the
    suffix is ``.safetensors``, else as ``.npz``. Returns the path."""
    if HEADER in arrays:
        raise ValueError(f"{HEADER!r} is a reserved array name")
    if is_safetensors(path):
        metadata = {SAFETENSORS_KEY: json.dumps(header)}
        return write_atomically(path, lambda file: safetensors.write(file, arrays, metadata))
    entries = dict(arrays)
    entries[HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    return write_atomically(path, lambda file: np.savez(file, **entries))  # type: ignore[arg-type]


def is_safetensors(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a safetensors file (by its suffix, in any case)."""
    return Path(path).suffix.lower() == ".safetensors"


def read_safetensors(
    path: str | os.PathLike, max_bytes: int = MAX_BYTES
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read any safetensors file, also one written by another tool (``safetensors.torch``):
    (arrays by name, its ``__metadata__`` strings). ``ModelFileError`` for a bad file."""
    return safetensors.read(path, max_bytes)


def load_arrays(
    path: str | os.PathLike, max_bytes: int = MAX_BYTES
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`save_arrays` (the suffix chooses the container): (arrays,
    header).

    Raises ``ModelFileError`` naming the file for anything that is not such a file: missing,
    not a zip or safetensors file, truncated, an entry that is not a plain numeric array, or
    sizes that lie.
    """
    path = Path(path)
    if is_safetensors(path):
        arrays, metadata = safetensors.read(path, max_bytes)
        if SAFETENSORS_KEY not in metadata:
            raise ModelFileError(
                f"{path}: a safetensors file without nanocnn's header (no {SAFETENSORS_KEY!r} "
                "in its __metadata__); load plain weights with model.load_weights"
            )
        if safetensors.CHECKSUM not in metadata:  # a damaged key, or a hand-made file
            raise ModelFileError(f"{path}: damaged, or not written by nanocnn (no checksum)")
        return arrays, _parse_header(path, metadata[SAFETENSORS_KEY])
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = _read_entries(archive, path, max_bytes)
    except ModelFileError:
        raise
    # zipfile raises NotImplementedError or RuntimeError for fields it cannot honour
    # (a compression method, encryption) and, in a damaged file, those fields can say anything.
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError) as error:
        raise ModelFileError(f"{path}: not a readable nanocnn file ({error})") from error
    if HEADER not in arrays:
        raise ModelFileError(f"{path}: not a nanocnn file (it has no {HEADER} entry)")
    return arrays, _parse_header(path, arrays.pop(HEADER).tobytes())


def _parse_header(path: Path, text: str | bytes) -> dict[str, Any]:
    """The JSON object ``text`` (bytes: UTF-8), or a ModelFileError naming the file."""
    try:
        header = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ModelFileError(f"{path}: the header is not valid JSON ({error})") from error
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: the header is not a JSON object")
    return header


def _read_entries(archive: zipfile.ZipFile, path: Path, max_bytes: int) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    total = 0
    for info in archive.infolist():
        name = info.filename.removesuffix(".npy")
        if name == info.filename or name in arrays:
            raise ModelFileError(f"{path}: unexpected entry {info.filename!r}")
        with archive.open(info) as file:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(file)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(file)
            else:
                raise ModelFileError(f"{path}: entry {name!r} has .npy version {version}")
            if dtype.kind not in ALLOWED_KINDS or dtype.hasobject or dtype.fields:
                raise ModelFileError(f"{path}: entry {name!r} has forbidden dtype {dtype}")
            if any(size < 0 for size in shape):
                raise ModelFileError(f"{path}: entry {name!r} has negative shape {shape}")
            nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
            total += nbytes
            if nbytes > info.file_size or total > max_bytes:
                raise ModelFileError(
                    f"{path}: entry {name!r} declares {nbytes} bytes of data, more than the "
                    f"file holds ({info.file_size}) or the limit ({max_bytes})"
                )
            data = file.read(nbytes)
            if len(data) != nbytes or file.read(1):
                raise ModelFileError(f"{path}: entry {name!r} does not hold {shape} {dtype}")
        flat = np.frombuffer(data, dtype=dtype)
        arrays[name] = flat.reshape(tuple(shape), order="F" if fortran else "C").copy()
    return arrays
