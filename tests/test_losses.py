"""Loss values against direct formulas, numerical safety and shape errors."""

from __future__ import annotations

import numpy as np
import pytest

import nanocnn as nc


def test_cross_entropy_value():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    labels = np.array([0, 2])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(probs[[0, 1], labels]))
    loss = nc.SoftmaxCrossEntropy()
    assert loss.forward(logits, labels) == pytest.approx(expected)
    onehot = np.eye(3)[labels]
    np.testing.assert_allclose(loss.backward(), (probs - onehot) / 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_at_huge_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=dtype)
    loss = nc.SoftmaxCrossEntropy()
    value = loss.forward(logits, np.array([1, 0]))
    assert value == pytest.approx((2e4 + 2e4 + np.log(2)) / 2)
    grad = loss.backward()
    assert grad.dtype == dtype and np.all(np.isfinite(grad))
    assert loss.forward(logits, np.array([0, 1])) == pytest.approx(np.log(2) / 2)


def test_regression_values():
    pred = np.array([[1.0], [2.0], [5.0]])
    target = np.array([1.5, 2.0, 2.0])  # (N,) against (N, 1) is accepted
    assert nc.MSELoss().forward(pred, target) == pytest.approx((0.25 + 0 + 9) / 3)
    assert nc.L1Loss().forward(pred, target) == pytest.approx((0.5 + 0 + 3) / 3)
    assert nc.HuberLoss(1.0).forward(pred, target) == pytest.approx((0.125 + 0 + 2.5) / 3)
    grad = nc.HuberLoss(1.0)
    grad.forward(pred, target)
    np.testing.assert_allclose(grad.backward(), [[-0.5 / 3], [0], [1 / 3]])


def test_nan_loss_is_reported():
    with pytest.raises(nc.NonFiniteLossError, match="learning rate"):
        nc.SoftmaxCrossEntropy().forward(np.array([[np.nan, 1.0]]), np.array([0]))
    with pytest.raises(nc.NonFiniteLossError, match="NaN/inf"):
        nc.MSELoss().forward(np.array([[np.inf]]), np.array([0.0]))


@pytest.mark.parametrize(
    ("loss", "pred", "target", "message"),
    [
        (nc.SoftmaxCrossEntropy(), np.zeros((2, 3)), np.array([0, 3]), r"\[0, 3\)"),
        (nc.SoftmaxCrossEntropy(), np.zeros((2, 3)), np.array([0.0, 1.0]), "integer labels"),
        (nc.SoftmaxCrossEntropy(), np.zeros((2, 3)), np.array([0, 1, 2]), "labels"),
        (nc.MSELoss(), np.zeros((2, 3)), np.zeros(2), "target of shape"),
    ],
)
def test_bad_targets(loss, pred, target, message):
    with pytest.raises(ValueError, match=message):
        loss.forward(pred, target)


def test_backward_before_forward():
    with pytest.raises(RuntimeError, match="before forward"):
        nc.MSELoss().backward()


def naive_bce(logits, target, pos_weight=1.0):
    """Binary cross-entropy from its definition, through the sigmoid (fine at small logits)."""
    p = 1 / (1 + np.exp(-logits))
    return -np.mean(pos_weight * target * np.log(p) + (1 - target) * np.log(1 - p))


@pytest.mark.parametrize("pos_weight", [1.0, 3.0])
@pytest.mark.parametrize("shape", [(5,), (5, 1)])
def test_bce_with_logits_value_and_gradient(shape, pos_weight):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal(shape) * 3
    target = rng.integers(0, 2, 5).astype(np.float64)  # (N,), also against (N, 1) logits
    target[0] = 0.3  # soft targets are allowed, as in PyTorch
    loss = nc.BCEWithLogitsLoss(pos_weight)
    value = loss.forward(logits, target)
    assert value == pytest.approx(naive_bce(logits.reshape(-1), target, pos_weight))
    assert loss.backward().shape == shape
    assert nc.gradcheck_loss(loss, logits, target) < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_stable_at_huge_logits(dtype):
    logits = np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype)
    loss = nc.BCEWithLogitsLoss()
    assert loss.forward(logits, np.array([1.0, 0.0, 0.0, 1.0])) == pytest.approx(1e4 / 2)
    grad = loss.backward()
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, [0, 0, 0.25, -0.25])


def test_bce_with_logits_matches_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch parity: pip install torch")
    rng = np.random.default_rng(1)
    logits, target = rng.standard_normal((7, 1)) * 4, rng.uniform(0, 1, (7, 1))
    z = torch.tensor(logits, requires_grad=True)
    expected = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.5]))(z, torch.tensor(target))
    expected.backward()
    loss = nc.BCEWithLogitsLoss(pos_weight=2.5)
    assert loss.forward(logits, target) == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), z.grad.numpy(), rtol=1e-12)


def test_bce_with_logits_refuses_bad_targets():
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        nc.BCEWithLogitsLoss().forward(np.zeros(3), np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="expected target of shape"):
        nc.BCEWithLogitsLoss().forward(np.zeros((3, 1)), np.zeros(4))
    with pytest.raises(ValueError, match="pos_weight must be positive"):
        nc.BCEWithLogitsLoss(0)
