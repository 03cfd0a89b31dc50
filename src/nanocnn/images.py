"""Read image files robustly into uint8 arrays: whatever the mode, depth, frames or orientation.

Shared by the command line, the web app and the UTKFace loader, so that every odd file they
meet (palette, transparency, CMYK, 16-bit, float, animated, rotated by EXIF) reads the same way,
and every bad one (not an image, truncated, empty, huge) ends in a ``DataError`` naming it.

>>> open_image("digit.png").shape  # doctest: +SKIP
(280, 280)
>>> open_image("face.jpg", mode="RGB").shape  # doctest: +SKIP
(200, 200, 3)
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np

from nanocnn._optional import require
from nanocnn.errors import DataError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

ImageSource: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | PILImage | np.ndarray"
Mode: TypeAlias = Literal["L", "RGB"]

# About a 50-megapixel photo; Pillow's own decompression-bomb limit is near 89 million.
DEFAULT_MAX_PIXELS = 50_000_000

# Opaque pixels covering less than this fraction of a transparent image are a drawing on it.
DRAWING_COVERAGE = 0.5

# Pillow modes holding more than 8 bits a pixel: scaled to 8 bits by their range, not clipped.
_DEEP_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")

# What Pillow raises on a corrupt or truncated file, besides its UnidentifiedImageError
# (IndexError: some plugins index past the end of a truncated header).
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error, IndexError)


def open_image(
    source: ImageSource,
    mode: Mode = "L",
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> np.ndarray:
    """Read ``source`` as a uint8 array: (H, W) for ``mode="L"``, (H, W, 3) for ``mode="RGB"``.

    ``source`` is a file path, the bytes of an image file, a Pillow image, or an array:
    (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) (the last channel alpha). Arrays of other dtypes
    are scaled to 8 bits like deep images: uint16 by 65535, floats in [0, 1] by 1, other
    values in [0, 255] as they are, in [0, 65535] by 65535, anything else stretched min to max.

    The first frame of an animation is read; EXIF orientation is applied; transparency is
    composited over white (over black for light strokes on a transparent canvas); palette,
    1-bit, CMYK and YCbCr images are converted; 16-bit and float images are scaled to 8 bits
    by their range. ``max_pixels`` bounds width × height and
    is checked from the header, before decoding. ``name`` is how error messages call the
    image (default: the path, or a description of the bytes or object).

    Raises ``DataError`` naming the image when it is missing, empty, not an image, truncated
    or corrupt, has no pixels, or has more than ``max_pixels``.
    """
    if mode not in ("L", "RGB"):
        raise ValueError(f"mode must be 'L' or 'RGB', not {mode!r}")
    Image = require("PIL.Image", extra="cli")
    name = name or _describe(source)
    if isinstance(source, np.ndarray):
        source = Image.fromarray(_array_to_image_data(source, name))
    try:
        if isinstance(source, Image.Image):
            return _decode(source, mode, name, max_pixels)
        with Image.open(_open_file(source, name)) as image:
            return _decode(image, mode, name, max_pixels)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DataError(f"{name}: too many pixels to decode safely ({error})") from error
    except Image.UnidentifiedImageError as error:
        raise DataError(f"{name}: not an image file (or a format Pillow cannot read)") from error
    except PermissionError as error:
        raise DataError(f"{name}: cannot read the file ({error.strerror})") from error
    except _DECODE_ERRORS as error:
        raise DataError(f"{name}: corrupt or truncated image ({error})") from error


def header_mode(path: str | os.PathLike[str]) -> str | None:
    """Return the Pillow mode of the image file at ``path`` ("L", "RGB", "P", "I;16", ...)
    from its header alone, without decoding a pixel; None if it cannot be opened as an image.
    """
    Image = require("PIL.Image", extra="cli")
    try:
        with Image.open(path) as image:
            return str(image.mode)
    except (*_DECODE_ERRORS, Image.DecompressionBombError):
        return None


def _describe(source: object) -> str:
    """Return how error messages name ``source`` when the caller gave no name."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"image data ({len(source)} bytes)"
    if isinstance(source, np.ndarray):
        return f"image array {source.shape} {source.dtype}"
    return f"image {type(source).__name__}"


def _open_file(source: object, name: str) -> Path | io.BytesIO:
    """Return a path or stream Pillow can open, raising ``DataError`` if there is nothing."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise DataError(f"{name}: empty (0 bytes), not an image")
        return io.BytesIO(source)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"cannot read an image from {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise DataError(f"{name}: no such file")
    if not path.is_file():
        raise DataError(f"{name}: not a file")
    if path.stat().st_size == 0:
        raise DataError(f"{name}: empty file (0 bytes), not an image")
    return path


def _decode(image: PILImage, mode: Mode, name: str, max_pixels: int) -> np.ndarray:
    """Check the size of a (lazily opened) Pillow image, then decode and convert it to ``mode``."""
    Image = require("PIL.Image", extra="cli")
    ImageOps = require("PIL.ImageOps", extra="cli")
    width, height = image.size
    if width == 0 or height == 0:
        raise DataError(f"{name}: image has no pixels ({width}×{height})")
    if width * height > max_pixels:
        raise DataError(
            f"{name}: too many pixels ({width}×{height} = {width * height:,}; "
            f"the limit is {max_pixels:,})"
        )
    if image.tell() != 0:  # not is_animated: that parses the next frame, which may be cut off
        image.seek(0)
    image.load()
    image = ImageOps.exif_transpose(image)
    if image.mode in _DEEP_MODES:
        image = Image.fromarray(_array_to_image_data(np.asarray(image), name))
    if image.mode == "P" or image.has_transparency_data:
        rgba = image.convert("RGBA")
        backdrop = Image.new("RGBA", image.size, _backdrop(np.asarray(rgba)))
        image = Image.alpha_composite(backdrop, rgba)
    return np.asarray(image.convert(mode))


def _backdrop(rgba: np.ndarray) -> tuple[int, int, int, int]:
    """The colour to composite an (H, W, 4) image with transparency over: white, except for
    light strokes drawn on a transparent canvas (opaque pixels covering less than
    ``DRAWING_COVERAGE`` of it, light on average), which would vanish on white: black."""
    alpha = rgba[:, :, 3].astype(np.float64) / 255  # (H, W) in [0, 1]
    coverage = alpha.mean()
    if 0 < coverage < DRAWING_COVERAGE:
        luminance = rgba[:, :, :3].astype(np.float64) @ (0.299, 0.587, 0.114)  # (H, W)
        if (luminance * alpha).sum() / alpha.sum() > 127.5:
            return (0, 0, 0, 255)
    return (255, 255, 255, 255)


def _array_to_image_data(array: np.ndarray, name: str) -> np.ndarray:
    """Return ``array`` as uint8 (H, W), (H, W, 3) or (H, W, 4), scaled to 8 bits if deeper."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise DataError(f"{name}: an image array must be (H, W), (H, W, 3) or (H, W, 4)")
    if array.size == 0:
        raise DataError(f"{name}: image has no pixels")
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise DataError(f"{name}: image holds NaN or infinite values")
    low, high = values.min(), values.max()
    is_16_bit = array.dtype.kind == "u" and array.dtype.itemsize == 2
    if is_16_bit or (low >= 0 and 255 < high <= 65535):
        values = values / 65535 * 255
    elif low >= 0 and high <= 1 and np.issubdtype(array.dtype, np.floating):
        values = values * 255
    elif low < 0 or high > 255:
        values = (values - low) / max(high - low, 1e-12) * 255
    return np.rint(values).astype(np.uint8)
