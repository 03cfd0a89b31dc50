"""Argument types and checks shared by the subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from nanocnn.augment import named
from nanocnn.io import load
from nanocnn.layers import Sequential
from nanocnn.tasks import Task, task_of
from nanocnn.training.budget import parse_duration


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def duration(text: str) -> float:
    """A training budget such as ``10m``, in seconds (see ``parse_duration``)."""
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def augmentation(text: str) -> str:
    """``--augment``'s value: "auto", "none" or known augmentation names, comma-separated."""
    if text in ("auto", "none"):
        return text
    try:
        named(text, size=8)  # builds nothing that costs: refuses unknown names
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return ",".join(name.strip() for name in text.split(",") if name.strip())


def model_file(text: str) -> Path:
    """A model file, or a run folder: its ``model.npz`` (or ``model.safetensors``); a URL is
    refused by name (``Path`` would make ``https://`` into ``https:/``)."""
    if "://" in text:
        raise argparse.ArgumentTypeError(
            f"{text}: a model is read from a file or run folder, not a URL (download it first)"
        )
    path = Path(text)
    if not path.is_dir():
        return path
    for name in ("model.npz", "model.safetensors"):
        if (path / name).is_file():
            return path / name
    raise argparse.ArgumentTypeError(
        f"{path} is a folder without a model.npz (a run folder has one once an epoch has ended)"
    )


def load_with_task(path: Path) -> tuple[Sequential, Task]:
    """Load a model file and the task it was trained for."""
    model = load(path)
    return model, task_of(model, path)
