"""``nanocnn train``: train a preset on MNIST into a run folder, then report on the test set."""

from __future__ import annotations

import argparse
from pathlib import Path

from nanocnn.cli.arguments import positive_float, positive_int
from nanocnn.presets import PRESETS


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train a model on MNIST and report on it",
        description="Train a model from scratch; writes the model, history, test metrics "
        "and plots into a run folder.",
    )
    parser.add_argument("--model", choices=sorted(PRESETS), default="cnn")
    parser.add_argument("--epochs", type=positive_int, help="default: the model's own")
    parser.add_argument("--batch-size", type=positive_int, help="default: 64")
    parser.add_argument("--lr", type=positive_float, help="starting learning rate")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument(
        "--schedule",
        choices=["cosine", "step", "plateau", "none"],
        default="cosine",
        help="learning-rate schedule (default: cosine, per batch)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, help="MNIST files (default: the bundled copy)")
    parser.add_argument("--out", type=Path, help="run folder (default: runs/MODEL)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument(
        "--augment", action="store_true", help="random small shifts, rotations and scaling"
    )
    parser.add_argument(
        "--val-split", type=float, default=1 / 12, help="held-out fraction (default: 1/12)"
    )
    parser.add_argument(
        "--patience", type=int, default=0, help="early stopping patience in epochs (0: off)"
    )
    parser.add_argument("--limit", type=positive_int, help="use only this many images")
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.jobs.common import TrainOptions
    from nanocnn.jobs.digits import train_digits

    options = TrainOptions(
        model=args.model,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        schedule=args.schedule,
        seed=args.seed,
        data_dir=args.data_dir,
        out=args.out,
        resume=args.resume,
        augment=args.augment,
        val_split=args.val_split,
        patience=args.patience,
        limit=args.limit,
    )
    train_digits(options)
    return 0
