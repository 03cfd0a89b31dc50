"""Optimizers against the update rules as PyTorch's documentation writes them, step by step."""

from __future__ import annotations

import numpy as np
import pytest

import nanocnn as nc
from nanocnn.optim import norms_and_biases


def run(optimizer_class, steps=5, **kwargs):
    """Apply ``steps`` updates with a fixed sequence of gradients; returns the parameter."""
    param = np.array([1.0, -2.0, 3.0])
    grad = np.zeros(3)
    optimizer = optimizer_class([("w", param, grad)], **kwargs)
    for step in range(steps):
        grad[...] = [0.5, -1.0, 2.0 * (-1) ** step]
        optimizer.step()
    return param


def gradients(steps):
    return [np.array([0.5, -1.0, 2.0 * (-1) ** step]) for step in range(steps)]


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_sgd_momentum(nesterov, weight_decay):
    p, buf = np.array([1.0, -2.0, 3.0]), None
    for g in gradients(5):
        g = g + weight_decay * p
        buf = g.copy() if buf is None else 0.9 * buf + g
        p = p - 0.1 * (g + 0.9 * buf if nesterov else buf)
    result = run(nc.SGD, lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=weight_decay)
    np.testing.assert_allclose(result, p)


def test_plain_sgd():
    np.testing.assert_allclose(run(nc.SGD, steps=1, lr=0.5), [0.75, -1.5, 2.0])


@pytest.mark.parametrize(("weight_decay", "decoupled"), [(0.0, False), (0.1, False), (0.1, True)])
def test_adam(weight_decay, decoupled):
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    p, m, v = np.array([1.0, -2.0, 3.0]), np.zeros(3), np.zeros(3)
    for t, g in enumerate(gradients(5), start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    result = run(nc.Adam, lr=lr, weight_decay=weight_decay, decoupled=decoupled)
    np.testing.assert_allclose(result, p)
    if decoupled:
        np.testing.assert_allclose(run(nc.AdamW, lr=lr, weight_decay=weight_decay), p)


def test_state_dict_round_trip_resumes_exactly():
    def make():
        param, grad = np.array([1.0, 2.0]), np.zeros(2)
        return param, grad, nc.Adam([("w", param, grad)], lr=0.1)

    param, grad, opt = make()
    for value in (1.0, -0.5, 0.25):
        grad[...] = value
        opt.step()
    saved, param_saved = opt.state_dict(), param.copy()
    grad[...] = 0.3
    opt.step()

    param2, grad2, opt2 = make()
    param2[...] = param_saved
    opt2.load_state_dict(saved)
    grad2[...] = 0.3
    opt2.step()
    np.testing.assert_array_equal(param2, param)
    with pytest.raises(ValueError, match="missing"):
        opt2.load_state_dict({"steps": np.array(1)})


def test_adam_minimises_a_quadratic():
    param, grad = np.array([5.0, -3.0]), np.zeros(2)
    opt = nc.Adam([("w", param, grad)], lr=0.1)
    for _ in range(300):
        grad[...] = 2 * param
        opt.step()
    np.testing.assert_allclose(param, 0, atol=1e-2)


def test_float32_parameters_stay_float32():
    param, grad = np.ones(3, np.float32), np.ones(3, np.float32)
    for opt in (
        nc.Adam([("w", param, grad)], weight_decay=0.1),
        nc.SGD([("w", param, grad)], 0.1, 0.9),
    ):
        opt.step()
        assert param.dtype == np.float32
        assert all(v.dtype == np.float32 for s in opt.state.values() for v in s.values())


def test_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        nc.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        nc.Adam([("w", np.ones(1), np.ones(1))], lr=-1)


@pytest.mark.parametrize(
    ("make", "decay_only_matrices"),
    [
        (lambda params: nc.SGD(params, 0.1, 0.9, True, 0.1, no_decay=norms_and_biases), True),
        (lambda params: nc.Adam(params, 0.01, weight_decay=0.1, no_decay=norms_and_biases), True),
        (lambda params: nc.AdamW(params, 0.01, weight_decay=0.1, no_decay=norms_and_biases), True),
        (lambda params: nc.SGD(params, 0.1, 0.9, True, 0.1), False),
    ],
    ids=["sgd", "adam", "adamw", "sgd without the rule"],
)
def test_weight_decay_skips_norms_and_biases_when_asked(make, decay_only_matrices):
    """With zero gradients only weight decay moves a parameter: the rule leaves BatchNorm's
    weight and bias and every bias where they are."""
    model = nc.Sequential(nc.Conv2D(1, 2, 3, rng=0), nc.BatchNorm2D(2), nc.Flatten(),
                          nc.Dense(2, 2, rng=1))  # fmt: skip
    for value in model.params.values():
        value += 1.0  # non-zero everywhere: decay moves whatever it touches
    before = model.state_dict()
    optimizer = make(model.parameters())
    expected = {"1.weight", "1.bias", "0.bias", "3.bias"} if decay_only_matrices else set()
    assert optimizer.skipped == expected
    for _ in range(3):
        optimizer.step()  # the gradients are all zero
    moved = {name for name, value in model.state_dict().items() if (value != before[name]).any()}
    assert moved == set(model.params) - expected


def test_the_decay_rule_survives_a_resume():
    """The rule is the optimizer's construction, not its state: a state dict restores it."""

    def make():
        param, bias = np.array([[1.0, 2.0]]), np.array([3.0])
        grads = np.zeros((1, 2)), np.zeros(1)
        params = [("w", param, grads[0]), ("b", bias, grads[1])]
        return param, bias, nc.SGD(params, 0.1, 0.9, weight_decay=0.5, no_decay=norms_and_biases)

    param, bias, optimizer = make()
    optimizer.step()
    resumed_param, resumed_bias, resumed = make()
    resumed.load_state_dict(optimizer.state_dict())
    resumed_param[...], resumed_bias[...] = param, bias
    optimizer.step()
    resumed.step()
    np.testing.assert_array_equal(resumed_param, param)
    assert bias[0] == resumed_bias[0] == 3.0 and param[0, 0] < 1.0
