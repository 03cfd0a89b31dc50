"""``nanocnn lr-find``: the learning-rate range test of a preset on a task's data, as ``nanocnn
train`` would train it (:func:`nanocnn.training.lr_finder.lr_range_test`)."""

from __future__ import annotations

from pathlib import Path

from nanocnn import plots
from nanocnn.job.options import TrainOptions
from nanocnn.job.setup import plan
from nanocnn.training.lr_finder import LRFinding, lr_range_test


def find_lr(
    options: TrainOptions,
    steps: int = 100,
    start: float = 1e-7,
    end: float = 10.0,
    plot: str | Path | None = None,
) -> LRFinding:
    """Run the range test for the run ``options`` describe (its task, data, preset, batch
    size, optimizer and augmentation) on its training data; with ``plot``, draw the loss
    against the learning rate there."""
    setup = plan(options)
    data = setup.load()
    trainer = setup.trainer(setup.model())
    finding = lr_range_test(trainer, *data.train, start=start, end=end, steps=steps)
    if plot is not None:
        plots.plot_lr_find(finding.lrs, finding.losses, finding.suggestion, plot)
    return finding
