"""The draw-a-digit web page: draw a digit with the mouse, and the network says which it is.

The page also shows what the network saw: the 28×28 input that ``preprocess_digit`` made of
the drawing (the same preprocessing as ``nanocnn predict``) and the feature maps of the first
convolution. What it shows comes from plain functions, testable without a browser:
``read_drawing`` turns a drawing into a :class:`Reading` (or raises ``BlankImageError``), and
``predict`` turns the Sketchpad's value into what the page displays.

Gradio (the ``app`` extra) is imported only inside the functions that build the page:

>>> launch(nanocnn.load("src/nanocnn/models/digits.npz"))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nanocnn._optional import require
from nanocnn.errors import BlankImageError
from nanocnn.images import ImageSource, open_image
from nanocnn.layers import Conv2D, ReLU
from nanocnn.layers.activations import softmax
from nanocnn.model import Sequential
from nanocnn.preprocess import preprocess_digit

if TYPE_CHECKING:
    import gradio as gr

TOP_CLASSES = 3  # classes listed under the drawing
CANVAS = 280  # side of the drawing canvas in canvas pixels: ten per MNIST pixel
BRUSH = 10  # brush size (Gradio's unit, about half the stroke width in canvas pixels)
ZOOM = 8  # screen pixels per pixel of the pictures of the input and the feature maps
GUTTER = 2  # pixels between feature maps, in map pixels
MIN_EXTENT = 0.2  # a digit spans at least this fraction of the canvas; less is a dot or a dash
DRAW_MESSAGE = "Draw a digit, 0 to 9"
SMALL_MESSAGE = "Too small: draw a bigger digit"

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

INTRO = """\
# Draw a digit
A convolutional network, written from scratch in NumPy and trained on MNIST, reads your drawing
after every stroke. Beside its answer: the 28×28 image it is given (your drawing cropped, scaled
and centred like the MNIST digits) and the feature maps of its first layer, bright where a
filter finds its pattern.
"""


@dataclass(frozen=True)
class Reading:
    """What the network made of one drawing."""

    probabilities: dict[str, float]  # every class name -> its probability
    digit: np.ndarray  # (28, 28) the network's input, in [0, 1], ink bright
    feature_maps: np.ndarray | None  # (C, H, W) the first convolution's maps; None without one


def read_drawing(model: Sequential, image: ImageSource) -> Reading:
    """Preprocess ``image`` as ``nanocnn predict`` does and classify it.

    Raises ``BlankImageError`` when the image holds no digit (blank, or a stray dot).
    """
    x = preprocess_digit(image)[np.newaxis].astype(model.dtype)  # (1, 1, 28, 28)
    probabilities = softmax(model.predict(x))[0]
    names = model.metadata.get("classes") or [str(k) for k in range(len(probabilities))]
    return Reading(
        probabilities=dict(zip(names, probabilities.tolist(), strict=True)),
        digit=x[0, 0],
        feature_maps=first_conv_maps(model, x),
    )


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


def predict(
    model: Sequential, value: dict[str, Any] | np.ndarray | None
) -> tuple[dict[str, float] | str, np.ndarray | None, np.ndarray | None]:
    """What the page shows for a Sketchpad ``value``: the class probabilities, the input
    picture and the feature-maps picture; or, with no pictures, ``DRAW_MESSAGE`` for a blank
    canvas and ``SMALL_MESSAGE`` for a stray dot.

    A click of the brush leaves a dot some 20 pixels wide, which ``preprocess_digit`` would
    blow up into a confident "0": ink spanning less than ``MIN_EXTENT`` of the canvas is not
    taken for a digit."""
    image = sketch_composite(value)
    if image is None:
        return DRAW_MESSAGE, None, None
    if 0 < ink_extent(image) < MIN_EXTENT:
        return SMALL_MESSAGE, None, None
    try:
        reading = read_drawing(model, image)
    except BlankImageError:
        return DRAW_MESSAGE, None, None
    maps = None if reading.feature_maps is None else tile_maps(reading.feature_maps)
    return reading.probabilities, zoom(reading.digit), maps


def ink_extent(image: ImageSource) -> float:
    """The longer side of the bounding box of the dark pixels (the Sketchpad's ink on its white
    paper) as a fraction of the image's shorter side; 0 when there are none."""
    gray = open_image(image, mode="L")
    rows, cols = np.nonzero(gray < 128)
    if rows.size == 0:
        return 0.0
    return (max(np.ptp(rows), np.ptp(cols)) + 1) / min(gray.shape)


def zoom(image: np.ndarray, factor: int = ZOOM) -> np.ndarray:
    """A (H, W) image in [0, 1] as uint8 (H·factor, W·factor), each pixel a sharp square (the
    browser would blur a small image it enlarges)."""
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


def build_app(model: Sequential) -> gr.Blocks:
    """The page: a canvas to draw on, a Clear button, the top classes, and the pictures of
    what the network saw. It predicts after every stroke."""
    gr = require("gradio", extra="app")
    with gr.Blocks(title="nanocnn: draw a digit", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                sketch = gr.Sketchpad(
                    label="Your drawing",
                    elem_id="sketch",
                    canvas_size=(CANVAS, CANVAS),
                    fixed_canvas=True,
                    brush=gr.Brush(default_size=BRUSH, colors=["#000000"], color_mode="fixed"),
                    layers=False,
                    transforms=(),
                    type="numpy",
                )
                clear = gr.Button("Clear", elem_id="clear")
            with gr.Column(scale=4):
                label = gr.Label(
                    value=DRAW_MESSAGE,
                    num_top_classes=TOP_CLASSES,
                    label="The network reads",
                    elem_id="prediction",
                )
                with gr.Row():
                    with gr.Column(min_width=120):
                        gr.Markdown("**What it sees:** the 28×28 input")
                        digit = picture("input 28x28", elem_id="input")
                    with gr.Column(min_width=120):
                        gr.Markdown("**Its first layer:** feature maps")
                        maps = picture("feature maps", elem_id="feature-maps")
        outputs = [label, digit, maps]
        sketch.change(
            lambda value: predict(model, value),
            inputs=sketch,
            outputs=outputs,
            api_name="predict",
            trigger_mode="always_last",
            show_progress="hidden",
        )
        clear.click(None, js=CLEAR_JS)
        sketch.clear(None, js=SELECT_BRUSH_JS)
        demo.load(None, js=SELECT_BRUSH_JS)
    return demo


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
    model: Sequential, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True
) -> gr.Blocks:
    """Serve the page at http://host:port (no share link, no analytics). With ``block=False``
    it returns at once, the server running in a background thread until ``.close()``."""
    demo = build_app(model)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=not block,
        quiet=not block,
    )
    return demo
