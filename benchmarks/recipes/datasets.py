"""The data sets of the recipes benchmark, each built deterministically from a seed into a
folder of its own, in one of the two forms nanocnn reads: IDX files (``nanocnn train
--data-dir DIR``) or a picture folder (``nanocnn train --task images --data-dir DIR``).

- ``digits8``: scikit-learn's 8x8 digits (1,797 of them) scaled up to 28x28, IDX;
- ``mnist-inverted``: MNIST's first 6,000 training and 2,000 test digits, dark on light, IDX;
- ``mnist-colour``: 5,000 + 1,000 MNIST digits in random ink and paper colours, RGB PNGs in
  train/ and test/ folders;
- ``shapes``: nanocnn's synthetic shapes (:mod:`nanocnn.datasets.shapes`), five classes of
  1,200 pictures of mixed sizes, formats and modes, a few broken files, no test folder;
- ``textures``: six classes of generated 32x32 gray textures (stripes of three angles,
  checks, dots, blotches) at random scales, phases and contrasts, with noise, no test folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nanocnn.datasets.idx import write_idx
from nanocnn.datasets.mnist import load_mnist
from nanocnn.datasets.shapes import SHAPES, make_synthetic_folder

MNIST_DIR = Path("/work/shared/datasets/mnist")  # the gz IDX files; else nanocnn's own cache
DONE = ".complete"  # <name>.complete beside a data set, written last: else it is built again


@dataclass(frozen=True)
class DataSet:
    """One data set: its ``form`` ("idx" or "folder"), what it is, and its builder
    ``build(folder, scale, seed)`` (``scale`` 1.0 is the benchmark's size)."""

    name: str
    form: str
    description: str
    build: Callable[[Path, float, int], None]

    def task_flags(self) -> list[str]:
        """The ``--task`` flags of the commands that train on it."""
        return ["--task", "images"] if self.form == "folder" else []


def write_idx_set(folder: Path, train: tuple[np.ndarray, np.ndarray],
                  test: tuple[np.ndarray, np.ndarray]) -> None:  # fmt: skip
    """The four gzipped IDX files of MNIST's layout: uint8 images (N, H, W), labels (N,)."""
    folder.mkdir(parents=True, exist_ok=True)
    for part, (images, labels) in (("train", train), ("t10k", test)):
        write_idx(folder / f"{part}-images-idx3-ubyte.gz", images.astype(np.uint8))
        write_idx(folder / f"{part}-labels-idx1-ubyte.gz", labels.astype(np.uint8))


def write_pictures(folder: Path, images: np.ndarray, labels: np.ndarray, prefix: str) -> None:
    """PNG pictures (N, H, W) gray or (N, H, W, 3) RGB, uint8, in ``folder/<label>/``."""
    from PIL import Image

    for i, (pixels, label) in enumerate(zip(images, labels, strict=True)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / str(label) / f"{prefix}{i:05d}.png")


def mnist_part(count: int, part: str) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` MNIST pictures of ``part`` ("train" or "test") as uint8."""
    data = load_mnist(MNIST_DIR if MNIST_DIR.is_dir() else None, parts=(part,))
    x, y = (data.x_train, data.y_train) if part == "train" else (data.x_test, data.y_test)
    return np.round(x[:count, 0] * 255).astype(np.uint8), y[:count]


def build_digits8(folder: Path, scale: float, seed: int) -> None:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    count = max(20, round(len(digits.target) * min(scale, 1.0)))
    order = np.random.default_rng(seed).permutation(len(digits.target))[:count]
    pixels = (digits.images[order] * (255 / 16)).astype(np.uint8)
    big = np.stack([np.asarray(Image.fromarray(p).resize((28, 28), Image.BILINEAR))
                    for p in pixels])  # fmt: skip
    cut = count * 4 // 5
    labels = digits.target[order]
    write_idx_set(folder, (big[:cut], labels[:cut]), (big[cut:], labels[cut:]))


def build_mnist_inverted(folder: Path, scale: float, seed: int) -> None:
    train, test = mnist_part(round(6000 * scale), "train"), mnist_part(round(2000 * scale), "test")
    write_idx_set(folder, (255 - train[0], train[1]), (255 - test[0], test[1]))


def colour(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gray digits (N, H, W) as RGB (N, H, W, 3): each in a random ink on a random paper,
    the two at least 100 apart in brightness."""
    ink = rng.integers(0, 256, size=(len(images), 3))
    paper = rng.integers(0, 256, size=(len(images), 3))
    dull = np.abs(ink.mean(axis=1) - paper.mean(axis=1)) < 100
    paper[dull] = np.where(ink[dull].mean(axis=1, keepdims=True) < 128, 255, 0) - paper[dull] // 4
    paper = np.abs(paper)
    alpha = images[..., np.newaxis] / 255.0
    mixed = paper[:, None, None] * (1 - alpha) + ink[:, None, None] * alpha
    return np.round(mixed).astype(np.uint8)


def build_mnist_colour(folder: Path, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for part, count in (("train", round(5000 * scale)), ("test", round(1000 * scale))):
        images, labels = mnist_part(count, part)
        write_pictures(folder / part, colour(images, rng), labels, part)


def build_shapes(folder: Path, scale: float, seed: int) -> None:
    make_synthetic_folder(folder, classes=tuple(SHAPES), per_class=max(6, round(1200 * scale)),
                          seed=seed)  # fmt: skip


TEXTURES = ("horizontal", "vertical", "diagonal", "checks", "dots", "blotches")


def texture(kind: str, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One gray ``size`` x ``size`` picture of the texture ``kind`` (uint8)."""
    y, x = np.mgrid[0:size, 0:size].astype(float)
    period, phase = rng.uniform(4, 10), rng.uniform(0, 2 * np.pi)
    wave = {
        "horizontal": lambda: np.sin(2 * np.pi * y / period + phase),
        "vertical": lambda: np.sin(2 * np.pi * x / period + phase),
        "diagonal": lambda: np.sin(2 * np.pi * (x + rng.choice([-1, 1]) * y) / period + phase),
        "checks": lambda: np.sin(2 * np.pi * x / period + phase) * np.sin(2 * np.pi * y / period),
        "dots": lambda: np.maximum(np.sin(2 * np.pi * x / period + phase)
                                   * np.sin(2 * np.pi * y / period + phase), 0) ** 4 * 2 - 1,
        "blotches": lambda: blotches(rng, size),
    }[kind]()  # fmt: skip
    contrast, level = rng.uniform(15, 70), rng.uniform(90, 165)
    pixels = level + contrast * wave + rng.normal(0, 45, size=(size, size))
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def blotches(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth random blotches in [-1, 1]: noise blurred by averaging shifted copies."""
    noise = rng.normal(size=(size, size))
    for _ in range(3):
        noise = sum(np.roll(noise, shift, axis) for shift in (-1, 0, 1) for axis in (0, 1)) / 6
    return np.clip(noise / (3 * noise.std()), -1, 1)


def build_textures(folder: Path, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    count = max(6, round(1000 * scale))
    for label, kind in enumerate(TEXTURES):
        images = np.stack([texture(kind, rng) for _ in range(count)])
        write_pictures(folder, images, np.full(count, label), kind)
    for label, kind in enumerate(TEXTURES):
        (folder / str(label)).rename(folder / kind)


DATA_SETS = {
    data.name: data
    for data in (
        DataSet("digits8", "idx", "scikit-learn's 8x8 digits scaled to 28x28", build_digits8),
        DataSet("mnist-inverted", "idx", "MNIST digits, dark on light", build_mnist_inverted),
        DataSet("mnist-colour", "folder", "MNIST digits in random RGB colours, train/ and test/",
                build_mnist_colour),
        DataSet("shapes", "folder", "nanocnn's synthetic shapes, 5 classes, mixed files",
                build_shapes),
        DataSet("textures", "folder", "generated gray textures, 6 classes", build_textures),
    )
}  # fmt: skip


def ensure(data: DataSet, root: Path, scale: float = 1.0, seed: int = 0) -> Path:
    """The folder of ``data`` under ``root``, built unless a complete one is there."""
    folder, done = root / data.name, root / f"{data.name}{DONE}"
    if not done.exists():
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        data.build(folder, scale, seed)
        done.write_text(f"scale {scale} seed {seed}\n")
    return folder
