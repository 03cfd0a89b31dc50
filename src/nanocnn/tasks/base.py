"""What a task is: everything that differs between kinds of problem, in one object.

A :class:`Task` knows how its data is found and loaded, which options of ``nanocnn train`` it
adds, the loss, the figure that picks the best epoch, its augmentation, the evaluation report
and its plots, how a raw image becomes the model's input for ``predict`` and the app, and the
metadata a model file of the task carries. ``train``, ``evaluate``, ``predict``, ``summary``
and ``app`` know none of this: they look the task up (:mod:`nanocnn.tasks`) and call it. A
task knows of a run only its :class:`TaskOptions`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nanocnn import augment
from nanocnn.augment import Augment
from nanocnn.images import ImageSource
from nanocnn.layers import Sequential
from nanocnn.losses import Loss
from nanocnn.parallel import Workers
from nanocnn.progress import Style
from nanocnn.training.metrics import Accuracy, Metric

TEST_FRACTION = 0.1  # of the data, held out for the test report when it has no test set
SPLIT_SEED = 0  # that test set is the same whatever --seed

Pair = tuple[np.ndarray, np.ndarray]  # (samples, targets)


@dataclass(frozen=True)
class TaskOptions:
    """What a task knows of a run: where its data is and how much of it to use, the run's
    seed, how loading shows progress, the ranks that may share the loading, the classifier's
    label smoothing, and the task's own options."""

    data_dir: Path | None = None
    limit: int | None = None  # use only this many samples (quick trials, tests)
    seed: int = 0  # the run's seed, for a task that generates or draws its data
    progress: Style = "auto"
    workers: Workers = field(default_factory=Workers)  # a data-parallel run's ranks
    label_smoothing: float = 0.0
    own: dict[str, Any] = field(default_factory=dict)  # each of Task.options, by name


@dataclass(frozen=True)
class Option:
    """An option a task adds to ``nanocnn train``: ``--<name with dashes> VALUE``."""

    name: str  # as in Python: image_size
    help: str
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    default: Any = None  # what the task uses when the option is not given


@dataclass
class TaskData:
    """A task's data for one run: the splits, and what the model file will carry."""

    train: Pair  # the trainer holds out a validation share of these unless ``validation``
    test: Pair
    validation: Pair | None  # a fixed validation set (an image folder's val/), or None
    metadata: dict[str, Any]  # input_shape, classes, normalisation... saved with the model
    description: str  # what the samples are, after their count: "MNIST images"
    tuned: bool = False  # whether the presets' recipes were tuned on this data (MNIST)


TASKS: dict[str, Task] = {}  # every task, by name: filled as their classes are defined


class Task:
    """The base of every task; see the module docstring. Subclasses set the class attributes
    and implement the methods that raise ``NotImplementedError``.

    A subclass that sets ``name`` is registered in :data:`TASKS` as it is defined (another
    class may not take a name already taken; the same class defined again replaces itself).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return  # a base for other tasks, such as ClassificationTask
        known = TASKS.get(cls.name)
        where = (cls.__module__, cls.__qualname__)  # a class defined again (a reload) is the same
        if known is not None and (type(known).__module__, type(known).__qualname__) != where:
            raise ValueError(f"task {cls.name!r} is already {type(known).__qualname__}")
        TASKS[cls.name] = cls()

    name: ClassVar[str]
    help: ClassVar[str]  # one line for ``nanocnn train --help``
    data_dir_help: ClassVar[str]  # what its --data-dir is, for the commands' help
    default_model: ClassVar[str] = "cnn"
    val_split: ClassVar[float] = 1 / 12  # of the training data, when there is no val set
    monitor: ClassVar[str] = "val_loss"  # picks the best epoch (and early stopping)
    options: ClassVar[tuple[Option, ...]] = ()  # this task's own options of ``train``
    recipes: ClassVar[dict[str, dict[str, Any]]] = {}  # preset -> recipe changes for this task

    def recipe(self, preset: str, data: TaskData) -> dict[str, Any]:
        """Changes to ``preset``'s recipe (epochs, batch size, augmentation...) for this task
        and its ``data``: by default the class's ``recipes`` for the preset."""
        return dict(self.recipes.get(preset, {}))

    def option_names(self) -> set[str]:
        return {option.name for option in self.options}

    def load(self, options: TaskOptions) -> TaskData:
        """Find and load the data ``options`` point at (``options.data_dir``...); the ranks
        of a data-parallel run (``options.workers``) may share the work."""
        raise NotImplementedError

    def outputs(self, data: TaskData) -> int:
        """How many numbers the network outputs for this data."""
        raise NotImplementedError

    def loss(self, options: TaskOptions) -> Loss:
        raise NotImplementedError

    def metric(self, metadata: dict[str, Any]) -> Metric:
        """The figure logged beside the loss for a model with ``metadata``."""
        return Accuracy()

    def augment(self, data: TaskData, names: str | None = None) -> Augment | None:
        """The random augmentation of the training batches: the one ``names`` give (see
        :func:`nanocnn.augment.named`; "" for none), else the task's default for ``data``."""
        if names is None:
            return self.default_augment(data)
        return augment.named(names, data.metadata["input_shape"][-1]) if names else None

    def default_augment(self, data: TaskData) -> Augment | None:
        """What augmentation suits this data when none is named (None: none)."""
        return None

    def evaluate(self, model: Sequential, test: Pair, out: Path | None = None) -> dict[str, Any]:
        """The test report of ``model`` on ``test``; with ``out``, also its plots there."""
        raise NotImplementedError

    def format_report(self, report: dict[str, Any]) -> str:
        """The report as the command line prints it."""
        raise NotImplementedError

    def test_data(self, model: Sequential, data_dir: Path | None) -> Pair:
        """The test set ``model`` is evaluated on by ``nanocnn evaluate``: the same images
        its training run tested on."""
        raise NotImplementedError

    def drawable(self, model: Sequential) -> bool:
        """Whether the app offers a sketchpad (instead of an upload) for this model."""
        return False

    def prepare(self, model: Sequential, image: ImageSource) -> np.ndarray:
        """One raw image (a file, its bytes, an array) as the model's input (C, H, W)."""
        raise NotImplementedError

    def answer(self, model: Sequential, output: np.ndarray, top_k: int = 3) -> dict[str, Any]:
        """What one output of the model (its row of ``predict``) says, as plain data for
        scripts (``nanocnn predict --format json``)."""
        raise NotImplementedError

    def describe(self, model: Sequential, output: np.ndarray, top_k: int = 3) -> str:
        """What one output of the model says, in words."""
        raise NotImplementedError

    def predict_one(self, model: Sequential, image: ImageSource) -> np.ndarray:
        """The model's output for one raw image, prepared as its training pictures were."""
        return model.predict(self.prepare(model, image)[np.newaxis])[0]

    def metadata_problems(self, model: Sequential) -> list[str]:
        """What a model of this task lacks in its metadata for ``predict``, ``evaluate`` and
        the app (each problem in words; none: an empty list)."""
        shape = model.metadata.get("input_shape")
        if not (isinstance(shape, list) and len(shape) == 3
                and all(type(n) is int and n > 0 for n in shape)):  # fmt: skip
            return ["input_shape must be [C, H, W], the shape of one input"]
        missing = [key for key in self.required_metadata if key not in model.metadata]
        return [f"{key} is missing ({self.required_metadata[key]})" for key in missing]

    # metadata keys a model of this task needs, and what each is
    required_metadata: ClassVar[dict[str, str]] = {}
