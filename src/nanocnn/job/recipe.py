"""The recipe of a run: each choice as the options give it, else the preset's, changed by the
task for its data, and fitted to the data's size when the presets were not tuned on it.

The presets' recipes were tuned on MNIST: 55,000 training pictures, 860 steps an epoch. On
data of another size the same number of epochs is another length of training: four epochs of
1,500 pictures are 94 steps, far too few. So on data the presets were not tuned on, a run
spans about ``TARGET_STEPS`` steps (at least the preset's epochs, at most ``MAX_EPOCHS``),
and validation decides when it is over: early stopping after ``PATIENCE_SHARE`` of those
epochs without a better validation loss, the best epoch's weights kept (the run folder's
model file is always the best epoch's).

At most ``MAX_EPOCHS``: on a small data set (1,437 pictures, 21 steps an epoch) 100 epochs
overfit long before they end; validation stopped them at epoch 46 and 60 (of 100, seeds 0
and 1) with the cosine's rate still above half its peak, keeping an epoch trained at that
rate. Over 50 epochs the rate is annealed by the time validation stops improving: 99.44%
and 100.00% test accuracy instead of 99.17% and 99.72% (docs/recipes.md, "Measured").
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from typing import Any

from nanocnn.job.options import TrainOptions
from nanocnn.presets import PRESETS
from nanocnn.tasks import Task, TaskData

# what a preset's recipe chooses (nanocnn.presets.Preset), unless an option says otherwise
RECIPE = ("epochs", "lr", "batch_size", "augment", "optimizer", "schedule", "weight_decay",
          "label_smoothing", "patience")  # fmt: skip
TIMED_EPOCHS = 100_000  # the epochs of a run on a time budget: the budget ends it
TARGET_STEPS = 4_000  # about as long as MNIST's recipe for the default cnn
MAX_EPOCHS = 50  # see the module
PATIENCE_SHARE = 0.2  # early stopping after a fifth of the run without progress...
MIN_PATIENCE = 5  # ... and never sooner than this many epochs


def resolve_recipe(
    options: TrainOptions, task: Task, name: str, data: TaskData, val_split: float
) -> TrainOptions:
    """``options`` with each recipe choice as given, else the preset ``name``'s with the
    task's changes for ``data`` (fitted to its size: see the module); a time budget without
    ``--epochs`` runs until it is spent."""
    recipe = {**asdict(PRESETS[name]), **task.recipe(name, data)}
    if not data.tuned:
        batch = options.batch_size or recipe["batch_size"]
        recipe.update(fit_to_data(recipe["epochs"], len(data.train[0]), batch, val_split))
    if isinstance(recipe["augment"], bool):  # a preset's: with the task's augmentation or none
        recipe["augment"] = "auto" if recipe["augment"] else "none"
    if options.time is not None:
        recipe["epochs"] = TIMED_EPOCHS
    chosen = {key: recipe[key] if getattr(options, key) is None else getattr(options, key)
              for key in RECIPE}  # fmt: skip
    return replace(options, **chosen)


def fit_to_data(epochs: int, count: int, batch_size: int, val_split: float) -> dict[str, Any]:
    """The epochs and early-stopping patience of a run on ``count`` samples (``val_split``
    of them held out) in batches of ``batch_size``, for a preset of ``epochs``."""
    steps = max(1, math.ceil(count * (1 - val_split) / batch_size))
    fitted = min(max(epochs, math.ceil(TARGET_STEPS / steps)), MAX_EPOCHS)
    return {"epochs": fitted, "patience": max(MIN_PATIENCE, round(PATIENCE_SHARE * fitted))}


def augment_names(augment: str | None) -> str | None:
    """The augmentation names ``--augment`` gave for ``Task.augment``: None for the task's
    own choice ("auto"), "" for none."""
    if augment in (None, "auto"):
        return None
    return "" if augment == "none" else augment
