"""Every layer's backward against central differences in float64, over a grid of shapes,
kernel sizes, strides and paddings (including sizes where the windows do not tile the input)."""

from __future__ import annotations

import numpy as np
import pytest

import nanocnn as nc
from nanocnn.cli.gradcheck import CONV_GRID, DENSE_GRID, POOL_GRID

TOLERANCE = 1e-6


def random(shape, seed=1):
    """Values from a seed other than gradcheck's own dout (seed 0): for BatchNorm an upstream
    gradient that is an affine function of x has a true input gradient of exactly zero."""
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize(("shape", "out_channels", "kernel", "stride", "padding"), CONV_GRID)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d(shape, out_channels, kernel, stride, padding, bias):
    layer = nc.Conv2D(shape[1], out_channels, kernel, stride, padding, bias=bias, rng=1)
    layer.params = {k: v + random(v.shape, 2) * 0.1 for k, v in layer.params.items()}
    errors = nc.gradcheck(layer, random(shape))
    assert set(errors) == {"x", "weight", *(["bias"] if bias else [])}
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding"), POOL_GRID)
@pytest.mark.parametrize("pool", [nc.MaxPool2D, nc.AvgPool2D])
def test_pool2d(pool, shape, kernel, stride, padding):
    errors = nc.gradcheck(pool(kernel, stride, padding), random(shape))
    assert errors["x"] < TOLERANCE, errors


@pytest.mark.parametrize(("n", "fan_in", "fan_out"), DENSE_GRID)
@pytest.mark.parametrize("bias", [True, False])
def test_dense(n, fan_in, fan_out, bias):
    errors = nc.gradcheck(nc.Dense(fan_in, fan_out, bias=bias, rng=0), random((n, fan_in)))
    assert max(errors.values()) < TOLERANCE, errors


@pytest.mark.parametrize(
    "layer",
    [nc.ReLU(), nc.LeakyReLU(0.1), nc.Sigmoid(), nc.Tanh(), nc.Softmax(), nc.Flatten()],
    ids=repr,
)
@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4, 4)])
def test_parameterless(layer, shape):
    errors = nc.gradcheck(layer, random(shape) * 3)
    assert errors["x"] < TOLERANCE, errors


def test_dropout_in_training_uses_its_mask():
    errors = nc.gradcheck(nc.Dropout(0.4, rng=3), random((4, 10)))
    assert errors["x"] < TOLERANCE, errors


@pytest.mark.parametrize(
    ("layer", "shape"),
    [(nc.BatchNorm2D(3), (4, 3, 3, 3)), (nc.BatchNorm1D(5), (6, 5))],
    ids=["2d", "1d"],
)
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm(layer, shape, training):
    layer.params = {k: v + random(v.shape, 5) for k, v in layer.params.items()}
    layer.buffers["running_var"] = layer.buffers["running_var"] + 0.5
    if training:
        errors = nc.gradcheck(layer, random(shape) * 2 + 1)
    else:
        # In inference mode BatchNorm is an affine map; its backward is checked through the
        # training-mode cache, so compare against the closed form instead.
        x = random(shape)
        layer64 = layer.astype(np.float64)
        out = layer64.forward(x, training=False)
        scale = layer64.params["weight"] / np.sqrt(layer64.buffers["running_var"] + layer64.eps)
        expected = (x - layer64._per_feature(layer64.buffers["running_mean"])) * (
            layer64._per_feature(scale)
        ) + layer64._per_feature(layer64.params["bias"])
        np.testing.assert_allclose(out, expected, rtol=1e-12)
        return
    assert max(errors.values()) < TOLERANCE, errors


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
    [nc.SoftmaxCrossEntropy(), nc.MSELoss(), nc.L1Loss(), nc.HuberLoss(), nc.HuberLoss(0.3)],
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


def test_relu_before_maxpool_runs_after_it_with_the_same_values_and_gradients():
    """Sequential runs a ReLU that precedes a MaxPool2D after the pool, on fewer numbers; the
    output, every parameter gradient and the input gradient must be exactly those of the
    layers run in the written order, also for windows that are all negative or tied at 0."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 8, 8)).astype(np.float32)
    x[0, :, :4, :4] = -np.abs(x[0, :, :4, :4])  # all-negative windows
    x[1, :, :4] = 0.0  # windows tied at zero

    def layers():
        conv, dense = nc.Conv2D(2, 3, 3, padding=1, rng=1), nc.Dense(12, 4, rng=2)
        pools = [nc.MaxPool2D(2), nc.MaxPool2D(3, 1, 1), nc.MaxPool2D(2)]
        return [nc.ReLU(), pools[0], conv, nc.ReLU(), pools[1], pools[2], nc.Flatten(), dense]

    model = nc.Sequential(*layers())
    out = model.forward(x, training=True)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = model.backward(dout)

    written = layers()
    expected = x
    for layer in written:
        expected = layer.forward(expected, training=True)
    expected_dx = dout
    for layer in reversed(written):
        expected_dx = layer.backward(expected_dx)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(dx, expected_dx)
    for layer, reference in zip(model, written, strict=True):
        for name, grad in layer.grads.items():
            np.testing.assert_array_equal(grad, reference.grads[name])
