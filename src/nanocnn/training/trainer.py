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

Stored samples need not be the model's input: ``inputs`` converts each drawn batch (e.g.
uint8 images to normalised floats), so a large data set stays small in memory; ``augment``
then changes the training batches at random.

Everything random (shuffling, augmentation, the validation split, every random layer such as
``Dropout``) comes from generators seeded by ``seed``; with the same seed on the same machine
two runs give bit-identical weights, and a run resumed from a checkpoint ends exactly where an
uninterrupted one does.

With ``checkpoint=path`` the trainer saves its whole state there at the end of every epoch,
after the callbacks (so their state after the epoch is in it), atomically: a crash leaves the
previous epoch's checkpoint whole. ``load_checkpoint`` restores it to resume.

The last batch of an epoch is dropped when it holds a single sample (``drop_last=None``, the
default): BatchNorm cannot normalise one sample, and one sample's step is mostly noise.
``drop_last=True`` drops any incomplete last batch, ``False`` none.

With ``workers`` (:class:`nanocnn.training.distributed.Workers`, the ranks of an ``mpiexec``
job) the trainer trains data-parallel: each rank runs its share of every global batch of
``batch_size``, the gradients are summed by one reduction per step, and random draws and
BatchNorm statistics are those of the global batch, so the run is the 1-process run up to
float summation order (see that module). Rank 0 alone prints and writes the checkpoint; an
incomplete last batch with fewer samples than ranks is dropped. ``check_weights=N`` compares
the ranks' weights by checksum every N steps (a debugging aid).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from nanocnn import metrics
from nanocnn.errors import NonFiniteLossError
from nanocnn.losses import BCEWithLogitsLoss, Loss, SoftmaxCrossEntropy
from nanocnn.model import Sequential, as_input
from nanocnn.optim import Optimizer
from nanocnn.persistence import read_checkpoint, save_checkpoint
from nanocnn.training.callbacks import Callback
from nanocnn.training.checkpoint import restore_training_state, training_state
from nanocnn.training.distributed import DataParallel, ShardedDraws, Workers
from nanocnn.training.history import History
from nanocnn.training.progress import Progress, Style

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
Inputs = Callable[[np.ndarray], np.ndarray]


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
        progress: Style = "auto",
        target_scale: float = 1.0,
        checkpoint: str | os.PathLike | None = None,
        drop_last: bool | None = None,
        workers: Workers | None = None,
        check_weights: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if workers is not None and batch_size < workers.size:
            raise ValueError(f"batch_size {batch_size} is smaller than the {workers.size} workers")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.batch_size, self.seed, self.augment = batch_size, seed, augment
        self.inputs = inputs
        self.callbacks = list(callbacks)
        self.progress = progress
        self.target_scale = target_scale
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.saved_epoch: int | None = None  # the epoch the checkpoint file holds
        self.drop_last = drop_last
        self.rng = np.random.default_rng(seed)
        for index, layer in enumerate(self.random_layers()):
            layer.rng = np.random.default_rng([seed, 2, index])
        self.workers, self.check_weights = workers, check_weights
        self.parallel: DataParallel | None = None
        self.draws: np.random.Generator | ShardedDraws = self.rng  # what augmentation draws from
        if workers is not None:
            self.parallel = DataParallel(workers, model, optimizer, self.rng, self.random_layers())
            self.draws = self.parallel.draws
            if not workers.is_root:
                self.progress = "off"
        self.epoch = 0  # epochs completed
        self.step = 0  # batches completed
        self.total_steps = 0
        self.history = History()
        self.stop_training = False

    @property
    def classification(self) -> bool:
        """Whether the model classifies (class labels, or 0/1 with ``BCEWithLogitsLoss``)."""
        return isinstance(self.loss_fn, (SoftmaxCrossEntropy, BCEWithLogitsLoss))

    @property
    def metric(self) -> str:
        """The figure logged beside the loss: accuracy, or MAE for regression."""
        return "accuracy" if self.classification else "mae"

    @property
    def writes_files(self) -> bool:
        """Whether this process writes the run's files: a single process, or rank 0."""
        return self.workers is None or self.workers.is_root

    def random_layers(self) -> list[Any]:
        """The model's layers that draw random numbers (those with an ``rng`` generator)."""
        return [
            layer
            for layer in self.model.modules()
            if isinstance(getattr(layer, "rng", None), (np.random.Generator, ShardedDraws))
        ]

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
        self.total_steps = epochs * len(self._batch_starts(len(samples)))
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
        """One epoch on ``x[samples]``: train, validate, log, run the callbacks, save the
        checkpoint."""
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
        if self.checkpoint is not None and self.writes_files:
            self.save_checkpoint(self.checkpoint)
        elif self.checkpoint is not None:
            self.saved_epoch = self.epoch  # rank 0 saved it

    def _batch_starts(self, count: int) -> range:
        """Where each batch of an epoch of ``count`` samples begins (see ``drop_last``)."""
        last = count % self.batch_size
        drop = last == 1 if self.drop_last is None else bool(self.drop_last and last)
        drop = drop or (self.workers is not None and 0 < last < self.workers.size)
        end = count - last if drop and count > last else count
        return range(0, end, self.batch_size)

    def _train_epoch(
        self, x: np.ndarray, y: np.ndarray, samples: np.ndarray, bar: Progress
    ) -> dict[str, float]:
        start = time.perf_counter()
        order = samples[self.rng.permutation(len(samples))]
        total_loss = total_metric = 0.0
        seen = 0
        for batch, begin in enumerate(self._batch_starts(len(order)), start=1):
            for callback in self.callbacks:
                callback.on_batch_begin(self)
            index = order[begin : begin + self.batch_size]
            mine = index if self.parallel is None else self.parallel.my_rows(index)
            xb, yb = self._input(x[mine]), y[mine]
            if self.augment is not None:
                # ShardedDraws makes every draw augmentation makes, as a Generator does
                xb = self.augment(xb, cast(np.random.Generator, self.draws))
            pred = self.model.fast_forward(xb, training=True)
            try:
                loss = self.loss_fn.forward(pred, yb)
            except NonFiniteLossError as error:
                raise self._diverged(f"batch {batch}", error, bar) from error
            dpred = self.loss_fn.backward()
            if self.parallel is None:
                self.model.fast_backward(dpred, input_grad=False)  # dx unused
                metric = self._metric_sum(pred, yb)
            else:  # the gradient of the global batch's mean loss, summed over the ranks
                self.model.fast_backward(dpred * (len(mine) / len(index)), input_grad=False)
                loss, metric = self.parallel.sum_step(loss * len(mine), self._metric_sum(pred, yb))
                loss /= len(index)
            self.optimizer.step()
            self.step += 1
            if self.check_weights and self.workers and self.step % self.check_weights == 0:
                self.workers.check_same_weights(self.model, self.step)
            total_loss += loss * len(index)
            total_metric += metric
            seen += len(index)
            bar.update(len(index), loss)
        bad = [name for name, param, _ in self.model.parameters() if not np.isfinite(param).all()]
        if bad:  # the last update overflowed: stop before a checkpoint saves it
            cause = f"weights {bad} became NaN or infinite: try a lower learning rate"
            raise self._diverged(f"batch {batch}", cause, bar)
        return {
            "loss": total_loss / seen,
            self.metric: total_metric / seen,
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
        if isinstance(self.loss_fn, BCEWithLogitsLoss):  # a logit above 0 predicts 1
            hits = (pred.reshape(len(y), -1) > 0) == (y.reshape(len(y), -1) > 0.5)
            return float(np.sum(hits.mean(axis=1)))
        if self.classification:
            return float(np.sum(pred.argmax(axis=1) == y))
        error = np.abs(pred.reshape(len(y), -1) - y.reshape(len(y), -1)).mean(axis=1)
        return float(np.sum(error)) * self.target_scale

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> dict[str, float]:
        """Mean loss and accuracy over ``x`` in inference mode; for regression MAE, RMSE and
        R² instead of accuracy, MAE and RMSE in the targets' original units."""
        total_loss = total_metric = 0.0
        predictions = []
        count, y_all = len(x), y
        if self.workers is not None:  # each rank its share; the sums are added up below
            x, y = x[self.workers.rows(count)], y[self.workers.rows(count)]
        for begin in range(0, len(x), batch_size):
            xb, yb = self._input(x[begin : begin + batch_size]), y[begin : begin + batch_size]
            pred = self.model.forward(xb, training=False)
            total_loss += self.loss_fn.forward(pred, yb) * len(xb)
            total_metric += self._metric_sum(pred, yb)
            if not self.classification:
                predictions.append(pred.reshape(len(yb), -1))
        if self.workers is not None:
            total_loss, total_metric = self.workers.sum(np.array([total_loss, total_metric]))
            if not self.classification:  # the regression figures need every prediction
                predictions = [p for part in self.workers.gather(predictions) for p in part]
        figures = {"loss": total_loss / count, self.metric: total_metric / count}
        if not self.classification:
            pred, target = np.concatenate(predictions).ravel(), y_all.ravel()
            figures["rmse"] = metrics.rmse(target, pred) * self.target_scale
            figures["r2"] = metrics.r2_score(target, pred)
        return figures

    def _input(self, samples: np.ndarray) -> np.ndarray:
        """The model's input for a batch of stored samples (see ``inputs``)."""
        if self.inputs is None:
            return samples
        return as_input(self.inputs(samples), self.model.dtype)

    def check_data(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
        if isinstance(self.loss_fn, SoftmaxCrossEntropy) and not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"classification labels y must be integers, got dtype {y.dtype}")
        if not isinstance(self.loss_fn, SoftmaxCrossEntropy):  # regression, or 0/1 targets
            if not np.issubdtype(y.dtype, np.number) or not np.all(np.isfinite(y)):
                raise ValueError("regression targets y must be finite numbers")
            y = y.astype(self.model.dtype, copy=False)
        return x, y

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """(arrays, JSON-able state) describing the whole training state."""
        return training_state(self)

    def save_checkpoint(self, path: str | os.PathLike) -> Path:
        """Write the training state to ``path`` atomically (old file intact on a crash)."""
        saved = save_checkpoint(path, *training_state(self))
        self.saved_epoch = self.epoch
        return saved

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


def split_indices(count: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted indices (kept, held out) of a validation split: ``fraction`` of ``count``
    samples (at least one) held out, chosen by ``seed``."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be between 0 and 1, got {fraction}")
    order = np.random.default_rng([seed, 1]).permutation(count)
    held = held_out_count(count, fraction)
    return np.sort(order[held:]), np.sort(order[:held])


def held_out_count(count: int, fraction: float) -> int:
    """How many of ``count`` samples a validation split of ``fraction`` holds out (at least
    one)."""
    return max(1, round(count * fraction))


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
    inputs: Inputs | None = None,
    progress: Style = "auto",
    target_scale: float = 1.0,
    checkpoint: str | os.PathLike | None = None,
    drop_last: bool | None = None,
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
        inputs=inputs,
        progress=progress,
        target_scale=target_scale,
        checkpoint=checkpoint,
        drop_last=drop_last,
    )
    return trainer.fit(
        x, y, epochs, validation_data=validation_data, validation_split=validation_split
    )
