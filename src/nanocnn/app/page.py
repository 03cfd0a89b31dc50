"""The page: the input (a canvas to draw on, or a picture to upload), the network's answer and
what it saw, and below, the sections that look inside the network and at its training.

Gradio (the ``app`` extra) is imported only inside the functions that build the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nanocnn._optional import require
from nanocnn.app.inside import inside_section
from nanocnn.app.markup import STYLE
from nanocnn.app.reading import DRAW_MESSAGE, UPLOAD_MESSAGE, predict
from nanocnn.app.training_view import training_section
from nanocnn.layers import Sequential
from nanocnn.tasks import Task
from nanocnn.tasks.classification import TOP_CLASSES, ClassificationTask
from nanocnn.training.snapshots import SnapshotHistory

if TYPE_CHECKING:
    import gradio as gr

CANVAS = 280  # side of the drawing canvas in canvas pixels: ten per MNIST pixel
BRUSH = 10  # brush size (Gradio's unit, about half the stroke width in canvas pixels)

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
pattern, and where it looked: the pixels that would change its answer most. Below, look
inside it, layer by layer, forward and backward.
"""

UPLOAD_INTRO = """\
# What is in your picture?
A convolutional network, written from scratch in NumPy, looks at your picture. Beside its
answer: the picture as it is given ({size}×{size}), the feature maps of its first layer, and
where it looked: the pixels that would change its answer most. Below, look inside it.
"""

ESTIMATE_INTRO = """\
# What does the network make of your picture?
A convolutional network, written from scratch in NumPy, looks at your picture and answers
with a number. Beside its answer: the picture as it is given ({size}×{size}), the feature maps
of its first layer, and where it looked: the pixels that would change its answer most. Below,
look inside it.
"""


def build_app(model: Sequential, task: Task, snapshots: SnapshotHistory | None = None) -> gr.Blocks:
    """The page: a canvas to draw on (with a Clear button) or a picture to upload, the answer
    (the top classes, or a regression's value), the pictures of what the network saw, and
    the sections "Look inside" and (from ``snapshots``) its training. It predicts on every
    change."""
    gr = require("gradio", extra="app")
    drawable = task.drawable(model)
    classifies = isinstance(task, ClassificationTask)
    _, height, width = model.metadata.get("input_shape", (1, 28, 28))
    title = "draw a digit" if drawable else "what is in your picture?"
    intro = DRAW_INTRO if drawable else UPLOAD_INTRO if classifies else ESTIMATE_INTRO
    with gr.Blocks(title=f"nanocnn: {title}", analytics_enabled=False) as demo:
        gr.Markdown(intro.format(size=height))
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                source = sketchpad(gr) if drawable else upload_box(gr)
                clear = gr.Button("Clear", elem_id="clear") if drawable else None
            with gr.Column(scale=4):
                label = gr.Label(
                    value=DRAW_MESSAGE if drawable else UPLOAD_MESSAGE,
                    num_top_classes=TOP_CLASSES,
                    label=answer_label(drawable, classifies),
                    elem_id="prediction",
                )
                with gr.Row():
                    with gr.Column(min_width=120):
                        gr.Markdown(f"**What it sees:** the {height}×{width} input")
                        shown = picture(gr, "input", elem_id="input")
                    with gr.Column(min_width=120):
                        gr.Markdown("**Its first layer:** feature maps")
                        maps = picture(gr, "feature maps", elem_id="feature-maps")
                    with gr.Column(min_width=120):
                        gr.Markdown("**Where it looks:** saliency")
                        looked = picture(gr, "saliency", elem_id="saliency")
        source.change(
            lambda value: predict(model, task, value),
            inputs=source,
            outputs=[label, shown, maps, looked],
            api_name="predict",
            trigger_mode="always_last",
            show_progress="hidden",
        )
        inside_section(gr, model, task, source)
        training_section(gr, snapshots, STYLE)
        if clear is not None:
            clear.click(None, js=CLEAR_JS)
            source.clear(None, js=SELECT_BRUSH_JS)
            demo.load(None, js=SELECT_BRUSH_JS)
    return demo


def answer_label(drawable: bool, classifies: bool) -> str:
    """The title of the answer's box."""
    if drawable:
        return "The network reads"
    return "The network sees" if classifies else "The network estimates"


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


def picture(gr: Any, label: str, elem_id: str) -> gr.Image:
    """An output image shown without its label (the API names it by it), toolbar or upload
    box: a plain picture on the page."""
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
    snapshots: SnapshotHistory | None = None,
) -> gr.Blocks:
    """Serve the page for ``model`` of ``task`` (with the training ``snapshots`` of its run,
    if any) at http://host:port (no share link, no analytics). With ``block=False`` it
    returns at once, the server running in a background thread until ``.close()``."""
    demo = build_app(model, task, snapshots)
    demo.launch(
        server_name=host,
        server_port=port,
        share=False,
        prevent_thread_lock=not block,
        quiet=not block,
    )
    return demo
