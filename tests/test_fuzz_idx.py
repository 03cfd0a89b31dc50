"""Fuzzing the IDX reader and the MNIST loader: whatever the bytes, the result is an array that
matches its header or a ``DataError`` naming the file, quickly and without allocating what a
header merely declares. (``pytest --hypothesis-show-statistics`` prints the cases tried.)
"""

from __future__ import annotations

import gzip
import math
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanocnn.datasets import load_mnist, read_idx, write_idx
from nanocnn.datasets.idx import _CHUNK, _DTYPES
from nanocnn.datasets.mnist import FILES
from nanocnn.errors import DataError

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ITEMSIZE = {code: dtype.itemsize for code, dtype in _DTYPES.items()}


def idx_header(code: int, dims: list[int]) -> bytes:
    return struct.pack(f">BBBB{len(dims)}I", 0, 0, code, len(dims), *dims)


def write(path: Path, content: bytes, zipped: bool) -> Path:
    path.write_bytes(gzip.compress(content, mtime=0) if zipped else content)
    return path


def read_or_error(path: Path, **kwargs) -> np.ndarray | DataError:
    """``read_idx``'s array, or the DataError it raised (which must name the file)."""
    try:
        return read_idx(path, **kwargs)
    except DataError as error:
        assert str(path) in str(error)
        return error


@FUZZ
@given(content=st.binary(max_size=600), zipped=st.booleans())
def test_random_bytes(tmp_path: Path, content: bytes, zipped: bool) -> None:
    result = read_or_error(write(tmp_path / "random.idx", content, zipped))
    if isinstance(result, np.ndarray):  # rare, but then it is exactly what the header says
        code, ndim = content[2], content[3]
        dims = struct.unpack_from(f">{ndim}I", content, 4)
        assert result.shape == dims and result.nbytes == len(content) - 4 - 4 * ndim
        assert result.dtype == _DTYPES[code].newbyteorder("=")


@FUZZ
@given(
    magic=st.binary(min_size=2, max_size=2).filter(lambda magic: magic != b"\0\0"),
    rest=st.binary(max_size=64),
    zipped=st.booleans(),
)
def test_wrong_magic(tmp_path: Path, magic: bytes, rest: bytes, zipped: bool) -> None:
    path = write(tmp_path / "magic.idx", magic + rest, zipped)
    if not zipped and magic == b"\x1f\x8b":  # the gzip magic: then it is corrupt gzip data
        return
    with pytest.raises(DataError, match=r"not an IDX file|truncated IDX header"):
        read_idx(path)


@st.composite
def headers(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A type code (sometimes unknown) and up to 4 dimensions (sometimes huge)."""
    code = draw(st.sampled_from([*_DTYPES, 0x00, 0x0A, 0xFF]))
    dims = draw(
        st.lists(
            st.one_of(st.integers(0, 6), st.integers(2**16, 2**32 - 1)), min_size=1, max_size=4
        )
    )
    return code, dims


@FUZZ
@given(header=headers(), extra=st.integers(-8, 8), zipped=st.booleans())
def test_declared_sizes_are_checked_never_trusted(
    tmp_path: Path, header: tuple[int, list[int]], extra: int, zipped: bool
) -> None:
    """A header with data ``extra`` bytes longer or shorter than it declares (capped at 64
    bytes): exact data reads, anything else is refused, and memory stays near the file's."""
    code, dims = header
    declared = math.prod(dims) * ITEMSIZE.get(code, 1)
    data = bytes(max(0, min(declared, 64) + extra))
    path = write(tmp_path / "sized.idx", idx_header(code, dims) + data, zipped)
    tracemalloc.start()
    try:
        result = read_or_error(path, max_bytes=2**62)  # no cap: only the file can say no
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * _CHUNK + 2**16  # a chunk of reading, never the declared size
    if code not in _DTYPES:
        assert isinstance(result, DataError) and "unknown IDX type code" in str(result)
    elif math.prod(size for size in dims if size) * ITEMSIZE[code] >= 2**63:
        assert isinstance(result, DataError) and "too large for any array" in str(result)
    elif 4 + 4 * len(dims) + declared > 2**62:
        assert isinstance(result, DataError) and "more than the limit" in str(result)
    elif len(data) == declared:
        assert isinstance(result, np.ndarray) and result.shape == tuple(dims)
    else:
        assert isinstance(result, DataError)
        assert ("truncated" if len(data) < declared else "trailing bytes") in str(result)


@FUZZ
@given(dims=st.lists(st.integers(2**16, 2**32 - 1), min_size=2, max_size=4))
def test_huge_declared_sizes_hit_the_limit(tmp_path: Path, dims: list[int]) -> None:
    path = write(tmp_path / "huge.idx", idx_header(0x08, dims) + bytes(16), zipped=False)
    with pytest.raises(DataError, match=r"more than the limit|too large for any array"):
        read_idx(path)


@FUZZ
@given(data=st.data(), zipped=st.booleans())
def test_truncated_files(tmp_path: Path, data: st.DataObject, zipped: bool) -> None:
    array = np.arange(2 * 5 * 7, dtype=np.int16).reshape(2, 5, 7)
    whole = tmp_path / ("whole.idx.gz" if zipped else "whole.idx")
    write_idx(whole, array)
    content = whole.read_bytes()
    cut = data.draw(st.integers(0, len(content) - 1), label="cut")
    path = tmp_path / "cut.idx"
    path.write_bytes(content[:cut])
    with pytest.raises(DataError, match=r"truncated|empty|corrupt gzip|not an IDX"):
        read_idx(path)


@FUZZ
@given(data=st.data())
def test_flipped_bytes_in_gzipped_files(tmp_path: Path, data: st.DataObject) -> None:
    """A damaged gzip file: its CRC (or the IDX checks) catch the damage, or, when the byte
    hit only the gzip header's free fields, the array reads back intact."""
    array = np.arange(60, dtype=np.uint8).reshape(3, 4, 5)
    write_idx(tmp_path / "ok.idx.gz", array)
    content = bytearray((tmp_path / "ok.idx.gz").read_bytes())
    position = data.draw(st.integers(0, len(content) - 1), label="position")
    content[position] ^= data.draw(st.integers(1, 255), label="xor")
    path = tmp_path / "flipped.idx.gz"
    path.write_bytes(bytes(content))
    result = read_or_error(path)
    if isinstance(result, np.ndarray):
        np.testing.assert_array_equal(result, array)


@st.composite
def idx_arrays(draw: st.DrawFn) -> np.ndarray:
    """Small valid IDX arrays of any storable dtype and rank: rarely what MNIST needs."""
    dtype = draw(st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32]))
    shape = draw(st.lists(st.sampled_from([0, 1, 2, 3, 28]), min_size=1, max_size=3))
    return np.full(shape, draw(st.integers(0, 12)), dtype=dtype)


@settings(FUZZ, max_examples=60)
@given(arrays=st.lists(idx_arrays(), min_size=4, max_size=4))
def test_load_mnist_with_well_formed_but_wrong_files(tmp_path: Path, arrays) -> None:
    """Valid IDX files of the wrong kind, shape or label range (checksums off): a DataError
    naming the file, or data shaped as load_mnist promises."""
    for name, array in zip(FILES, arrays, strict=True):
        write_idx(tmp_path / name, array)
    try:
        data = load_mnist(tmp_path, download=False, checksums={})
    except DataError as error:
        assert any(str(tmp_path / name) in str(error) for name in FILES)
        return
    assert data.x_train.shape[1] == 1 and data.x_train.dtype == np.float32
    assert data.x_train.shape[1:] == data.x_test.shape[1:]  # any H × W, the same for both
    assert len(data.x_train) == len(data.y_train) and len(data.x_test) == len(data.y_test)
    assert data.y_test.max(initial=0) <= data.y_train.max(initial=0)  # no class test alone has
