"""Argument types and checks shared by the subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from nanocnn.errors import ModelFileError
from nanocnn.model import Sequential, load


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def load_task_model(path: Path, task: str) -> Sequential:
    """Load a model file and check that it was trained for ``task``."""
    model = load(path)
    found = model.metadata.get("task")
    if found != task:
        raise ModelFileError(f"{path}: this is a model for task {found!r}, not {task!r}")
    return model
