"""State dicts move between nanocnn and PyTorch both ways, directly and through files
(``torch.save``'s and safetensors), for every preset and every layer type (BatchNorm's running
statistics included): the same float64 inputs give the same outputs in both."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import nanocnn as nc
from benchmarks.torch_reference import torch_module
from nanocnn import presets
from tests.every_layer import INPUT_SHAPE, every_layer_model

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
TOLERANCE = 1e-5  # float64, absolute; the differences seen are about 1e-13
MODELS = {
    "cnn": (lambda: presets.build("cnn"), (1, 28, 28)),
    "lenet": (lambda: presets.build("lenet"), (1, 28, 28)),
    "mlp": (lambda: presets.build("mlp"), (1, 28, 28)),
    "age_cnn": (lambda: presets.build("age_cnn", (3, 128, 128), outputs=1), (3, 128, 128)),
    "resnet": (lambda: presets.build("resnet"), (1, 28, 28)),
    "resnet 14 on 40x40 colour": (
        lambda: presets.resnet(np.random.default_rng(0), (3, 40, 40), 5, blocks=2),
        (3, 40, 40),
    ),
    "every layer type": (every_layer_model, INPUT_SHAPE),
}


@pytest.fixture(scope="module")
def torch() -> ModuleType:
    return pytest.importorskip("torch", reason="pip install torch==2.13.0")


def trained_statistics(twin, shape: tuple[int, ...], torch: ModuleType) -> None:
    """Two training-mode passes in PyTorch: the BatchNorms' running statistics move away
    from (0, 1) and ``num_batches_tracked`` counts 2."""
    twin.train()
    with torch.no_grad():
        for _ in range(2):
            twin(torch.randn(8, *shape, dtype=torch.float64) * 3 + 1)
    twin.eval()


def largest_difference(model: nc.Sequential, twin, shape: tuple, torch: ModuleType) -> float:
    """Both models on the same random float64 inputs (inference): the largest difference."""
    x = np.random.default_rng(2).normal(size=(5, *shape))
    with torch.no_grad():
        expected = twin.eval()(torch.from_numpy(x)).numpy()
    actual = model.predict(x)
    difference = float(np.abs(actual - expected).max())
    print(f"largest difference {difference:.1e}")  # pytest -s shows the figures
    assert difference <= TOLERANCE
    return difference


@pytest.mark.parametrize("name", MODELS)
def test_pytorch_weights_load_into_nanocnn(torch: ModuleType, tmp_path: Path, name: str) -> None:
    build, shape = MODELS[name]
    torch.manual_seed(0)
    twin = torch_module(build()).double()
    trained_statistics(twin, shape, torch)
    state = {key: value.numpy() for key, value in twin.state_dict().items()}
    model = build().astype(np.float64)
    model.load_state_dict(state)  # num_batches_tracked included
    largest_difference(model, twin, shape, torch)
    # the same through torch.save's own file, read without unpickling
    torch.save(twin.state_dict(), tmp_path / "from_pytorch.pt")
    model = nc.load_weights(build().astype(np.float64), tmp_path / "from_pytorch.pt")
    largest_difference(model, twin, shape, torch)
    # and through a file written by safetensors.torch
    torch_io = pytest.importorskip("safetensors.torch", reason="pip install safetensors")
    torch_io.save_file(twin.state_dict(), str(tmp_path / "from_pytorch.safetensors"))
    model = nc.load_weights(build().astype(np.float64), tmp_path / "from_pytorch.safetensors")
    largest_difference(model, twin, shape, torch)


@pytest.mark.parametrize("name", MODELS)
def test_nanocnn_weights_load_into_pytorch(torch: ModuleType, tmp_path: Path, name: str) -> None:
    build, shape = MODELS[name]
    model = build().astype(np.float64)
    for layer in model.modules():  # running statistics that are not (0, 1)
        for values in layer.buffers.values():
            values[...] = np.random.default_rng(4).uniform(0.5, 2.0, values.shape)
    twin = torch_module(model).double()
    twin.load_state_dict(
        {key: torch.from_numpy(value) for key, value in model.state_dict().items()}
    )
    largest_difference(model, twin, shape, torch)
    # the same through nanocnn's own model file, read by safetensors.torch
    torch_io = pytest.importorskip("safetensors.torch", reason="pip install safetensors")
    twin = torch_module(model).double()
    twin.load_state_dict(torch_io.load_file(str(nc.save(model, tmp_path / "model.safetensors"))))
    largest_difference(model, twin, shape, torch)


def batchnorm_model() -> nc.Sequential:
    return nc.Sequential(nc.Conv2D(1, 2, 3), nc.BatchNorm2D(2), nc.Flatten())


@pytest.mark.parametrize("count", [np.array(7), np.array(0, np.int32), np.uint8(3)])
def test_num_batches_tracked_is_accepted_and_ignored(count) -> None:
    model = batchnorm_model()
    state = model.state_dict() | {"1.num_batches_tracked": count}
    model.load_state_dict(state)
    assert "1.num_batches_tracked" not in model.state_dict()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("1.num_batches_tracked", np.array(7.0)),  # not an integer
        ("1.num_batches_tracked", np.array([7])),  # not a scalar
        ("0.num_batches_tracked", np.array(7)),  # not a BatchNorm
    ],
)
def test_other_num_batches_tracked_are_refused(name: str, value: np.ndarray) -> None:
    model = batchnorm_model()
    with pytest.raises(ValueError, match=f"unexpected '{name}'"):
        model.load_state_dict(model.state_dict() | {name: value})


def test_load_weights_names_the_file_of_weights_that_do_not_fit(tmp_path: Path) -> None:
    path = nc.save(nc.Sequential(nc.Dense(3, 2)), tmp_path / "other.safetensors")
    with pytest.raises(nc.ModelFileError, match=r"other.safetensors: .*missing '1.weight'"):
        nc.load_weights(batchnorm_model(), path)
