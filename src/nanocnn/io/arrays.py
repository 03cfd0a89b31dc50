"""Named arrays plus a JSON header in one file, in the format its suffix names.

    save_arrays("model.safetensors", {"0.weight": w}, {"format": "nanocnn-model", ...})
    arrays, header = load_arrays("model.safetensors")

Each kind of file is a :class:`FileFormat` in :data:`FORMATS`, by suffix: ``.npz`` (NumPy's
zip, :mod:`.npz`, also the format of any other suffix), ``.safetensors`` (Hugging Face's and
PyTorch's, :mod:`.safetensors`: nanocnn's header rides in its ``__metadata__``) and, read only,
``.pt``, ``.pth`` and ``.bin`` (``torch.save``'s state dicts, :mod:`.torch_file`). A format
reads its own files never unpickling, never running code, and checking every declared size
against the bytes really there before anything is allocated; it may also read state dicts
written by other tools (``read_weights``, for ``load_weights``). Writing is atomic
(:mod:`.atomic`): a crash at any moment leaves the old file or the new one, never half of one.
A new format is one more entry: ``FORMATS[".ext"] = FileFormat(write, read, read_weights)``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nanocnn.errors import ModelFileError
from nanocnn.io import npz, safetensors, torch_file
from nanocnn.io.atomic import write_atomically
from nanocnn.io.header import parse_header

MAX_BYTES = 2**31  # refuse files that would expand to more than 2 GiB of arrays
SAFETENSORS_KEY = "nanocnn"  # the __metadata__ entry of a safetensors file that holds the header

Arrays = dict[str, np.ndarray]
Header = dict[str, Any]


@dataclass(frozen=True)
class FileFormat:
    """How one kind of file holds named arrays and a JSON header."""

    # writes the arrays and header into an open binary file; None for a format read only
    write: Callable[[BinaryIO, Arrays, Header], None] | None
    # (arrays, header) of a file of this format written by nanocnn; ModelFileError otherwise
    read: Callable[[Path, int], tuple[Arrays, Header]]
    # the arrays of a state dict in such a file, also one written by another tool
    read_weights: Callable[[Path, int], Arrays]


def _write_safetensors(file: BinaryIO, arrays: Arrays, header: Header) -> None:
    safetensors.write(file, arrays, {SAFETENSORS_KEY: json.dumps(header)})


def _read_safetensors(path: Path, max_bytes: int) -> tuple[Arrays, Header]:
    arrays, metadata = safetensors.read(path, max_bytes)
    if SAFETENSORS_KEY not in metadata:
        raise ModelFileError(
            f"{path}: a safetensors file without nanocnn's header (no {SAFETENSORS_KEY!r} "
            "in its __metadata__); load plain weights with nanocnn.load_weights"
        )
    if safetensors.CHECKSUM not in metadata:  # a damaged key, or a hand-made file
        raise ModelFileError(f"{path}: damaged, or not written by nanocnn (no checksum)")
    return arrays, parse_header(path, metadata[SAFETENSORS_KEY])


def _read_npz_weights(path: Path, max_bytes: int) -> Arrays:
    return npz.read(path, max_bytes)[0]


def _read_safetensors_weights(path: Path, max_bytes: int) -> Arrays:
    return safetensors.read(path, max_bytes)[0]


TORCH = FileFormat(None, torch_file.read, torch_file.read_weights)  # read only
FORMATS: dict[str, FileFormat] = {
    ".npz": FileFormat(npz.write, npz.read, _read_npz_weights),
    ".safetensors": FileFormat(_write_safetensors, _read_safetensors, _read_safetensors_weights),
    ".pt": TORCH,
    ".pth": TORCH,
    ".bin": TORCH,
}
DEFAULT_SUFFIX = ".npz"  # the format of a suffix FORMATS does not know


def file_format(path: str | os.PathLike) -> FileFormat:
    """The format of ``path``, by its suffix in any case (``.npz`` for an unknown one)."""
    return FORMATS.get(Path(path).suffix.lower(), FORMATS[DEFAULT_SUFFIX])


def save_arrays(path: str | os.PathLike, arrays: Arrays, header: Header) -> Path:
    """Write ``arrays`` and the JSON ``header`` to ``path`` atomically, in the format of its
    suffix. Returns the path."""
    write = file_format(path).write
    if write is None:
        raise ValueError(f"{path}: nanocnn reads {Path(path).suffix} files but does not write them")
    return write_atomically(path, lambda file: write(file, arrays, header))


def load_arrays(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> tuple[Arrays, Header]:
    """(arrays, header) of a file written by :func:`save_arrays`; ``ModelFileError`` naming
    the file for anything that is not such a file: missing, foreign, truncated, an entry that
    is not a plain numeric array, or sizes that lie."""
    return file_format(path).read(Path(path), max_bytes)


def load_state_dict_file(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> Arrays:
    """The arrays of the state dict in ``path``: any safetensors file (``safetensors.torch``
    writes them), a ``torch.save`` file (.pt, .pth, .bin) or a nanocnn file;
    ``ModelFileError`` naming the file otherwise."""
    return file_format(path).read_weights(Path(path), max_bytes)


def read_safetensors(
    path: str | os.PathLike, max_bytes: int = MAX_BYTES
) -> tuple[Arrays, dict[str, str]]:
    """Read any safetensors file, also one written by another tool (``safetensors.torch``):
    (arrays by name, its ``__metadata__`` strings). ``ModelFileError`` for a bad file."""
    return safetensors.read(path, max_bytes)
