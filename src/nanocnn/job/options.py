"""The options of ``nanocnn train``, what a run records of them, and how the command line
spells them again (to resume a run)."""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nanocnn.parallel import Workers
from nanocnn.progress import Style
from nanocnn.tasks import TaskOptions

# where and how, not what is trained
NOT_RECORDED = ("out", "resume", "overwrite", "progress", "data_dir", "check_weights")
# the options a run folder's options.json keeps, so that --resume needs no other flag
NOT_KEPT = ("out", "resume", "overwrite", "progress")


@dataclass
class TrainOptions:
    """The options of ``nanocnn train``; None means the task's or the preset's default."""

    task: str = "digits"
    model: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None  # a key of nanocnn.optim.OPTIMIZERS; None: the preset's
    schedule: str | None = None  # a key of nanocnn.training.SCHEDULES; None: the preset's
    weight_decay: float | None = None  # skipping norms and biases; None: the preset's
    label_smoothing: float | None = None  # of a classifier's loss; None: the preset's
    seed: int = 0
    data_dir: Path | None = None
    out: Path | None = None
    resume: bool = False
    overwrite: bool = False  # start afresh in an --out that holds a run (its files replaced)
    # augmentation: "auto" (the task's for its data), "none", or names ("shift,flip"); None:
    # the preset's recipe (with the task's augmentation, or none)
    augment: str | None = None
    val_split: float | None = None  # None: the task's (1/12 of MNIST: 5,000 images)
    patience: int | None = None  # early stopping after so many epochs without progress; 0 off
    time: float | None = None  # a training budget in seconds: the schedule spans it
    limit: int | None = None  # train on this many images only (quick trials, tests)
    progress: Style = "auto"
    check_weights: int = 0  # data-parallel: compare the ranks' weights every N steps; 0 = off
    task_options: dict[str, Any] = field(default_factory=dict)  # the task's own (Task.options)

    def for_task(self, workers: Workers | None = None) -> TaskOptions:
        """What the task is told of this run over ``workers`` (this process alone: None)."""
        return TaskOptions(
            data_dir=self.data_dir,
            limit=self.limit,
            seed=self.seed,
            progress=self.progress,
            workers=Workers() if workers is None else workers,
            label_smoothing=self.label_smoothing or 0.0,
            own=self.task_options,
        )


def recorded_options(options: TrainOptions, **resolved: Any) -> dict[str, Any]:
    """The options that decide what a run computes, with the defaults it used filled in
    (``resolved``): saved in the model's metadata, so in every checkpoint and model file."""
    recorded = {
        k: v for k, v in asdict(options).items() if k not in (*NOT_RECORDED, "task_options")
    }
    recorded.update({k: v for k, v in options.task_options.items() if v is not None})
    return {**recorded, **resolved}


def resume_command(options: TrainOptions, out: Path, workers: int = 1) -> str:
    """The command that continues this run: ``--resume`` and ``--out`` (the run folder's
    options.json holds the rest; they are spelled out too, for the record), and
    ``--workers`` for a run over more than one process, which trains on as many again."""
    words = option_words(options, skip=NOT_KEPT)
    ranks = [option_flag("workers", workers)] if workers > 1 else []
    return " ".join(["nanocnn train --resume", option_flag("out", out), *words, *ranks])


def option_words(options: TrainOptions, skip: tuple[str, ...] = ("progress",)) -> list[str]:
    """The ``nanocnn train`` flags that give ``options``: one per option given that is not
    the default (nor in ``skip``), as ``option_flag`` spells it."""
    defaults = asdict(TrainOptions())
    given = {k: v for k, v in asdict(options).items() if k != "task_options"}
    given.update(options.task_options)
    return [
        option_flag(name, value)
        for name, value in given.items()
        if name not in skip and value not in (None, defaults.get(name))
    ]


# options whose values are flags of their own
FLAG_VALUES = {("augment", "auto"): "--augment", ("augment", "none"): "--no-augment"}


def option_flag(name: str, value: Any) -> str:
    """How ``nanocnn train`` spells an option: ``--lr 0.01``, ``--augment``, ``--no-augment``,
    ``--augment shift,flip``."""
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else f"--no-{flag[2:]}"
    if isinstance(value, str) and (name, value) in FLAG_VALUES:
        return FLAG_VALUES[name, value]
    return f"{flag} {shlex.quote(str(value))}"


def kept_options(options: TrainOptions) -> dict[str, Any]:
    """The options a run folder keeps in options.json (JSON: paths as strings)."""
    kept = {k: v for k, v in asdict(options).items() if k not in NOT_KEPT}
    if kept.get("data_dir") is not None:
        kept["data_dir"] = str(Path(kept["data_dir"]).resolve())
    return kept


def from_kept(kept: dict[str, Any]) -> dict[str, Any]:
    """``kept_options``' dict back as ``TrainOptions`` fields (unknown keys dropped)."""
    fields = set(TrainOptions.__dataclass_fields__)
    options = {k: v for k, v in kept.items() if k in fields and k not in NOT_KEPT}
    if options.get("data_dir") is not None:
        options["data_dir"] = Path(options["data_dir"])
    return options
