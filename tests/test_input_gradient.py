"""Gradients in inference mode: ``Sequential.input_gradient`` and ``saliency_map`` (issue 12,
item 2). They must match central differences of the inference forward and leave the model as
it was: parameters, running statistics, gradients, caches, random generators."""

from __future__ import annotations

import numpy as np
import pytest

import nanocnn as nc
from nanocnn.gradcheck import numerical_gradient, relative_error
from nanocnn.saliency import saliency_map
from nanocnn.training import fit

SIDE = 8  # images of the toy task: SIDE x SIDE
PATCH = 3  # the class is the brightness of the top-left PATCH x PATCH square


def toy_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise images whose label is 1 when their top-left patch is bright, else 0."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 1, SIDE, SIDE)).astype(np.float32)
    y = rng.integers(0, 2, n)
    x[:, :, :PATCH, :PATCH] = np.where(y == 1, 0.9, 0.1)[:, None, None, None]
    return x, y


def network(seed: int = 0) -> nc.Sequential:
    """Every layer type with inference behaviour of its own (BatchNorm, Dropout) included."""
    rng = np.random.default_rng(seed)
    return nc.Sequential(
        nc.Conv2D(1, 4, 3, padding=1, rng=rng), nc.BatchNorm2D(4), nc.ReLU(), nc.MaxPool2D(2),
        nc.Flatten(), nc.Dropout(0.3, rng=rng), nc.Dense(64, 16, rng=rng), nc.BatchNorm1D(16),
        nc.Tanh(), nc.Dense(16, 2, rng=rng),
    )  # fmt: skip


@pytest.fixture(scope="module")
def trained() -> nc.Sequential:
    model = network()
    x, y = toy_images(256, seed=1)
    optimizer = nc.Adam(model.parameters(), lr=0.01)
    fit(model, nc.SoftmaxCrossEntropy(), optimizer, x, y, 8, 32, progress="off")
    return model


def state(model: nc.Sequential) -> dict:
    """Everything input_gradient promises not to change."""
    arrays = {
        f"{i}.{kind}.{name}": value.copy()
        for i, layer in enumerate(model)
        for kind, store in (("param", layer.params), ("grad", layer.grads), ("buf", layer.buffers))
        for name, value in store.items()
    }
    dropout = next(layer for layer in model if isinstance(layer, nc.Dropout))
    return {"arrays": arrays, "rng": dropout.rng.bit_generator.state}


def assert_same_state(before: dict, after: dict) -> None:
    assert before["rng"] == after["rng"]
    assert before["arrays"].keys() == after["arrays"].keys()
    for name, value in before["arrays"].items():
        np.testing.assert_array_equal(after["arrays"][name], value, err_msg=name)


def test_the_toy_model_learned_its_task(trained):
    x, y = toy_images(200, seed=2)
    assert (trained.predict(x).argmax(axis=1) == y).mean() > 0.95


@pytest.mark.parametrize("target", [None, 1, "labels"])
def test_input_gradient_matches_central_differences_in_inference_mode(trained, target):
    model = network(seed=3)
    model.load_state_dict(trained.state_dict())
    model.astype(np.float64)
    x, y = toy_images(3, seed=4)
    x = x.astype(np.float64)
    target = y if target == "labels" else target
    out = model.forward(x, training=False)
    chosen = out.argmax(axis=1) if target is None else np.broadcast_to(target, (3,))

    def objective() -> float:
        return float(model.forward(x, training=False)[np.arange(3), chosen].sum())

    grad = model.input_gradient(x, target)
    assert grad.shape == x.shape and grad.dtype == np.float64
    assert relative_error(grad, numerical_gradient(objective, x)) < 1e-6


def test_input_gradient_of_a_loss_matches_central_differences(trained):
    model = network(seed=3)
    model.load_state_dict(trained.state_dict())
    model.astype(np.float64)
    x, y = toy_images(4, seed=5)
    x = x.astype(np.float64)
    loss = nc.SoftmaxCrossEntropy()
    grad = model.input_gradient(x, y, loss=loss)

    def objective() -> float:
        return loss.forward(model.forward(x, training=False), y)

    assert relative_error(grad, numerical_gradient(objective, x)) < 1e-6


def test_input_gradient_changes_nothing_in_the_model(trained):
    """Not the running statistics, the gradients, the dropout generator, nor the caches of a
    training pass in progress: its backward afterwards gives the gradients it gives alone."""
    x, y = toy_images(16, seed=6)
    loss = nc.SoftmaxCrossEntropy()
    alone = network(seed=3)
    alone.load_state_dict(trained.state_dict())
    for model in (alone, trained):
        model[5].rng = np.random.default_rng(7)  # the Dropout: the same mask in both
        loss.forward(model.forward(x, training=True), y)
        if model is trained:
            before = state(model)
            model.input_gradient(x, y)
            model.input_gradient(x, y, loss=nc.SoftmaxCrossEntropy())
            saliency_map(model, x)
            assert_same_state(before, state(model))
        model.backward(loss.backward())
    for (name, _, grad), (_, _, expected) in zip(
        trained.parameters(), alone.parameters(), strict=True
    ):
        np.testing.assert_array_equal(grad, expected, err_msg=name)


def test_saliency_looks_where_the_class_is_decided(trained):
    x, _ = toy_images(32, seed=8)
    maps = saliency_map(trained, x)
    assert maps.shape == (32, SIDE, SIDE) and maps.dtype == np.float32
    assert maps.min() >= 0 and np.allclose(maps.max(axis=(1, 2)), 1)
    inside = maps[:, :PATCH, :PATCH].mean()
    outside = (maps.sum(axis=(1, 2)) - maps[:, :PATCH, :PATCH].sum(axis=(1, 2))).mean() / (
        SIDE * SIDE - PATCH * PATCH
    )
    assert inside > 2 * outside, (inside, outside)


def test_saliency_of_a_zero_gradient_is_zero_and_bad_shapes_are_refused():
    model = nc.Sequential(nc.Flatten(), nc.Dense(4, 2, rng=0))
    model[1].params["weight"][...] = 0
    assert not saliency_map(model, np.ones((2, 1, 2, 2), np.float32)).any()
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        saliency_map(model, np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"target must lie in \[0, 2\)"):
        model.input_gradient(np.ones((2, 1, 2, 2), np.float32), 2)


def test_a_layer_without_keep_gets_a_clear_error():
    class Double(nc.Layer):
        def forward(self, x, training=False):
            return 2 * x

        def backward(self, dout):
            return 2 * dout

    model = nc.Sequential(Double(), nc.Flatten(), nc.Dense(4, 2, rng=0))
    with pytest.raises(TypeError, match=r"Double\.forward\(\) takes no keep argument"):
        model.input_gradient(np.ones((1, 1, 2, 2), np.float32))


def test_input_gradient_of_an_empty_batch_is_empty_and_a_2d_target_is_refused(trained):
    two, _ = toy_images(2, seed=3)
    x = two[:0]
    assert trained.input_gradient(x).shape == x.shape
    assert saliency_map(trained, x).shape == (0, *x.shape[2:])
    with pytest.raises(ValueError, match=r"target must be an int or \(N,\) ints"):
        trained.input_gradient(two, np.array([[0], [1]]))
