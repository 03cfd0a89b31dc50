"""Fuzzing the images ``nanocnn predict`` and the image-folder loader read: every format and
mode Pillow writes (CMYK, 16-bit, float, palette, animated...), any size from 1x1, damaged
files, random bytes and headers that claim huge sizes. Each gives an MNIST-like digit (or a
square uint8 image), a ``BlankImageError`` (no digit in it), or a ``DataError`` naming the
file: never another exception, a hang or a memory blow-up. (``pytest
--hypothesis-show-statistics`` prints the cases tried.)
"""

from __future__ import annotations

import io
import resource
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanocnn.datasets import read_image
from nanocnn.errors import BlankImageError, DataError
from nanocnn.images import DEFAULT_MAX_PIXELS, header_mode, open_image
from nanocnn.preprocess import preprocess_digit

Image = pytest.importorskip("PIL.Image")
ImageDraw = pytest.importorskip("PIL.ImageDraw")

FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
MODES = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"],
    "GIF": ["1", "L", "P", "RGB"],
    "JPEG": ["L", "RGB", "CMYK"],
    "BMP": ["1", "L", "P", "RGB"],
    "TIFF": ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"],
    "WEBP": ["RGB", "RGBA"],
}
ANIMATED = ["GIF", "PNG", "WEBP"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def gray(width: int, height: int, kind: str, seed: int) -> np.ndarray:
    """(height, width) uint8: noise, a flat level, or a dark stroke on white paper."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.integers(0, 256, (height, width), dtype=np.uint8)
    if kind == "flat":
        return np.full((height, width), rng.integers(0, 256), np.uint8)
    image = Image.new("L", (width, height), 255)
    ends = [tuple(rng.integers(0, [width, height])) for _ in range(2)]
    ImageDraw.Draw(image).line(ends, fill=0, width=max(1, min(width, height) // 6))
    return np.asarray(image)


def as_mode(pixels: np.ndarray, mode: str) -> Image.Image:
    """The gray pixels in ``mode``; 16-bit and 32-bit images use their whole range."""
    if mode == "I;16":
        return Image.fromarray(pixels.astype(np.uint16) * 257)
    if mode == "I":
        return Image.fromarray(pixels.astype(np.int32) * 1000)
    return Image.fromarray(pixels).convert(mode)


@st.composite
def image_files(draw: st.DrawFn) -> bytes:
    """The bytes of a valid image file of any format, mode and size, sometimes animated."""
    fmt = draw(st.sampled_from(sorted(MODES)))
    mode = draw(st.sampled_from(MODES[fmt]))
    width, height = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    kind = draw(st.sampled_from(["stroke", "stroke", "noise", "flat"]))
    seed = draw(st.integers(0, 2**16))
    frames = draw(st.integers(2, 3)) if fmt in ANIMATED and draw(st.booleans()) else 1
    images = [as_mode(gray(width, height, kind, seed + i), mode) for i in range(frames)]
    if fmt == "WEBP" or (fmt == "GIF" and frames > 1):
        images = [image.convert("RGB") for image in images]
    buffer = io.BytesIO()
    images[0].save(buffer, format=fmt, save_all=frames > 1, append_images=images[1:])
    return buffer.getvalue()


def digit_or_error(path: Path) -> np.ndarray | DataError:
    """What ``predict`` makes of the file: a digit, or the DataError it raised."""
    try:
        digit = preprocess_digit(path)
    except BlankImageError as error:  # the image is fine, there is no digit in it
        return error
    except DataError as error:
        assert str(path) in str(error)
        return error
    assert digit.shape == (1, 28, 28) and digit.dtype == np.float32
    assert np.isfinite(digit).all() and digit.min() >= 0 and digit.max() == pytest.approx(1)
    return digit


@FUZZ
@given(content=image_files())
def test_every_format_mode_and_size(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "image.img"
    path.write_bytes(content)
    result = digit_or_error(path)
    assert not isinstance(result, DataError) or isinstance(result, BlankImageError), result


@FUZZ
@given(content=image_files(), data=st.data())
def test_damaged_files(tmp_path: Path, content: bytes, data: st.DataObject) -> None:
    damaged = bytearray(content)
    if data.draw(st.booleans(), label="truncate"):
        damaged = damaged[: data.draw(st.integers(0, len(damaged) - 1), label="cut")]
    else:
        for _ in range(data.draw(st.integers(1, 4), label="flips")):
            position = data.draw(st.integers(0, len(damaged) - 1), label="position")
            damaged[position] ^= data.draw(st.integers(1, 255), label="xor")
    path = tmp_path / "damaged.img"
    path.write_bytes(bytes(damaged))
    digit_or_error(path)  # a digit or a DataError, nothing else


@FUZZ
@given(content=st.binary(max_size=1000), prefix=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n",
       b"GIF89a", b"\xff\xd8\xff", b"BM", b"II*\x00", b"RIFF"]))  # fmt: skip
def test_random_bytes(tmp_path: Path, content: bytes, prefix: bytes) -> None:
    path = tmp_path / "random.png"
    path.write_bytes(prefix + content)
    result = digit_or_error(path)
    assert isinstance(result, DataError) and not isinstance(result, BlankImageError)


def png_claiming(width: int, height: int, mode: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels (colour type ``mode``) but holds the
    data of one gray row at most: never enough for two rows."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, mode, 0, 0, 0)
    row = zlib.compress(bytes(min(width, 4096) + 1))  # a filter byte and one gray row
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", row) + chunk(b"IEND", b"")


@settings(FUZZ, max_examples=60)
@given(
    width=st.integers(1, 2**31 - 1),
    height=st.integers(2, 2**31 - 1),
    mode=st.sampled_from([0, 2, 6]),
)
def test_headers_claiming_huge_sizes(tmp_path: Path, width: int, height: int, mode: int) -> None:
    """Refused from the header alone when over the pixel limit, never decoded into memory.
    (Under the limit Pillow may fill the missing rows with black rather than complain.)"""
    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(width, height, mode))
    before = peak_rss_mb()
    try:
        assert open_image(path).shape[:2] == (height, width)
    except DataError as error:
        assert str(path) in str(error)
        if width * height > DEFAULT_MAX_PIXELS:
            assert "too many pixels" in str(error)
    else:
        assert width * height <= DEFAULT_MAX_PIXELS
    assert peak_rss_mb() - before < 300  # at most one image under the limit, 50 MB a channel


def stroke(mode: str, fmt: str, tmp_path: Path) -> Path:
    """The same dark stroke on white, as an image of ``mode`` saved as ``fmt``."""
    image = as_mode(gray(60, 80, "stroke", seed=7), mode)
    path = tmp_path / f"stroke-{mode.replace(';', '')}.{fmt.lower()}"
    image.save(path, format=fmt)
    return path


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("1", "PNG"), ("LA", "PNG"), ("P", "PNG"), ("RGB", "PNG"), ("RGBA", "PNG"), ("I;16", "PNG"),
     ("I", "TIFF"), ("F", "TIFF"), ("CMYK", "TIFF"), ("L", "BMP"), ("P", "GIF")],
)  # fmt: skip
def test_every_mode_gives_the_same_digit(tmp_path: Path, mode: str, fmt: str) -> None:
    """Lossless files of the same picture in any mode or depth give the same input: the
    conversions neither invert, darken nor clip it (no silently wrong answer)."""
    expected = preprocess_digit(stroke("L", "PNG", tmp_path))
    np.testing.assert_allclose(preprocess_digit(stroke(mode, fmt, tmp_path)), expected, atol=0.02)


def test_an_animation_is_read_by_its_first_frame(tmp_path: Path) -> None:
    first, second = (Image.fromarray(gray(40, 40, "stroke", seed)) for seed in (1, 2))
    path = tmp_path / "animated.gif"
    first.save(path, save_all=True, append_images=[second], duration=100, loop=0)
    np.testing.assert_allclose(preprocess_digit(path), preprocess_digit(first), atol=1e-6)


def test_an_animation_cut_in_its_second_frame_reads_its_first(tmp_path: Path) -> None:
    """Found by fuzzing: asking Pillow whether a GIF is animated parses the next frame, and
    a cut-off one raised IndexError; the first frame is all ``predict`` needs."""
    first, second = (Image.fromarray(gray(40, 40, "stroke", seed)) for seed in (1, 2))
    whole = tmp_path / "animated.gif"
    first.save(whole, save_all=True, append_images=[second], duration=100, loop=0)
    content, cut = whole.read_bytes(), tmp_path / "cut.gif"
    second_frame = content.rindex(b"\x21\xf9")  # its graphic control extension
    for end in range(second_frame, len(content)):
        cut.write_bytes(content[:end])
        np.testing.assert_allclose(preprocess_digit(cut), preprocess_digit(first), atol=1e-6)


@pytest.mark.parametrize("mode", ["1", "L", "RGB", "CMYK", "I;16", "F"])
def test_one_pixel_and_empty_files(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "dot.tiff"
    as_mode(np.zeros((1, 1), np.uint8), mode).save(path)
    with pytest.raises(BlankImageError):
        preprocess_digit(path)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.png: empty"):
        preprocess_digit(tmp_path / "empty.png")


def square_or_error(path: Path, size: int, channels: int) -> np.ndarray | DataError:
    """What the image-folder loader makes of the file: (C, S, S) uint8, or its DataError.

    The header is read first, as the loader does to count channels: it never raises.
    """
    mode = header_mode(path)
    assert mode is None or isinstance(mode, str)
    try:
        image = read_image(path, size, channels)
    except DataError as error:
        assert str(path) in str(error)
        return error
    assert image.shape == (channels, size, size) and image.dtype == np.uint8
    assert mode is not None  # what decodes has a header
    return image


@FUZZ
@given(content=image_files(), size=st.integers(1, 40), channels=st.sampled_from([1, 3]))
def test_loader_reads_every_format_mode_and_size(
    tmp_path: Path, content: bytes, size: int, channels: int
) -> None:
    path = tmp_path / "image.img"
    path.write_bytes(content)
    assert isinstance(square_or_error(path, size, channels), np.ndarray)


@FUZZ
@given(content=image_files(), data=st.data())
def test_loader_on_damaged_files(tmp_path: Path, content: bytes, data: st.DataObject) -> None:
    damaged = bytearray(content)
    cut = data.draw(st.integers(0, len(damaged) - 1), label="cut")
    position = data.draw(st.integers(0, len(damaged) - 1), label="position")
    damaged[position] ^= data.draw(st.integers(1, 255), label="xor")
    path = tmp_path / "damaged.img"
    path.write_bytes(bytes(damaged[:cut] if data.draw(st.booleans()) else damaged))
    square_or_error(path, data.draw(st.integers(1, 16), label="size"), 3)  # no other outcome


@settings(FUZZ, max_examples=30)
@given(width=st.integers(8000, 2**31 - 1), height=st.integers(8000, 2**31 - 1))
def test_loader_refuses_huge_headers_unread(tmp_path: Path, width: int, height: int) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(png_claiming(width, height, 2))
    before = peak_rss_mb()
    assert header_mode(path) in ("RGB", None)  # Pillow's own bomb check may refuse it
    with pytest.raises(DataError, match="too many pixels"):
        read_image(path, 32, 3)
    assert peak_rss_mb() - before < 50
