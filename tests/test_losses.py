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
