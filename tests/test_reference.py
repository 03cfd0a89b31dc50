"""The fast convolution and pooling kernels equal the loop references (nanocnn.reference)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nanocnn as nc
from nanocnn import kernels, reference
from nanocnn.gradcheck import CONV_GRID, POOL_GRID


@pytest.mark.parametrize(("shape", "out_channels", "kernel", "stride", "padding"), CONV_GRID)
def test_conv2d_matches_naive(shape, out_channels, kernel, stride, padding):
    rng = np.random.default_rng(0)
    layer = nc.Conv2D(shape[1], out_channels, kernel, stride, padding, rng=1)
    layer.params["bias"][...] = rng.standard_normal(out_channels)
    x = rng.standard_normal(shape).astype(np.float32)
    out = layer.forward(x, training=True)
    weight, bias = layer.params["weight"], layer.params["bias"]
    expected = reference.conv2d(x, weight, bias, layer.stride, layer.pads)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert out.dtype == np.float32

    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = layer.backward(dout)
    dx_ref, dw_ref, db_ref = reference.conv2d_backward(x, weight, dout, layer.stride, layer.pads)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.grads["weight"], dw_ref, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(layer.grads["bias"], db_ref, rtol=1e-5, atol=1e-4)
    assert dx.dtype == np.float32 and dx.shape == x.shape


@pytest.mark.parametrize("block_bytes", [1, 3000, kernels.BLOCK_BYTES])
@pytest.mark.parametrize(("shape", "out_channels", "kernel", "stride", "padding"), CONV_GRID)
def test_conv2d_inference_by_blocks_matches_naive(
    monkeypatch, block_bytes, shape, out_channels, kernel, stride, padding
):
    """Inference unfolds the columns a block of output rows at a time: one row a block, a
    few, and the whole image in one all give the reference's convolution."""
    monkeypatch.setattr(kernels, "BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(0)
    layer = nc.Conv2D(shape[1], out_channels, kernel, stride, padding, rng=1)
    layer.params["bias"][...] = rng.standard_normal(out_channels)
    x = rng.standard_normal(shape).astype(np.float32)
    weight, bias = layer.params["weight"], layer.params["bias"]
    expected = reference.conv2d(x, weight, bias, layer.stride, layer.pads)
    for _ in range(2):  # the second call reuses the first one's block buffer
        np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-5, atol=1e-5)
    assert layer._cache is None  # nothing kept for a backward


def test_a_smaller_batch_after_a_larger_one_trains_on_the_reused_columns():
    """Training unfolds each batch into the columns buffer of the last one when it is large
    enough (an epoch's short last batch): forward and backward still equal the reference."""
    rng = np.random.default_rng(0)
    layer = nc.Conv2D(3, 4, 3, stride=2, padding=1, rng=1)
    weight, bias = layer.params["weight"], layer.params["bias"]
    for n in (5, 2, 3):
        x = rng.standard_normal((n, 3, 9, 8)).astype(np.float32)
        out = layer.forward(x, training=True)
        expected = reference.conv2d(x, weight, bias, layer.stride, layer.pads)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
        dout = rng.standard_normal(out.shape).astype(np.float32)
        dx = layer.backward(dout)
        dx_ref, dw_ref, _ = reference.conv2d_backward(x, weight, dout, layer.stride, layer.pads)
        np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(layer.grads["weight"], dw_ref, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding"), POOL_GRID)
@pytest.mark.parametrize(
    ("pool", "forward", "backward"),
    [
        (nc.MaxPool2D, reference.max_pool2d, reference.max_pool2d_backward),
        (nc.AvgPool2D, reference.avg_pool2d, reference.avg_pool2d_backward),
    ],
    ids=["max", "avg"],
)
def test_pool2d_matches_naive(pool, forward, backward, shape, kernel, stride, padding):
    rng = np.random.default_rng(0)
    layer = pool(kernel, stride, padding)
    x = rng.standard_normal(shape).astype(np.float32)
    out = layer.forward(x, training=True)
    window = (layer.kernel_size, layer.stride, layer.pads)
    np.testing.assert_allclose(out, forward(x, *window), rtol=1e-6, atol=1e-6)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = layer.backward(dout)
    np.testing.assert_allclose(dx, backward(x, dout, *window), rtol=1e-5, atol=1e-6)


def test_maxpool_gives_a_tied_window_gradient_to_one_input():
    """After a ReLU whole windows are 0: the gradient goes to the first maximum only."""
    layer = nc.MaxPool2D(2)
    x = np.zeros((1, 1, 2, 2), dtype=np.float32)
    layer.forward(x, training=True)
    dx = layer.backward(np.ones((1, 1, 1, 1), dtype=np.float32))
    np.testing.assert_array_equal(dx, [[[[1, 0], [0, 0]]]])


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    h=st.integers(3, 9),
    w=st.integers(3, 9),
    k=st.integers(1, 3),
    s=st.integers(1, 3),
    p=st.integers(0, 1),
    seed=st.integers(0, 2**16),
)
def test_conv2d_matches_naive_on_drawn_shapes(n, c, h, w, k, s, p, seed):
    rng = np.random.default_rng(seed)
    layer = nc.Conv2D(c, 2, k, s, p, rng=seed)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    expected = reference.conv2d(
        x, layer.params["weight"], layer.params["bias"], layer.stride, layer.pads
    )
    np.testing.assert_allclose(layer.forward(x), expected, rtol=1e-5, atol=1e-5)


def _layouts(x: np.ndarray) -> dict[str, np.ndarray]:
    """The same NCHW values in three memory layouts: C-contiguous, batch-last (as the layers
    hand them on), and a strided slice of a larger array."""
    batch_last = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    strided = np.repeat(x, 2, axis=3)[..., ::2]
    return {"contiguous": x, "batch_last": batch_last, "strided": strided}


@pytest.mark.parametrize(
    "make",
    [
        lambda: nc.Conv2D(3, 4, 3, padding=1, rng=0),
        lambda: nc.Conv2D(3, 2, (2, 3), stride=2, rng=0),
        lambda: nc.MaxPool2D(2),
        lambda: nc.MaxPool2D(3, 1, 1),
        lambda: nc.AvgPool2D(2),
    ],
    ids=["conv_same", "conv_strided", "maxpool", "maxpool_overlap", "avgpool"],
)
def test_layers_give_the_same_answer_for_any_memory_layout(make):
    """Layers keep activations batch-last in memory; results must not depend on the layout
    of the input or of the upstream gradient, and neither may be written to."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 3, 7, 7)).astype(np.float32)
    expected_out = make().forward(x, training=True)
    dout = rng.standard_normal(expected_out.shape).astype(np.float32)
    reference = make()
    reference.forward(x, training=True)
    expected_dx = reference.backward(dout)
    for x_view in _layouts(x).values():
        for dout_view in _layouts(dout).values():
            layer = make()
            x_before, dout_before = x_view.copy(), dout_view.copy()
            np.testing.assert_array_equal(layer.forward(x_view, training=True), expected_out)
            np.testing.assert_allclose(layer.backward(dout_view), expected_dx, rtol=1e-6)
            np.testing.assert_array_equal(x_view, x_before)
            np.testing.assert_array_equal(dout_view, dout_before)


def test_inference_in_pieces_equals_the_whole_batch():
    """``Sequential.forward`` runs large inference batches in pieces; the result must be the
    layers applied to the whole batch at once (every layer is per-sample in inference)."""
    from nanocnn.layers.sequential import INFERENCE_CHUNK

    model = nc.Sequential(
        nc.Conv2D(1, 4, 3, padding=1, rng=0), nc.BatchNorm2D(4), nc.ReLU(), nc.MaxPool2D(2),
        nc.Dropout(0.5, rng=0), nc.Flatten(), nc.Dense(4 * 4 * 4, 3, rng=1),
    )  # fmt: skip
    model.forward(np.random.default_rng(2).random((8, 1, 8, 8), dtype=np.float32), True)
    x = np.random.default_rng(3).random((2 * INFERENCE_CHUNK + 5, 1, 8, 8), dtype=np.float32)
    whole = x
    for layer in model:
        whole = layer.forward(whole, training=False)
    np.testing.assert_allclose(model.forward(x), whole, rtol=1e-6, atol=1e-6)
    assert model.forward(x).shape == (len(x), 3)
