"""``Sequential.fused()``: BatchNorm folded into the convolution before it, for inference.
The copy computes what the model computes in inference (float64: to 1e-12; float32: to float
rounding), leaves the model as it was, and agrees with PyTorch's twin of the unfolded model."""

from __future__ import annotations

import numpy as np
import pytest

import nanocnn as nc
from nanocnn import presets
from nanocnn.layers.fuse import fold_batchnorm
from tests.every_layer import every_layer_model


def trained_statistics(model: nc.Sequential, shape: tuple[int, ...]) -> np.ndarray:
    """Moves every BatchNorm's running statistics and affine parameters off their defaults;
    returns an inference batch."""
    rng = np.random.default_rng(3)
    for _ in range(3):
        model.forward(rng.standard_normal((6, *shape)).astype(model.dtype) * 2 + 1, training=True)
    for name, value in model.params.items():
        if name.endswith(("weight", "bias")) and value.ndim == 1:
            value[...] = rng.uniform(0.5, 1.5, value.shape)
    return rng.standard_normal((5, *shape)).astype(model.dtype)


MODELS = {
    "resnet": (lambda: presets.build("resnet", (2, 10, 9), outputs=3, seed=1), (2, 10, 9)),
    "resnet-14": (lambda: presets.resnet(np.random.default_rng(0), (1, 9, 9), 4, 2), (1, 9, 9)),
    "every layer type": (every_layer_model, (3, 13, 11)),
}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_fused_copy_computes_what_the_model_computes(name, dtype):
    build, shape = MODELS[name]
    model = build().astype(dtype)
    x = trained_statistics(model, shape)
    state = model.state_dict()
    expected = model.forward(x, training=False)
    fused = model.fused()
    tolerance = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(fused.forward(x), expected, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(model.predict(x), expected, rtol=tolerance, atol=tolerance)
    for key, value in model.state_dict().items():  # the model itself is unchanged
        np.testing.assert_array_equal(value, state[key], err_msg=key)
    norms = [layer for layer in fused.modules() if isinstance(layer, nc.BatchNorm2D)]
    assert len(norms) < len(
        [layer for layer in model.modules() if isinstance(layer, nc.BatchNorm2D)]
    )
    assert fused.dtype == dtype


def test_every_conv_bn_pair_of_resnet_is_folded():
    model = presets.build("resnet")
    fused = model.fused()
    assert not any(isinstance(layer, nc.BatchNorm2D) for layer in fused.modules())
    convs = [layer for layer in fused.modules() if isinstance(layer, nc.Conv2D)]
    assert len(convs) == 9 and all("bias" in conv.params for conv in convs)
    assert len(list(model.modules())) == len(list(fused.modules())) + 9  # the model keeps its norms


def test_folding_a_convolution_with_bias():
    """W' = s W and b' = s (b - mean) + beta, s = gamma / sqrt(var + eps)."""
    rng = np.random.default_rng(0)
    conv = nc.Conv2D(2, 3, 3, padding=1, rng=rng, dtype=np.float64)
    conv.params["bias"][...] = [0.5, -1.0, 2.0]
    norm = nc.BatchNorm2D(3, dtype=np.float64)
    norm.buffers["running_mean"][...] = [1.0, 2.0, 3.0]
    norm.buffers["running_var"][...] = [4.0, 0.25, 1.0]
    norm.params["weight"][...], norm.params["bias"][...] = [2.0, 1.0, -1.0], [0.1, 0.2, 0.3]
    folded = fold_batchnorm(conv, norm)
    scale = np.array([2.0, 1.0, -1.0]) / np.sqrt(np.array([4.0, 0.25, 1.0]) + 1e-5)
    np.testing.assert_allclose(
        folded.params["weight"], conv.params["weight"] * scale[:, None, None, None]
    )
    np.testing.assert_allclose(
        folded.params["bias"],
        scale * ([0.5, -1.0, 2.0] - np.array([1.0, 2.0, 3.0])) + [0.1, 0.2, 0.3],
    )
    x = rng.standard_normal((2, 2, 5, 4))
    np.testing.assert_allclose(
        folded.forward(x), norm.forward(conv.forward(x)), rtol=1e-12, atol=1e-12
    )


def test_the_fused_copy_agrees_with_pytorch_s_unfolded_twin():
    torch = pytest.importorskip("torch", reason="pip install torch==2.13.0")
    from benchmarks.torch_reference import to_torch

    model = presets.build("resnet", (2, 10, 9), outputs=3, seed=1).astype(np.float64)
    x = trained_statistics(model, (2, 10, 9))
    net = to_torch(model).eval()
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.fused().forward(x), expected, rtol=1e-10, atol=1e-10)
