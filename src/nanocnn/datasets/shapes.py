"""Write a small synthetic image folder of coloured shapes, as untidy as a real one.

For tests, the documentation and trying ``nanocnn train`` on images without downloading any:
each class is a shape (a circle, a square, a triangle...) in a random colour, size and place
on a noisy background of another colour, saved in mixed formats (PNG, JPEG, BMP, GIF, WebP,
TIFF), modes (RGB, grayscale, palette, RGBA, 16-bit grayscale) and sizes, along with a few
broken image files, a hidden file and a text file that a loader must skip. A small CNN tells
the shapes apart far above chance after a few epochs at 32 px.

>>> make_synthetic_folder("/tmp/shapes", per_class=60)  # doctest: +SKIP
PosixPath('/tmp/shapes')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nanocnn._optional import require

# Pillow's format name and the modes it can save, by file suffix.
_FORMATS: dict[str, tuple[str, frozenset[str]]] = {
    "png": ("PNG", frozenset({"RGB", "L", "P", "RGBA", "I;16"})),
    "jpg": ("JPEG", frozenset({"RGB", "L"})),
    "bmp": ("BMP", frozenset({"RGB", "L", "P"})),
    "gif": ("GIF", frozenset({"P", "L"})),
    "webp": ("WEBP", frozenset({"RGB", "RGBA"})),
    "tiff": ("TIFF", frozenset({"RGB", "L", "P", "RGBA", "I;16"})),
}
_MODES = ("RGB", "L", "P", "RGBA", "I;16")  # cycled through, image by image
TEST_EVERY = 5  # in the split layout, every 5th image of a class goes to test/


def _circle(draw: Any, cy: float, cx: float, r: float, colour: tuple[int, ...]) -> None:
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)


def _square(draw: Any, cy: float, cx: float, r: float, colour: tuple[int, ...]) -> None:
    draw.rectangle([cx - 0.85 * r, cy - 0.85 * r, cx + 0.85 * r, cy + 0.85 * r], fill=colour)


def _triangle(draw: Any, cy: float, cx: float, r: float, colour: tuple[int, ...]) -> None:
    draw.polygon([(cx, cy - r), (cx + r, cy + 0.8 * r), (cx - r, cy + 0.8 * r)], fill=colour)


def _cross(draw: Any, cy: float, cx: float, r: float, colour: tuple[int, ...]) -> None:
    draw.rectangle([cx - r, cy - 0.3 * r, cx + r, cy + 0.3 * r], fill=colour)
    draw.rectangle([cx - 0.3 * r, cy - r, cx + 0.3 * r, cy + r], fill=colour)


def _ring(draw: Any, cy: float, cx: float, r: float, colour: tuple[int, ...]) -> None:
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=max(2, round(r / 3)))


SHAPES: dict[str, Callable[[Any, float, float, float, tuple[int, ...]], None]] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "cross": _cross,
    "ring": _ring,
}


def make_synthetic_folder(
    root: str | os.PathLike[str],
    *,
    classes: Sequence[str] = ("circle", "square", "triangle"),
    per_class: int = 60,
    seed: int = 0,
    sizes: tuple[int, int] = (24, 48),
    formats: Sequence[str] = ("png", "jpg", "bmp", "gif", "webp", "tiff"),
    broken: int = 3,
    layout: Literal["flat", "split"] = "flat",
) -> Path:
    """Write ``per_class`` images of each shape in ``classes`` under ``root``; return ``root``.

    ``classes`` are names from ``SHAPES``. Each image is W × H with W and H drawn from
    ``sizes`` (inclusive), in the formats ``formats`` and the modes RGB, L, P, RGBA, I;16 by
    turns (a mode a format cannot save falls back to L or RGB). ``layout="flat"`` writes
    ``root/<class>/``; ``"split"`` writes every ``TEST_EVERY``-th image to ``root/test/<class>/``
    and the others to ``root/train/<class>/``. Besides, the first class folder gets a hidden
    ``.DS_Store`` and a ``notes.txt``, and ``broken`` corrupt files with image suffixes are
    spread over the (train) class folders. Deterministic given the arguments.
    """
    unknown = [name for name in classes if name not in SHAPES]
    if unknown or len(classes) < 2:
        raise ValueError(f"classes must be two or more of {sorted(SHAPES)}, not {list(classes)}")
    bad_formats = [suffix for suffix in formats if suffix not in _FORMATS]
    if bad_formats or not formats:
        raise ValueError(f"formats must be some of {sorted(_FORMATS)}, not {list(formats)}")
    if layout not in ("flat", "split"):
        raise ValueError(f"layout must be 'flat' or 'split', not {layout!r}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    count = 0
    for name in classes:
        for i in range(per_class):
            split = "test" if i % TEST_EVERY == TEST_EVERY - 1 else "train"
            folder = root / split / name if layout == "split" else root / name
            folder.mkdir(parents=True, exist_ok=True)
            suffix = formats[count % len(formats)]
            image = _draw(SHAPES[name], rng, sizes)
            _save(image, _MODES[count % len(_MODES)], folder / f"{name}_{i:03d}.{suffix}")
            count += 1
    train = root / "train" if layout == "split" else root
    _write_junk(train, classes, broken)
    return root


def _draw(shape: Callable[..., None], rng: np.random.Generator, sizes: tuple[int, int]) -> Any:
    """One RGB Pillow image: a noisy background and ``shape`` in a contrasting colour."""
    Image = require("PIL.Image", extra="cli")
    ImageDraw = require("PIL.ImageDraw", extra="cli")
    width, height = (int(v) for v in rng.integers(sizes[0], sizes[1], size=2, endpoint=True))
    dark = rng.integers(0, 100, size=3)
    light = rng.integers(156, 256, size=3)
    # One dark and one light colour, so the shape stands out in grayscale too.
    background, foreground = (dark, light) if rng.random() < 0.5 else (light, dark)
    noise = rng.integers(-15, 16, size=(height, width, 3))
    pixels = np.clip(background + noise, 0, 255).astype(np.uint8)  # (H, W, 3)
    image = Image.fromarray(pixels)
    side = min(width, height)
    r = rng.uniform(0.3, 0.42) * side
    cy, cx = (height / 2, width / 2) + rng.uniform(-0.08, 0.08, size=2) * side
    shape(ImageDraw.Draw(image), cy, cx, r, tuple(int(v) for v in foreground))
    return image


def _save(image: Any, mode: str, path: Path) -> None:
    """Save RGB ``image`` at ``path`` in ``mode``, or in L or RGB if its format cannot."""
    Image = require("PIL.Image", extra="cli")
    pillow_format, modes = _FORMATS[path.suffix[1:]]
    if mode not in modes:
        mode = "L" if mode in ("L", "I;16") and "L" in modes else "RGB"
    if mode not in modes:  # GIF: Pillow saves RGB as a palette image itself
        mode = "RGB"
    if mode == "I;16":
        gray = np.asarray(image.convert("L"), np.uint16) * 257  # 8 -> 16 bits, full range
        converted = Image.fromarray(gray)
    else:
        converted = image.convert(mode)
    converted.save(path, format=pillow_format)


def _write_junk(folder: Path, classes: Sequence[str], broken: int) -> None:
    """Add a hidden file, a text file and ``broken`` corrupt images to the class folders."""
    (folder / classes[0] / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / classes[0] / "notes.txt").write_text("not an image\n")
    corrupt = (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", b"", b"GIF89a this is not a picture")
    for k in range(broken):
        suffix = ("png", "jpg", "gif")[k % 3]
        path = folder / classes[k % len(classes)] / f"broken_{k}.{suffix}"
        path.write_bytes(corrupt[k % 3])
