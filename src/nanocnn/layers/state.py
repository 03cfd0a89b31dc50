"""A model's arrays by dotted name: loading a state dict with its checks, and detached copies.

A state dict maps dotted names (``"3.body.0.weight"``) to arrays, as PyTorch's does. Loading
one checks every name and shape first and copies nothing unless all fit (``strict``), or loads
what fits by name and says what was missing and unexpected (``strict=False``, for
fine-tuning a model whose head differs), as ``torch.nn.Module.load_state_dict`` does.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import numpy as np

if TYPE_CHECKING:
    from nanocnn.layers.container import Container

ContainerT = TypeVar("ContainerT", bound="Container")


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` left out: the model's names the state dict lacks, and the
    state dict's names the model lacks (PyTorch's ``_IncompatibleKeys``)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def load_state(
    own: dict[str, np.ndarray], state: dict[str, np.ndarray], strict: bool = True
) -> IncompatibleKeys:
    """Copy ``state`` into the arrays ``own`` (a model's, by dotted name) in place.

    Every name both hold must have the same shape, else ValueError and nothing is copied.
    With ``strict``, the names must match too (ValueError listing every problem); without,
    the names both hold are copied and the others returned. PyTorch's BatchNorm counts its
    training batches in ``num_batches_tracked`` (an integer scalar); nanocnn's has no use for
    the count, so that entry is accepted and ignored.
    """
    missing = [name for name in own if name not in state]
    unexpected = [
        name for name in state if name not in own and not _batch_count(name, state[name], own)
    ]
    problems = [
        f"{name!r} has shape {np.shape(state[name])}, the model needs {value.shape}"
        for name, value in own.items()
        if name in state and np.shape(state[name]) != value.shape
    ]
    if strict:
        problems = [
            *(f"missing {name!r} {own[name].shape}" for name in missing),
            *(f"unexpected {name!r}" for name in unexpected),
            *problems,
        ]
    if problems:
        raise ValueError("state dict does not fit the model: " + "; ".join(problems))
    for name, value in own.items():
        if name in state:
            value[...] = state[name]
    return IncompatibleKeys(missing, unexpected)


def _batch_count(name: str, value: Any, own: dict[str, np.ndarray]) -> bool:
    """Whether ``name`` is PyTorch's integer ``<i>.num_batches_tracked`` of a BatchNorm."""
    layer, _, key = name.rpartition(".")
    return (
        key == "num_batches_tracked"
        and f"{layer}.running_mean" in own
        and np.ndim(value) == 0
        and np.issubdtype(np.asarray(value).dtype, np.integer)
    )


def detached(model: ContainerT) -> ContainerT:
    """A copy of ``model`` that shares its parameters and buffers but has its own gradients,
    caches and random generators: running it in inference changes nothing of ``model``. The
    layers' ``transient`` attributes (what the last pass kept for backward, scratch buffers:
    megabytes after a training step; a BatchNorm's link to the other ranks of a data-parallel
    run, which cannot be copied) are not copied; the copy starts without."""
    memo: dict[int, Any] = {id(value): value for _, value in model.named_arrays()}
    for layer in model.modules():
        for name in layer.transient:
            memo[id(getattr(layer, name, None))] = None
    return copy.deepcopy(model, memo=memo)
