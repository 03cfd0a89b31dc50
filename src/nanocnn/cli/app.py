"""``nanocnn app``: the draw-a-digit web page, served by Gradio (the ``app`` extra). For a
model in a run folder it also shows the run's training snapshots (``snapshots.npz`` beside
the model file), when the run recorded them."""

from __future__ import annotations

import argparse
from pathlib import Path

from nanocnn.cli.arguments import model_file, positive_int

# The model the package ships (see nanocnn/models/README.md for the command that made it).
BUNDLED_MODEL = Path(__file__).parents[1] / "models" / "digits.npz"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "app",
        help="draw digits in a web page, watch the network read them, and look inside it",
        description="Serve a page where you draw a digit with the mouse (or upload a picture, "
        "for a pictures or age model); the network answers and shows its input and "
        "first-layer feature maps, and 'Look inside' shows every layer forward and backward. "
        "Needs the app extra: pip install 'nanocnn[app]'.",
    )
    parser.add_argument(
        "--model",
        type=model_file,
        default=BUNDLED_MODEL,
        help="a model file, e.g. runs/cnn/model.npz (default: the bundled digits model); "
        "a snapshots.npz beside it shows how its filters formed",
    )
    parser.add_argument("--port", type=positive_int, default=7860, help="default: 7860")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.app import launch
    from nanocnn.app.training_view import snapshots_beside
    from nanocnn.cli.arguments import load_with_task

    model, task = load_with_task(args.model)
    snapshots = snapshots_beside(args.model)
    launch(model, task, host=args.host, port=args.port, snapshots=snapshots)
    return 0
