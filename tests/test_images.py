"""Tests of open_image: every odd kind of image reads to the right shape, bad files fail clearly."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from nanocnn.errors import DataError
from nanocnn.images import open_image

Image = pytest.importorskip("PIL.Image")


def save(image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int) -> bytes:
    """A small PNG file declaring ``width`` × ``height`` 8-bit gray pixels, with almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1))  # the first row only
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_palette_image(tmp_path: Path, mode: str) -> None:
    image = Image.new("RGB", (7, 5), (255, 0, 0)).convert("P", palette=Image.Palette.ADAPTIVE)
    array = open_image(save(image, tmp_path / "p.png"), mode)
    assert array.dtype == np.uint8
    assert array.shape == ((5, 7) if mode == "L" else (5, 7, 3))
    if mode == "RGB":
        assert tuple(array[0, 0]) == (255, 0, 0)


def test_palette_with_transparency_is_white(tmp_path: Path) -> None:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0] * 256)
    path = save(image, tmp_path / "t.png", transparency=0)
    assert (open_image(path) == 255).all()


def test_gray_alpha_is_composited_over_white(tmp_path: Path) -> None:
    array = np.zeros((3, 4, 2), np.uint8)
    array[:, :2, 1] = 255  # left half opaque black, right half transparent black
    path = save(Image.fromarray(array, "LA"), tmp_path / "la.png")
    result = open_image(path)
    assert result.shape == (3, 4)
    assert (result[:, :2] == 0).all() and (result[:, 2:] == 255).all()


def test_light_drawing_on_transparency_goes_on_black_a_mostly_opaque_one_on_white(
    tmp_path: Path,
) -> None:
    drawing = np.zeros((4, 4, 4), np.uint8)
    drawing[1, :, :] = 255  # one opaque white row: a light stroke on a transparent canvas
    assert (open_image(save(Image.fromarray(drawing), tmp_path / "stroke.png"))[0] == 0).all()
    picture = np.full((4, 4, 4), 255, np.uint8)
    picture[0, :, 3] = 0  # a light picture, its top row transparent: kept on white
    assert (open_image(save(Image.fromarray(picture), tmp_path / "picture.png")) == 255).all()


def test_rgba_is_composited_over_white(tmp_path: Path) -> None:
    array = np.zeros((2, 2, 4), np.uint8)
    array[0, 0] = (255, 0, 0, 255)
    array[1, 1] = (0, 0, 255, 128)
    result = open_image(save(Image.fromarray(array), tmp_path / "rgba.png"), "RGB")
    assert result.shape == (2, 2, 3)
    assert tuple(result[0, 0]) == (255, 0, 0)
    assert tuple(result[0, 1]) == (255, 255, 255)
    assert tuple(result[1, 1]) == (127, 127, 255)


def test_cmyk(tmp_path: Path) -> None:
    image = Image.new("CMYK", (6, 3), (0, 0, 0, 0))
    path = save(image, tmp_path / "cmyk.tiff")
    assert open_image(path, "RGB").shape == (3, 6, 3)
    assert (open_image(path) == 255).all()


def test_16_bit_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 100, 32768, 65535]], np.uint16)
    path = save(Image.fromarray(values), tmp_path / "deep.png")
    with Image.open(path) as image:
        assert image.mode.startswith("I")
    assert open_image(path).tolist() == [[0, 100, 128, 255]]
    assert open_image(path, "RGB").shape == (1, 4, 3)


def test_32_bit_integer_and_float_images(tmp_path: Path) -> None:
    deep = Image.fromarray(np.array([[0, 65535]], np.int32))
    assert deep.mode == "I"
    assert open_image(deep).tolist() == [[0, 255]]
    floats = save(Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32)), tmp_path / "f.tiff")
    assert open_image(floats).tolist() == [[0, 128, 255]]


def test_one_bit(tmp_path: Path) -> None:
    image = Image.new("1", (5, 2), 0)
    image.putpixel((0, 0), 1)
    result = open_image(save(image, tmp_path / "bits.png"))
    assert result.shape == (2, 5)
    assert result[0, 0] == 255 and result[1, 1] == 0


def test_animated_gif_reads_the_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 6), colour) for colour in [(255, 0, 0), (0, 0, 255)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as image:
        assert image.n_frames == 2
    result = open_image(path, "RGB")
    assert result.shape == (6, 8, 3)
    assert tuple(result[0, 0]) == (255, 0, 0)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = Image.new("L", (20, 10), 0)
    exif = image.getexif()
    exif[0x0112] = 6  # stored sideways: rotate 90° clockwise to view
    path = save(image, tmp_path / "rotated.jpg", exif=exif)
    assert open_image(path).shape == (20, 10)


def test_tiny_image(tmp_path: Path) -> None:
    path = save(Image.new("L", (1, 1), 42), tmp_path / "dot.png")
    assert open_image(path).tolist() == [[42]]
    assert open_image(path, "RGB").shape == (1, 1, 3)


def test_grayscale_given_as_rgb(tmp_path: Path) -> None:
    image = Image.fromarray(np.stack([np.arange(12, dtype=np.uint8).reshape(3, 4)] * 3, axis=2))
    assert image.mode == "RGB"
    result = open_image(save(image, tmp_path / "gray.png"))
    assert result.tolist() == np.arange(12).reshape(3, 4).tolist()


def test_bytes_pillow_image_and_arrays() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), (10, 20, 30)).save(buffer, format="PNG")
    assert open_image(buffer.getvalue(), "RGB")[0, 0].tolist() == [10, 20, 30]
    assert open_image(Image.new("L", (3, 2), 7)).shape == (2, 3)
    assert open_image(np.full((2, 3), 0.5)).tolist() == [[128] * 3] * 2
    assert open_image(np.ones((2, 2), bool)).tolist() == [[255, 255]] * 2
    assert open_image(np.full((2, 2, 1), 9, np.uint8)).tolist() == [[9, 9]] * 2
    assert open_image(np.zeros((2, 2, 4), np.uint8), "RGB").tolist() == [[[255] * 3] * 2] * 2


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"this is not an image", "not an image"),
        (b"", "empty"),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "upload.png"
    path.write_bytes(content)
    with pytest.raises(DataError, match=problem) as caught:
        open_image(path)
    assert str(path) in str(caught.value)


def test_truncated_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8))
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(DataError, match="truncated") as caught:
        open_image(path)
    assert str(path) in str(caught.value)


def test_missing_path_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file") as caught:
        open_image(tmp_path / "missing.png")
    assert "missing.png" in str(caught.value)
    with pytest.raises(DataError, match="not a file"):
        open_image(tmp_path)


def test_too_many_pixels_is_refused_before_decoding(tmp_path: Path) -> None:
    path = save(Image.new("L", (100, 60)), tmp_path / "big.png")
    with pytest.raises(DataError, match="too many pixels") as caught:
        open_image(path, max_pixels=5_000)
    assert str(path) in str(caught.value)
    header_only = tmp_path / "claims-big.png"
    header_only.write_bytes(png_header(8_000, 8_000))  # no pixel data at all
    with pytest.raises(DataError, match="too many pixels"):
        open_image(header_only)


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header(20_000, 20_000))  # over twice Pillow's own limit
    with pytest.raises(DataError, match="too many pixels") as caught:
        open_image(path, max_pixels=10**9)
    assert str(path) in str(caught.value)


def test_empty_image_objects_and_bad_arrays() -> None:
    with pytest.raises(DataError, match="no pixels"):
        open_image(Image.new("L", (0, 3)))
    with pytest.raises(DataError, match="no pixels"):
        open_image(np.zeros((0, 4), np.uint8))
    with pytest.raises(DataError, match=r"\(H, W\)"):
        open_image(np.zeros((3, 4, 5)))
    with pytest.raises(DataError, match="NaN"):
        open_image(np.array([[np.nan, 1.0]]))
    with pytest.raises(DataError, match=r"upload\.png: empty"):
        open_image(b"", name="upload.png")
    with pytest.raises(ValueError, match="mode"):
        open_image(np.zeros((2, 2)), mode="CMYK")  # type: ignore[arg-type]
