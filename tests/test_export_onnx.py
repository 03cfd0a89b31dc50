"""ONNX export checked by a runtime nobody here wrote: every preset and a model holding every
layer type run in onnxruntime and in nanocnn on the same random inputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import nanocnn as nc
from nanocnn import presets
from nanocnn.cli import main
from nanocnn.export import DEFAULT_OPSET, EMITTERS, to_onnx
from nanocnn.layers import LAYER_TYPES
from tests.every_layer import INPUT_SHAPE, every_layer, every_layer_model


@pytest.fixture(scope="module")
def onnx() -> ModuleType:
    return pytest.importorskip("onnx", reason="pip install 'nanocnn[export]'")


@pytest.fixture(scope="module")
def ort() -> ModuleType:
    return pytest.importorskip("onnxruntime", reason="pip install onnxruntime")


TOLERANCE = 1e-4  # float32, absolute
PRESET_INPUTS = {"cnn": (1, 28, 28), "lenet": (1, 28, 28), "mlp": (1, 28, 28)}
PRESET_INPUTS["resnet"] = (3, 36, 36)  # any size: a colour picture task's
PRESET_INPUTS["age_cnn"] = (3, 128, 128)  # its default image size


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort  # the tests that call this have the ort fixture

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": x})[0]


def assert_same_outputs(model: nc.Sequential, path: Path, shape: tuple[int, ...]) -> float:
    """nanocnn and onnxruntime agree on random batches of 7 and of 1 (the batch axis is
    dynamic); returns the largest difference."""
    rng = np.random.default_rng(1)
    largest = 0.0
    for batch in (7, 1):
        x = rng.random((batch, *shape), dtype=np.float32)
        expected, actual = model.predict(x), run_onnx(path, x)
        assert actual.shape == expected.shape and actual.dtype == np.float32
        np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)
        np.testing.assert_array_equal(actual.argmax(axis=1), expected.argmax(axis=1))
        largest = max(largest, float(np.abs(actual - expected).max()))
    print(f"largest difference {largest:.2e}")  # pytest -s shows the figures
    return largest


@pytest.mark.parametrize("name", sorted(PRESET_INPUTS))
def test_every_preset_runs_the_same_in_onnxruntime(onnx, ort, tmp_path: Path, name: str) -> None:
    assert set(PRESET_INPUTS) == set(presets.PRESETS)
    model = presets.build(name, PRESET_INPUTS[name], seed=3)
    path = to_onnx(model, tmp_path / f"{name}.onnx", input_shape=PRESET_INPUTS[name])
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert_same_outputs(model, path, PRESET_INPUTS[name])


@pytest.mark.parametrize("opset", [13, 17, DEFAULT_OPSET])
def test_every_layer_type_runs_the_same_in_onnxruntime(
    onnx, ort, tmp_path: Path, opset: int
) -> None:
    model = every_layer_model()
    assert {type(layer) for layer in every_layer(model)} == set(LAYER_TYPES.values())
    path = to_onnx(model, tmp_path / "every.onnx", opset=opset)  # input shape from metadata
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == opset
    assert "Dropout" not in {node.op_type for node in proto.graph.node}
    assert_same_outputs(model, path, INPUT_SHAPE)


def test_every_layer_type_before_the_softmax_runs_the_same(onnx, ort, tmp_path: Path) -> None:
    """The same model without its Softmax: its outputs are not squeezed into [0, 1]."""
    model = nc.Sequential(*every_layer_model().layers[:-1])
    path = to_onnx(model, tmp_path / "logits.onnx", input_shape=INPUT_SHAPE)
    assert_same_outputs(model, path, INPUT_SHAPE)


def test_a_float64_model_exports_as_float32(onnx, ort, tmp_path: Path) -> None:
    model = every_layer_model().astype(np.float64)
    path = to_onnx(model, tmp_path / "f64.onnx")
    assert {init.data_type for init in onnx.load(str(path)).graph.initializer} == {
        onnx.TensorProto.FLOAT
    }
    assert_same_outputs(model, path, INPUT_SHAPE)


def test_the_batch_axis_is_dynamic_and_named(onnx, tmp_path: Path) -> None:
    proto = onnx.load(str(to_onnx(presets.build("lenet"), tmp_path / "m.onnx", (1, 28, 28))))
    (graph_input,) = proto.graph.input
    dims = graph_input.type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 1, 28, 28]
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 10]
    assert {init.name for init in proto.graph.initializer} == set(
        presets.build("lenet").state_dict()
    )


def test_every_layer_type_has_an_emitter() -> None:
    """A new layer type must register its ONNX emitter (see nanocnn.export.onnx_layers)."""
    assert set(LAYER_TYPES.values()) <= set(EMITTERS)


def test_the_metadata_goes_into_metadata_props(onnx, tmp_path: Path) -> None:
    model = presets.build("lenet")
    classes = [str(k) for k in range(10)]
    model.metadata.update(
        task="digits", classes=classes, input_shape=[1, 28, 28], normalisation={"mean": 0.13}
    )
    proto = onnx.load(str(to_onnx(model, tmp_path / "m.onnx")))
    props = {prop.key: prop.value for prop in proto.metadata_props}
    assert props["task"] == "digits" and props["preset"] == "lenet"
    assert json.loads(props["classes"]) == classes
    assert json.loads(props["input_shape"]) == [1, 28, 28]
    assert json.loads(props["normalisation"]) == {"mean": 0.13}
    assert proto.producer_name == "nanocnn" and proto.producer_version == nc.__version__


class Doubler(nc.Layer):
    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return 2 * x


@pytest.mark.parametrize(
    ("model", "options", "message"),
    [
        (nc.Sequential(nc.Flatten(), Doubler()), {"input_shape": (4,)}, r"layer 1 \(Doubler\)"),
        (nc.Sequential(nc.Flatten()), {}, "no input_shape"),
        (nc.Sequential(nc.Flatten()), {"input_shape": (0, 3)}, "input_shape must be >= 1"),
        (nc.Sequential(nc.Flatten()), {"input_shape": (True, 3)}, "input_shape must be an integer"),
        (nc.Sequential(nc.Flatten()), {"input_shape": (4,), "opset": 12}, "opset must be"),
        (nc.Sequential(nc.Conv2D(1, 2, 5)), {"input_shape": (1, 3, 3)}, "smaller than the kernel"),
    ],
    ids=["unsupported layer", "no input shape", "zero size", "bool size", "old opset", "too small"],
)
def test_clear_errors(
    onnx, tmp_path: Path, model: nc.Sequential, options: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        to_onnx(model, tmp_path / "m.onnx", **options)
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("name", sorted(PRESET_INPUTS))
def test_the_export_command_writes_onnx_for_every_preset(
    onnx, ort, tmp_path: Path, capsys, name: str
) -> None:
    model = presets.build(name, PRESET_INPUTS[name])  # no input shape in its metadata
    nc.save(model, tmp_path / "model.npz")
    shape = ",".join(map(str, PRESET_INPUTS[name]))
    args = ["export", str(tmp_path / "model.npz"), str(tmp_path / "m.onnx"), "--input-shape"]
    assert main([*args, shape, "--opset", "17"]) == 0
    assert f"{tmp_path / 'm.onnx'}: ONNX, opset 17" in capsys.readouterr().out
    assert_same_outputs(model, tmp_path / "m.onnx", PRESET_INPUTS[name])


def test_the_export_command_folds_the_batch_norms_when_asked(onnx, ort, tmp_path, capsys):
    model = presets.build("resnet", PRESET_INPUTS["resnet"])
    model.metadata["input_shape"] = list(PRESET_INPUTS["resnet"])
    nc.save(model, tmp_path / "model.npz")
    for name, fuse in (("plain.onnx", []), ("fused.onnx", ["--fuse"])):
        assert main(["export", str(tmp_path / "model.npz"), str(tmp_path / name), *fuse]) == 0
        assert_same_outputs(model, tmp_path / name, PRESET_INPUTS["resnet"])
    nodes = {name: onnx.load(tmp_path / name).graph.node for name in ("plain.onnx", "fused.onnx")}
    assert sum(node.op_type == "BatchNormalization" for node in nodes["plain.onnx"]) == 9
    assert not any(node.op_type == "BatchNormalization" for node in nodes["fused.onnx"])


def test_the_export_command_takes_the_input_shape_from_the_model(onnx, ort, tmp_path, capsys):
    model = presets.build("lenet")
    model.metadata["input_shape"] = [1, 28, 28]
    nc.save(model, tmp_path / "model.npz")
    assert main(["export", str(tmp_path / "model.npz"), str(tmp_path / "m.onnx")]) == 0
    assert f"opset {DEFAULT_OPSET}" in capsys.readouterr().out
    assert_same_outputs(model, tmp_path / "m.onnx", (1, 28, 28))


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize("name", [*sorted(PRESET_INPUTS), "every layer type"])
def test_the_export_command_changes_the_container(tmp_path: Path, suffix: str, name: str) -> None:
    model = (
        every_layer_model() if name == "every layer type"
        else presets.build(name, PRESET_INPUTS[name])
    )  # fmt: skip
    nc.save(model, tmp_path / "model.npz")
    out = tmp_path / f"out{suffix}"
    assert main(["export", str(tmp_path / "model.npz"), str(out)]) == 0
    assert_same_state(nc.load(out), model)


def assert_same_state(actual: nc.Sequential, expected: nc.Sequential) -> None:
    assert actual.config() == expected.config() and actual.metadata == expected.metadata
    for name, value in expected.state_dict().items():
        np.testing.assert_array_equal(actual.state_dict()[name], value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["m.npz", "m.txt"], "OUT must end in .onnx, .safetensors, .npz"),
        (["m.npz", "m.safetensors", "--opset", "17"], "options of ONNX export"),
        (["m.npz", "m.onnx", "--input-shape", "1,x"], "positive integers like 1,28,28"),
        (["absent.npz", "m.onnx"], "absent.npz: no such file"),
        (["m.npz", "m.onnx"], "pip install 'nanocnn[export]'"),  # with onnx made missing
    ],
)
def test_export_errors_are_one_line(
    tmp_path: Path, monkeypatch, capsys, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    nc.save(nc.Sequential(nc.Flatten(), nc.Dense(4, 2)), "m.npz")
    try:
        status = main(["export", *args])
    except SystemExit as exit_:  # argparse's own errors, after its usage lines
        status = exit_.code
    *usage, line = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and all(text.startswith(("usage:", " ")) for text in usage)
    assert line.startswith("nanocnn export: error: ") and message in line, line
