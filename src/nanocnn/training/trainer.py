"""The training loop: shuffled mini-batches, validation, callbacks, checkpoints and resume.

    trainer = Trainer(model, SoftmaxCrossEntropy(), Adam(model.parameters()), seed=0)
    history = trainer.fit(x, y, epochs=5, validation_split=0.1)

``x`` follows ``Sequential.predict``'s rules (:func:`nanocnn.layers.inputs.as_input`), or
``inputs`` converts each drawn batch of stored samples (uint8 pictures stay small in memory);
``y`` the loss's (``Loss.check_target``). ``augment`` changes the training batches at random.
Beside the loss is logged ``metric`` (:mod:`.metrics`; a task gives its own), by default
accuracy for classifiers, the MAE otherwise.

Everything random (shuffling, augmentation, the validation split, random layers) comes from
generators seeded by ``seed``: the same seed on the same machine gives bit-identical weights,
and a run resumed from a checkpoint ends exactly where an uninterrupted one does.

The trainer's parts are callbacks run around the user's ``callbacks``: the progress display
(``progress``: :class:`ProgressLogger`), the watch that stops a run whose loss or weights
become NaN or infinite, naming the epoch, batch and learning rate, before a checkpoint saves
them (:class:`StopOnNonFinite`), and with ``checkpoint=path`` the whole training state saved
there after every epoch (:class:`StateCheckpoint`; ``load_checkpoint`` restores it). The last
batch of an epoch is dropped when it holds one sample (``drop_last=None``): BatchNorm cannot
normalise one sample; ``drop_last=True`` drops any incomplete last batch, ``False`` none.

One process or many, the loop is the same: ``workers`` (:class:`nanocnn.parallel.Workers`, by
default this process alone) are the ranks of the run, each running its share of every global
batch: the 1-process run up to float summation order (:mod:`nanocnn.parallel.data_parallel`);
rank 0 alone prints and writes; ``check_weights=N`` compares the ranks' weights every N steps.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

import numpy as np

from nanocnn.augment import Augment
from nanocnn.errors import NonFiniteLossError
from nanocnn.inputs import Inputs
from nanocnn.io import read_checkpoint
from nanocnn.layers import Sequential
from nanocnn.layers.base import as_int
from nanocnn.layers.inputs import as_input
from nanocnn.losses import Loss
from nanocnn.optim import Optimizer
from nanocnn.parallel import DataParallel, ShardedDraws, Workers
from nanocnn.progress import Style
from nanocnn.training.callbacks import Callback, StopOnNonFinite
from nanocnn.training.checkpoint import StateCheckpoint, restore_training_state
from nanocnn.training.evaluation import evaluate
from nanocnn.training.history import History
from nanocnn.training.metrics import Metric, default_metric
from nanocnn.training.progress_logger import ProgressLogger
from nanocnn.training.split import split_indices

Pair = tuple[np.ndarray, np.ndarray]


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
        inputs: Inputs | None = None,
        metric: Metric | None = None,
        progress: Style = "auto",
        checkpoint: str | os.PathLike | None = None,
        drop_last: bool | None = None,
        workers: Workers | None = None,
        check_weights: int = 0,
    ) -> None:
        self.workers = Workers() if workers is None else workers
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if batch_size < self.workers.size:
            raise ValueError(
                f"batch_size {batch_size} is smaller than the {self.workers.size} workers"
            )
        seed = as_int(seed, "seed", minimum=0)
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.batch_size, self.seed, self.augment, self.inputs = batch_size, seed, augment, inputs
        self.metric = default_metric(loss_fn) if metric is None else metric
        self.callbacks = list(callbacks)
        self.progress = progress if self.workers.is_root else "off"
        self.display, self.watch = ProgressLogger(self.progress), StopOnNonFinite()
        self.checkpoint = None if checkpoint is None else StateCheckpoint(checkpoint)
        self.saved_epoch: int | None = None  # the epoch the checkpoint file holds
        self.drop_last, self.check_weights = drop_last, check_weights
        self.rng = np.random.default_rng(seed)
        for index, layer in enumerate(self.random_layers()):
            layer.rng = np.random.default_rng([seed, 2, index])
        self.parallel = DataParallel(self.workers, model, optimizer, self.rng, self.random_layers())
        self.epoch = 0  # epochs completed
        self.step = 0  # batches completed
        self.epochs = self.epoch_samples = self.epoch_batches = self.total_steps = 0
        self.history = History()
        self.stop_training = False

    def random_layers(self) -> list[Any]:
        """The model's layers that draw random numbers (those with an ``rng`` generator)."""
        return [
            layer
            for layer in self.model.modules()
            if isinstance(getattr(layer, "rng", None), (np.random.Generator, ShardedDraws))
        ]

    def say(self, message: str) -> None:
        """Print a line unless progress output is off (always off beside rank 0)."""
        if self.progress != "off":
            self.workers.say(message)

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        epochs: int,
        *,
        validation_data: Pair | None = None,
        validation_split: float = 0.0,
    ) -> History:
        """Train until ``epochs`` epochs are complete (counting those already done, so a
        resumed trainer carries on) or a callback stops it. Returns the history.

        Validation uses ``validation_data`` if given, else holds out ``validation_split`` of
        the samples (chosen by ``seed``, the same on every run and resume), else none."""
        x, y = self.check_data(x, y)
        samples = np.arange(len(x))  # those trained on; batches are drawn from x, not copies
        if validation_data is not None:
            validation_data = self.check_data(*validation_data)
        elif validation_split:
            samples, held = split_indices(len(x), validation_split, self.seed)
            validation_data = x[held], y[held]
        for callback in self.callbacks:
            if callback.needs_validation and validation_data is None:
                raise ValueError(
                    f"{type(callback).__name__} monitors a validation figure: pass "
                    f"validation_data or validation_split"
                )
        if len(samples) == 0:
            raise ValueError(
                f"validation_split={validation_split} of {len(x)} samples leaves none to train on"
            )
        self.epochs, self.epoch_samples = epochs, len(samples)
        self.epoch_batches = len(self._batch_starts(len(samples)))
        self.total_steps = epochs * self.epoch_batches
        self.stop_training = False
        self._hook("on_train_begin")
        try:
            # NumPy's overflow warnings would only repeat what the non-finite checks report.
            with np.errstate(over="ignore", invalid="ignore"):
                while self.epoch < epochs and not self.stop_training:
                    self._epoch(x, y, samples, validation_data)
        except BaseException as error:
            self._hook("on_train_error", error)
            raise
        self._hook("on_train_end")
        return self.history

    @property
    def parts(self) -> list[Callback]:
        """The callbacks a hook calls, in order: the progress display and the watch for
        non-finite weights, the user's ``callbacks``, then the training checkpoint."""
        saving = [] if self.checkpoint is None else [self.checkpoint]
        return [self.display, self.watch, *self.callbacks, *saving]

    def _hook(self, name: str, *args: Any) -> None:
        """Call hook ``name`` of every part, in order."""
        for part in self.parts:
            getattr(part, name)(self, *args)

    def _epoch(
        self, x: np.ndarray, y: np.ndarray, samples: np.ndarray, validation: Pair | None
    ) -> None:
        """One epoch on ``x[samples]``: train, validate, log, run the callbacks."""
        self._hook("on_epoch_begin")
        start = time.perf_counter()
        order = samples[self.rng.permutation(len(samples))]
        total_loss = total_metric = 0.0
        seen = 0
        for batch, begin in enumerate(self._batch_starts(len(order)), start=1):
            self._hook("on_batch_begin")
            index = order[begin : begin + self.batch_size]
            mine = self.parallel.my_rows(index)
            try:
                loss, metric = self.train_step(x[mine], y[mine], len(index))
                self._hook("on_batch_end", {"batch": batch, "size": len(index), "loss": loss})
            except NonFiniteLossError as error:
                raise self._diverged(f"batch {batch}", error) from error
            total_loss += loss * len(index)
            total_metric += metric
            seen += len(index)
            if self.stop_training:  # a callback ends the epoch here (a time budget spent)
                break
        logs = {
            "loss": total_loss / seen,
            self.metric.name: total_metric / seen,
            "lr": self.optimizer.lr,
            "seconds": time.perf_counter() - start,
        }
        if validation is not None:
            try:
                scores = self.evaluate(*validation)
            except NonFiniteLossError as error:
                raise self._diverged("in validation", error) from error
            logs.update({f"val_{k}": v for k, v in scores.items()})
        self.epoch += 1
        logs = {"epoch": self.epoch, **logs}
        self.history.append(logs)
        self._hook("on_epoch_end", logs)

    def train_step(
        self, xb: np.ndarray, yb: np.ndarray, batch: int | None = None
    ) -> tuple[float, float]:
        """One optimizer step on this rank's samples ``xb``, ``yb`` (stored form: ``inputs``
        and ``augment`` apply) of a global batch of ``batch`` samples (all of them: None).
        Returns the global batch's mean loss and its metric's sum."""
        batch = len(xb) if batch is None else batch
        xb = self._input(xb)
        if self.augment is not None:
            # ShardedDraws makes every draw augmentation makes, as a Generator does
            xb = self.augment(xb, cast(np.random.Generator, self.parallel.draws))
        pred = self.model.fast_forward(xb, training=True)
        loss = self.loss_fn.forward(pred, yb)
        # the gradient of the global batch's mean loss: this rank's share of it
        self.model.fast_backward(self.loss_fn.backward() * (len(xb) / batch), input_grad=False)
        loss_sum, metric = self.parallel.sum_step(loss * len(xb), self.metric(pred, yb))
        self.optimizer.step()
        self.step += 1
        if self.check_weights and self.step % self.check_weights == 0:
            self.workers.check_same_weights(self.model, self.step)
        return loss_sum / batch, metric

    def _batch_starts(self, count: int) -> range:
        """Where each batch of an epoch of ``count`` samples begins (see ``drop_last``)."""
        last = count % self.batch_size
        drop = last == 1 if self.drop_last is None else bool(self.drop_last and last)
        drop = drop or 0 < last < self.workers.size
        end = count - last if drop and count > last else count
        return range(0, end, self.batch_size)

    def _diverged(self, where: str, cause: object) -> NonFiniteLossError:
        """The error that stops a diverged run, saying where, at what learning rate and why."""
        return NonFiniteLossError(
            f"training stopped at epoch {self.epoch + 1}, {where} "
            f"(learning rate {self.optimizer.lr:.2e}): {cause}"
        )

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> dict[str, float]:
        """Mean loss and metric over ``x`` in inference mode (see :func:`.evaluation.evaluate`:
        each rank its share, the sums added up), with the metric's report."""
        return evaluate(self.model, self.loss_fn, self.metric, x, y,
                        self._input, self.workers, batch_size)  # fmt: skip

    def _input(self, samples: np.ndarray) -> np.ndarray:
        """The model's input for a batch of stored samples (see ``inputs``)."""
        if self.inputs is None:
            return samples
        return as_input(self.inputs(samples), self.model.dtype)

    def check_data(self, x: np.ndarray, y: np.ndarray) -> Pair:
        """Apply the data rules of the module docstring; returns (x, y) ready to train on.
        With ``inputs``, the stored samples stay as they are; one is converted as a check."""
        x, y = np.asarray(x), np.asarray(y)
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(
                f"x and y must hold the same, non-zero number of samples: got {len(x)} and {len(y)}"
            )
        if self.inputs is None:
            x = as_input(x, self.model.dtype)
        else:
            self._input(x[:1])
        return x, self.loss_fn.check_target(y, self.model.dtype)

    def save_checkpoint(self, path: str | os.PathLike) -> Path:
        """Write the training state to ``path`` now, atomically (old file intact on a crash)."""
        return StateCheckpoint(path).save(self)

    def load_checkpoint(self, path: str | os.PathLike) -> None:
        """Restore a state saved by :meth:`save_checkpoint` into this trainer, whose model,
        optimizer and callbacks must be built the same way."""
        self.load_state(*read_checkpoint(path), source=path)

    def load_state(
        self, arrays: dict[str, np.ndarray], state: dict[str, Any], source: object = "checkpoint"
    ) -> None:
        """Restore the training state read from a checkpoint (``source`` names it in errors)."""
        restore_training_state(self, arrays, state, source)
        self.saved_epoch = self.epoch
