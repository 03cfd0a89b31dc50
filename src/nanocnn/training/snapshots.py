"""Snapshots: the first convolution's filters, and what they make of one fixed training
input, after every epoch; so the app can show, with a slider, how the filters formed.

    trainer = Trainer(model, ..., callbacks=[Snapshots(run / "snapshots.npz", x_train[0])])

The file (``snapshots.npz`` beside the run's ``model.npz``, where ``nanocnn app --model``
looks for it) is a NumPy ``.npz`` of plain arrays, read back without pickle by
:func:`read_snapshots`:

    epochs   (E,)                 0 (before training), 1, 2, ...
    filters  (E, O, C, kh, kw)    the first Conv2D's weight after each epoch, float32
    maps     (E, O, H', W')       its output for ``sample`` (through the ReLU that follows
                                  it, if one does), float16: the file stays small
    sample   (C, H, W)            the input, as the model takes it
    layer    ()                   the convolution's name in the model ("0")

It is rewritten whole, atomically, after every epoch, by the process that writes the run's
files (rank 0 of a data-parallel run). A resumed run keeps the epochs the file holds up to
the checkpoint's and carries on from there. A model without a convolution writes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nanocnn.errors import ModelFileError
from nanocnn.explain import first_conv, first_conv_maps
from nanocnn.io import write_atomically
from nanocnn.layers import Sequential
from nanocnn.layers.state import detached
from nanocnn.training.callbacks import Callback

if TYPE_CHECKING:
    from nanocnn.training.trainer import Trainer

SNAPSHOTS_FILE = "snapshots.npz"  # its name in a run folder, beside model.npz
KEYS = ("epochs", "filters", "maps", "sample", "layer")


@dataclass(frozen=True)
class SnapshotHistory:
    """What a snapshots file holds (see the module docstring for the shapes)."""

    epochs: np.ndarray
    filters: np.ndarray
    maps: np.ndarray
    sample: np.ndarray
    layer: str

    def at(self, epoch: int) -> int:
        """The row of the last snapshot taken at or before ``epoch`` (the first if none)."""
        return max(0, int(np.searchsorted(self.epochs, epoch, side="right")) - 1)


class Snapshots(Callback):
    """A training callback that writes the first convolution's filters and its maps of
    ``sample`` (C, H, W), one input as the model takes it, to ``path`` after every epoch
    (and before the first)."""

    def __init__(self, path: str | os.PathLike, sample: np.ndarray) -> None:
        self.path = Path(path)
        self.sample = np.asarray(sample)
        self.rows: list[tuple[int, np.ndarray, np.ndarray]] = []  # (epoch, filters, maps)

    def on_train_begin(self, trainer: Trainer) -> None:
        self.rows = []
        if not trainer.workers.is_root or first_conv(trainer.model) is None:
            return
        if trainer.epoch > 0 and self.path.exists():  # resumed: keep what came before
            saved = read_snapshots(self.path)
            kept = saved.epochs <= trainer.epoch
            epochs, filters, maps = saved.epochs[kept], saved.filters[kept], saved.maps[kept]
            self.rows = list(zip(epochs.tolist(), filters, maps, strict=True))
        if not self.rows:
            self._take(trainer.model, trainer.epoch)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if trainer.workers.is_root and first_conv(trainer.model) is not None:
            self._take(trainer.model, trainer.epoch)

    def _take(self, model: Sequential, epoch: int) -> None:
        """Add the snapshot after ``epoch`` and rewrite the file."""
        index = first_conv(model)
        assert index is not None
        maps = first_conv_maps(detached(model), self.sample[np.newaxis].astype(model.dtype))
        assert maps is not None
        self.rows.append((epoch, model[index].params["weight"].copy(), maps.astype(np.float16)))
        arrays = {
            "epochs": np.array([row[0] for row in self.rows]),
            "filters": np.stack([row[1] for row in self.rows]),
            "maps": np.stack([row[2] for row in self.rows]),
            "sample": self.sample,
            "layer": np.array(str(index)),
        }
        write_atomically(self.path, lambda file: np.savez(file, allow_pickle=False, **arrays))


def read_snapshots(path: str | os.PathLike) -> SnapshotHistory:
    """The snapshots in the file ``path``; ``ModelFileError`` if it is not one."""
    try:
        with np.load(path, allow_pickle=False) as file:
            arrays = {key: file[key] for key in KEYS}
    except (OSError, ValueError, KeyError) as error:
        raise ModelFileError(f"{path}: not a snapshots file ({error})") from error
    count = len(arrays["epochs"])
    if not (len(arrays["filters"]) == len(arrays["maps"]) == count > 0):
        raise ModelFileError(f"{path}: its arrays do not hold one snapshot per epoch")
    return SnapshotHistory(
        epochs=arrays["epochs"],
        filters=arrays["filters"],
        maps=arrays["maps"].astype(np.float32),
        sample=arrays["sample"],
        layer=str(arrays["layer"]),
    )
