"""The "Look inside" section of the page: the network the app serves, forward and backward,
on the current input, and one clicked neuron's arithmetic.

``look`` and ``neuron`` compute what the section shows for the model's input (as
``reading.prepared`` makes it of the page's value) and the section's controls: plain
functions, testable without a browser. ``inside_section`` builds the
section: an accordion with the direction (forward, or backward from a chosen score), for a
network with skip connections a switch that takes them out, the columns
(:mod:`.columns`), the clicked neuron (:mod:`.neuron_view`) and, in backward mode for such a
network, the size of each filter's gradient with and without the skips side by side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nanocnn.app.columns import Pick, overview
from nanocnn.app.markup import STYLE, short
from nanocnn.app.neuron_view import HINT, neuron_html
from nanocnn.app.reading import as_picture, prepared
from nanocnn.explain import (
    Trace,
    activations,
    gradients,
    has_skips,
    skipless_name,
    without_skips,
)
from nanocnn.layers import Conv2D, Sequential
from nanocnn.layers.activations import softmax
from nanocnn.tasks import Task
from nanocnn.tasks.classification import ClassificationTask, class_names

PREDICTED = -1  # the score's choice that means: the predicted class
FORWARD, BACKWARD = "forward", "backward"

# A click on a map sends which map and which of its numbers: its row and column in the map
# (or in the grid of units) from where the click fell in the picture; and frames that number
# at once (the columns drawn again later frame it too: see columns.picture_cell).
PICK_JS = """
element.addEventListener('click', (event) => {
  const map = event.target.closest('img.map');
  if (!map) return;
  const rows = Number(map.dataset.rows), cols = Number(map.dataset.cols);
  const row = Math.min(rows - 1, Math.floor(event.offsetY / map.clientHeight * rows));
  const col = Math.min(cols - 1, Math.floor(event.offsetX / map.clientWidth * cols));
  element.querySelectorAll('.mark').forEach((mark) => mark.remove());
  const mark = document.createElement('i');
  mark.className = 'mark';
  Object.assign(mark.style, {top: `${100 * row / rows}%`, left: `${100 * col / cols}%`,
                             height: `${100 / rows}%`, width: `${100 / cols}%`});
  map.parentElement.appendChild(mark);
  trigger('pick', {column: map.dataset.column, channel: Number(map.dataset.channel), row, col});
});
"""

INTRO = """\
Every layer of the network as a column, in the order they run, with what it gives for your
input: one small map per channel (red above zero, blue below, white at zero; one scale for
a column). **Click a number** in a map to see how the layer computed it. **Backward** shows
the gradient of a score with respect to every layer's output and to the filters: where a
little change would move that score most, as the layers' own backward passes compute it.
"""


def trace_of(
    model: Sequential, x: np.ndarray, direction: str, score: int, skips: bool = True
) -> Trace:
    """The trace the section shows: forward, or backward from ``score`` (``PREDICTED``: the
    predicted class), of the model with its skip connections or without."""
    network = model if skips else without_skips(model)
    if direction == BACKWARD:
        return gradients(network, x, None if score == PREDICTED else score)
    return activations(network, x)


def look(
    model: Sequential,
    task: Task,
    x: np.ndarray | str,
    direction: str = FORWARD,
    score: int = PREDICTED,
    skips: bool = True,
    picked: Pick | None = None,
) -> tuple[str, str]:
    """The columns and the neuron panel for the model's input ``x`` (1, C, H, W), as
    ``reading.prepared`` makes it of the page's value; for a message instead, the message."""
    if isinstance(x, str):
        return f"<p>{x}</p>", f"<p>{HINT}</p>"
    trace = trace_of(model, x, direction, score, skips)
    answer = answer_of(model, task, trace.output[0])
    columns = overview(trace, direction == BACKWARD, as_picture(x[0]), answer, picked)
    if direction == BACKWARD and has_skips(model):
        assert trace.target is not None  # a backward trace's
        other = trace_of(model, x, direction, trace.target, not skips)
        columns += skip_comparison(*((trace, other) if skips else (other, trace)))
    return columns, neuron_panel(trace, picked)


def answer_of(model: Sequential, task: Task, output: np.ndarray) -> dict[str, float] | str:
    """What the network answers for its ``output`` (K,): each class's probability, or a
    regression's answer in words."""
    if isinstance(task, ClassificationTask):
        return dict(zip(class_names(model), softmax(output).tolist(), strict=True))
    return task.describe(model, output)


def neuron(
    model: Sequential,
    x: np.ndarray | str,
    direction: str,
    score: int,
    skips: bool,
    picked: Pick | None,
) -> str:
    """The neuron panel for the model's input ``x``: the arithmetic of the ``picked`` number,
    or a hint."""
    if picked is None or isinstance(x, str):
        return f"<p>{HINT}</p>"
    return neuron_panel(trace_of(model, x, direction, score, skips), picked)


def neuron_panel(trace: Trace, picked: Pick | None) -> str:
    """The arithmetic of the ``picked`` number of ``trace``, or a hint when there is none (or
    it names a layer of the other network, with or without the skips)."""
    if picked is None:
        return f"<p>{HINT}</p>"
    try:
        return neuron_html(trace, picked)
    except (KeyError, IndexError):
        return f"<p>{HINT}</p>"


def skip_comparison(with_skips: Trace, plain: Trace) -> str:
    """A table of the size of each convolution's filter gradient, first to last, with the
    skip connections (``with_skips``) and without them (``plain``: the same weights and
    score), as bars on a log scale."""
    sizes = {c.name: float(np.linalg.norm(c.param_grads["weight"])) for c in plain.columns
             if isinstance(c.layer, Conv2D)}  # fmt: skip
    rows = [
        (c.name, float(np.linalg.norm(c.param_grads["weight"])), sizes.get(skipless_name(c.name)))
        for c in with_skips.columns
        if isinstance(c.layer, Conv2D)
    ]
    known = [size for row in rows for size in row[1:] if size]
    low, high = (np.log10(min(known)), np.log10(max(known))) if known else (0.0, 1.0)
    lines = "".join(
        f'<tr data-layer="{name}"><th>{name}</th>{_bar(norm, low, high, "#b2182b")}'
        f"{_bar(other, low, high, '#2166ac')}</tr>"
        for name, norm, other in rows
    )
    return (
        '<table class="skips" data-role="skips"><tr><th>convolution</th>'
        "<th>‖∂score/∂filters‖ with the skips</th><th>without them</th></tr>"
        f"{lines}</table>"
    )


def _bar(size: float | None, low: float, high: float, colour: str) -> str:
    if size is None:
        return "<td>(on the skip path)</td>"
    share = 1.0 if high <= low else (np.log10(max(size, 1e-30)) - low) / (high - low)
    width = 4 + 140 * max(0.0, share)
    return (
        f'<td data-v="{size:.9g}"><i style="width:{width:.0f}px;background:{colour}"></i> '
        f"{short(size)}</td>"
    )


def score_choices(model: Sequential, task: Task) -> list[tuple[str, int]]:
    """The scores the backward pass can start from: the predicted class or any class; a
    regression's one output."""
    if not isinstance(task, ClassificationTask):
        return [("the output", 0)]
    return [("the predicted class", PREDICTED)] + [
        (f"class {name}", k) for k, name in enumerate(class_names(model))
    ]


def inside_section(gr: Any, model: Sequential, task: Task, source: Any) -> None:
    """The accordion "Look inside", below the page; it follows ``source``'s input while
    open. The model's input is prepared once for each change of ``source`` and kept on the
    server (a State): a click then sends only its own few numbers."""
    with gr.Accordion("Look inside the network", open=False, elem_id="inside") as section:
        gr.Markdown(INTRO)
        with gr.Row():
            direction = gr.Radio(
                [("forward: what each layer gives", FORWARD),
                 ("backward: the gradient of a score", BACKWARD)],
                value=FORWARD, label="Show", elem_id="direction",
            )  # fmt: skip
            choices = score_choices(model, task)
            score = gr.Dropdown(
                choices, value=choices[0][1], label="Score (backward)", elem_id="score"
            )
            skips = gr.Checkbox(
                value=True,
                label="with the skip connections",
                visible=has_skips(model),
                elem_id="skips",
            )
        columns = gr.HTML("", css_template=STYLE, js_on_load=PICK_JS, elem_id="columns")
        panel = gr.HTML(f"<p>{HINT}</p>", css_template=STYLE, js_on_load=None, elem_id="neuron")
    is_open, picked = gr.State(False), gr.State(None)
    model_input = gr.State(prepared(model, task, None))  # the input, or the page's message
    controls = [model_input, direction, score, skips]

    def show(x: Any, direction: str, score: int, skips: bool, pick: Pick | None) -> Any:
        return look(model, task, x, direction, int(score), skips, pick)

    def follow(value: Any, opened: bool, *args: Any) -> Any:
        x = prepared(model, task, value)
        return x, *(show(x, *args) if opened else (gr.skip(), gr.skip()))

    def open_section(*args: Any) -> Any:
        return True, *show(*args)

    def pick(x: Any, direction: str, score: int, skips: bool, event: Any) -> Any:
        chosen = Pick(str(event.column), int(event.channel), int(event.row), int(event.col))
        return neuron(model, x, direction, int(score), skips, chosen), chosen

    pick.__annotations__["event"] = gr.EventData  # so Gradio passes the click's data
    shown = [columns, panel]
    hidden = {"show_progress": "hidden"}
    section.expand(open_section, [*controls, picked], [is_open, *shown], **hidden)
    section.collapse(lambda: False, None, is_open)
    for control in (direction, score, skips):
        control.change(show, [*controls, picked], shown, **hidden)
    following = [source, is_open, direction, score, skips, picked]
    source.change(follow, following, [model_input, *shown], **hidden)
    columns.pick(pick, controls, [panel, picked], **hidden)
