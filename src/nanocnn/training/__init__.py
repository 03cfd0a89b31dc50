"""Training: the loop, its history, metrics, callbacks and learning-rate schedules."""

from nanocnn.training.callbacks import Callback, EarlyStopping, ModelCheckpoint, StopOnNonFinite
from nanocnn.training.checkpoint import StateCheckpoint
from nanocnn.training.history import History
from nanocnn.training.metrics import Accuracy, BinaryAccuracy, MeanAbsoluteError, Metric
from nanocnn.training.progress_logger import ProgressLogger
from nanocnn.training.schedules import (
    SCHEDULES,
    CosineLR,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
)
from nanocnn.training.split import split_indices
from nanocnn.training.trainer import Trainer, fit

__all__ = [
    "SCHEDULES",
    "Accuracy",
    "BinaryAccuracy",
    "Callback",
    "CosineLR",
    "EarlyStopping",
    "History",
    "MeanAbsoluteError",
    "Metric",
    "ModelCheckpoint",
    "OneCycleLR",
    "ProgressLogger",
    "ReduceLROnPlateau",
    "StateCheckpoint",
    "StepLR",
    "StopOnNonFinite",
    "Trainer",
    "fit",
    "split_indices",
]
