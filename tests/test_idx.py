"""Reading and writing IDX files: round trips, and every kind of broken file raising DataError."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from nanocnn.datasets import read_idx, write_idx
from nanocnn.datasets.idx import decode_idx_bytes, parse_idx, read_idx_bytes
from nanocnn.errors import DataError


def idx_header(code: int, *dims: int) -> bytes:
    """The header of an IDX file with type ``code`` and shape ``dims``."""
    return struct.pack(f">BBBB{len(dims)}I", 0, 0, code, len(dims), *dims)


def write_file(path: Path, content: bytes) -> Path:
    """Write ``content`` to ``path``, gzipped if the name ends with .gz."""
    path.write_bytes(gzip.compress(content) if path.suffix == ".gz" else content)
    return path


@pytest.fixture(params=["raw.idx", "zipped.idx.gz"])
def filename(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.dtype(">i2"), np.int32, np.float32, np.float64]
)
def test_round_trip(tmp_path: Path, filename: str, dtype: np.dtype) -> None:
    array = np.random.default_rng(0).integers(0, 128, size=(5, 3, 4)).astype(dtype)
    write_idx(tmp_path / filename, array)
    back = read_idx(tmp_path / filename)
    assert back.shape == array.shape
    assert back.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(back, array)


def test_gzip_detected_by_magic_not_name(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    write_idx(tmp_path / "a.gz", array)
    (tmp_path / "a.gz").rename(tmp_path / "plain-name")
    write_idx(tmp_path / "b", array)
    (tmp_path / "b").rename(tmp_path / "b.gz")
    np.testing.assert_array_equal(read_idx(tmp_path / "plain-name"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "b.gz"), array)


def test_known_bytes(tmp_path: Path) -> None:
    path = tmp_path / "labels.idx"
    write_idx(path, np.array([7, 2, 1], dtype=np.uint8))
    assert path.read_bytes() == bytes.fromhex("00000801 00000003 070201")


def test_content_is_read_once_then_hashed_and_parsed(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x.gz", array)
    content = read_idx_bytes(tmp_path / "x.gz")
    assert content == idx_header(0x08, 2, 3, 4) + array.tobytes()
    assert decode_idx_bytes((tmp_path / "x.gz").read_bytes()) == content
    parsed = parse_idx(content)
    np.testing.assert_array_equal(parsed, array)
    assert parsed.flags.writeable


def test_empty_dimension(tmp_path: Path, filename: str) -> None:
    write_file(tmp_path / filename, idx_header(0x08, 0, 28, 28))
    assert read_idx(tmp_path / filename).shape == (0, 28, 28)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"\x00\x00", "truncated IDX header"),
        (b"\x01\x02\x08\x01" + bytes(4), "not an IDX file"),
        (idx_header(0x07, 3) + bytes(3), "unknown IDX type code 0x07"),
        (idx_header(0x08), "0 dimensions"),
        (idx_header(0x08, 2, 2)[:-2], "truncated IDX header"),
        (idx_header(0x08, 2, 3) + bytes(5), "truncated: header declares 6 bytes of data"),
        (idx_header(0x0C, 2) + bytes(7), "truncated: header declares 8 bytes of data"),
        (idx_header(0x08, 2, 3) + bytes(7), "trailing bytes"),
        (idx_header(0x08, 2**31, 28, 28) + bytes(10), "more than the limit"),
    ],
    ids=[
        "empty",
        "short-magic",
        "wrong-magic",
        "wrong-type",
        "no-dims",
        "short-dims",
        "truncated",
        "truncated-int32",
        "trailing",
        "huge-dims",
    ],
)
def test_broken_files_raise_data_error(
    tmp_path: Path, filename: str, content: bytes, message: str
) -> None:
    path = write_file(tmp_path / filename, content)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_huge_declared_size_is_never_allocated(tmp_path: Path, filename: str) -> None:
    path = write_file(tmp_path / filename, idx_header(0x08, 2**31, 28, 28) + bytes(100))
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="truncated"):
            read_idx(path, max_bytes=2**62)  # no cap: the file itself shows it is too short
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # of the 1.6 TB it declares, nothing was asked for


def test_gzip_bomb_is_read_only_one_byte_past_the_header(tmp_path: Path) -> None:
    # Declares 4 bytes but decompresses to 64 MiB of zeros: stops at the 5th data byte.
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb", compresslevel=1) as stream:
        stream.write(idx_header(0x08, 4))
        stream.write(bytes(64 << 20))
    with pytest.raises(DataError, match="trailing bytes"):
        read_idx(path)


def test_max_bytes(tmp_path: Path, filename: str) -> None:
    write_idx(tmp_path / filename, np.zeros(100, dtype=np.uint8))
    assert read_idx(tmp_path / filename, max_bytes=108).shape == (100,)
    with pytest.raises(DataError, match="more than the limit of 107 bytes"):
        read_idx(tmp_path / filename, max_bytes=107)


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.idx.gz"
    rng = np.random.default_rng(1)
    write_idx(path, rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8))
    blob = bytearray(path.read_bytes())
    middle = len(blob) // 2
    blob[middle : middle + 8] = bytes(255 - b for b in blob[middle : middle + 8])
    path.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="corrupt gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_cut_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.idx.gz"
    write_idx(path, np.arange(1000, dtype=np.int32))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="corrupt gzip"):
        read_idx(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing\.idx: cannot read"):
        read_idx(tmp_path / "missing.idx")


def test_write_rejects_what_idx_cannot_store(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dtype int64"):
        write_idx(tmp_path / "x.idx", np.zeros(3, dtype=np.int64))
    with pytest.raises(DataError, match="shape"):
        write_idx(tmp_path / "x.idx", np.uint8(3))
