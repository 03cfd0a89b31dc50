"""Containers that nest (Sequential in Sequential, Residual) and the residual network's
pieces, as a user meets them: names, state dicts, summary, saving, slicing, the fast path,
input gradients, the sum at the fork, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nanocnn as nc
from nanocnn import presets
from nanocnn.layers import build_layer, layer_spec
from nanocnn.training import fit


def block(cin: int, cout: int, stride: int = 1) -> nc.Residual:
    """The issue's example block, written as a user would."""
    shortcut = None
    if (cin, stride) != (cout, 1):
        shortcut = nc.Sequential(
            nc.Conv2D(cin, cout, 1, stride=stride, bias=False, rng=0), nc.BatchNorm2D(cout)
        )
    return nc.Residual(
        nc.Conv2D(cin, cout, 3, stride=stride, padding=1, bias=False, rng=1), nc.BatchNorm2D(cout),
        nc.ReLU(), nc.Conv2D(cout, cout, 3, padding=1, bias=False, rng=2), nc.BatchNorm2D(cout),
        shortcut=shortcut,
    )  # fmt: skip


def small_resnet() -> nc.Sequential:
    return nc.Sequential(
        nc.Conv2D(1, 4, 3, padding=1, bias=False, rng=3), nc.BatchNorm2D(4), nc.ReLU(),
        block(4, 4), nc.ReLU(), block(4, 8, stride=2), nc.ReLU(),
        nc.GlobalAvgPool2D(), nc.Dense(8, 3, rng=4),
    )  # fmt: skip


def batch(shape=(5, 1, 8, 8), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_names_go_down_the_nesting_as_in_pytorch():
    names = list(small_resnet().state_dict())
    assert names[:5] == ["0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var"]
    assert "3.body.0.weight" in names and "3.body.4.running_var" in names
    assert "5.shortcut.0.weight" in names and "5.shortcut.1.bias" in names
    assert not any(name.startswith("3.shortcut") for name in names)  # the identity
    params = [name for name, _, _ in small_resnet().parameters()]
    assert params == [name for name in names if not name.endswith(("_mean", "_var"))]


def test_modules_lists_every_leaf_layer_in_order():
    model = small_resnet()
    kinds = [type(layer).__name__ for layer in model.modules()]
    assert kinds[:8] == ["Conv2D", "BatchNorm2D", "ReLU", "Conv2D", "BatchNorm2D", "ReLU",
                         "Conv2D", "BatchNorm2D"]  # fmt: skip
    assert len(kinds) == 3 + 5 + 1 + 7 + 1 + 2
    assert not any(isinstance(layer, nc.layers.container.Container) for layer in model.modules())


def test_the_architecture_saves_and_loads_nested(tmp_path: Path):
    model = small_resnet()
    model.forward(batch(), training=True)  # running statistics that are not (0, 1)
    config = model.config()
    assert config[3]["type"] == "Residual" and config[3]["shortcut"] is None
    assert config[5]["shortcut"]["type"] == "Sequential"
    assert [spec["type"] for spec in config[5]["shortcut"]["layers"]] == ["Conv2D", "BatchNorm2D"]
    for suffix in (".npz", ".safetensors"):
        loaded = nc.load(nc.save(model, tmp_path / f"model{suffix}"))
        assert loaded.config() == config
        np.testing.assert_array_equal(loaded.predict(batch()), model.predict(batch()))
    inner = nc.Sequential(nc.ReLU(), nc.Sequential(nc.Flatten()))
    assert layer_spec(inner) == {"type": "Sequential", "layers": [
        {"type": "ReLU"}, {"type": "Sequential", "layers": [{"type": "Flatten"}]}]}  # fmt: skip
    assert build_layer(layer_spec(inner)).config() == inner.config()


def test_summary_shows_the_nesting():
    text = small_resnet().summary((1, 8, 8))
    lines = text.splitlines()
    assert any(line.startswith("3: Residual ") and "(4, 8, 8)" in line for line in lines)
    assert any(line.startswith("  3.body: Sequential") for line in lines)
    assert any(line.startswith("    3.body.0: Conv2D(") for line in lines)
    assert any(
        line.startswith("  5.shortcut: Sequential") and "(8, 4, 4)" in line for line in lines
    )
    assert any(line.startswith("7: GlobalAvgPool2D()") and "(8,)" in line for line in lines)
    total = sum(value.size for value in small_resnet().params.values())
    assert lines[-1] == f"total parameters: {total:,}"


def test_a_slice_keeps_the_nested_layers():
    model = small_resnet()
    head = model[:4]
    assert isinstance(head, nc.Sequential) and head[3] is model[3]
    features = head.forward(batch())
    assert features.shape == (5, 4, 8, 8)
    np.testing.assert_allclose(model[4:].forward(features), model.forward(batch()), rtol=1e-6)


def test_the_fast_path_gives_the_same_outputs_and_gradients_inside_containers():
    def make():
        return nc.Sequential(
            nc.Conv2D(1, 3, 3, padding=1, rng=0),
            nc.Residual(nc.ReLU(), nc.MaxPool2D(2), nc.Conv2D(3, 3, 1, rng=1),
                        shortcut=nc.Sequential(nc.ReLU(), nc.MaxPool2D(2))),
            nc.Sequential(nc.ReLU(), nc.MaxPool2D(2), nc.Flatten()), nc.Dense(12, 2, rng=2),
        )  # fmt: skip

    x, dout = batch(), batch((5, 2), 1)
    plain, fast = make(), make()
    np.testing.assert_allclose(fast.fast_forward(x, True), plain.forward(x, True), rtol=1e-6)
    np.testing.assert_allclose(fast.fast_backward(dout), plain.backward(dout), rtol=1e-5)
    for name, grad in plain.grads.items():
        np.testing.assert_allclose(fast.grads[name], grad, rtol=1e-5, atol=1e-7)


def test_backward_without_the_input_gradient_fills_the_same_grads():
    x, dout = batch(), batch((5, 3), 1)
    grads = []
    for input_grad in (True, False):
        model = small_resnet()
        model.forward(x, training=True)
        assert (model.backward(dout, input_grad=input_grad) is None) == (not input_grad)
        grads.append({name: grad.copy() for name, grad in model.grads.items()})
    for name, grad in grads[0].items():
        np.testing.assert_array_equal(grads[1][name], grad)


def test_input_gradient_changes_nothing_in_nested_layers():
    model = small_resnet()
    model.forward(batch(seed=2), training=True)
    before = model.state_dict()
    dx = model.input_gradient(batch(), target=1)
    assert dx.shape == (5, 1, 8, 8) and np.abs(dx).max() > 0
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


class Identity(nc.Layer):
    """A layer whose backward hands back the very array it is given (allowed)."""

    def forward(self, x, training=False, keep=False):
        return x

    def backward(self, dout, input_grad=True):
        return dout


def test_the_fork_adds_both_paths_without_writing_into_dout():
    residual = nc.Residual(Identity())
    x, dout = batch(), batch(seed=1)
    kept = dout.copy()
    np.testing.assert_array_equal(residual.forward(x, training=True), 2 * x)
    np.testing.assert_array_equal(residual.backward(dout), 2 * kept)
    np.testing.assert_array_equal(dout, kept)
    scaled = nc.Residual(nc.Conv2D(1, 1, 1, bias=False, rng=0), shortcut=Identity())
    scaled.forward(x, training=True)
    weight = float(scaled.body[0].params["weight"].ravel()[0])
    np.testing.assert_allclose(scaled.backward(dout), (1 + weight) * kept, rtol=1e-6)
    np.testing.assert_array_equal(dout, kept)


def test_clear_errors():
    with pytest.raises(ValueError, match="at least one layer"):
        nc.Residual()
    with pytest.raises(TypeError, match="shortcut must be a layer"):
        nc.Residual(nc.ReLU(), shortcut=[nc.ReLU()])
    block(4, 8, stride=2).body.forward(batch((5, 4, 8, 8)))  # the body alone is fine
    with pytest.raises(ValueError, match=r"the body gives \(5, 8, 4, 4\) but the shortcut"):
        nc.Residual(*block(4, 8, stride=2).body).forward(batch((5, 4, 8, 8)))
    with pytest.raises(ValueError, match="GlobalAvgPool2D expected input of shape"):
        nc.GlobalAvgPool2D().forward(batch((5, 8)))


def test_a_shape_error_deep_in_a_nested_model_names_the_layer_once():
    """The layer's own message, once, after its dotted name and the model's input shape."""
    model = presets.build("resnet", (1, 28, 28), 10)
    model.metadata["input_shape"] = [1, 28, 28]
    model.layers[5].body.layers[3] = nc.Conv2D(16, 32, 3, padding=1, bias=False)  # wrong C_in
    x = batch((2, 1, 28, 28))
    for run in (model.forward, model.fast_forward, lambda x: model.forward(x, training=True)):
        with pytest.raises(nc.InputShapeError) as info:
            run(x)
        assert str(info.value) == (
            "input of shape (2, 1, 28, 28) does not fit the model; the model expects input "
            "(N, 1, 28, 28): layer 5.body.3: Conv2D expected 16 input channels/features, got 32 "
            "(input shape (2, 32, 14, 14))"
        )
    with pytest.raises(nc.InputShapeError, match=r"model: layer 0: Conv2D expected 1 input chan"):
        presets.build("resnet").forward(batch((2, 3, 28, 28)))
    model = nc.Sequential(nc.ReLU(), nc.Residual(nc.Conv2D(1, 2, 3, padding=1)))
    with pytest.raises(nc.InputShapeError, match=r"layer 1: Residual: the body gives \(2, 2, 5"):
        model.forward(batch((2, 1, 5, 5)))


def test_an_error_that_is_not_about_shapes_is_not_reworded():
    model = nc.Sequential(nc.ReLU(), nc.Conv2D(1, 2, 3))
    with pytest.raises(ValueError) as info:
        model.forward(np.zeros((1, 1, 5, 5)))  # float64 into a float32 convolution
    assert not isinstance(info.value, nc.InputShapeError)
    assert str(info.value).startswith("Conv2D expected float32 input, got float64")


def test_the_resnet_preset_fits_any_input_and_trains():
    for shape, outputs in (((1, 28, 28), 10), ((3, 64, 64), 7), ((3, 33, 45), 2)):
        model = presets.build("resnet", shape, outputs)
        assert model.predict(np.zeros((2, *shape), np.float32)).shape == (2, outputs)
    assert sum(p.size for _, p, _ in presets.build("resnet").parameters()) == 77_754
    deeper = presets.resnet(np.random.default_rng(0), (1, 28, 28), 10, blocks=2)
    assert sum(isinstance(layer, nc.Residual) for layer in deeper) == 6
    model = presets.build("resnet", (1, 8, 8), 3)
    x, y = batch((32, 1, 8, 8)), np.arange(32) % 3
    optimizer = nc.SGD(model.parameters(), 0.05, momentum=0.9, nesterov=True)
    history = fit(model, nc.SoftmaxCrossEntropy(), optimizer, x, y, epochs=12,
                              batch_size=16, progress="off", seed=0)  # fmt: skip
    assert history["loss"][-1] < 0.5 * history["loss"][0]


@pytest.mark.parametrize("training", [True, False])
def test_the_fast_path_s_in_place_relus_change_no_output_and_no_input(training):
    """fast_forward runs each ReLU after a convolution, batch norm or residual block in place,
    on that layer's new array: the outputs and gradients are forward's, bit for bit."""
    x = np.random.default_rng(0).standard_normal((4, 1, 12, 12)).astype(np.float32)
    given = x.copy()
    fast, written = presets.build("resnet", (1, 12, 12)), presets.build("resnet", (1, 12, 12))
    out = fast.fast_forward(x, training=training)
    np.testing.assert_array_equal(out, written.forward(x, training=training))
    np.testing.assert_array_equal(x, given)
    if training:
        dout = np.ones_like(out)
        np.testing.assert_array_equal(fast.fast_backward(dout), written.backward(dout))
        for name, grad in fast.grads.items():
            np.testing.assert_array_equal(grad, written.grads[name], err_msg=name)
