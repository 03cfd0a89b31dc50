"""The safetensors container: nanocnn's own reader and writer (NumPy only) against the
``safetensors`` package, both ways, and models saved as ``.safetensors``."""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import ANY

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nanocnn as nc
from nanocnn.io.arrays import load_arrays, read_safetensors, save_arrays
from tests.every_layer import INPUT_SHAPE, every_layer_model

DTYPES = ["<f8", "<f4", "<f2", "<i8", "<i4", "<i2", "i1", "<u8", "<u4", "<u2", "u1", "?"]
HEADER = {"format": "test", "nested": {"list": [1, 2.5, None], "text": "é"}}


def assert_same_arrays(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        value = np.asarray(value)
        assert actual[name].dtype == value.dtype.newbyteorder("<"), name
        np.testing.assert_array_equal(actual[name], value, err_msg=name)


arrays_of_every_dtype = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda name: name != "__metadata__"),
    st.sampled_from(DTYPES).flatmap(
        lambda dtype: hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0))
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(arrays=arrays_of_every_dtype)
def test_round_trip_of_any_arrays(tmp_path_factory: pytest.TempPathFactory, arrays: dict) -> None:
    path = save_arrays(tmp_path_factory.mktemp("st") / "a.safetensors", arrays, HEADER)
    loaded, header = load_arrays(path)
    assert header == HEADER
    assert_same_arrays(loaded, arrays)
    assert all(value.flags.writeable for value in loaded.values())


def test_big_endian_arrays_are_written_little_endian(tmp_path: Path) -> None:
    arrays = {"x": np.arange(6, dtype=">f4").reshape(2, 3)}
    loaded, _ = load_arrays(save_arrays(tmp_path / "b.safetensors", arrays, {}))
    assert loaded["x"].dtype == np.dtype("<f4")
    np.testing.assert_array_equal(loaded["x"], arrays["x"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_model_saved_as_safetensors_loads_as_the_same_model(tmp_path: Path, dtype) -> None:
    model = every_layer_model().astype(dtype)
    model.metadata.update(task="test", classes=["a", "b", "c", "d", "e"])
    loaded = nc.load(nc.save(model, tmp_path / "model.safetensors"))
    assert loaded.config() == model.config() and loaded.metadata == model.metadata
    assert loaded.dtype == dtype
    x = np.random.default_rng(0).random((4, *INPUT_SHAPE)).astype(dtype)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_the_suffix_chooses_the_container(tmp_path: Path) -> None:
    model = every_layer_model()
    assert nc.save(model, tmp_path / "m.npz").read_bytes()[:2] == b"PK"
    content = nc.save(model, tmp_path / "m.SafeTensors").read_bytes()
    assert json.loads(content[8 : 8 + int.from_bytes(content[:8], "little")])["__metadata__"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = save_arrays(tmp_path / "keep.safetensors", {"x": np.ones(3)}, {})
    before = path.read_bytes()
    with pytest.raises(ValueError, match="complex64"):
        save_arrays(path, {"x": np.ones(3), "y": np.ones(2, np.complex64)}, {})
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_safetensors_file_without_nanocnn_header_is_not_a_model(tmp_path: Path) -> None:
    from nanocnn.io import safetensors

    path = tmp_path / "weights.safetensors"
    with path.open("wb") as file:
        safetensors.write(file, {"0.weight": np.ones((2, 2), np.float32)}, {"k": "v"})
    assert read_safetensors(path)[1] == {"k": "v", safetensors.CHECKSUM: ANY}
    with pytest.raises(nc.ModelFileError, match=r"weights.safetensors.*load_weights"):
        nc.load(path)


def test_the_safetensors_package_reads_nanocnn_files(tmp_path: Path) -> None:
    numpy_io = pytest.importorskip("safetensors.numpy", reason="pip install safetensors")
    safe_open = pytest.importorskip("safetensors", reason="pip install safetensors").safe_open
    arrays = {dtype: np.arange(-3, 3).astype(dtype).reshape(2, 3) for dtype in DTYPES}
    arrays["scalar"], arrays["empty"] = np.array(2.5), np.zeros((0, 4), np.float32)
    path = save_arrays(tmp_path / "ours.safetensors", arrays, HEADER)
    assert_same_arrays(numpy_io.load_file(str(path)), arrays)
    with safe_open(str(path), framework="numpy") as file:
        assert json.loads(file.metadata()["nanocnn"]) == HEADER


def test_nanocnn_reads_files_of_the_safetensors_package(tmp_path: Path) -> None:
    numpy_io = pytest.importorskip("safetensors.numpy", reason="pip install safetensors")
    arrays = {dtype: np.arange(-3, 3).astype(dtype).reshape(3, 2) for dtype in DTYPES}
    arrays["scalar"], arrays["empty"] = np.array(7, np.int64), np.zeros((4, 0), np.float64)
    numpy_io.save_file(arrays, str(tmp_path / "theirs.safetensors"), metadata={"a": "b"})
    loaded, metadata = read_safetensors(tmp_path / "theirs.safetensors")
    assert metadata == {"a": "b"}
    assert_same_arrays(loaded, arrays)


def test_torch_reads_nanocnn_files_and_nanocnn_reads_torch_files(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="pip install torch==2.13.0")
    torch_io = pytest.importorskip("safetensors.torch", reason="pip install safetensors")
    state = every_layer_model().state_dict()
    loaded = torch_io.load_file(str(nc.save(every_layer_model(), tmp_path / "ours.safetensors")))
    assert_same_arrays({name: value.numpy() for name, value in loaded.items()}, state)
    tensors = {
        "bf16": torch.tensor([[1.5, -2.0, 3.140625]], dtype=torch.bfloat16),
        "bool": torch.tensor([True, False, True]),
        "count": torch.tensor(12, dtype=torch.long),
        "f32": torch.randn(2, 3, 4),
    }
    torch_io.save_file(tensors, str(tmp_path / "theirs.safetensors"))
    arrays, _ = read_safetensors(tmp_path / "theirs.safetensors")
    assert arrays["bf16"].dtype == np.float32  # bfloat16 widens exactly
    expected = {name: value.float() if name == "bf16" else value for name, value in tensors.items()}
    assert_same_arrays(arrays, {name: value.numpy() for name, value in expected.items()})
