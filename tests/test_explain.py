"""nanocnn.explain: every layer's output and gradient for one input, and one neuron's
arithmetic, held to computations of their own: the model's slices run forward, the
``input_gradient`` of the rest of the network, the loop references of ``nanocnn.reference``,
and plain NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from nanocnn import reference
from nanocnn.explain import (
    ConvNeuron,
    DenseNeuron,
    PassNeuron,
    PoolNeuron,
    activations,
    explain_neuron,
    gradients,
    has_skips,
    skipless_name,
    without_skips,
)
from nanocnn.layers import AvgPool2D, Conv2D, Dense, Flatten, ReLU, Residual, Sequential
from nanocnn.losses import SoftmaxCrossEntropy
from nanocnn.presets import build


@pytest.fixture(scope="module")
def lenet() -> Sequential:
    return build("lenet", seed=1)


@pytest.fixture(scope="module")
def resnet() -> Sequential:
    return build("resnet", (3, 16, 16), outputs=4, seed=2)


def one_input(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((1, *shape), dtype=np.float32)


def test_each_column_is_what_the_model_gives_up_to_that_layer(lenet: Sequential) -> None:
    x = one_input((1, 28, 28))
    trace = activations(lenet, x)
    assert [c.name for c in trace.columns] == [str(k) for k in range(len(lenet))]
    for k, column in enumerate(trace.columns):
        assert column.layer is not lenet[k]  # a copy's layers...
        np.testing.assert_array_equal(column.output, lenet[: k + 1].forward(x))
        expected_input = x if k == 0 else trace.columns[k - 1].output
        np.testing.assert_array_equal(column.input, expected_input)
    assert trace.target is None and trace.columns[0].grad is None
    np.testing.assert_allclose(trace.output, lenet.predict(x), rtol=1e-6)


def test_the_gradients_are_those_of_the_rest_of_the_network(lenet: Sequential) -> None:
    """The gradient of the score of class 3 with respect to each layer's output is the input
    gradient of the layers after it; the filters' and weights' gradients are the loops'."""
    x = one_input((1, 28, 28), seed=1)
    trace = gradients(lenet, x, target=3)
    assert trace.target == 3
    for k, column in enumerate(trace.columns[:-1]):
        rest = lenet[k + 1 :].input_gradient(column.output, 3)
        np.testing.assert_allclose(column.grad, rest, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(trace.columns[-1].grad, np.eye(10, dtype=np.float32)[[3]])
    np.testing.assert_allclose(trace.input_grad, lenet.input_gradient(x, 3), rtol=1e-5)
    for column in trace.columns:
        if isinstance(column.layer, Conv2D):
            weight = column.layer.params["weight"]
            _, dweight, dbias = reference.conv2d_backward(column.input, weight, column.grad)
            np.testing.assert_allclose(column.param_grads["weight"], dweight, rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(column.param_grads["bias"], dbias, rtol=1e-4, atol=1e-6)
        if isinstance(column.layer, Dense):
            dweight = column.grad.T.astype(np.float64) @ column.input
            np.testing.assert_allclose(column.param_grads["weight"], dweight, rtol=1e-5, atol=1e-7)
    assert gradients(lenet, x).target == int(lenet.predict(x).argmax())  # None: predicted
    with pytest.raises(ValueError, match=r"target must lie in \[0, 10\)"):
        gradients(lenet, x, target=10)


def test_the_model_is_left_as_it_was(lenet: Sequential) -> None:
    """A training step leaves caches and gradients in the model; tracing changes none."""
    model = build("lenet", seed=3)
    x = one_input((1, 28, 28))
    loss = SoftmaxCrossEntropy()
    loss.forward(model.forward(np.repeat(x, 2, axis=0), training=True), np.array([1, 2]))
    model.backward(loss.backward())
    before = {name: value.copy() for name, value in model.state_dict().items()}
    grads = {name: value.copy() for name, value in model.grads.items()}
    caches = [layer._cache for layer in model]
    gradients(model, x, target=5)
    activations(model, x)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    for name, value in model.grads.items():
        np.testing.assert_array_equal(value, grads[name])
    assert all(layer._cache is cache for layer, cache in zip(model, caches, strict=True))


def test_a_resnet_is_traced_through_its_blocks(resnet: Sequential) -> None:
    x = one_input((3, 16, 16), seed=2)
    trace = gradients(resnet, x, target=1)
    names = [c.name for c in trace.columns]
    body = [f"5.body.{k}" for k in range(5)]
    assert names[names.index("4") + 1 : names.index("5") + 1] == [
        *body, "5.shortcut.0", "5.shortcut.1", "5"
    ]  # fmt: skip
    np.testing.assert_allclose(trace.output, resnet.predict(x), rtol=1e-5, atol=1e-6)
    first_block = trace.column("3")  # the identity skip: body + its input
    np.testing.assert_allclose(
        first_block.output, trace.column("3.body.4").output + first_block.input, rtol=1e-6
    )
    # the sum hands its gradient to both paths unchanged
    np.testing.assert_array_equal(trace.column("5.body.4").grad, trace.column("5").grad)
    np.testing.assert_array_equal(trace.column("5.shortcut.1").grad, trace.column("5").grad)
    for name in ("2", "4", "6"):  # the rest of the network after a top-level layer
        k = int(name)
        rest = resnet[k + 1 :].input_gradient(resnet[: k + 1].forward(x), 1)
        np.testing.assert_allclose(trace.column(name).grad, rest, rtol=1e-4, atol=1e-7)


def test_without_skips_is_the_bodies_alone_with_the_same_weights(resnet: Sequential) -> None:
    plain = without_skips(resnet)
    assert has_skips(resnet) and not has_skips(plain)
    assert plain[3][0] is resnet[3].body[0]  # shared, not copied
    x = one_input((3, 16, 16), seed=3)
    expected = x
    for layer in resnet:
        inner = layer.body if isinstance(layer, Residual) else layer
        expected = inner.forward(expected)
    np.testing.assert_allclose(plain.forward(x), expected, rtol=1e-6)
    names = [c.name for c in activations(plain, x).columns]
    with_skips = [c.name for c in activations(resnet, x).columns]
    shortcuts_and_sums = {"3", "5", "7"} | {n for n in with_skips if "shortcut" in n}
    assert names == [skipless_name(n) for n in with_skips if n not in shortcuts_and_sums]


def test_a_convolution_neuron_is_its_window_times_its_kernel(resnet: Sequential) -> None:
    """Layer 5.body.0: 3x3, stride 2, padding 1, no bias; at the corner the window starts in
    the padding."""
    x = one_input((3, 16, 16), seed=4)
    trace = activations(resnet, x)
    column = trace.column("5.body.0")
    weight = column.layer.params["weight"]
    for o, row, col in [(0, 0, 0), (7, 3, 5)]:
        neuron = explain_neuron(trace, "5.body.0", (o, row, col))
        assert isinstance(neuron, ConvNeuron)
        padded = np.pad(column.input[0], ((0, 0), (1, 1), (1, 1)))
        patch = padded[:, 2 * row : 2 * row + 3, 2 * col : 2 * col + 3]
        assert neuron.origin == (2 * row - 1, 2 * col - 1)
        np.testing.assert_array_equal(neuron.patch, patch)
        np.testing.assert_array_equal(neuron.kernel, weight[o])
        np.testing.assert_array_equal(neuron.products, patch.astype(np.float64) * weight[o])
        assert neuron.bias == 0 and neuron.value == column.output[0, o, row, col]
        loops = reference.conv2d(column.input, weight, None, 2, 1)[0, o, row, col]
        assert neuron.total == pytest.approx(loops, rel=1e-12)
        assert neuron.total == pytest.approx(neuron.value, rel=1e-5)
    assert explain_neuron(trace, "5.body.0", (0, 0, 0)).patch[:, 0].sum() == 0  # the padding


def test_pooling_dense_and_passing_neurons(lenet: Sequential, resnet: Sequential) -> None:
    x = one_input((1, 28, 28), seed=5)
    trace = activations(lenet, x)
    pool = explain_neuron(trace, "2", (4, 5, 6))  # MaxPool2D(2)
    assert isinstance(pool, PoolNeuron) and pool.kind == "max" and pool.origin == (10, 12)
    window = trace.column("1").output[0, 4, 10:12, 12:14]
    np.testing.assert_array_equal(pool.patch, window)
    assert pool.patch[pool.winner] == window.max() == pool.value == pool.total
    dense = explain_neuron(trace, "9", (17,))
    assert isinstance(dense, DenseNeuron)
    inputs, weights = trace.column("8").output[0], lenet[9].params["weight"][17]
    np.testing.assert_allclose(dense.contributions, inputs.astype(np.float64) * weights)
    assert dense.total == pytest.approx(dense.value, rel=1e-5)
    top = dense.largest(5)
    assert list(np.abs(dense.contributions[top])) == sorted(np.abs(dense.contributions))[::-1][:5]
    relu = explain_neuron(trace, "8", (3,))
    assert isinstance(relu, PassNeuron)
    assert relu.value == max(relu.inputs["x"], 0) == trace.column("8").output[0, 3]
    flat = explain_neuron(trace, "6", (37,))  # Flatten: unit 37 is map 2, row 1, column 1
    assert flat.inputs["x"] == trace.column("5").output[0, 2, 1, 1] == flat.value
    with pytest.raises(IndexError, match="lies outside"):
        explain_neuron(trace, "0", (6, 0, 0))

    x3 = one_input((3, 16, 16), seed=6)
    blocks = activations(resnet, x3)
    added = explain_neuron(blocks, "5", (2, 3, 4))
    assert isinstance(added, PassNeuron)
    assert added.inputs["skip"] == blocks.column("5.shortcut.1").output[0, 2, 3, 4]
    assert added.inputs["body"] + added.inputs["skip"] == pytest.approx(added.value, rel=1e-6)
    mean = explain_neuron(blocks, "9", (5,))  # GlobalAvgPool2D
    assert isinstance(mean, PoolNeuron) and mean.kind == "mean"
    assert mean.total == pytest.approx(blocks.column("8").output[0, 5].mean(), rel=1e-6)

    averaged = Sequential(Conv2D(1, 2, 3, rng=0), ReLU(), AvgPool2D(3, stride=2, padding=1),
                          Flatten(), Dense(2 * 4 * 4, 3, rng=0))  # fmt: skip
    small = activations(averaged, one_input((1, 10, 10), seed=7))
    corner = explain_neuron(small, "2", (1, 0, 0))
    assert isinstance(corner, PoolNeuron) and corner.origin == (-1, -1)
    padded = np.pad(small.column("1").output[0, 1], 1)[:3, :3]  # the zeros count in the mean
    np.testing.assert_array_equal(corner.patch, padded)
    assert corner.total == pytest.approx(padded.mean()) == pytest.approx(corner.value)
