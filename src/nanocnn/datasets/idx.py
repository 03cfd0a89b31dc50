"""Read and write IDX files, the format of MNIST, gzipped or not.

An IDX file is big-endian: two zero bytes, a type code (``0x08`` unsigned byte, ...), the number
of dimensions ``ndim``, ``ndim`` sizes as 32-bit unsigned integers, then the data in C order.

Reading checks the header and that the data is exactly as long as the header declares, without
ever allocating what a corrupt or malicious header claims: the data is read in chunks, at most
one byte past the declared length, so a truncated file, trailing bytes or a gzip bomb each end
in a ``DataError`` that names the file.

To check a file's SHA-256 and parse it from a single decompression, read its content once and
use it twice::

    content = read_idx_bytes(path)
    digest = hashlib.sha256(content).hexdigest()
    array = parse_idx(content, name=str(path))
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib

import numpy as np

from nanocnn.errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
MAX_IDX_BYTES = 1 << 30  # default cap on an IDX file's decompressed size: 1 GiB
_CHUNK = 1 << 20  # bytes read at a time, so memory grows with the data actually there

# IDX type code -> big-endian dtype of the data.
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES: dict[np.dtype, int] = {dtype.newbyteorder("="): code for code, dtype in _DTYPES.items()}


def read_idx(path: str | os.PathLike[str], *, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read the IDX file at ``path`` (gzipped or raw, told apart by the gzip magic bytes).

    Returns the array with the shape the header declares, in native byte order (``uint8`` for
    MNIST). Raises ``DataError`` if the file is missing, corrupt, truncated, has trailing bytes,
    or declares more than ``max_bytes`` of content.
    """
    return parse_idx(read_idx_bytes(path, max_bytes=max_bytes), name=str(path))


def read_idx_bytes(path: str | os.PathLike[str], *, max_bytes: int = MAX_IDX_BYTES) -> bytearray:
    """Return the decompressed content (header and data) of the IDX file at ``path``, checked."""
    try:
        with open(path, "rb") as stream:
            return _read(stream, str(path), max_bytes)
    except OSError as error:  # raised opening or reading the file; gzip errors are handled below
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from error


def decode_idx_bytes(
    blob: bytes, *, name: str = "<bytes>", max_bytes: int = MAX_IDX_BYTES
) -> bytearray:
    """Return the decompressed content of an IDX file held in memory as ``blob``, checked.

    ``blob`` is the file as stored (e.g. a download), gzipped or raw; ``name`` is used in errors.
    """
    return _read(io.BytesIO(blob), name, max_bytes)


def parse_idx(content: bytes | bytearray, *, name: str = "<bytes>") -> np.ndarray:
    """Turn an IDX file's decompressed ``content`` into an array, without copying uint8 data.

    The array shares memory with ``content`` (writable if ``content`` is a ``bytearray``).
    """
    dtype, shape = _parse_header(bytes(content[: 4 + 4 * 255]), name)
    offset = 4 + 4 * len(shape)
    count = math.prod(shape)
    _check_length(len(content) - offset, count * dtype.itemsize, name)
    array = np.frombuffer(content, dtype=dtype, count=count, offset=offset).reshape(shape)
    return array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write ``array`` as an IDX file at ``path``, gzipped if the name ends with ``.gz``.

    ``array`` has 1 to 255 dimensions and dtype uint8, int8, int16, int32, float32 or float64.
    The gzip header carries no timestamp, so equal arrays give equal files.
    """
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(f"{path}: IDX cannot store dtype {array.dtype}")
    if not 1 <= array.ndim <= 255 or max(array.shape) >= 1 << 32:
        raise DataError(f"{path}: IDX cannot store shape {array.shape}")
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    content = header + np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()
    if os.fspath(path).endswith(".gz"):
        content = gzip.compress(content, mtime=0)
    with open(path, "wb") as stream:
        stream.write(content)


def _read(stream: io.BufferedIOBase, name: str, max_bytes: int) -> bytearray:
    """Read an IDX file's content from ``stream``, decompressing it if it starts as gzip."""
    is_gzip = stream.read(2) == GZIP_MAGIC
    stream.seek(0)
    if not is_gzip:
        return _read_content(stream, name, max_bytes)
    try:
        with gzip.GzipFile(fileobj=stream) as unzipped:
            return _read_content(unzipped, name, max_bytes)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{name}: corrupt gzip data: {error}") from error


def _read_content(stream: io.BufferedIOBase, name: str, max_bytes: int) -> bytearray:
    """Read the header, then the data in chunks up to one byte past its declared length."""
    content = bytearray(stream.read(4))
    if len(content) == 4:
        content += stream.read(4 * content[3])
    dtype, shape = _parse_header(bytes(content), name)
    expected = len(content) + math.prod(shape) * dtype.itemsize
    if expected > max_bytes:
        raise DataError(
            f"{name}: header declares shape {shape} of {dtype.name}, {expected} bytes in all, "
            f"more than the limit of {max_bytes} bytes (pass max_bytes to raise it)"
        )
    while len(content) <= expected:
        chunk = stream.read(min(_CHUNK, expected + 1 - len(content)))
        if not chunk:
            break
        content += chunk
    _check_length(len(content) - 4 - 4 * len(shape), expected - 4 - 4 * len(shape), name)
    return content


def _parse_header(head: bytes, name: str) -> tuple[np.dtype, tuple[int, ...]]:
    """Return the dtype (big-endian) and shape declared by the IDX header that starts ``head``."""
    if not head:
        raise DataError(f"{name}: empty file, expected an IDX header")
    if len(head) < 4:
        raise DataError(f"{name}: truncated IDX header ({len(head)} bytes)")
    if head[:2] != b"\0\0":
        raise DataError(f"{name}: not an IDX file (magic {head[:4].hex()} must start with 0000)")
    code, ndim = head[2], head[3]
    if code not in _DTYPES:
        known = ", ".join(f"0x{c:02x} {d.name}" for c, d in _DTYPES.items())
        raise DataError(f"{name}: unknown IDX type code 0x{code:02x} (known: {known})")
    if ndim == 0:
        raise DataError(f"{name}: IDX header declares 0 dimensions")
    if len(head) < 4 + 4 * ndim:
        raise DataError(f"{name}: truncated IDX header ({ndim} dimensions declared)")
    dtype, shape = _DTYPES[code], struct.unpack_from(f">{ndim}I", head, 4)
    # NumPy refuses a shape whose non-zero sizes multiply past its index range, even when
    # another size is zero and the array would be empty.
    if math.prod(size for size in shape if size) * dtype.itemsize > np.iinfo(np.intp).max:
        raise DataError(f"{name}: IDX header declares shape {shape}, too large for any array")
    return dtype, shape


def _check_length(actual: int, declared: int, name: str) -> None:
    """Raise ``DataError`` unless the data is exactly ``declared`` bytes long."""
    if actual < declared:
        raise DataError(
            f"{name}: truncated: header declares {declared} bytes of data, file holds {actual}"
        )
    if actual > declared:
        raise DataError(
            f"{name}: trailing bytes after the {declared} bytes of data the header declares"
        )
