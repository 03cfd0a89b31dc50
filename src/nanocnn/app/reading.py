"""What the page shows for one input, as plain functions testable without a browser.

``prepared`` turns the page's value (a Sketchpad's drawing, an uploaded picture) into the
model's input, as ``nanocnn predict`` would (through the model's task), or into the message
the page shows instead; ``read_input`` turns an image into a :class:`Reading`: the answer
(the class probabilities, or a regression's value in words), the input as a picture, the
first convolution's feature maps and the saliency map; ``predict`` turns the page's value
into what the page displays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from nanocnn.errors import BlankImageError, DataError
from nanocnn.explain import first_conv_maps
from nanocnn.images import ImageSource, open_image
from nanocnn.layers import Sequential
from nanocnn.layers.activations import softmax
from nanocnn.saliency import saliency_map
from nanocnn.tasks import Task
from nanocnn.tasks.classification import ClassificationTask, class_names

ZOOM = 8  # screen pixels per pixel of the pictures of the input and the feature maps
SHOWN_SIDE = 224  # larger inputs are shown at about this many screen pixels a side
GUTTER = 2  # pixels between feature maps, in map pixels
MIN_EXTENT = 0.2  # a digit spans at least this fraction of the canvas; less is a dot or a dash
DRAW_MESSAGE = "Draw a digit, 0 to 9"
SMALL_MESSAGE = "Too small: draw a bigger digit"
UPLOAD_MESSAGE = "Upload a picture (or take one with the webcam)"


@dataclass(frozen=True)
class Reading:
    """What the network made of one image."""

    probabilities: dict[str, float] | None  # every class name -> its probability; None for
    # a model that does not classify (a regression)
    answer: str  # what the model says, in words: "7 (0.998), 1 (0.001), ..." or "age 31.4 years"
    picture: np.ndarray  # (H, W) or (H, W, 3) in [0, 1]: the network's input, as a picture
    feature_maps: np.ndarray | None  # (C, H, W) the first convolution's maps; None without one
    saliency: np.ndarray  # (H, W) in [0, 1]: where the answer is most sensitive to the input


def read_input(model: Sequential, task: Task, image: ImageSource) -> Reading:
    """Prepare ``image`` as ``nanocnn predict`` does (the model's task) and read it.

    Raises ``DataError`` (``BlankImageError`` for a drawing with no digit) when the image
    cannot be read."""
    return reading(model, task, task.prepare(model, image)[np.newaxis])


def reading(model: Sequential, task: Task, x: np.ndarray) -> Reading:
    """What the model makes of its input ``x`` (1, C, H, W)."""
    output = model.predict(x)[0]
    probabilities = None
    if isinstance(task, ClassificationTask):
        shares = softmax(output)
        probabilities = dict(zip(class_names(model), shares.tolist(), strict=True))
    return Reading(
        probabilities=probabilities,
        answer=task.describe(model, output),
        picture=as_picture(x[0]),
        feature_maps=first_conv_maps(model, x),
        saliency=saliency_map(model, x)[0],
    )


def as_picture(x: np.ndarray) -> np.ndarray:
    """One input (C, H, W) as a picture in [0, 1]: (H, W) gray or (H, W, 3) colour. Inputs
    already in [0, 1] (digits) are shown as they are; normalised ones stretched to it."""
    picture = x[0] if len(x) == 1 else x.transpose(1, 2, 0)
    low, high = float(picture.min()), float(picture.max())
    if low >= 0 and high <= 1:
        return picture
    return (picture - low) / (high - low) if high > low else np.zeros_like(picture)


def overlay(picture: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    """The saliency (H, W) in red over a dimmed gray copy of the picture: (H, W, 3)."""
    gray = picture.mean(axis=2) if picture.ndim == 3 else picture
    base = 0.25 + 0.5 * gray
    return np.stack([np.maximum(base, saliency), base * (1 - saliency), base * (1 - saliency)], 2)


def sketch_composite(value: dict[str, Any] | np.ndarray | None) -> np.ndarray | None:
    """The drawing in a Sketchpad's value: the ``composite`` of its dict (background and
    layers flattened), or the array itself. None when there is no drawing yet."""
    if isinstance(value, dict):
        return value.get("composite")
    return value


Shown = tuple[dict[str, float] | str, np.ndarray | None, np.ndarray | None, np.ndarray | None]


def prepared(
    model: Sequential, task: Task, value: dict[str, Any] | np.ndarray | None
) -> np.ndarray | str:
    """The model's input (1, C, H, W) for the page's input ``value`` (a Sketchpad's value, or
    an uploaded picture), or the message (a str) the page shows instead.

    On the sketchpad, a click of the brush leaves a dot some 20 pixels wide, which
    ``preprocess_digit`` would blow up into a confident "0": ink spanning less than
    ``MIN_EXTENT`` of the canvas is not taken for a digit."""
    drawable = task.drawable(model)
    image = sketch_composite(value)  # an upload's value is the picture itself
    empty = DRAW_MESSAGE if drawable else UPLOAD_MESSAGE
    if image is None:
        return empty
    if drawable and 0 < ink_extent(image) < MIN_EXTENT:
        return SMALL_MESSAGE
    try:
        return task.prepare(model, image)[np.newaxis]
    except BlankImageError:
        return empty
    except DataError as error:
        return str(error)


def predict(model: Sequential, task: Task, value: dict[str, Any] | np.ndarray | None) -> Shown:
    """What the page shows for its input ``value``: the class probabilities (a regression's
    answer in words), the input picture, the feature-maps picture and the saliency picture;
    or a message and no pictures."""
    x = prepared(model, task, value)
    if isinstance(x, str):
        return x, None, None, None
    read = reading(model, task, x)
    drawable = task.drawable(model)
    factor = max(1, SHOWN_SIDE // max(read.picture.shape[:2])) if not drawable else ZOOM
    maps = None if read.feature_maps is None else tile_maps(read.feature_maps)
    looked = zoom(overlay(read.picture, read.saliency), factor)
    answer = read.answer if read.probabilities is None else read.probabilities
    return answer, zoom(read.picture, factor), maps, looked


def ink_extent(image: ImageSource) -> float:
    """The longer side of the bounding box of the dark pixels (the Sketchpad's ink on its white
    paper) as a fraction of the image's shorter side; 0 when there are none."""
    gray = open_image(image, mode="L")
    rows, cols = np.nonzero(gray < 128)
    if rows.size == 0:
        return 0.0
    return (max(np.ptp(rows), np.ptp(cols)) + 1) / min(gray.shape)


def zoom(image: np.ndarray, factor: int = ZOOM) -> np.ndarray:
    """A (H, W) or (H, W, 3) image in [0, 1] as uint8 (H·factor, W·factor[, 3]), each pixel a
    sharp square (the browser would blur a small image it enlarges)."""
    pixels = np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return pixels.repeat(factor, axis=0).repeat(factor, axis=1)


def tile_maps(maps: np.ndarray) -> np.ndarray:
    """Feature maps (C, H, W) as one zoomed uint8 picture: a near-square grid of gray maps
    on a white gutter. All maps share one scale (black = the lowest value, white = the
    highest), so a map that barely responds looks dark."""
    count, height, width = maps.shape
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    low, high = float(maps.min()), float(maps.max())
    scaled = (maps - low) / (high - low) if high > low else np.zeros(maps.shape)
    grid = np.ones((rows * (height + GUTTER) - GUTTER, columns * (width + GUTTER) - GUTTER))
    for index, tile in enumerate(scaled):
        top, left = (index // columns) * (height + GUTTER), (index % columns) * (width + GUTTER)
        grid[top : top + height, left : left + width] = tile
    return zoom(grid)
