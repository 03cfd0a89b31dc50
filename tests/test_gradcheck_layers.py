"""Every layer's backward against central differences in float64, over a grid of shapes,
kernel sizes, strides and paddings (including sizes where the windows do not tile the input),
in training mode and in inference mode (``forward(x, keep=True)``)."""

from __future__ import annotations

import numpy as np
import pytest

import nanocnn as nc
from nanocnn.gradcheck import CONV_GRID, DENSE_GRID, POOL_GRID, RESIDUAL_GRID, nested_model
from nanocnn.presets import basic_block

TOLERANCE = 1e-6


def random(shape, seed=1):
    """Values from a seed other than gradcheck's own dout (seed 0): for BatchNorm an upstream
    gradient that is an affine function of x has a true input gradient of exactly zero."""
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize(("shape", "out_channels", "kernel", "stride", "padding"), CONV_GRID)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_conv2d(shape, out_channels, kernel, stride, padding, bias, training):
    layer = nc.Conv2D(shape[1], out_channels, kernel, stride, padding, bias=bias, rng=1)
    layer.params = {k: v + random(v.shape, 2) * 0.1 for k, v in layer.params.items()}
    errors = nc.gradcheck(layer, random(shape), training=training)
    assert set(errors) == {"x", "weight", *(["bias"] if bias else [])}
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding"), POOL_GRID)
@pytest.mark.parametrize("pool", [nc.MaxPool2D, nc.AvgPool2D])
@pytest.mark.parametrize("training", [True, False])
def test_pool2d(pool, shape, kernel, stride, padding, training):
    errors = nc.gradcheck(pool(kernel, stride, padding), random(shape), training=training)
    assert errors["x"] < TOLERANCE, errors


@pytest.mark.parametrize(("n", "fan_in", "fan_out"), DENSE_GRID)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_dense(n, fan_in, fan_out, bias, training):
    layer = nc.Dense(fan_in, fan_out, bias=bias, rng=0)
    errors = nc.gradcheck(layer, random((n, fan_in)), training=training)
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize(
    "layer",
    [nc.ReLU(), nc.LeakyReLU(0.1), nc.Sigmoid(), nc.Tanh(), nc.Softmax(), nc.Flatten()],
    ids=repr,
)
@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_parameterless(layer, shape, training):
    errors = nc.gradcheck(layer, random(shape) * 3, training=training)
    assert errors["x"] < TOLERANCE, errors


@pytest.mark.parametrize("training", [True, False])
def test_dropout_uses_its_mask_in_training_and_is_the_identity_in_inference(training):
    layer = nc.Dropout(0.4, rng=3)
    x, dout = random((4, 10)), random((4, 10), 2)
    errors = nc.gradcheck(layer, x, dout, training=training)
    assert errors["x"] < TOLERANCE, errors
    layer.forward(x, training=training, keep=True)
    assert np.array_equal(layer.backward(dout), dout) != training


@pytest.mark.parametrize(
    ("layer", "shape"),
    [(nc.BatchNorm2D(3), (4, 3, 3, 3)), (nc.BatchNorm1D(5), (6, 5))],
    ids=["2d", "1d"],
)
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm(layer, shape, training):
    layer.params = {k: v + random(v.shape, 5) for k, v in layer.params.items()}
    layer.buffers["running_var"] = layer.buffers["running_var"] + 0.5
    layer.buffers["running_mean"] = layer.buffers["running_mean"] + 0.3
    errors = nc.gradcheck(layer, random(shape) * 2 + 1, training=training)
    assert set(errors) == {"x", "weight", "bias"}
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize(("shape", "out_channels", "stride"), RESIDUAL_GRID)
@pytest.mark.parametrize("training", [True, False])
def test_residual_block(shape, out_channels, stride, training):
    """Both paths and the sum at the fork; BatchNorm in both modes (running statistics that
    are not the identity in inference)."""
    block = basic_block(np.random.default_rng(0), shape[1], out_channels, stride)
    for layer in block.modules():
        for key, value in {**layer.params, **layer.buffers}.items():
            if key != "weight" or value.ndim == 1:  # BatchNorm's arrays, not a conv's weight
                value += np.abs(random(value.shape, 6)) * 0.5
    errors = nc.gradcheck(block, random(shape) * 2, training=training)
    assert set(errors) == {"x", *block.params}  # "body.0.weight", "shortcut.1.bias"...
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("training", [True, False])
def test_nested_containers(training):
    errors = nc.gradcheck(nested_model(), random((3, 2, 6, 6)) * 2, training=training)
    assert len(errors) == 1 + len(nested_model().params)
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 2, 1, 1), (1, 1, 7, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_global_avg_pool(shape, training):
    errors = nc.gradcheck(nc.GlobalAvgPool2D(), random(shape), training=training)
    assert errors["x"] < TOLERANCE, errors


def test_a_wrong_backward_is_caught():
    """The checker must fail loudly on a broken layer, or the tests above prove nothing."""

    class BrokenReLU(nc.ReLU):
        def backward(self, dout):
            return super().backward(dout) * 1.01

    assert nc.gradcheck(BrokenReLU(), random((3, 4)))["x"] > 1e-3


def test_gradcheck_leaves_the_layer_untouched():
    layer = nc.Conv2D(2, 3, 3, rng=0)
    before = layer.params["weight"].copy()
    nc.gradcheck(layer, random((1, 2, 5, 5)))
    assert layer.params["weight"].dtype == np.float32
    np.testing.assert_array_equal(layer.params["weight"], before)


@pytest.mark.parametrize(
    "loss",
    [
        nc.SoftmaxCrossEntropy(),
        nc.SoftmaxCrossEntropy(label_smoothing=0.1),
        nc.SoftmaxCrossEntropy(label_smoothing=1.0),
        nc.MSELoss(),
        nc.L1Loss(),
        nc.HuberLoss(),
        nc.HuberLoss(0.3),
    ],
    ids=repr,
)
def test_losses(loss):
    rng = np.random.default_rng(0)
    pred = rng.standard_normal((6, 4)) * 2
    if isinstance(loss, nc.SoftmaxCrossEntropy):
        target = rng.integers(0, 4, 6)
    else:
        target = pred + rng.uniform(0.05, 2, pred.shape) * rng.choice([-1, 1], pred.shape)
    assert nc.gradcheck_loss(loss, pred, target) < TOLERANCE


@pytest.mark.parametrize(
    "layers",
    [
        lambda: [nc.Conv2D(2, 3, 3, rng=0), nc.ReLU(), nc.MaxPool2D(2), nc.Flatten(),
                 nc.Dense(12, 4, rng=1)],
        lambda: [nc.Flatten(), nc.Dropout(0.0), nc.Dense(72, 5, rng=0), nc.Tanh(),
                 nc.Dense(5, 4, rng=1)],
        lambda: [nc.BatchNorm2D(2), nc.Conv2D(2, 4, 6, rng=0), nc.Flatten()],
        lambda: [nc.ReLU(), nc.Flatten()],
    ],
    ids=["conv_first", "dense_after_flatten", "batchnorm_first", "no_parameters"],
)  # fmt: skip
def test_backward_without_the_input_gradient_fills_the_same_grads(layers):
    """``Sequential.backward(dout, input_grad=False)`` skips work, never changes a gradient."""
    x = random((2, 2, 6, 6)).astype(np.float32)
    grads = []
    for input_grad in (True, False):
        model = nc.Sequential(*layers())
        out = model.forward(x, training=True)
        dx = model.backward(random(out.shape, 3).astype(np.float32), input_grad=input_grad)
        assert (dx is None) == (not input_grad)
        grads.append({name: grad.copy() for name, _, grad in model.parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name, grad in grads[0].items():
        np.testing.assert_array_equal(grads[1][name], grad, err_msg=name)


def relu_pool_layers():
    conv, dense = nc.Conv2D(2, 3, 3, padding=1, rng=1), nc.Dense(12, 4, rng=2)
    pools = [nc.MaxPool2D(2), nc.MaxPool2D(3, 1, 1), nc.MaxPool2D(2)]
    return [nc.ReLU(), pools[0], conv, nc.ReLU(), pools[1], pools[2], nc.Flatten(), dense]


def relu_pool_input():
    """Windows that are all negative or tied at 0 included."""
    x = random((3, 2, 8, 8)).astype(np.float32)
    x[0, :, :4, :4] = -np.abs(x[0, :, :4, :4])  # all-negative windows
    x[1, :, :4] = 0.0  # windows tied at zero
    return x


def run_written_order(layers, x, dout):
    """The layers' own forward and backward, one by one, as a user's loop would."""
    out = x
    for layer in layers:
        out = layer.forward(out, training=True)
    dx = dout
    for layer in reversed(layers):
        dx = layer.backward(dx)
    return out, dx


def test_fast_forward_and_backward_give_the_written_order_s_values_and_gradients():
    """fast_forward runs a ReLU that precedes a MaxPool2D after the pool, on fewer numbers;
    the output, every parameter gradient and the input gradient must be exactly those of the
    layers run in the written order."""
    x = relu_pool_input()
    model = nc.Sequential(*relu_pool_layers())
    out = model.fast_forward(x, training=True)
    dout = random(out.shape, 3).astype(np.float32)
    dx = model.fast_backward(dout)

    written = relu_pool_layers()
    expected, expected_dx = run_written_order(written, x, dout)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(dx, expected_dx)
    np.testing.assert_array_equal(model.predict(x), expected)
    for layer, reference in zip(model, written, strict=True):
        for name, grad in layer.grads.items():
            np.testing.assert_array_equal(grad, reference.grads[name])


def test_a_loop_over_the_layers_then_model_backward_works():
    """No hidden order: ``forward``/``backward`` run the layers as written, so a user's own
    loop over ``model`` pairs with ``model.backward`` (and the other way round)."""
    x = relu_pool_input()
    model = nc.Sequential(*relu_pool_layers())
    out = x
    for layer in model:
        out = layer.forward(out, training=True)
    dout = random(out.shape, 3).astype(np.float32)
    dx = model.backward(dout)
    _, expected_dx = run_written_order(relu_pool_layers(), x, dout)
    np.testing.assert_array_equal(dx, expected_dx)

    model.forward(x, training=True)
    for layer in reversed(model.layers):
        dout = layer.backward(dout)
    np.testing.assert_array_equal(dout, expected_dx)
