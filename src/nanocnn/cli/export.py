"""``nanocnn export``: a model file as ONNX (for onnxruntime, OpenCV, ONNX.js...) or in another
container (safetensors, readable by PyTorch and Hugging Face tools, or nanocnn's ``.npz``).

    nanocnn export runs/cnn/model.npz model.onnx [--input-shape 1,28,28] [--opset 21] [--fuse]
    nanocnn export runs/cnn/model.npz model.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nanocnn.cli.arguments import model_file

FORMATS = {".onnx": "ONNX", ".safetensors": "safetensors", ".npz": "npz"}


def shape(text: str) -> tuple[int, ...]:
    """``"1,28,28"`` -> ``(1, 28, 28)``: positive integers separated by commas."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"must be positive integers like 1,28,28, got {text!r}")
    return sizes


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export",
        help="write a model file as ONNX or safetensors",
        description="Write MODEL_FILE in the format OUT's suffix names: .onnx (an ONNX graph "
        "in inference form with a dynamic batch axis; needs the export extra: pip install "
        "'nanocnn[export]'), .safetensors (weights under PyTorch's names plus the "
        "architecture) or .npz.",
    )
    parser.add_argument(
        "model_file", type=model_file, metavar="MODEL", help="a model file or run folder"
    )
    parser.add_argument("out", type=Path, metavar="OUT", help="ends in .onnx, .safetensors or .npz")
    parser.add_argument(
        "--input-shape",
        type=shape,
        metavar="C,H,W",
        help="ONNX: one sample's shape (default: the input shape saved with the model)",
    )
    parser.add_argument("--opset", type=int, help="ONNX: the operator set (default: 21)")
    parser.add_argument(
        "--fuse",
        action="store_true",
        help="ONNX: fold each BatchNorm2D into the Conv2D before it (fewer nodes, the same "
        "outputs up to float rounding; the graph's weight names then differ)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.io import load, save

    kind = FORMATS.get(args.out.suffix.lower())
    if kind is None:
        raise ValueError(f"{args.out}: OUT must end in {', '.join(FORMATS)}")
    if kind != "ONNX" and (args.input_shape or args.opset or args.fuse):
        raise ValueError("--input-shape, --opset and --fuse are options of ONNX export (OUT.onnx)")
    model = load(args.model_file)
    if args.fuse:
        model = model.fused()
    if kind == "ONNX":
        from nanocnn.export import DEFAULT_OPSET, to_onnx

        opset = args.opset or DEFAULT_OPSET
        path = to_onnx(model, args.out, input_shape=args.input_shape, opset=opset)
        kind = f"ONNX, opset {opset}"
    else:
        path = save(model, args.out)
    print(f"{path}: {kind}, {path.stat().st_size / 1e6:.2f} MB")
    return 0
