"""The "Look inside" overview as HTML: the network as columns, one per layer, in the order
they run, each with its output maps (or units) for the current input as small heatmaps, its
shape and its colour scale; the input first and the answer last.

Going forward a map shows what the layer gives; going backward, the gradient of the chosen
score with respect to it (and under a convolution's maps, with respect to each filter).
Every map carries its numbers' sum, smallest and largest in ``data-sum``, ``data-min`` and
``data-max``, and the input picture its numbers in ``data-values`` (when it has at most
``EXPOSED`` of them): a test compares them with its own computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nanocnn.app.heatmaps import STRIP, as_grid, heat_uri, picture_uri, tiles
from nanocnn.app.markup import exact, label, short, title
from nanocnn.explain import Column, Trace
from nanocnn.layers import Conv2D

MAP_SIDE = 48  # a map is shown about this many screen pixels a side...
MAX_SIDE = 64  # ...and at most this many
UNIT_SIDE = 14  # screen pixels a unit of a short column of units
DOWN = 8  # maps in one run down a column; more go in runs side by side
EXPOSED = 4096  # the input's numbers are in the page for inputs of at most this many
TOP = 5  # classes listed in the answer


@dataclass(frozen=True)
class Pick:
    """A number the user clicked: layer ``column``, map ``channel`` (-1 for units), and its
    row and column in the picture of the map (for units, in their grid)."""

    column: str
    channel: int
    row: int
    col: int


def overview(
    trace: Trace,
    backward: bool,
    picture: np.ndarray,
    answer: dict[str, float] | str,
    picked: Pick | None = None,
) -> str:
    """The columns of ``trace`` (with its gradients when ``backward``), after the input
    ``picture`` (H, W) or (H, W, 3) in [0, 1] and before the model's ``answer``."""
    parts = [input_column(trace, backward, picture)]
    parts += [layer_column(column, backward, picked) for column in trace.columns]
    parts.append(answer_column(answer))
    target = "" if trace.target is None else f' data-target="{trace.target}"'
    mode = "backward" if backward else "forward"
    return f'<div class="look" data-mode="{mode}"{target}>{"".join(parts)}</div>'


def input_column(trace: Trace, backward: bool, picture: np.ndarray) -> str:
    """The input as a picture; backward, also the gradient of the score for each channel."""
    x = trace.x[0]
    values = ""
    if x.size <= EXPOSED:
        values = f' data-values="{",".join(exact(v) for v in x.ravel().tolist())}"'
    height, width = shown_size(*picture.shape[:2])
    image = (
        f'<img class="input" src="{picture_uri(picture)}" width="{width}" height="{height}"'
        f' data-shape="{",".join(map(str, x.shape))}"{values} alt="the input">'
    )
    maps = ""
    if backward and trace.input_grad is not None:
        grad = trace.input_grad[0]
        scale = float(np.abs(grad).max())
        cells = [picture_cell("input", c, grad[c], scale, clickable=False) for c in range(len(x))]
        maps = f'<div class="sub">∂score/∂input ±{short(scale)}</div>' + runs(cells)
    shape = "×".join(map(str, x.shape))
    head = f'<div class="head"><b>input</b><span>{shape}</span></div>'
    return f'<div class="col" data-column="input">{head}{image}{maps}</div>'


def layer_column(column: Column, backward: bool, picked: Pick | None = None) -> str:
    """One layer: its maps (units) going forward, their gradients going backward."""
    source = column.grad if backward else column.output
    assert source is not None  # a backward trace has every gradient
    values = source[0]
    scale = float(np.abs(values).max())
    if values.ndim == 3:
        cells = [
            picture_cell(column.name, c, values[c], scale, mark=picked) for c in range(len(values))
        ]
    else:
        cells = [picture_cell(column.name, -1, as_grid(values.ravel()), scale, mark=picked)]
    kernels = ""
    if backward and isinstance(column.layer, Conv2D):
        kernels = kernel_gradients(column)
    shape = "×".join(map(str, values.shape))
    head = (
        f'<div class="head"><b title="{title(column.layer)}">{column.name} '
        f"{label(column.layer)}</b><span>{shape}</span><span>±{short(scale)}</span></div>"
    )
    kind = type(column.layer).__name__
    return (
        f'<div class="col" data-column="{column.name}" data-type="{kind}" '
        f'data-scale="{exact(scale)}">{head}{runs(cells)}{kernels}</div>'
    )


def kernel_gradients(column: Column) -> str:
    """Under a convolution's gradient maps: the gradient of the score with respect to each
    of its filters (out, in, kh, kw), one tile of its ``in`` kernels per filter."""
    grad = column.param_grads["weight"]
    scale = float(np.abs(grad).max())
    cells = [
        filter_image(kernels, scale, f'class="kernel-grad" data-column="{column.name}"', o)
        for o, kernels in enumerate(grad)
    ]
    return f'<div class="sub">∂score/∂filters ±{short(scale)}</div>' + runs(cells)


def picture_cell(
    name: str,
    channel: int,
    values: np.ndarray,
    scale: float,
    clickable: bool = True,
    mark: Pick | None = None,
) -> str:
    """One map (or grid of units, ``channel`` -1) as a heatmap image, with its statistics;
    framed at the picked number when ``mark`` is on it."""
    rows, cols = values.shape
    strip = channel < 0 and cols == 1 and rows <= STRIP
    height, width = (rows * UNIT_SIDE, UNIT_SIDE) if strip else shown_size(rows, cols)
    kind = "map" if clickable else "input-grad"
    image = (
        f'<img class="{kind}" data-column="{name}" data-channel="{channel}" data-rows="{rows}"'
        f' data-cols="{cols}" {stats(values)} src="{heat_uri(values, scale)}"'
        f' width="{width}" height="{height}" alt="{name} map {channel}">'
    )
    frame = ""
    if mark is not None and (mark.column, mark.channel) == (name, channel):
        frame = (
            f'<i class="mark" style="top:{100 * mark.row / rows:.3f}%;'
            f"left:{100 * mark.col / cols:.3f}%;height:{100 / rows:.3f}%;"
            f'width:{100 / cols:.3f}%"></i>'
        )
    return f'<span class="cell">{image}{frame}</span>'


def filter_image(kernels: np.ndarray, scale: float, attributes: str, channel: int) -> str:
    """One filter's kernels (in, kh, kw) (or their gradients) as one heatmap of tiles, with
    the HTML ``attributes`` given, its channel and its statistics."""
    height, width = shown_size(*tiles(kernels).shape)
    return (
        f'<img {attributes} data-channel="{channel}" {stats(kernels)}'
        f' src="{heat_uri(tiles(kernels), scale)}" width="{width}" height="{height}"'
        f' alt="filter {channel}">'
    )


def stats(values: np.ndarray) -> str:
    """The ``data-sum``, ``data-min`` and ``data-max`` attributes of an array's numbers (a
    grid's empty NaN cells left out), summed in float64."""
    numbers = np.asarray(values, dtype=np.float64)
    numbers = numbers[~np.isnan(numbers)]
    low, high, total = numbers.min(), numbers.max(), numbers.sum()
    return f'data-sum="{exact(total)}" data-min="{exact(low)}" data-max="{exact(high)}"'


def runs(cells: list[str]) -> str:
    """Cells in runs of ``DOWN``, side by side."""
    down = min(DOWN, len(cells))
    return f'<div class="maps" style="--down:{down}">{"".join(cells)}</div>'


def answer_column(answer: dict[str, float] | str) -> str:
    """The model's answer: its top classes with their probabilities, or a regression's
    value in words."""
    if isinstance(answer, str):
        body = f'<p data-role="answer">{answer}</p>'
    else:
        ranked = sorted(answer.items(), key=lambda item: -item[1])[:TOP]
        body = "".join(
            f'<div class="share" data-class="{name}" data-v="{exact(share)}"><span>{name}</span>'
            f'<i style="width:{60 * share:.1f}px"></i><span>{share:.3f}</span></div>'
            for name, share in ranked
        )
    head = '<div class="head"><b>answer</b><span>the prediction</span></div>'
    return f'<div class="col answer" data-column="answer">{head}{body}</div>'


def shown_size(height: int, width: int) -> tuple[int, int]:
    """The (height, width) in screen pixels of a map of ``height`` x ``width`` numbers: about
    ``MAP_SIDE`` a side, a whole number of pixels each when small, at most ``MAX_SIDE``."""
    side = max(height, width)
    factor = max(1, round(MAP_SIDE / side)) if side <= MAX_SIDE else MAX_SIDE / side
    return max(1, round(height * factor)), max(1, round(width * factor))
