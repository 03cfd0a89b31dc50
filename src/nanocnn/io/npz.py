"""The ``.npz`` container of nanocnn's files: NumPy's zip of ``.npy`` arrays, read safely.

A file holds the named arrays and one extra entry, ``__header__``: the UTF-8 JSON header as
uint8. Reading never unpickles and never runs code: only plain numeric dtypes are accepted,
and every declared size is checked against the bytes really there before anything is
allocated.
"""

from __future__ import annotations

import json
import math
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nanocnn.errors import ModelFileError
from nanocnn.io.header import parse_header

HEADER = "__header__"
ALLOWED_KINDS = "fiub"  # float, signed and unsigned int, bool: nothing that can hold code


def write(file: BinaryIO, arrays: dict[str, np.ndarray], header: dict[str, Any]) -> None:
    """Write ``arrays`` and the JSON ``header`` to the open binary ``file`` as an ``.npz``."""
    if HEADER in arrays:
        raise ValueError(f"{HEADER!r} is a reserved array name")
    entries = dict(arrays)
    entries[HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    np.savez(file, **entries)  # type: ignore[arg-type]


def read(path: Path, max_bytes: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, header) of a file written by :func:`write`; ``ModelFileError`` naming the
    file for anything else: not a zip, truncated, an entry that is not a plain numeric array,
    sizes that lie, more than ``max_bytes`` of arrays, or no header."""
    arrays = read_arrays(path, max_bytes)
    if HEADER not in arrays:
        raise ModelFileError(f"{path}: not a nanocnn file (it has no {HEADER} entry)")
    return arrays, parse_header(path, arrays.pop(HEADER).tobytes())


def read_arrays(path: Path, max_bytes: int) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file (the header entry too, if any), checked as
    :func:`read` says."""
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as archive:
            return _read_entries(archive, path, max_bytes)
    except ModelFileError:
        raise
    # zipfile raises NotImplementedError or RuntimeError for fields it cannot honour
    # (a compression method, encryption) and, in a damaged file, those fields can say anything.
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError) as error:
        raise ModelFileError(f"{path}: not a readable nanocnn file ({error})") from error


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
