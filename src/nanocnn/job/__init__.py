"""The training job: ``nanocnn train``'s options turned into a run of a preset on a task's
data, in a run folder (above the training loop, :mod:`nanocnn.training`, and the tasks)."""

from nanocnn.job.options import TrainOptions, option_words, recorded_options, resume_command
from nanocnn.job.run_folder import RunFolder
from nanocnn.job.train import make_trainer, run_training, train

__all__ = [
    "RunFolder",
    "TrainOptions",
    "make_trainer",
    "option_words",
    "recorded_options",
    "resume_command",
    "run_training",
    "train",
]
