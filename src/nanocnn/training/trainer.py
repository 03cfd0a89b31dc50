"""The training loop: shuffled mini-batches, validation, callbacks, checkpoints and resume.

    trainer = Trainer(model, SoftmaxCrossEntropy(), Adam(model.parameters()), seed=0)
    history = trainer.fit(x, y, epochs=5, validation_split=0.1)

Data rules (the same for ``Sequential.predict``, see ``nanocnn.model.as_input``): ``x`` must
hold floating-point values (NCHW images, or (N, features)); it is converted to the model's
dtype (float32) in one explicit copy if needed. Integer images (uint8) are refused: scale them
first (``x.astype(np.float32) / 255``). NaN or inf in ``x`` or ``y`` is refused; shapes are
checked by the first layer. Classification labels ``y`` are integers (N,); regression targets
are numbers (N,) or (N, outputs), converted to the model's dtype.

A loss that becomes NaN or infinite, or weights that do, stop training with a
``NonFiniteLossError`` naming the epoch and batch (and the learning rate, the usual cause),
before anything non-finite reaches a checkpoint.

Everything random (shuffling, augmentation, the validation split) comes from generators
seeded by ``seed``; with the same seed on the same machine two runs give bit-identical
weights, and a run resumed from a checkpoint ends exactly where an uninterrupted one does.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nanocnn import metrics
from nanocnn.errors import ModelFileError, NonFiniteLossError
from nanocnn.losses import Loss, SoftmaxCrossEntropy
from nanocnn.model import Sequential, as_input
from nanocnn.optim import Optimizer
from nanocnn.serialization import load_arrays, save_arrays
from nanocnn.training.callbacks import Callback
from nanocnn.training.history import History
from nanocnn.training.progress import Progress, Style

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
CHECKPOINT_FORMAT = "nanocnn-checkpoint"


class Trainer:
    """Trains ``model`` on ``loss_fn`` with ``optimizer``; see the module docstring."""

    def __init__(
        self,
        model: Sequential,
        loss_fn: Loss,
        optimizer: Optimizer,
        *,
        batch_size: int = 64,
        callbacks: Iterable[Callback] = (),
        seed: int = 0,
        augment: Augment | None = None,
        progress: Style = "auto",
        target_scale: float = 1.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.batch_size, self.seed, self.augment = batch_size, seed, augment
        self.callbacks = list(callbacks)
        self.progress = progress
        self.target_scale = target_scale
        self.rng = np.random.default_rng(seed)
        self.epoch = 0  # epochs completed
        self.step = 0  # batches completed
        self.total_steps = 0
        self.history = History()
        self.stop_training = False

    @property
    def classification(self) -> bool:
        return isinstance(self.loss_fn, SoftmaxCrossEntropy)

    @property
    def metric(self) -> str:
        """The figure logged beside the loss: accuracy, or MAE for regression."""
        return "accuracy" if self.classification else "mae"

    def say(self, message: str) -> None:
        """Print a line unless progress output is off."""
        if self.progress != "off":
            print(message, flush=True)

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        epochs: int,
        *,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None,
        validation_split: float = 0.0,
    ) -> History:
        """Train until ``epochs`` epochs are complete (counting those already done, so a
        resumed trainer carries on) or a callback stops it. Returns the history."""
        x, y = self.check_data(x, y)
        samples = np.arange(len(x))  # those trained on; batches are drawn from x, not copies
        if validation_data is None and validation_split:
            samples, held = split_indices(len(x), validation_split, self.seed)
            validation_data = x[held], y[held]
        elif validation_data is not None:
            validation_data = self.check_data(*validation_data)
        steps_per_epoch = math.ceil(len(samples) / self.batch_size)
        self.total_steps = epochs * steps_per_epoch
        self.stop_training = False
        for callback in self.callbacks:
            callback.on_train_begin(self)
        # NumPy's overflow warnings would only repeat what the non-finite checks report.
        with np.errstate(over="ignore", invalid="ignore"):
            while self.epoch < epochs and not self.stop_training:
                self._epoch(x, y, samples, epochs, validation_data)
        for callback in self.callbacks:
            callback.on_train_end(self)
        return self.history

    def _epoch(
        self,
        x: np.ndarray,
        y: np.ndarray,
        samples: np.ndarray,
        epochs: int,
        validation_data: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        """One epoch on ``x[samples]``: train, validate, log, and run the callbacks."""
        for callback in self.callbacks:
            callback.on_epoch_begin(self)
        bar = Progress(self.epoch + 1, epochs, len(samples), self.progress)
        logs = self._train_epoch(x, y, samples, bar)
        if validation_data is not None:
            try:
                scores = self.evaluate(*validation_data)
            except NonFiniteLossError as error:
                raise self._diverged("in validation", error, bar) from error
            logs.update({f"val_{k}": v for k, v in scores.items()})
        self.epoch += 1
        logs = {"epoch": self.epoch, **logs}
        self.history.append(logs)
        bar.close(logs)
        for callback in self.callbacks:
            callback.on_epoch_end(self, logs)

    def _train_epoch(
        self, x: np.ndarray, y: np.ndarray, samples: np.ndarray, bar: Progress
    ) -> dict[str, float]:
        start = time.perf_counter()
        order = samples[self.rng.permutation(len(samples))]
        total_loss = total_metric = 0.0
        for batch, begin in enumerate(range(0, len(order), self.batch_size), start=1):
            for callback in self.callbacks:
                callback.on_batch_begin(self)
            index = order[begin : begin + self.batch_size]
            xb, yb = x[index], y[index]
            if self.augment is not None:
                xb = self.augment(xb, self.rng)
            pred = self.model.fast_forward(xb, training=True)
            try:
                loss = self.loss_fn.forward(pred, yb)
            except NonFiniteLossError as error:
                raise self._diverged(f"batch {batch}", error, bar) from error
            self.model.fast_backward(self.loss_fn.backward(), input_grad=False)  # dx unused
            self.optimizer.step()
            self.step += 1
            total_loss += loss * len(index)
            total_metric += self._metric_sum(pred, yb)
            bar.update(len(index), loss)
        bad = [name for name, param, _ in self.model.parameters() if not np.isfinite(param).all()]
        if bad:  # the last update overflowed: stop before a checkpoint saves it
            cause = f"weights {bad} became NaN or infinite: try a lower learning rate"
            raise self._diverged(f"batch {batch}", cause, bar)
        return {
            "loss": total_loss / len(order),
            self.metric: total_metric / len(order),
            "lr": self.optimizer.lr,
            "seconds": time.perf_counter() - start,
        }

    def _diverged(self, where: str, cause: object, bar: Progress) -> NonFiniteLossError:
        """The error that stops a diverged run, saying where, at what learning rate and why."""
        bar.abort()
        return NonFiniteLossError(
            f"training stopped at epoch {self.epoch + 1}, {where} "
            f"(learning rate {self.optimizer.lr:.2e}): {cause}"
        )

    def _metric_sum(self, pred: np.ndarray, y: np.ndarray) -> float:
        """Correct predictions (classification), or the summed absolute error (regression) in
        the targets' original units: targets standardised as (t - mean) / std are trained
        with ``target_scale=std``."""
        if self.classification:
            return float(np.sum(pred.argmax(axis=1) == y))
        error = np.abs(pred.reshape(len(y), -1) - y.reshape(len(y), -1)).mean(axis=1)
        return float(np.sum(error)) * self.target_scale

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> dict[str, float]:
        """Mean loss and accuracy over ``x`` in inference mode; for regression MAE, RMSE and
        R² instead of accuracy, MAE and RMSE in the targets' original units."""
        total_loss = total_metric = 0.0
        predictions = []
        for begin in range(0, len(x), batch_size):
            xb, yb = x[begin : begin + batch_size], y[begin : begin + batch_size]
            pred = self.model.forward(xb, training=False)
            total_loss += self.loss_fn.forward(pred, yb) * len(xb)
            total_metric += self._metric_sum(pred, yb)
            if not self.classification:
                predictions.append(pred.reshape(len(yb), -1))
        figures = {"loss": total_loss / len(x), self.metric: total_metric / len(x)}
        if not self.classification:
            pred, target = np.concatenate(predictions).ravel(), y.ravel()
            figures["rmse"] = metrics.rmse(target, pred) * self.target_scale
            figures["r2"] = metrics.r2_score(target, pred)
        return figures

    def check_data(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Apply the data rules of the module docstring; returns (x, y) ready to train on."""
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(
                f"x and y must hold the same, non-zero number of samples: got {len(x)} and {len(y)}"
            )
        x = as_input(x, self.model.dtype)
        if self.classification and not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"classification labels y must be integers, got dtype {y.dtype}")
        if not self.classification:
            if not np.issubdtype(y.dtype, np.number) or not np.all(np.isfinite(y)):
                raise ValueError("regression targets y must be finite numbers")
            y = y.astype(self.model.dtype, copy=False)
        return x, y

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """(arrays, JSON header) describing the whole training state."""
        arrays = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        arrays.update({f"optimizer.{k}": v for k, v in self.optimizer.state_dict().items()})
        callback_states = []
        for index, callback in enumerate(self.callbacks):
            plain = {}
            for key, value in callback.state_dict().items():
                if isinstance(value, np.ndarray):
                    arrays[f"callbacks.{index}.{key}"] = value
                else:
                    plain[key] = value
            callback_states.append(plain)
        header = {
            "format": CHECKPOINT_FORMAT,
            "version": 1,
            "epoch": self.epoch,
            "step": self.step,
            "rng": self.rng.bit_generator.state,
            "layer_rngs": {
                str(i): layer.rng.bit_generator.state
                for i, layer in enumerate(self.model)
                if isinstance(getattr(layer, "rng", None), np.random.Generator)
            },
            "history": self.history.rows,
            "callbacks": callback_states,
            "layers": self.model.config(),
            "metadata": self.model.metadata,
        }
        return arrays, header

    def save_checkpoint(self, path: str | os.PathLike) -> Path:
        """Write the training state to ``path`` atomically (old file intact on a crash)."""
        arrays, header = self.state_dict()
        return save_arrays(path, arrays, header)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore a state saved by :meth:`save_checkpoint` into this trainer, whose model,
        optimizer and callbacks must be built the same way."""
        arrays, header = load_arrays(path)
        if header.get("format") != CHECKPOINT_FORMAT:
            raise ModelFileError(f"{path}: not a nanocnn training checkpoint")
        if header.get("layers") != self.model.config():
            raise ModelFileError(f"{path}: the checkpoint is of a different architecture")
        try:
            self.model.load_state_dict(_prefixed(arrays, "model."))
            self.optimizer.load_state_dict(_prefixed(arrays, "optimizer."))
            for index, callback in enumerate(self.callbacks):
                state = dict(header["callbacks"][index])
                state.update(_prefixed(arrays, f"callbacks.{index}."))
                callback.load_state_dict(state)
            self.epoch, self.step = int(header["epoch"]), int(header["step"])
            self.rng.bit_generator.state = header["rng"]
            for index, state in header["layer_rngs"].items():
                self.model[int(index)].rng.bit_generator.state = state
            self.history = History(list(header["history"]))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
            raise ModelFileError(
                f"{path}: the checkpoint is damaged or does not fit this run ({error!r})"
            ) from error


def _prefixed(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


def split(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Hold out ``fraction`` of the samples, chosen by ``seed``: ((x, y), (x_val, y_val))."""
    kept, held = split_indices(len(x), fraction, seed)
    return (x[kept], y[kept]), (x[held], y[held])


def split_indices(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted indices (kept, held out) of :func:`split`: ``fraction`` of ``count``
    samples (at least one) held out, chosen by ``seed``."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be between 0 and 1, got {fraction}")
    order = np.random.default_rng([seed, 1]).permutation(count)
    held_count = max(1, round(count * fraction))
    return np.sort(order[held_count:]), np.sort(order[:held_count])


def fit(
    model: Sequential,
    loss_fn: Loss,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int = 64,
    *,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    validation_split: float = 0.0,
    callbacks: Sequence[Callback] = (),
    seed: int = 0,
    augment: Augment | None = None,
    progress: Style = "auto",
    target_scale: float = 1.0,
) -> History:
    """Train ``model`` in one call; see :class:`Trainer` for the details."""
    trainer = Trainer(
        model,
        loss_fn,
        optimizer,
        batch_size=batch_size,
        callbacks=callbacks,
        seed=seed,
        augment=augment,
        progress=progress,
        target_scale=target_scale,
    )
    return trainer.fit(
        x, y, epochs, validation_data=validation_data, validation_split=validation_split
    )
