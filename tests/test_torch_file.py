"""PyTorch's own files (``torch.save``) read as state dicts, never unpickled: every dtype a
state dict holds, tensors that are views (transposed, strided, offset, sharing a storage),
the suffixes .pt, .pth and .bin, pickle protocols 2 to 5; and the files that are not a state
dict refused with what to do instead. (Hostile files: tests/test_fuzz_torch_file.py; every
preset through a ``torch.save`` file: tests/test_torch_exchange.py.)"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import nanocnn as nc
from nanocnn.io import load_state_dict_file, save_arrays


@pytest.fixture(scope="module")
def torch() -> ModuleType:
    return pytest.importorskip("torch", reason="pip install torch==2.13.0")


def as_numpy(tensor) -> np.ndarray:
    """What nanocnn reads for a tensor: its values, bfloat16 widened to float32 exactly."""
    if str(tensor.dtype) == "torch.bfloat16":
        tensor = tensor.float()
    return tensor.detach().numpy()


def every_kind_of_tensor(torch: ModuleType) -> dict:
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(6, 5, generator=generator)
    counted = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4)
    return {
        "float32": torch.randn(3, 4, generator=generator),
        "float64": torch.randn(2, 3, generator=generator, dtype=torch.float64),
        "float16": torch.randn(5, generator=generator).half(),
        "bfloat16": torch.randn(2, 2, generator=generator).bfloat16(),
        "int64 scalar": torch.tensor(7),  # BatchNorm's num_batches_tracked
        "int32": torch.arange(-3, 3, dtype=torch.int32),
        "uint8": torch.arange(250, 256, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "empty": torch.zeros(0, 3),
        "transposed": base.t(),
        "strided": base[1::2, ::3],
        "offset": base[4],
        "permuted": counted.permute(2, 0, 1),
        "bfloat16 view": torch.randn(4, 3, generator=generator).bfloat16().t()[1:],
        "base": base,
    }


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".bin"])
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_every_dtype_and_view_reads_as_torch_holds_it(
    torch: ModuleType, tmp_path: Path, suffix: str, protocol: int
) -> None:
    tensors = every_kind_of_tensor(torch)
    path = tmp_path / f"state{suffix}"
    torch.save(tensors, path, pickle_protocol=protocol)
    arrays = load_state_dict_file(path)
    assert list(arrays) == list(tensors)
    for name, tensor in tensors.items():
        expected = as_numpy(tensor)
        assert arrays[name].dtype == expected.dtype, name
        assert arrays[name].shape == expected.shape, name
        np.testing.assert_array_equal(arrays[name], expected, err_msg=name)


def test_a_state_dict_of_parameters_and_tied_weights(torch: ModuleType, tmp_path: Path) -> None:
    """``state_dict(keep_vars=True)`` pickles Parameters; a head tied to another layer's
    weight is one tensor under two names, and stays one array."""
    twin = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4))
    twin[2].weight = twin[0].weight
    torch.save(twin.state_dict(keep_vars=True), tmp_path / "tied.pt")
    model = nc.Sequential(nc.Dense(4, 4, rng=0), nc.ReLU(), nc.Dense(4, 4, rng=1))
    nc.load_weights(model, tmp_path / "tied.pt")
    for name, value in twin.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], value.numpy())
    arrays = load_state_dict_file(tmp_path / "tied.pt")
    assert arrays["0.weight"] is arrays["2.weight"]


def test_load_weights_names_the_file_of_weights_that_do_not_fit(
    torch: ModuleType, tmp_path: Path
) -> None:
    torch.save(torch.nn.Linear(3, 2).state_dict(), tmp_path / "linear.pt")
    with pytest.raises(nc.ModelFileError, match=r"linear.pt: state dict does not fit"):
        nc.load_weights(nc.Sequential(nc.Dense(4, 2, rng=0)), tmp_path / "linear.pt")


def test_a_whole_pickled_model_is_refused(torch: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "whole.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2)), path)
    with pytest.raises(nc.ModelFileError) as error:
        load_state_dict_file(path)
    message = str(error.value)
    assert str(path) in message and "torch.nn.modules.container.Sequential" in message
    assert "torch.save(model.state_dict(), path)" in message


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_torchscript_and_the_legacy_format_say_how_to_resave(
    torch: ModuleType, tmp_path: Path
) -> None:
    linear = torch.nn.Linear(2, 2)
    torch.jit.save(torch.jit.script(linear), tmp_path / "scripted.pt")
    with pytest.raises(nc.ModelFileError, match=r"TorchScript .*model\.state_dict\(\)"):
        load_state_dict_file(tmp_path / "scripted.pt")
    torch.save(linear.state_dict(), tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(nc.ModelFileError, match=r"_use_new_zipfile_serialization=True"):
        load_state_dict_file(tmp_path / "old.pt")


def test_a_checkpoint_dict_says_which_entry_to_save(torch: ModuleType, tmp_path: Path) -> None:
    linear = torch.nn.Linear(2, 2)
    torch.save({"model": linear.state_dict(), "epoch": 3}, tmp_path / "checkpoint.pt")
    with pytest.raises(nc.ModelFileError, match="entry 'model' is not a tensor"):
        load_state_dict_file(tmp_path / "checkpoint.pt")


def test_torch_files_are_read_only_and_hold_no_architecture(
    torch: ModuleType, tmp_path: Path
) -> None:
    model = nc.Sequential(nc.Dense(2, 2, rng=0))
    with pytest.raises(ValueError, match=r"reads \.pt files but does not write them"):
        nc.save(model, tmp_path / "model.pt")
    torch.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "weights.pt")
    with pytest.raises(nc.ModelFileError, match=r"weights alone.*nanocnn.load_weights"):
        nc.load(tmp_path / "weights.pt")


def test_a_nanocnn_file_named_pt_still_loads(tmp_path: Path) -> None:
    """Before .pt meant PyTorch, ``nc.save(model, "model.pt")`` wrote nanocnn's .npz."""
    model = nc.Sequential(nc.Dense(2, 3, rng=0))
    nc.save(model, tmp_path / "model.npz").rename(tmp_path / "model.pt")
    np.testing.assert_array_equal(nc.load(tmp_path / "model.pt").state_dict()["0.weight"],
                                  model.state_dict()["0.weight"])  # fmt: skip
    save_arrays(tmp_path / "weights.npz", model.state_dict(), {}).rename(tmp_path / "w.bin")
    assert load_state_dict_file(tmp_path / "w.bin").keys() == model.state_dict().keys()
