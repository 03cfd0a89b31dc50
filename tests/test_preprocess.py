"""Tests of preprocess_digit: drawings and photos of digits come out shaped like MNIST digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nanocnn.errors import BlankImageError
from nanocnn.preprocess import center_of_mass, preprocess_digit

Image = pytest.importorskip("PIL.Image")
ImageDraw = pytest.importorskip("PIL.ImageDraw")

MNIST_TEST_IMAGES = Path(__file__).parents[1] / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"

# A "7" with a crossbar, as a polyline in a unit square (x right, y down).
SEVEN = [(0.1, 0.05), (0.9, 0.05), (0.45, 1.0)]
BAR = [(0.3, 0.5), (0.75, 0.5)]


def draw_seven(
    canvas: int = 280,
    corner: tuple[int, int] = (60, 40),
    size: int = 200,
    width: int = 18,
    ink: int = 0,
    paper: int = 255,
) -> np.ndarray:
    """A (canvas, canvas) uint8 drawing of a 7, ``size`` pixels tall with its box at ``corner``."""
    image = Image.new("L", (canvas, canvas), paper)
    draw = ImageDraw.Draw(image)
    for stroke in (SEVEN, BAR):
        points = [(corner[0] + x * size, corner[1] + y * size) for x, y in stroke]
        draw.line(points, fill=ink, width=width, joint="curve")
    return np.asarray(image)


def ink_box(x: np.ndarray, level: float = 0.05) -> tuple[int, int]:
    """Height and width of the bounding box of the pixels of ``x`` above ``level``."""
    rows, cols = np.nonzero(x > level)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The best correlation of ``a`` and ``b`` (1, 28, 28) shifted by up to a pixel each way.

    Placing by whole pixels, as MNIST does, may put the same digit a pixel apart.
    """
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return max(correlation(np.roll(a, shift, axis=(1, 2)), b) for shift in shifts)


def check_mnist_like(x: np.ndarray) -> None:
    assert x.shape == (1, 28, 28)
    assert x.dtype == np.float32
    assert x.min() >= 0 and x.max() == pytest.approx(1)
    row, col = center_of_mass(x[0])
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1
    height, width = ink_box(x[0])
    assert max(height, width) in (19, 20) and min(height, width) <= 20


def test_a_one_drawn_dark_on_white() -> None:
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).line([(140, 40), (140, 240)], fill=0, width=20)
    x = preprocess_digit(image)
    check_mnist_like(x)
    assert (x[0, :, :4] == 0).all() and (x[0, :, -4:] == 0).all()  # background is 0
    height, width = ink_box(x[0])
    assert height == 20 and width <= 3  # tall and thin, aspect ratio kept


def test_polarity_is_detected() -> None:
    dark_on_light = preprocess_digit(draw_seven(ink=0, paper=255))
    light_on_dark = preprocess_digit(draw_seven(ink=255, paper=0))
    check_mnist_like(dark_on_light)
    assert dark_on_light[0, 0, 0] == 0 and dark_on_light.max() == 1
    np.testing.assert_allclose(dark_on_light, light_on_dark, atol=1e-6)


def test_size_and_position_do_not_matter() -> None:
    large = preprocess_digit(draw_seven(corner=(40, 40), size=200, width=18))
    small = preprocess_digit(draw_seven(corner=(170, 20), size=60, width=6))
    tiny_in_corner = preprocess_digit(draw_seven(corner=(2, 245), size=30, width=3))
    for x in (small, tiny_in_corner):
        check_mnist_like(x)
        assert similarity(x, large) > 0.9


def test_photo_of_paper_with_noise_and_uneven_light() -> None:
    rng = np.random.default_rng(0)
    drawing = draw_seven(ink=60, paper=190).astype(np.float64)
    light = np.linspace(-25, 25, 280)[np.newaxis, :]  # brighter to the right
    photo = np.clip(drawing + light + rng.normal(0, 8, drawing.shape), 0, 255).astype(np.uint8)
    x = preprocess_digit(photo)
    check_mnist_like(x)
    assert similarity(x, preprocess_digit(draw_seven())) > 0.9


def test_colour_and_transparent_inputs(tmp_path: Path) -> None:
    expected = preprocess_digit(draw_seven())
    blue_ink = np.stack([draw_seven(), draw_seven(), np.full((280, 280), 255, np.uint8)], axis=2)
    assert correlation(preprocess_digit(blue_ink), expected) > 0.99
    canvas = np.zeros((280, 280, 4), np.uint8)  # a web canvas: black strokes on transparency
    canvas[..., 3] = 255 - draw_seven()
    np.testing.assert_allclose(preprocess_digit(canvas), expected, atol=1e-6)
    path = tmp_path / "seven.png"
    Image.fromarray(canvas).save(path)
    np.testing.assert_allclose(preprocess_digit(path), expected, atol=1e-6)


def test_white_strokes_on_transparency_read_as_a_digit(tmp_path: Path) -> None:
    """Light ink on a transparent canvas would vanish on white paper: it goes on black."""
    canvas = np.full((280, 280, 4), 255, np.uint8)  # white strokes on transparency
    canvas[..., 3] = 255 - draw_seven()
    path = tmp_path / "white-seven.png"
    Image.fromarray(canvas).save(path)
    np.testing.assert_allclose(preprocess_digit(path), preprocess_digit(draw_seven()), atol=1e-6)


@pytest.mark.parametrize(
    "image",
    [
        np.full((280, 280), 255, np.uint8),
        np.zeros((280, 280), np.uint8),
        np.clip(np.random.default_rng(1).normal(230, 6, (280, 280)), 0, 255).astype(np.uint8),
        *(np.full((60, 60), level, np.uint8) for level in (77, 128, 200)),
    ],
    ids=["white", "black", "noisy-paper", "gray-77", "gray-128", "gray-200"],
)
def test_blank_images_are_refused(image: np.ndarray) -> None:
    with pytest.raises(BlankImageError, match="no digit found: draw a digit"):
        preprocess_digit(image)


@pytest.mark.parametrize("dot", [1, 5, 9])
def test_a_stray_dot_is_refused(dot: int) -> None:
    image = np.full((280, 280), 255, np.uint8)
    image[100 : 100 + dot, 150 : 150 + dot] = 0
    with pytest.raises(BlankImageError, match="no digit found"):
        preprocess_digit(image)


def test_a_small_image_with_a_small_digit_is_kept() -> None:
    image = np.zeros((28, 28), np.uint8)
    image[10:16, 12:14] = 255  # a "1" six pixels tall
    check_mnist_like(preprocess_digit(image))


def test_center_of_mass() -> None:
    image = np.zeros((5, 7))
    image[3, 5] = 1
    assert center_of_mass(image) == (3.0, 5.0)
    image[1, 1] = 1
    assert center_of_mass(image) == (2.0, 3.0)


def test_real_mnist_digits_are_left_nearly_unchanged() -> None:
    idx = pytest.importorskip("nanocnn.datasets.idx")
    if not MNIST_TEST_IMAGES.exists():
        pytest.skip(f"no MNIST test images at {MNIST_TEST_IMAGES}")
    digits = idx.read_idx(MNIST_TEST_IMAGES)[:30]  # (30, 28, 28) uint8
    same, redrawn = [], []
    for digit in digits:
        original = digit / 255
        x = preprocess_digit(digit)
        check_mnist_like(x)
        same.append(similarity(x, original))
        # The same digit drawn black on white on a large canvas, as the web app gets it.
        large = Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BILINEAR)
        redrawn.append(similarity(preprocess_digit(large), original))
    assert np.mean(same) > 0.9
    assert np.mean(redrawn) > 0.85


def test_a_huge_photo_is_shrunk_first_and_reads_the_same():
    """A 3000x3000 drawing goes through the MAX_SIDE shrink and matches a 300x300 one."""
    from nanocnn.preprocess import MAX_SIDE

    def seven(side: int) -> Image.Image:
        image = Image.new("L", (side, side), 255)
        draw = ImageDraw.Draw(image)
        scale = side / 300
        draw.line(
            [(80 * scale, 70 * scale), (220 * scale, 70 * scale)], fill=0, width=int(20 * scale)
        )
        draw.line(
            [(220 * scale, 70 * scale), (120 * scale, 240 * scale)], fill=0, width=int(20 * scale)
        )
        return image

    assert MAX_SIDE < 3000
    small, large = preprocess_digit(seven(300)), preprocess_digit(seven(3000))
    assert np.corrcoef(small.ravel(), large.ravel())[0, 1] > 0.95


def tightly_cropped(digit: np.ndarray, scale: int) -> np.ndarray:
    """An MNIST digit as a tight scan gives it: cut to its ink's bounding box, dark on white,
    ``scale`` times larger."""
    rows, cols = np.nonzero(digit)
    crop = 255 - digit[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = crop.shape
    size = (width * scale, height * scale)
    return np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BILINEAR))


def test_digits_whose_ink_touches_the_edges_are_found_and_read() -> None:
    """Tightly cropped MNIST test digits (ink on every edge; 1 to 5 times their size) are all
    found, and the bundled model reads them nearly as well as the untouched digits."""
    import nanocnn as nc
    from nanocnn.cli.app import BUNDLED_MODEL
    from nanocnn.datasets.idx import read_idx

    count = 600
    digits = read_idx(MNIST_TEST_IMAGES)[:count]  # (count, 28, 28) uint8
    labels = read_idx(MNIST_TEST_IMAGES.with_name("t10k-labels-idx1-ubyte.gz"))[:count]
    model = nc.load(BUNDLED_MODEL)
    untouched = np.stack([preprocess_digit(digit) for digit in digits])
    found, inputs = [], []
    for index, digit in enumerate(digits):
        try:
            inputs.append(preprocess_digit(tightly_cropped(digit, scale=1 + index % 5)))
            found.append(index)
        except BlankImageError:
            pass
    assert len(found) >= 0.99 * count
    reference = np.mean(model.predict(untouched).argmax(axis=1) == labels)
    accuracy = np.sum(model.predict(np.stack(inputs)).argmax(axis=1) == labels[found]) / count
    assert reference > 0.97
    assert accuracy >= reference - 0.01, (accuracy, reference)
