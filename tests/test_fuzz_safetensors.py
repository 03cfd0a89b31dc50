"""Fuzzing safetensors model files (nanocnn.safetensors): the attacks of
test_fuzz_model_files.py on the other container. Random bytes, truncations, flipped bytes and
hand-made files whose every structural field lies each end in a ``ModelFileError`` naming the
file, or, for harmless damage, the very same model, with memory bounded by the file's size.

safetensors has no checksum of its own: nanocnn's ``nanocnn.crc32`` metadata entry takes the
place of the zip's CRCs, so that damage to the tensors' bytes is caught as in a ``.npz``.
"""

from __future__ import annotations

import json
import re
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nanocnn as nc
from nanocnn.io import safetensors
from nanocnn.io.arrays import load_arrays, save_arrays
from tests.test_fuzz_model_files import (
    FUZZ,
    Saved,
    assert_same_model,
    load_or_error,
    small_model,
    wrong_arrays,
)


@pytest.fixture(scope="module")
def valid_safetensors(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    path = nc.save(small_model(), tmp_path_factory.mktemp("valid") / "model.safetensors")
    return Saved(path.read_bytes(), *load_arrays(path))


def header_end(content: bytes) -> int:
    return 8 + int.from_bytes(content[:8], "little")


@FUZZ
@given(content=st.binary(max_size=2000), length=st.none() | st.integers(0, 2**64 - 1))
def test_random_bytes_as_safetensors(tmp_path: Path, content: bytes, length: int | None) -> None:
    path = tmp_path / "random.safetensors"
    path.write_bytes((b"" if length is None else length.to_bytes(8, "little")) + content)
    assert isinstance(load_or_error(path), nc.ModelFileError)


@FUZZ
@given(data=st.data())
def test_truncated_safetensors(tmp_path: Path, valid_safetensors, data: st.DataObject) -> None:
    content = valid_safetensors.content
    path = tmp_path / "truncated.safetensors"
    path.write_bytes(content[: data.draw(st.integers(0, len(content) - 1), label="cut")])
    assert isinstance(load_or_error(path), nc.ModelFileError)


@FUZZ
@given(data=st.data())
def test_flipped_bytes_in_safetensors(
    tmp_path: Path, valid_safetensors, data: st.DataObject
) -> None:
    """nanocnn's CRC in the metadata catches damage to the tensors and to the header's
    meaning; damage to neither (a space of the header turned into a tab) leaves a file that
    loads as the very same model."""
    content = valid_safetensors.content
    damaged = bytearray(content)
    anywhere, header = st.integers(0, len(content) - 1), st.integers(0, header_end(content) - 1)
    for _ in range(data.draw(st.integers(1, 3), label="flips")):
        position = data.draw(anywhere | header, label="position")
        damaged[position] ^= data.draw(st.integers(1, 255), label="xor")
    path = tmp_path / "flipped.safetensors"
    path.write_bytes(bytes(damaged))
    result = load_or_error(path, max_peak=8 << 20)
    if isinstance(result, nc.Sequential):
        assert_same_model(result, valid_safetensors.arrays)
        assert result.config() == valid_safetensors.header["layers"]


def test_a_flipped_bit_among_the_weights_is_caught(tmp_path: Path, valid_safetensors) -> None:
    damaged = bytearray(valid_safetensors.content)
    damaged[-1] ^= 1  # the last weight's last byte
    path = tmp_path / "bit.safetensors"
    path.write_bytes(bytes(damaged))
    with pytest.raises(nc.ModelFileError, match="damaged"):
        nc.load(path)


def safetensors_bytes(header: dict | bytes, data: bytes = bytes(16), length: int | None = None):
    """A hand-made safetensors file: the length (by default the header's), header, data. A
    header with nanocnn's metadata gets the right checksum, as an attacker would give it."""
    if isinstance(header, dict) and "nanocnn" in header.get("__metadata__", {}):
        tensors = {name: spec for name, spec in header.items() if name != "__metadata__"}
        crc = safetensors.checksum(tensors, header["__metadata__"], [data])
        header = {**header, "__metadata__": {**header["__metadata__"], safetensors.CHECKSUM: crc}}
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return (len(text) if length is None else length).to_bytes(8, "little") + text + data


def entry(dtype="F32", shape=(2, 2), offsets=(0, 16)) -> dict:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def nanocnn_header(layers: list[dict]) -> dict[str, str]:
    """A safetensors ``__metadata__`` holding a nanocnn model header."""
    return {"nanocnn": json.dumps({"format": "nanocnn-model", "version": 1, "layers": layers})}


DENSE = {"type": "Dense", "in_features": 4, "out_features": 4}
HOSTILE_SAFETENSORS = {
    "empty file": (b"", "not a safetensors file"),
    "length only": (bytes(8), "JSON"),
    "length 2**64 - 1": (safetensors_bytes({}, length=2**64 - 1), "header would be"),
    "length past the end": (safetensors_bytes({}, length=100), "header would be"),
    "not JSON": (safetensors_bytes(b"{'a': pickle}"), "not valid JSON"),
    "not UTF-8": (safetensors_bytes(b'{"\xff": 1}'), "not valid JSON"),
    "deeply nested": (safetensors_bytes(b"[" * 100_000 + b"]" * 100_000), "not valid JSON"),
    "a JSON list": (safetensors_bytes(b"[1, 2]"), "not a JSON object"),
    "a name twice": (
        safetensors_bytes(
            b'{"a": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}, '
            b'"a": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}',
            b"",
        ),
        "twice",
    ),
    "object dtype": (safetensors_bytes({"a": entry("O")}), "unsupported dtype 'O'"),
    "8-bit float": (safetensors_bytes({"a": entry("F8_E4M3", (16,))}), "unsupported dtype"),
    "dtype not a string": (safetensors_bytes({"a": entry(["F32"])}), "unsupported dtype"),
    "negative shape": (safetensors_bytes({"a": entry(shape=(-2, -2))}), "non-negative"),
    "float shape": (safetensors_bytes({"a": entry(shape=(2.0, 2))}), "non-negative"),
    "bool shape": (safetensors_bytes({"a": entry(shape=(True, 4))}), "non-negative"),
    "huge shape": (safetensors_bytes({"a": entry(shape=(2**62, 2**62))}), "do not hold"),
    "three offsets": (safetensors_bytes({"a": entry(offsets=(0, 8, 16))}), "non-negative"),
    "reversed offsets": (safetensors_bytes({"a": entry(offsets=(16, 0))}), "do not hold"),
    "offsets past the end": (
        safetensors_bytes({"a": entry(offsets=(16, 32))}),
        "gap",
    ),
    "data past the end": (safetensors_bytes({"a": entry(shape=(4, 4), offsets=(0, 64))}), "holds"),
    "overlapping": (
        safetensors_bytes({"a": entry(), "b": entry(shape=(2,), offsets=(8, 16))}),
        "overlaps",
    ),
    "a gap": (safetensors_bytes({"a": entry(shape=(2,), offsets=(8, 16))}), "gap"),
    "trailing bytes": (safetensors_bytes({"a": entry()}, bytes(24)), "holds 24"),
    "extra key": (safetensors_bytes({"a": {**entry(), "code": "rm -rf"}}), "is not"),
    "entry not a dict": (safetensors_bytes({"a": [1, 2]}), "is not"),
    "metadata not a dict": (safetensors_bytes({"__metadata__": [1]}, b""), "strings"),
    "metadata of numbers": (safetensors_bytes({"__metadata__": {"a": 1}}, b""), "strings"),
    "no nanocnn header": (safetensors_bytes({"a": entry()}), "without nanocnn's header"),
    "nanocnn header not JSON": (
        safetensors_bytes({"__metadata__": {"nanocnn": "{"}}, b""),
        "not valid JSON",
    ),
    "no checksum": (
        safetensors_bytes(b'{"__metadata__": {"nanocnn": "{}"}}', b""),
        "not written by nanocnn",
    ),
    "wrong checksum": (
        safetensors_bytes(b'{"__metadata__": {"nanocnn": "{}", "nanocnn.crc32": "0"}}', b""),
        "do not match their CRC",
    ),
    "nanocnn header a lone surrogate": (
        safetensors_bytes({"__metadata__": {"nanocnn": '"\ud800"'}}, b""),
        "not a JSON object",
    ),
    "an architecture without weights": (
        safetensors_bytes({"__metadata__": nanocnn_header([DENSE])}, b""),
        "larger than the weights",
    ),
}


@pytest.mark.parametrize(
    ("content", "problem"), HOSTILE_SAFETENSORS.values(), ids=HOSTILE_SAFETENSORS
)
def test_hostile_safetensors_files(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "hostile.safetensors"
    path.write_bytes(content)
    result = load_or_error(path, max_peak=1 << 20)
    assert isinstance(result, nc.ModelFileError) and problem in str(result), result


def test_safetensors_larger_than_the_limit_are_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.safetensors"
    header = {"__metadata__": nanocnn_header([]), "a": entry("U8", (1 << 20,), (0, 1 << 20))}
    path.write_bytes(safetensors_bytes(header, bytes(1 << 20)))
    tracemalloc.start()
    with pytest.raises(nc.ModelFileError, match="more than 65536"):
        load_arrays(path, max_bytes=1 << 16)
    assert tracemalloc.get_traced_memory()[1] < 1 << 18
    tracemalloc.stop()


@FUZZ
@given(data=st.data())
def test_wrong_names_shapes_and_dtypes_in_safetensors(
    tmp_path: Path, valid_safetensors, data: st.DataObject
) -> None:
    no_complex = wrong_arrays(valid_safetensors.arrays).filter(
        lambda arrays: all(value.dtype.kind != "c" for value in arrays.values())
    )  # safetensors has no complex dtype
    arrays = data.draw(no_complex, label="arrays")
    path = save_arrays(tmp_path / "wrong.safetensors", arrays, valid_safetensors.header)
    result = load_or_error(path)
    assert isinstance(result, nc.ModelFileError), sorted(arrays)
    assert re.search(r"missing|unexpected|shape|dtype|larger than the weights", str(result))
