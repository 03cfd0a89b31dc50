"""Residual networks against their PyTorch twins in float64: the output, the input's and every
parameter's gradient and BatchNorm's running statistics over several training steps (with
SGD, Nesterov, weight decay off the norms and biases, label smoothing), and the one-cycle
learning rates and momenta."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

import nanocnn as nc
from benchmarks.torch_reference import torch_module
from nanocnn import presets
from nanocnn.optim import norms_and_biases
from nanocnn.training import OneCycleLR
from tests.every_layer import every_layer_model

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
TOLERANCE = 1e-10  # float64, absolute and relative


@pytest.fixture(scope="module")
def torch() -> ModuleType:
    return pytest.importorskip("torch", reason="pip install torch==2.13.0")


def residual_models() -> dict[str, tuple[nc.Sequential, tuple[int, ...]]]:
    rng = np.random.default_rng(5)
    return {
        "resnet": (presets.build("resnet", (1, 12, 12), outputs=4, seed=1), (1, 12, 12)),
        "resnet-14, odd size": (presets.resnet(rng, (2, 9, 11), 3, blocks=2), (2, 9, 11)),
        "every layer type": (every_layer_model(), (3, 13, 11)),
    }


def close(actual: np.ndarray, expected, what: str) -> None:
    expected = expected.detach().numpy() if hasattr(expected, "detach") else expected
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE, err_msg=what)


@pytest.mark.parametrize("name", list(residual_models()))
@pytest.mark.parametrize("fast", [False, True], ids=["forward", "fast_forward"])
def test_training_steps_match_pytorch(torch: ModuleType, name: str, fast: bool) -> None:
    model, shape = residual_models()[name]
    model.astype(np.float64)
    for layer in model.modules():
        if isinstance(layer, nc.Dropout):
            layer.p = 0.0  # the random masks of the two differ: dropout off in both
    twin = torch_module(model).double()
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    twin.train()
    probabilities = isinstance(model[-1], nc.Softmax)  # the loss then takes log(out)
    optimizer = nc.SGD(model.parameters(), 0.05, 0.9, nesterov=True, weight_decay=0.01,
                       no_decay=norms_and_biases)  # fmt: skip
    decayed = [p for k, p in twin.named_parameters() if k not in optimizer.skipped]
    skipped = [p for k, p in twin.named_parameters() if k in optimizer.skipped]
    assert decayed and skipped
    torch_optimizer = torch.optim.SGD(
        [{"params": decayed}, {"params": skipped, "weight_decay": 0.0}],
        lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01,
    )  # fmt: skip
    loss_fn = nc.SoftmaxCrossEntropy(label_smoothing=0.1)
    torch_loss = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    rng = np.random.default_rng(7)
    for step in range(3):
        x = rng.normal(1.0, 2.0, (6, *shape))
        out = (model.fast_forward if fast else model.forward)(x, training=True)
        labels = rng.integers(0, out.shape[1], len(x))
        loss = loss_fn.forward(np.log(out) if probabilities else out, labels)
        dout = loss_fn.backward() / out if probabilities else loss_fn.backward()  # d log p/dp
        dx = (model.fast_backward if fast else model.backward)(dout)

        x_torch = torch.from_numpy(x).requires_grad_()
        out_torch = twin(x_torch)
        logits = torch.log(out_torch) if probabilities else out_torch
        loss_torch = torch_loss(logits, torch.from_numpy(labels))
        torch_optimizer.zero_grad()
        loss_torch.backward()
        close(out, out_torch, f"step {step}: output")
        close(np.float64(loss), loss_torch, f"step {step}: loss")
        close(dx, x_torch.grad, f"step {step}: input gradient")
        torch_grads = {k: p.grad for k, p in twin.named_parameters()}
        assert set(model.grads) == set(torch_grads)
        for key, grad in model.grads.items():
            close(grad, torch_grads[key], f"step {step}: gradient of {key}")
        optimizer.step()
        torch_optimizer.step()
        state = twin.state_dict()
        for key, value in model.state_dict().items():  # weights and running statistics
            close(value, state[key], f"after step {step}: {key}")


@pytest.mark.parametrize("cycle_momentum", [True, False])
@pytest.mark.parametrize("total", [10, 137])
def test_one_cycle_follows_pytorch(torch: ModuleType, total: int, cycle_momentum: bool) -> None:
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.1, momentum=0.9, nesterov=True)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.1, total_steps=total, cycle_momentum=cycle_momentum
    )
    schedule = OneCycleLR(cycle_momentum=cycle_momentum)
    for step in range(total):
        lr, momentum = schedule.values(step, total, max_lr=0.1)
        assert lr == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-12)
        if cycle_momentum:
            assert momentum == pytest.approx(optimizer.param_groups[0]["momentum"], rel=1e-12)
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5, 1.0])
def test_label_smoothing_follows_pytorch(torch: ModuleType, smoothing: float) -> None:
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(0, 3, (7, 5)), rng.integers(0, 5, 7)
    loss_fn = nc.SoftmaxCrossEntropy(label_smoothing=smoothing)
    loss = loss_fn.forward(logits, labels)
    z = torch.from_numpy(logits).requires_grad_()
    expected = torch.nn.CrossEntropyLoss(label_smoothing=smoothing)(z, torch.from_numpy(labels))
    expected.backward()
    close(np.float64(loss), expected, "loss")
    close(loss_fn.backward(), z.grad, "gradient")
