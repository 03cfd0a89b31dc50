"""The whole state of a training run, as a checkpoint holds it: what ``--resume`` needs to end
exactly where an uninterrupted run does.

The arrays are the model's parameters and buffers (``model.<name>``), the optimizer's moments
(``optimizer.<name>``) and any array a callback keeps (``callbacks.<i>.<name>``); the JSON
state holds the epoch and step, every random generator (the trainer's and each random
layer's), the history, the callbacks' plain state, the architecture and the metadata. The
file format is :mod:`nanocnn.io.model_file`'s; :class:`StateCheckpoint` writes it after every
epoch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nanocnn.errors import ModelFileError
from nanocnn.interrupts import held_back
from nanocnn.io import save_checkpoint
from nanocnn.training.callbacks import Callback
from nanocnn.training.history import History

if TYPE_CHECKING:
    from nanocnn.training.trainer import Trainer


def training_state(trainer: Trainer) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, JSON-able state) describing ``trainer``'s whole training state."""
    arrays = {f"model.{k}": v for k, v in trainer.model.state_dict().items()}
    arrays.update({f"optimizer.{k}": v for k, v in trainer.optimizer.state_dict().items()})
    callback_states = []
    for index, callback in enumerate(trainer.callbacks):
        plain = {}
        for key, value in callback.state_dict().items():
            if isinstance(value, np.ndarray):
                arrays[f"callbacks.{index}.{key}"] = value
            else:
                plain[key] = value
        callback_states.append(plain)
    state = {
        "epoch": trainer.epoch,
        "step": trainer.step,
        "rng": trainer.rng.bit_generator.state,
        "layer_rngs": [layer.rng.bit_generator.state for layer in trainer.random_layers()],
        "history": trainer.history.rows,
        "callbacks": callback_states,
        "layers": trainer.model.config(),
        "metadata": trainer.model.metadata,
    }
    return arrays, state


def restore_training_state(
    trainer: Trainer, arrays: dict[str, np.ndarray], state: dict[str, Any], source: object
) -> None:
    """Put a state read from a checkpoint back into ``trainer``, whose model, optimizer and
    callbacks are built as the saved run's were; ``ModelFileError`` naming ``source`` if not."""
    if state.get("layers") != trainer.model.config():
        raise ModelFileError(f"{source}: the checkpoint is of a different architecture")
    try:
        trainer.model.load_state_dict(_prefixed(arrays, "model."))
        trainer.optimizer.load_state_dict(_prefixed(arrays, "optimizer."))
        for index, callback in enumerate(trainer.callbacks):
            callback_state = dict(state["callbacks"][index])
            callback_state.update(_prefixed(arrays, f"callbacks.{index}."))
            callback.load_state_dict(callback_state)
        trainer.epoch, trainer.step = int(state["epoch"]), int(state["step"])
        trainer.rng.bit_generator.state = state["rng"]
        layers = trainer.random_layers()
        if len(state["layer_rngs"]) != len(layers):
            raise ValueError("the checkpoint has another number of random layers")
        for layer, rng_state in zip(layers, state["layer_rngs"], strict=True):
            layer.rng.bit_generator.state = rng_state
        trainer.history = History(list(state["history"]))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as error:
        raise ModelFileError(
            f"{source}: the checkpoint is damaged or does not fit this run ({error!r})"
        ) from error


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


class StateCheckpoint(Callback):
    """``StateCheckpoint(path)``: the whole training state written to ``path`` at the end of
    every epoch, after every other callback (so their state after the epoch is in it),
    atomically (a crash leaves the previous epoch's checkpoint whole), by rank 0 alone in
    data-parallel training. ``trainer.saved_epoch`` says which epoch the file holds."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        self.save(trainer)

    def save(self, trainer: Trainer) -> Path:
        """Write ``trainer``'s state now (rank 0; the others note the epoch); the path."""
        with held_back():  # an interrupt comes after both: the file and the epoch noted agree
            if trainer.workers.is_root:
                save_checkpoint(self.path, *training_state(trainer))
            trainer.saved_epoch = trainer.epoch
        return self.path
