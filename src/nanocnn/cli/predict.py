"""``nanocnn predict``: what a saved model says of each image, in its task's words.

    nanocnn predict runs/photos photo.jpg holiday/ 'scans/**/*.png' https://example.org/cat.jpg

A classifier names the likeliest classes (``photo.jpg: dog (0.930), cat (0.050), ...``), an
age model the age in years. The images are files, folders (every image in them, recursively,
in sorted order), glob patterns (for shells that do not expand them; ``**`` goes down
folders) or http(s) URLs. ``--format csv`` or ``json`` writes one record per image for
scripts. An image that cannot be read gets an error line on stderr instead, and the exit
status is 2 at the end if any failed.
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nanocnn.cli.arguments import model_file, positive_int

MAX_DOWNLOAD = 50 << 20  # bytes of one image fetched from a URL
URL_PREFIXES = ("http://", "https://")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict",
        help="what a model says of each image (files, folders, globs, URLs)",
        description="Each image is prepared as the model's training pictures were (MNIST-like "
        "digits: grayscale, light ink on dark, cropped, scaled to 20x20, centred by mass in "
        "28x28; other IDX data and pictures: cropped to the model's aspect ratio, resized and "
        "normalised; faces: RGB, resized) and given to the model.",
    )
    parser.add_argument(
        "model_file", type=model_file, metavar="MODEL", help="a model file or run folder"
    )
    parser.add_argument(
        "images", nargs="+", metavar="IMAGE", help="image files, folders, glob patterns or URLs"
    )
    parser.add_argument(
        "--top-k", type=positive_int, default=3, help="classes named for each image (default 3)"
    )
    parser.add_argument(
        "--format", choices=("text", "csv", "json"), default="text",
        help="text (default), or one CSV row or JSON object per image, for scripts",
    )  # fmt: skip
    return parser


def run(args: argparse.Namespace) -> int:
    from nanocnn.cli.arguments import load_with_task
    from nanocnn.errors import DataError

    model, task = load_with_task(args.model_file)
    write = Writer(args.format)
    failed = 0
    for name, source in images(args.images):
        try:
            if isinstance(source, DataError):  # a URL that could not be fetched
                raise source
            output = task.predict_one(model, source)
        except DataError as error:
            failed += 1
            message = str(error)
            named = message if message.startswith(name) else f"{name}: {message}"
            print(f"nanocnn predict: error: {named}", file=sys.stderr, flush=True)
            continue
        write(
            name, task.answer(model, output, args.top_k), task.describe(model, output, args.top_k)
        )
    write.close()
    return 2 if failed else 0


def images(arguments: list[str]) -> Iterator[tuple[str, Any]]:  # a path, bytes or an error
    """(name, source) of every image the arguments name, in order: a folder's images
    recursively and sorted, a glob's matches sorted, a URL's bytes (or its DataError)."""
    from nanocnn.datasets.folder_scan import IMAGE_SUFFIXES
    from nanocnn.errors import DataError

    for argument in arguments:
        if argument.startswith(URL_PREFIXES):
            yield argument, fetch(argument)
        elif Path(argument).is_dir():
            found = [
                path
                for path in sorted(Path(argument).rglob("*"))
                if path.suffix.lower() in IMAGE_SUFFIXES and not _hidden(path, argument)
            ]
            if not found:
                yield argument, DataError(f"{argument}: no images in this folder")
            yield from ((str(path), path) for path in found)
        elif glob.has_magic(argument) and not Path(argument).exists():
            matches = sorted(glob.glob(argument, recursive=True))
            if not matches:
                yield argument, Path(argument)  # says "no such file" when read
            yield from ((match, Path(match)) for match in matches if Path(match).is_file())
        else:
            yield argument, Path(argument)


def _hidden(path: Path, root: str) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def fetch(url: str) -> bytes | Exception:
    """The bytes at ``url`` (at most ``MAX_DOWNLOAD``), or the DataError that says why not."""
    import urllib.error
    import urllib.request

    from nanocnn.errors import DataError

    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            content = response.read(MAX_DOWNLOAD + 1)
    except (urllib.error.URLError, OSError, ValueError) as error:
        return DataError(f"{url}: cannot download it ({error})")
    if len(content) > MAX_DOWNLOAD:
        return DataError(f"{url}: larger than {MAX_DOWNLOAD >> 20} MB")
    return content


class Writer:
    """Prints each image's answer as text (``name: answer``), CSV or JSON lines."""

    def __init__(self, style: str) -> None:
        self.style = style
        self.csv: Any = None

    def __call__(self, name: str, answer: dict[str, Any], text: str) -> None:
        if self.style == "text":
            print(f"{name}: {text}", flush=True)
        elif self.style == "json":
            print(json.dumps({"image": name, **answer}), flush=True)
        else:
            row = {"image": name, **flatten(answer)}
            if self.csv is None:
                self.csv = csv.DictWriter(sys.stdout, fieldnames=list(row), extrasaction="ignore")
                self.csv.writeheader()
            self.csv.writerow(row)
            sys.stdout.flush()

    def close(self) -> None:
        sys.stdout.flush()


def flatten(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer as one CSV row: a classifier's top classes as class_1, p_1, class_2, ..."""
    row = {key: value for key, value in answer.items() if not isinstance(value, dict)}
    for rank, (name, p) in enumerate(answer.get("probabilities", {}).items(), start=1):
        row[f"class_{rank}"], row[f"p_{rank}"] = name, p
    return row
