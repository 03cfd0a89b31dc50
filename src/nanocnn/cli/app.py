"""``nanocnn app``: the draw-a-digit web page, served by Gradio (the ``app`` extra)."""

from __future__ import annotations

import argparse
from pathlib import Path

from nanocnn.cli.arguments import positive_int

# The model the package ships (see nanocnn/models/README.md for the command that made it).
BUNDLED_MODEL = Path(__file__).parents[1] / "models" / "digits.npz"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "app",
        help="draw digits in a web page and watch the network read them",
        description="Serve a page where you draw a digit with the mouse; the network says "
        "which digit it is and shows its 28x28 input and first-layer feature maps. "
        "Needs the app extra: pip install 'nanocnn[app]'.",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=BUNDLED_MODEL,
        help="a classification model file (default: the bundled digits model)",
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
    from nanocnn.cli.arguments import load_with_task

    model, task = load_with_task(args.model)
    launch(model, task, host=args.host, port=args.port)
    return 0
