"""The layer protocol: inputs never written, gradients overwritten, clear errors, reprs."""

from __future__ import annotations

import numpy as np
import pytest

import nanocnn as nc

LAYERS = [
    (lambda: nc.Conv2D(3, 4, 3, padding=1, rng=0), (2, 3, 6, 6)),
    (lambda: nc.MaxPool2D(3, 2, 1), (2, 3, 7, 7)),
    (lambda: nc.AvgPool2D(2), (2, 3, 6, 6)),
    (lambda: nc.Dense(5, 3, rng=0), (4, 5)),
    (nc.Flatten, (2, 3, 2, 2)),
    (nc.ReLU, (2, 3, 4, 4)),
    (nc.LeakyReLU, (2, 5)),
    (nc.Sigmoid, (2, 5)),
    (nc.Tanh, (2, 5)),
    (nc.Softmax, (2, 5)),
    (lambda: nc.Dropout(0.5, rng=0), (2, 5)),
    (lambda: nc.BatchNorm2D(3), (2, 3, 4, 4)),
    (lambda: nc.BatchNorm1D(5), (4, 5)),
]


@pytest.mark.parametrize(("make", "shape"), LAYERS)
def test_protocol(make, shape):
    layer = make()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    x_before = x.copy()
    out = layer.forward(x, training=True)
    assert out.dtype == np.float32
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dout_before = dout.copy()
    dx = layer.backward(dout)
    assert dx.shape == x.shape and dx.dtype == np.float32
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dout, dout_before)
    assert set(layer.grads) == set(layer.params)
    first = {name: grad for name, grad in layer.grads.items()}
    snapshot = {name: grad.copy() for name, grad in layer.grads.items()}
    layer.forward(x, training=True)
    layer.backward(dout)
    for name, grad in layer.grads.items():
        assert grad is first[name], "gradients must be overwritten in place"
        np.testing.assert_allclose(grad, snapshot[name], rtol=1e-5)  # not accumulated
        assert grad.shape == layer.params[name].shape
    assert eval(repr(layer), vars(nc)).config() == layer.config()


@pytest.mark.parametrize(("make", "shape"), LAYERS)
def test_inference_keeps_no_cache(make, shape):
    layer = make()
    layer.forward(np.ones(shape, dtype=np.float32), training=False)
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.ones(shape, dtype=np.float32))


def test_parameter_names_and_shapes_follow_pytorch():
    conv = nc.Conv2D(3, 8, (5, 3))
    assert conv.params["weight"].shape == (8, 3, 5, 3) and conv.params["bias"].shape == (8,)
    dense = nc.Dense(7, 2)
    assert dense.params["weight"].shape == (2, 7) and dense.params["bias"].shape == (2,)
    bn = nc.BatchNorm2D(4)
    assert set(bn.params) == {"weight", "bias"}
    assert set(bn.buffers) == {"running_mean", "running_var"}


@pytest.mark.parametrize(
    ("layer", "x", "message"),
    [
        (
            nc.Conv2D(3, 4, 3),
            np.zeros((2, 1, 8, 8), np.float32),
            "Conv2D expected 3 input channels",
        ),
        (
            nc.Conv2D(1, 4, 3),
            np.zeros((8, 8), np.float32),
            r"Conv2D expected input of shape \(N, C",
        ),
        (nc.Conv2D(1, 4, 3), np.zeros((1, 1, 8, 8), np.float64), "Conv2D expected float32"),
        (nc.Conv2D(1, 4, 5), np.zeros((1, 1, 3, 3), np.float32), "smaller than the kernel"),
        (nc.Dense(5, 2), np.zeros((2, 4), np.float32), "Dense expected 5 input"),
        (nc.MaxPool2D(2), np.zeros((1, 1, 8, 8), np.uint8), "MaxPool2D expected floating"),
        (nc.MaxPool2D(4), np.zeros((1, 1, 3, 3), np.float32), "smaller than the window"),
        (nc.ReLU(), np.zeros(3, np.int64), "ReLU expected a floating"),
        (nc.BatchNorm1D(3), np.zeros((2, 4), np.float32), "BatchNorm1D expected 3"),
    ],
)
def test_bad_input_names_the_layer(layer, x, message):
    with pytest.raises(ValueError, match=message):
        layer.forward(x)


def test_bad_arguments():
    with pytest.raises(ValueError, match="same"):
        nc.Conv2D(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding"):
        nc.MaxPool2D(2, padding=2)
    with pytest.raises(ValueError, match="kernel_size"):
        nc.Conv2D(1, 1, (3, 3, 3))
    with pytest.raises(ValueError, match="Dropout"):
        nc.Dropout(1.0)
    with pytest.raises(ValueError, match="init"):
        nc.Dense(2, 2, init="lecun")


@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5])
def test_same_padding_keeps_the_size(kernel):
    x = np.ones((1, 2, 7, 6), dtype=np.float32)
    assert nc.Conv2D(2, 3, kernel, padding="same").forward(x).shape == (1, 3, 7, 6)


def test_initialisers_have_the_right_scale():
    he = nc.Conv2D(64, 64, 3, rng=0).params["weight"]
    assert he.std() == pytest.approx(np.sqrt(2 / (64 * 9)), rel=0.02)
    xavier = nc.Dense(300, 200, init="xavier", rng=0).params["weight"]
    limit = np.sqrt(6 / 500)
    assert np.abs(xavier).max() <= limit and xavier.std() == pytest.approx(
        limit / np.sqrt(3), rel=0.02
    )
    same = nc.Dense(4, 4, rng=7).params["weight"]
    np.testing.assert_array_equal(same, nc.Dense(4, 4, rng=7).params["weight"])


def test_dropout_scales_and_switches_off_in_inference():
    layer = nc.Dropout(0.25, rng=0)
    x = np.ones((200, 100), dtype=np.float32)
    out = layer.forward(x, training=True)
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert (out == 0).mean() == pytest.approx(0.25, abs=0.01)
    assert layer.forward(x, training=False) is x


def test_batchnorm_running_statistics_follow_pytorch():
    layer = nc.BatchNorm2D(2, momentum=0.1).astype(np.float64)
    x = np.random.default_rng(0).standard_normal((4, 2, 3, 3)) * 3 + 5
    layer.forward(x, training=True)
    mean = x.mean(axis=(0, 2, 3))
    unbiased = x.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(layer.buffers["running_mean"], 0.1 * mean)
    np.testing.assert_allclose(layer.buffers["running_var"], 0.9 + 0.1 * unbiased)
    out = layer.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-4)


def test_softmax_is_stable():
    out = nc.Softmax().forward(np.array([[1e4, -1e4, 0.0]], dtype=np.float32))
    np.testing.assert_allclose(out, [[1, 0, 0]])
    assert np.all(np.isfinite(out))
