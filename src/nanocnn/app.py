"""The web app: draw a digit or upload a picture, and the network says what it is.

It serves any classification model through its task (:mod:`nanocnn.tasks`): a sketchpad for
digit-like models (one channel, 28×28, read the MNIST way), an upload box (and the webcam,
where the browser allows) for the rest, with the top classes by name. Beside the answer, what
the network saw: its input as a picture, the feature maps of its first convolution, and where
it looked (a saliency map: the size of the input gradient of the chosen class). What it shows
comes from plain functions, testable without a browser: ``read_input`` turns an image into a
:class:`Reading` (or raises ``DataError``), ``predict`` turns the page's value into what the
page displays.

Gradio (the ``app`` extra) is imported only inside the functions that build the page:

>>> model = nanocnn.load("runs/images/model.npz")  # doctest: +SKIP
>>> launch(model, nanocnn.tasks.task_of(model))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nanocnn._optional import require
from nanocnn.errors import BlankImageError, DataError
from nanocnn.images import ImageSource, open_image
from nanocnn.layers import Conv2D, ReLU, Sequential
from nanocnn.layers.activations import softmax
from nanocnn.saliency import saliency_map
from nanocnn.tasks import Task
from nanocnn.tasks.classification import TOP_CLASSES, ClassificationTask, class_names

if TYPE_CHECKING:
    import gradio as gr

CANVAS = 280  # side of the drawing canvas in canvas pixels: ten per MNIST pixel
BRUSH = 10  # brush size (Gradio's unit, about half the stroke width in canvas pixels)
ZOOM = 8  # screen pixels per pixel of the pictures of the input and the feature maps
SHOWN_SIDE = 224  # larger inputs are shown at about this many screen pixels a side
GUTTER = 2  # pixels between feature maps, in map pixels
MIN_EXTENT = 0.2  # a digit spans at least this fraction of the canvas; less is a dot or a dash
DRAW_MESSAGE = "Draw a digit, 0 to 9"
SMALL_MESSAGE = "Too small: draw a bigger digit"
UPLOAD_MESSAGE = "Upload a picture (or take one with the webcam)"

# The Sketchpad starts with no tool chosen, and so it is again after "Clear canvas": a stroke
# draws nothing until the brush is chosen. SELECT_BRUSH_JS clicks the brush until it is
# chosen (its button is then highlighted), for up to ten seconds.
SELECT_BRUSH_JS = """
() => {
  const select = (tries) => {
    const brush = document.querySelector('#sketch button[aria-label="Brush"]');
    if (brush && brush.classList.contains("highlight")) return;
    if (brush) brush.click();
    if (tries > 0) setTimeout(() => select(tries - 1), 100);
  };
  select(100);
}
"""

# The Clear button presses the Sketchpad's own "Clear canvas" button: setting the value to
# None from Python would leave the canvas blank and unusable.
CLEAR_JS = """
() => document.querySelector('#sketch button[aria-label="Clear canvas"]').click()
"""

DRAW_INTRO = """\
# Draw a digit
A convolutional network, written from scratch in NumPy, reads your drawing after every stroke.
Beside its answer: the 28×28 image it is given (your drawing cropped, scaled and centred like
the MNIST digits), the feature maps of its first layer, bright where a filter finds its
pattern, and where it looked: the pixels that would change its answer most.
"""

UPLOAD_INTRO = """\
# What is in your picture?
A convolutional network, written from scratch in NumPy, looks at your picture. Beside its
answer: the picture as it is given ({size}×{size}), the feature maps of its first layer, and
where it looked: the pixels that would change its answer most.
"""


@dataclass(frozen=True)
class Reading:
    """What the network made of one image."""

    probabilities: dict[str, float]  # every class name -> its probability
    picture: np.ndarray  # (H, W) or (H, W, 3) in [0, 1]: the network's input, as a picture
    feature_maps: np.ndarray | None  # (C, H, W) the first convolution's maps; None without one
    saliency: np.ndarray  # (H, W) in [0, 1]: where the answer is most sensitive to the input


def read_input(model: Sequential, task: Task, image: ImageSource) -> Reading:
    """Prepare ``image`` as ``nanocnn predict`` does (the model's task) and classify it.

    Raises ``DataError`` (``BlankImageError`` for a drawing with no digit) when the image
    cannot be read."""
    x = task.prepare(model, image)[np.newaxis]  # (1, C, H, W)
    probabilities = softmax(model.predict(x))[0]
    return Reading(
        probabilities=dict(zip(class_names(model), probabilities.tolist(), strict=True)),
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


def first_conv_maps(model: Sequential, x: np.ndarray) -> np.ndarray | None:
    """The first Conv2D's output for one input ``x`` (1, C, H, W), through the ReLU that follows
    it if one does: (C', H', W'). None when the model has no convolution."""
    first = next((i for i, layer in enumerate(model) if isinstance(layer, Conv2D)), None)
    if first is None:
        return None
    end = first + 1
    if end < len(model) and isinstance(model[end], ReLU):
        end += 1  # the maps as the next layer receives them
    for layer in model.layers[:end]:
        x = layer.forward(x, training=False)
    return x[0]


def sketch_composite(value: dict[str, Any] | np.ndarray | None) -> np.ndarray | None:
    """The drawing in a Sketchpad's value: the ``composite`` of its dict (background and
    layers flattened), or the array itself. None when there is no drawing yet."""
    if isinstance(value, dict):
        return value.get("composite")
    return value


Shown = tuple[dict[str, float] | str, np.ndarray | None, np.ndarray | None, np.ndarray | None]


def predict(model: Sequential, task: Task, value: dict[str, Any] | np.ndarray | None) -> Shown:
    """What the page shows for its input ``value`` (a Sketchpad's value, or an uploaded
    picture): the class probabilities, the input picture, the feature-maps picture and the
    saliency picture; or a message and no pictures.

    On the sketchpad, a click of the brush leaves a dot some 20 pixels wide, which
    ``preprocess_digit`` would blow up into a confident "0": ink spanning less than
    ``MIN_EXTENT`` of the canvas is not taken for a digit."""
    drawable = task.drawable(model)
    image = sketch_composite(value)  # an upload's value is the picture itself
    empty = DRAW_MESSAGE if drawable else UPLOAD_MESSAGE
    if image is None:
        return empty, None, None, None
    if drawable and 0 < ink_extent(image) < MIN_EXTENT:
        return SMALL_MESSAGE, None, None, None
    try:
        reading = read_input(model, task, image)
    except BlankImageError:
        return empty, None, None, None
    except DataError as error:
        return str(error), None, None, None
    factor = max(1, SHOWN_SIDE // max(reading.picture.shape[:2])) if not drawable else ZOOM
    maps = None if reading.feature_maps is None else tile_maps(reading.feature_maps)
    looked = zoom(overlay(reading.picture, reading.saliency), factor)
    return reading.probabilities, zoom(reading.picture, factor), maps, looked


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


def build_app(model: Sequential, task: Task) -> gr.Blocks:
    """The page: a canvas to draw on (with a Clear button) or a picture to upload, the top
    classes, and the pictures of what the network saw. It predicts on every change."""
    gr = require("gradio", extra="app")
    drawable = task.drawable(model)
    _, height, width = model.metadata.get("input_shape", (1, 28, 28))
    title = "draw a digit" if drawable else "what is in your picture?"
    with gr.Blocks(title=f"nanocnn: {title}", analytics_enabled=False) as demo:
        gr.Markdown(DRAW_INTRO if drawable else UPLOAD_INTRO.format(size=height))
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                source = sketchpad(gr) if drawable else upload_box(gr)
                clear = gr.Button("Clear", elem_id="clear") if drawable else None
            with gr.Column(scale=4):
                label = gr.Label(
                    value=DRAW_MESSAGE if drawable else UPLOAD_MESSAGE,
                    num_top_classes=TOP_CLASSES,
                    label="The network reads" if drawable else "The network sees",
                    elem_id="prediction",
                )
                with gr.Row():
                    with gr.Column(min_width=120):
                        gr.Markdown(f"**What it sees:** the {height}×{width} input")
                        shown = picture("input", elem_id="input")
                    with gr.Column(min_width=120):
                        gr.Markdown("**Its first layer:** feature maps")
                        maps = picture("feature maps", elem_id="feature-maps")
                    with gr.Column(min_width=120):
                        gr.Markdown("**Where it looks:** saliency")
                        looked = picture("saliency", elem_id="saliency")
        source.change(
            lambda value: predict(model, task, value),
            inputs=source,
            outputs=[label, shown, maps, looked],
            api_name="predict",
            trigger_mode="always_last",
            show_progress="hidden",
        )
        if clear is not None:
            clear.click(None, js=CLEAR_JS)
            source.clear(None, js=SELECT_BRUSH_JS)
            demo.load(None, js=SELECT_BRUSH_JS)
    return demo


def sketchpad(gr: Any) -> gr.Sketchpad:
    """A square canvas with a black brush, ten canvas pixels to an MNIST pixel."""
    return gr.Sketchpad(
        label="Your drawing",
        elem_id="sketch",
        canvas_size=(CANVAS, CANVAS),
        fixed_canvas=True,
        brush=gr.Brush(default_size=BRUSH, colors=["#000000"], color_mode="fixed"),
        layers=False,
        transforms=(),
        type="numpy",
    )


def upload_box(gr: Any) -> gr.Image:
    """A picture from a file, the clipboard or (where the browser allows) the webcam."""
    return gr.Image(
        label="Your picture",
        elem_id="upload",
        sources=["upload", "webcam", "clipboard"],
        type="numpy",
        image_mode="RGB",
    )


def picture(label: str, elem_id: str) -> gr.Image:
    """An output image shown without its label (the API names it by it), toolbar or upload
    box: a plain picture on the page."""
    gr = require("gradio", extra="app")
    return gr.Image(
        label=label,
        show_label=False,
        format="png",
        interactive=False,
        buttons=[],
        elem_id=elem_id,
    )


def launch(
    model: Sequential,
    task: Task,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    block: bool = True,
) -> gr.Blocks:
    """Serve the page for ``model`` of ``task`` at http://host:port (no share link, no
    analytics). With ``block=False`` it returns at once, the server running in a background
    thread until ``.close()``. A model that does not classify is refused."""
    if not isinstance(task, ClassificationTask):
        raise ValueError(
            f"the app shows classifiers, and a model of the {task.name} task is not one: "
            f"use nanocnn predict MODEL IMAGE"
        )
    demo = build_app(model, task)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=not block,
        quiet=not block,
    )
    return demo
