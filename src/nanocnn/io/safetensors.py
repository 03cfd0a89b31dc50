"""The safetensors container, written and read with NumPy alone (no ``safetensors`` package).

A safetensors file is three parts (https://github.com/huggingface/safetensors):

    8 bytes        n, the header's length, an unsigned little-endian integer
    n bytes        a UTF-8 JSON object: {name: {"dtype": "F32", "shape": [2, 3],
                   "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
    the rest       every tensor's raw little-endian C-order bytes, at [begin, end) of this part

Nothing in it can hold code, and every size can be checked before anything is read: the
reader refuses a header longer than the file, a dtype outside :data:`DTYPES`, a shape that is
not a list of non-negative integers, offsets that disagree with the shape or that leave gaps,
overlap or run past the end, and more than ``max_bytes`` of tensors. Each problem is a
``ModelFileError`` naming the file. BF16 tensors (bfloat16, which NumPy lacks) are read as
float32, exactly; the 8-bit float types are refused.

One addition of nanocnn's own, which other tools carry along unread: the metadata entry
``nanocnn.crc32``, a CRC-32 of the whole header (but itself) and of the tensors' bytes. A zip
checks its entries that way; without it, a flipped bit among the weights would load as other
weights, and one in a digit of the metadata as another model. Files without the entry
(written by other tools) are read unchecked; the reader of nanocnn's model files requires it.
"""

from __future__ import annotations

import io
import json
import math
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nanocnn.errors import ModelFileError

METADATA = "__metadata__"
CHECKSUM = "nanocnn.crc32"  # the __metadata__ entry nanocnn adds, see checksum()
# safetensors' dtype names and the NumPy dtypes that hold them (little-endian).
DTYPES: dict[str, np.dtype] = {
    name: np.dtype(code)
    for name, code in {
        "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
        "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
    }.items()
}  # fmt: skip
NAMES = {dtype: name for name, dtype in DTYPES.items()}
BF16 = "BF16"  # the upper half of a float32: read as float32
MAX_HEADER = 100_000_000  # bytes of JSON header, the limit of the safetensors package


def write(file: BinaryIO, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Write ``arrays`` (any names but ``__metadata__``) and the string-to-string ``metadata``
    to the open binary ``file``, tensors in the order given."""
    if not all(isinstance(v, str) for v in (*metadata, *metadata.values())):
        raise ValueError("safetensors metadata must map strings to strings")
    header: dict[str, Any] = {}
    tensors = []
    offset = 0
    for name, array in arrays.items():
        if name == METADATA:
            raise ValueError(f"{METADATA!r} is a reserved tensor name")
        array = np.asarray(array)
        dtype = array.dtype.newbyteorder("<")
        if dtype not in NAMES:
            raise ValueError(f"tensor {name!r} has dtype {array.dtype}, which safetensors lacks")
        tensors.append(np.ascontiguousarray(array, dtype=dtype))
        header[name] = {
            "dtype": NAMES[dtype],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
    metadata = {**metadata, CHECKSUM: checksum(header, metadata, [t.data for t in tensors])}
    text = json.dumps({METADATA: metadata, **header}, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the package writes it
    file.write(len(text).to_bytes(8, "little"))
    file.write(text)
    for tensor in tensors:
        file.write(tensor.data)


def read(path: str | os.PathLike, max_bytes: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a safetensors file: (arrays by name, the ``__metadata__`` strings, {} if none).

    Raises ``ModelFileError`` naming the file for anything that is not a valid file, and for
    a file whose ``nanocnn.crc32`` does not match its contents (the entry stays in the
    metadata returned: whether it was there is for the caller to judge).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    size = path.stat().st_size
    if size < 8:
        raise ModelFileError(f"{path}: not a safetensors file ({size} bytes)")
    try:
        with path.open("rb") as file:
            length = int.from_bytes(file.read(8), "little")
            if length > min(size - 8, MAX_HEADER):
                raise ModelFileError(
                    f"{path}: not a safetensors file (its header would be {length} bytes long, "
                    f"the file holds {size - 8} after the length)"
                )
            header = _parse_header(path, file.read(length))
            metadata = _metadata(path, header.pop(METADATA, {}))
            layout = _layout(path, header, size - 8 - length, max_bytes)
            data = [
                _read_bytes(file, 8 + length + begin, end - begin) for _, (*_, begin, end) in layout
            ]
    except OSError as error:
        raise ModelFileError(f"{path}: cannot be read ({error})") from error
    expected = metadata.get(CHECKSUM)
    if expected is not None and checksum(header, metadata, data) != expected:
        raise ModelFileError(f"{path}: the file is damaged (its contents do not match their CRC)")
    arrays = {
        name: as_array(buffer, dtype, shape)
        for (name, (dtype, shape, _, _)), buffer in zip(layout, data, strict=True)
    }
    return arrays, metadata


def checksum(tensors: dict[str, Any], metadata: dict[str, str], data: Iterable[Any]) -> str:
    """CRC-32, as 8 hex digits, of the header's tensor entries and metadata (but the checksum),
    as canonical JSON, then of the tensors' bytes ``data`` (buffers, in file order)."""
    metadata = {key: value for key, value in metadata.items() if key != CHECKSUM}
    crc = zlib.crc32(json.dumps([tensors, metadata], sort_keys=True).encode("ascii"))
    for buffer in data:
        crc = zlib.crc32(buffer, crc)
    return f"{crc:08x}"


def _parse_header(path: Path, text: bytes) -> dict[str, Any]:
    """The JSON header as a dict; a name given twice is refused, not silently overwritten."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ModelFileError(f"{path}: the header names an entry twice")
        return dict(pairs)

    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=unique)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ModelFileError(
            f"{path}: the safetensors header is not valid JSON ({error})"
        ) from error
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: the safetensors header is not a JSON object")
    return header


def _metadata(path: Path, metadata: Any) -> dict[str, str]:
    if not isinstance(metadata, dict) or not all(
        isinstance(value, str) for value in metadata.values()
    ):
        raise ModelFileError(f"{path}: {METADATA} must map strings to strings")
    return metadata


Entry = tuple[str, list[int], int, int]  # dtype name, shape, begin, end


def _layout(
    path: Path, header: dict[str, Any], data_size: int, max_bytes: int
) -> list[tuple[str, Entry]]:
    """[(name, entry)] sorted by offset, after checking every entry against the file."""
    entries: list[tuple[str, Entry]] = []
    for name, spec in header.items():
        where = f"{path}: tensor {name!r}"
        if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
            raise ModelFileError(f"{where} is not {{dtype, shape, data_offsets}}")
        dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
        if not isinstance(dtype, str) or (dtype not in DTYPES and dtype != BF16):
            raise ModelFileError(f"{where} has unsupported dtype {dtype!r}")
        if not _integers(shape) or not (_integers(offsets) and len(offsets) == 2):
            raise ModelFileError(f"{where}: shape and data_offsets must be non-negative integers")
        itemsize = 2 if dtype == BF16 else DTYPES[dtype].itemsize
        begin, end = offsets
        if end - begin != math.prod(shape) * itemsize:  # Python ints: no overflow
            raise ModelFileError(
                f"{where}: data_offsets {offsets} do not hold shape {shape} of {dtype}"
            )
        entries.append((name, (dtype, shape, begin, end)))
    entries.sort(key=lambda item: (item[1][2], item[1][3]))
    position = 0
    for name, (_, _, begin, end) in entries:
        if begin != position:
            problem = "overlaps the one before" if begin < position else "leaves a gap before it"
            raise ModelFileError(f"{path}: tensor {name!r} {problem} (offset {begin})")
        position = end
    if position != data_size:
        raise ModelFileError(
            f"{path}: the tensors take {position} bytes, the file holds {data_size} after "
            "the header"
        )
    if position > max_bytes:
        raise ModelFileError(f"{path}: {position} bytes of tensors, more than {max_bytes}")
    return entries


def _integers(values: Any) -> bool:
    return isinstance(values, list) and all(type(v) is int and v >= 0 for v in values)


def _read_bytes(file: io.BufferedReader, start: int, count: int) -> bytearray:
    """``count`` bytes from ``start`` in a writable buffer (the array then needs no copy)."""
    buffer = bytearray(count)
    file.seek(start)
    if file.readinto(buffer) != count:
        raise OSError("the file is shorter than it was a moment ago")
    return buffer


def as_array(buffer: bytearray, dtype: str, shape: list[int]) -> np.ndarray:
    """The tensor of dtype ``dtype`` (a name of DTYPES, or BF16) in ``buffer`` (BF16 widened to
    float32; BOOL read as byte != 0, so that no array holds a bool that is neither 0 nor 1)."""
    if dtype == BF16:  # (u16 << 16) viewed as float32 is the same number
        return (np.frombuffer(buffer, "<u2").astype("<u4") << 16).view("<f4").reshape(shape)
    if dtype == "BOOL":
        return (np.frombuffer(buffer, np.uint8) != 0).reshape(shape)
    return np.frombuffer(buffer, DTYPES[dtype]).reshape(shape)
