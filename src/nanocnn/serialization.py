"""A safe file container for named arrays plus a JSON header: models and checkpoints.

The file is an ordinary NumPy ``.npz`` (a zip of ``.npy`` files) that holds the arrays and
one extra entry, ``__header__``, the UTF-8 JSON header as uint8. Reading it never unpickles:
each entry's ``.npy`` header is parsed first, only plain numeric dtypes are accepted, and the
declared size is checked against the bytes that are really there before anything is allocated.
Writing is atomic: a temporary file in the same folder, flushed to disk, renamed over the
target, then the folder itself flushed so that the rename survives a power cut: a crash at any
moment leaves either the old file or the new one, never half of one. The temporary file is
named ``.<name>.<pid>.<random>``: one a killed process left behind is never read, and the next
save to the same path deletes it (those of processes still running are left alone).
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from nanocnn.errors import ModelFileError

HEADER = "__header__"
ALLOWED_KINDS = "fiub"  # float, signed and unsigned int, bool: nothing that can hold code
MAX_BYTES = 2**31  # refuse files that would expand to more than 2 GiB of arrays


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray], header: dict) -> Path:
    """Write ``arrays`` and the JSON ``header`` to ``path`` atomically. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if HEADER in arrays:
        raise ValueError(f"{HEADER!r} is a reserved array name")
    entries = dict(arrays)
    entries[HEADER] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    _remove_orphans(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            np.savez(file, **entries)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def _remove_orphans(path: Path) -> None:
    """Delete the temporary files of earlier saves to ``path`` whose process is gone."""
    for orphan in path.parent.glob(f".{glob.escape(path.name)}.*.*"):
        pid = orphan.name[len(path.name) + 2 :].split(".")[0]
        if pid.isdigit() and not _running(int(pid)):
            orphan.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (signal 0 checks without sending anything; on Windows
    ``os.kill`` would end the process, so there every file is kept)."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot tell: keep its file
    return True


def _fsync_directory(directory: Path) -> None:
    """Flush a folder's entries (a rename) to disk; where folders cannot be opened, as on
    Windows, there is nothing to do."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse to flush folders
            os.fsync(descriptor)
    finally:
        os.close(descriptor)


def load_arrays(
    path: str | os.PathLike, max_bytes: int = MAX_BYTES
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`save_arrays`: (arrays, header).

    Raises ``ModelFileError`` naming the file for anything that is not such a file: missing,
    not a zip, truncated, an entry that is not a plain numeric array, or sizes that lie.
    """
    path = Path(path)
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
    try:
        header = json.loads(arrays.pop(HEADER).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{path}: the header is not valid JSON ({error})") from error
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: the header is not a JSON object")
    return arrays, header


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
        order = "F" if fortran else "C"
        arrays[name] = np.frombuffer(data, dtype=dtype).reshape(shape, order=order).copy()
    return arrays
