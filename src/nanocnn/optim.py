"""SGD, Adam and AdamW with PyTorch's update rules; ``step()`` updates the parameters in place.

An optimizer is given ``model.parameters()``: (name, param, grad) triples whose ``grad`` arrays
the layers overwrite in place on every backward. Its state (momentum, moments) is kept by
parameter name, so ``state_dict()`` can be saved beside the model and restored to resume.

Weight decay and the parameters it skips: ``weight_decay`` applies to every parameter unless
``no_decay(name, param)`` says True for it. The usual rule, :func:`norms_and_biases`, skips
every parameter of at most one dimension: the biases and BatchNorm's weight and bias, whose
decay only fights the normalisation (Goyal et al. 2017; He et al. 2019, "Bag of Tricks").
In PyTorch this is two parameter groups, ``[{"params": decayed}, {"params": skipped,
"weight_decay": 0.0}]``: the updates are the same. The rule is part of the optimizer's
construction, not of its state, so ``state_dict()`` and resuming are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

Parameters = Iterable[tuple[str, np.ndarray, np.ndarray]]
DecayRule = Callable[[str, np.ndarray], bool]  # (name, param) -> True to skip weight decay


def norms_and_biases(name: str, param: np.ndarray) -> bool:
    """The usual ``no_decay`` rule: True for a parameter of at most one dimension (a bias,
    a BatchNorm's weight or bias), which weight decay then leaves alone."""
    return param.ndim <= 1


class Optimizer:
    """Base class: the parameter list, the learning rate ``lr`` and the named state."""

    state_names: tuple[str, ...] = ()

    def __init__(
        self,
        params: Parameters,
        lr: float,
        weight_decay: float,
        no_decay: DecayRule | None = None,
    ) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if lr <= 0 or weight_decay < 0:
            raise ValueError(
                f"{type(self).__name__} needs lr > 0 and weight_decay >= 0, "
                f"got lr={lr}, weight_decay={weight_decay}"
            )
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        # the parameters weight decay leaves alone, by name
        self.skipped = {name for name, p, _ in self.params if no_decay and no_decay(name, p)}
        self.steps = 0
        self.state: dict[str, dict[str, np.ndarray]] = {
            slot: {name: np.zeros_like(param) for name, param, _ in self.params}
            for slot in self.state_names
        }

    def step(self) -> None:
        """Apply one update to every parameter, from the gradients of the last backward."""
        self.steps += 1
        for name, param, grad in self.params:
            self._update(name, param, grad)

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def zero_grad(self) -> None:
        """Set every gradient to zero, in place: before accumulating the gradients of several
        batches with ``model.backward(dout, accumulate=True)`` (a plain ``backward``
        overwrites them, so needs none)."""
        for _, _, grad in self.params:
            grad[...] = 0

    def decay(self, name: str) -> float:
        """The weight decay of the parameter ``name``: 0 for those ``no_decay`` skips."""
        return 0.0 if name in self.skipped else self.weight_decay

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat arrays: ``"steps"``, ``"lr"`` and ``"<slot>.<param name>"`` for each state."""
        state = {"steps": np.array(self.steps), "lr": np.array(self.lr)}
        for slot, values in self.state.items():
            state.update({f"{slot}.{name}": value.copy() for name, value in values.items()})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned; names and shapes must match."""
        expected = self.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        wrong = [k for k in expected if k in state and np.shape(state[k]) != expected[k].shape]
        if missing or unexpected or wrong:
            raise ValueError(
                f"{type(self).__name__} state does not match: missing {missing}, "
                f"unexpected {unexpected}, wrong shape {wrong}"
            )
        self.steps, self.lr = int(state["steps"]), float(state["lr"])
        for slot, values in self.state.items():
            for name, value in values.items():
                value[...] = state[f"{slot}.{name}"]


class SGD(Optimizer):
    """``SGD(params, lr, momentum=0.0, nesterov=False, weight_decay=0.0, no_decay=None)``.

    g = grad + weight_decay * p               (0 for the parameters no_decay skips)
    v = momentum * v + g                       (v starts at 0)
    p -= lr * (g + momentum * v if nesterov else v)
    """

    def __init__(
        self,
        params: Parameters,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        no_decay: DecayRule | None = None,
    ) -> None:
        if nesterov and momentum <= 0:
            raise ValueError("SGD with nesterov=True needs momentum > 0")
        self.state_names = ("momentum_buffer",) if momentum else ()
        super().__init__(params, lr, weight_decay, no_decay)
        self.momentum, self.nesterov = float(momentum), nesterov

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        if decay := self.decay(name):
            grad = grad + decay * param
        if self.momentum:
            velocity = self.state["momentum_buffer"][name]
            velocity *= self.momentum
            velocity += grad
            grad = grad + self.momentum * velocity if self.nesterov else velocity
        param -= self.lr * grad

    def __repr__(self) -> str:
        return (
            f"SGD(lr={self.lr}, momentum={self.momentum}, nesterov={self.nesterov}, "
            f"weight_decay={self.weight_decay})"
        )


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False,
    no_decay=None)``.

    g = grad + weight_decay * p               (L2 penalty; skipped when decoupled)
    p *= 1 - lr * weight_decay                (AdamW's decoupled decay, when decoupled)
                                              (weight_decay 0 for what no_decay skips)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    p -= lr / (1 - b1**t) * m / (sqrt(v / (1 - b2**t)) + eps)
    """

    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(
        self,
        params: Parameters,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
        no_decay: DecayRule | None = None,
    ) -> None:
        super().__init__(params, lr, weight_decay, no_decay)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Adam betas must lie in [0, 1), got {betas}")
        self.betas, self.eps, self.decoupled = (float(betas[0]), float(betas[1])), eps, decoupled
        self._scratch: dict[str, np.ndarray] = {}

    def _update(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        b1, b2 = self.betas
        decay = self.decay(name)
        if decay and self.decoupled:
            param *= 1.0 - self.lr * decay
        elif decay:
            grad = grad + decay * param
        m, v = self.state["exp_avg"][name], self.state["exp_avg_sq"][name]
        scratch = self._scratch.get(name)
        if scratch is None:  # one work array per parameter, kept: no new arrays per step
            scratch = self._scratch[name] = np.empty_like(param)
        m *= b1
        m += np.multiply(grad, 1.0 - b1, out=scratch)
        v *= b2
        np.multiply(grad, grad, out=scratch)
        scratch *= 1.0 - b2
        v += scratch
        correction1 = 1.0 - b1**self.steps
        correction2 = 1.0 - b2**self.steps
        denom = np.sqrt(v, out=scratch)
        denom *= 1.0 / correction2**0.5
        denom += self.eps
        step = np.divide(m, denom, out=scratch)
        step *= self.lr / correction1
        param -= step

    def __repr__(self) -> str:
        return (
            f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps}, "
            f"weight_decay={self.weight_decay}, decoupled={self.decoupled})"
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's default 0.01."""

    def __init__(
        self,
        params: Parameters,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        no_decay: DecayRule | None = None,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, decoupled=True, no_decay=no_decay)


def _adam(params: Parameters, lr: float, weight_decay: float, no_decay: DecayRule) -> Optimizer:
    return Adam(params, lr=lr, weight_decay=weight_decay, no_decay=no_decay)


def _adamw(params: Parameters, lr: float, weight_decay: float, no_decay: DecayRule) -> Optimizer:
    return AdamW(params, lr=lr, weight_decay=weight_decay, no_decay=no_decay)


def _sgd(params: Parameters, lr: float, weight_decay: float, no_decay: DecayRule) -> Optimizer:
    return SGD(
        params, lr, momentum=0.9, nesterov=True, weight_decay=weight_decay, no_decay=no_decay
    )


# The optimizers a training run is given by name (``nanocnn train --optimizer NAME``, a
# preset's recipe): each builds one from the model's parameters, the learning rate, the weight
# decay and the rule of what it skips. The command line's choices are this dict's keys; an
# optimizer of your own is one more entry.
OptimizerFactory = Callable[[Parameters, float, float, DecayRule], Optimizer]
OPTIMIZERS: dict[str, OptimizerFactory] = {"adam": _adam, "adamw": _adamw, "sgd": _sgd}
