"""Argument types and checks shared by the subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from nanocnn.io import load
from nanocnn.layers import Sequential
from nanocnn.tasks import Task, task_of


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


def load_with_task(path: Path) -> tuple[Sequential, Task]:
    """Load a model file and the task it was trained for."""
    model = load(path)
    return model, task_of(model, path)
