"""Training: the loop, its history, callbacks and learning-rate schedules."""

from nanocnn.training.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
)
from nanocnn.training.history import History
from nanocnn.training.schedules import CosineLR, OneCycleLR, ReduceLROnPlateau, StepLR
from nanocnn.training.trainer import Trainer, fit, split_indices

__all__ = [
    "Callback",
    "CosineLR",
    "EarlyStopping",
    "History",
    "ModelCheckpoint",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "StepLR",
    "Trainer",
    "fit",
    "split_indices",
]
