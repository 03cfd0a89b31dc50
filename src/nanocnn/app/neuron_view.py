"""One neuron's arithmetic as HTML: how the number the user clicked was computed.

For a convolution, the input window of each input channel, the kernel and their products,
with each channel's sum, then the bias and the total; for a pooling, the window with its
winner marked (or its mean); for a dense layer, the largest contributions; for the rest, the
number in and the number out. Then the activation that follows, when one does, and, going
backward, the gradient of the score with respect to this number. Every number is in a
``data-v`` attribute too, and every table has a ``data-role`` (see :mod:`.markup`).
"""

from __future__ import annotations

import numpy as np

from nanocnn.app.columns import Pick
from nanocnn.app.heatmaps import grid_shape, heat, outlined, png_uri
from nanocnn.app.markup import cell, label, short, table
from nanocnn.explain import (
    Column,
    ConvNeuron,
    DenseNeuron,
    Neuron,
    PassNeuron,
    PoolNeuron,
    Trace,
    explain_neuron,
)
from nanocnn.layers import BatchNorm1D, BatchNorm2D, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh

HINT = "Click a number in a map above (a pixel of a map, or a unit) to see how it is computed."
SHOWN_CHANNELS = 8  # a convolution's input channels shown in full; the sums of all are listed
SHOWN_INPUTS = 10  # a dense unit's contributions listed one by one
ACTIVATIONS = (ReLU, LeakyReLU, Sigmoid, Tanh)
FORMULAS = {
    ReLU: "max(0, x)",
    LeakyReLU: "x if x > 0 else slope · x",
    Sigmoid: "1 / (1 + e<sup>−x</sup>)",
    Tanh: "tanh(x)",
    BatchNorm2D: "γ (x − μ) / √(σ² + ε) + β, with the running μ and σ² of training",
    BatchNorm1D: "γ (x − μ) / √(σ² + ε) + β, with the running μ and σ² of training",
    Dropout: "x: dropout only drops numbers while training",
}


def position_of(trace: Trace, pick: Pick) -> tuple[int, ...] | None:
    """The output position a click names: (channel, row, col) in a map, (unit,) in a grid of
    units (laid out row by row, see :func:`.heatmaps.grid_shape`); None for a cell of the
    grid that holds no unit."""
    count = trace.column(pick.column).output[0].size
    if pick.channel >= 0:
        return pick.channel, pick.row, pick.col
    unit = pick.row * grid_shape(count)[1] + pick.col
    return (unit,) if unit < count else None


def neuron_html(trace: Trace, pick: Pick) -> str:
    """How the number at ``pick`` was computed, with the numbers (and its gradient when the
    trace has them)."""
    position = position_of(trace, pick)
    if position is None:
        return f"<p>{HINT}</p>"
    column = trace.column(pick.column)
    neuron = explain_neuron(trace, pick.column, position)
    where = ", ".join(f"{name} {p}" for name, p in zip(_axes(position), position, strict=True))
    head = f"<h4>Layer {column.name} ({label(column.layer)}): {where}</h4>"
    body = _body(neuron, column)
    after = _after(trace, column, position) + _gradient(column, position)
    attributes = f'data-column="{column.name}" data-position="{",".join(map(str, position))}"'
    return f'<div class="neuron" {attributes}>{head}{body}{after}</div>'


def _axes(position: tuple[int, ...]) -> tuple[str, ...]:
    return ("map", "row", "column") if len(position) == 3 else ("unit",)


def _body(neuron: Neuron, column: Column) -> str:
    if isinstance(neuron, ConvNeuron):
        return _conv(neuron, column)
    if isinstance(neuron, PoolNeuron):
        return _pool(neuron, column)
    if isinstance(neuron, DenseNeuron):
        return _dense(neuron)
    return _pass(neuron, column)


def _conv(neuron: ConvNeuron, column: Column) -> str:
    o, row, col = neuron.position
    sums = neuron.channel_sums
    shown = np.argsort(-np.abs(sums), kind="stable")[:SHOWN_CHANNELS]
    intro = (
        f"<p>out[{o}, {row}, {col}] = Σ over the {len(sums)} input channel(s) c and the "
        f"window (i, j) of input[c, {neuron.origin[0]}+i, {neuron.origin[1]}+j] × "
        f"W[{o}, c, i, j], plus the bias b[{o}]. The window:</p>"
    )
    picture = _window_picture(column.input[0, int(shown[0])], neuron.origin, neuron.patch.shape)
    channels = []
    for c in sorted(shown.tolist()):
        channels.append(
            f'<div class="row" data-channel="{c}"><b>channel {c}</b>'
            f"{table(neuron.patch[c], 'patch')} ×{table(neuron.kernel[c], 'kernel')} ="
            f"{table(neuron.products[c], 'products')} <span>sum "
            f'<table class="sums"><tr>{cell(float(sums[c]), "channel-sum")}</tr></table>'
            "</span></div>"
        )
    rest = ""
    if len(sums) > len(shown):
        others = np.setdiff1d(np.arange(len(sums)), shown)  # sorted
        rest = f"<p>The other {len(others)} channels' sums, channel by channel:</p>"
        rest += table(sums[others][np.newaxis], "other-sums")
    totals = _totals(
        ("sum of the products", float(sums.sum()), "sum"),
        ("+ bias", neuron.bias, "bias"),
        ("= output, computed here (float64)", neuron.total, "total"),
        ("the layer's own output (float32)", neuron.value, "value"),
    )
    return intro + picture + "".join(channels) + rest + totals


def _pool(neuron: PoolNeuron, column: Column) -> str:
    c = neuron.position[0]
    if neuron.kind == "max":
        what = "the largest number of its window: the winner (marked) takes all"
        marked: tuple[int, int] | None = neuron.winner
    else:
        what = f"the mean of the {neuron.patch.size} numbers of its window"
        marked = None
    picture = ""
    if len(neuron.position) == 3:
        picture = _window_picture(column.input[0, c], neuron.origin, (1, *neuron.patch.shape))
    rows = [("= " + ("maximum" if neuron.kind == "max" else "mean"), neuron.total, "total")]
    rows.append(("the layer's own output", neuron.value, "value"))
    return (
        f"<p>Pooling keeps, for each window of map {c}, {what}:</p>{picture}"
        f'<div class="row">{table(np.atleast_2d(neuron.patch), "window", marked)}</div>'
        + _totals(*rows)
    )


def _dense(neuron: DenseNeuron) -> str:
    (unit,) = neuron.position
    contributions = neuron.contributions
    largest = neuron.largest(SHOWN_INPUTS)
    rows = "".join(
        f'<tr data-input="{k}"><th>input {k}</th>{cell(float(neuron.inputs[k]), "input")}'
        f"<td>×</td>{cell(float(neuron.weights[k]), 'weight')}<td>=</td>"
        f"{cell(float(contributions[k]), 'contribution')}</tr>"
        for k in largest
    )
    rest = float(contributions.sum() - contributions[largest].sum())
    return (
        f"<p>out[{unit}] = Σ over the {len(contributions)} inputs k of input[k] × "
        f"W[{unit}, k], plus the bias. The largest contributions:</p>"
        f'<table class="sums" data-role="contributions">{rows}</table>'
        + _totals(
            (f"the other {len(contributions) - len(largest)} inputs add", rest, "rest"),
            ("sum of all the products", float(contributions.sum()), "sum"),
            ("+ bias", neuron.bias, "bias"),
            ("= output, computed here (float64)", neuron.total, "total"),
            ("the layer's own output (float32)", neuron.value, "value"),
        )
    )


def _pass(neuron: PassNeuron, column: Column) -> str:
    formula = FORMULAS.get(type(column.layer))
    if "body" in neuron.inputs:
        formula = "body + skip: the block's own layers' output plus its input (or shortcut's)"
    elif formula is None:
        formula = "the same number, moved" if column.input.shape != column.output.shape else "x"
    rows = [(name, value, name) for name, value in neuron.inputs.items()]
    return f"<p>{type(column.layer).__name__}: {formula}</p>" + _totals(
        *rows, ("= output", neuron.value, "value")
    )


def _after(trace: Trace, column: Column, position: tuple[int, ...]) -> str:
    """The activation that follows the layer, applied to this number, when one does."""
    index = trace.columns.index(column)
    if index + 1 >= len(trace.columns):
        return ""
    following = trace.columns[index + 1]
    if not isinstance(following.layer, ACTIVATIONS) or following.input is not column.output:
        return ""
    name = type(following.layer).__name__
    value = float(following.output[0][position])
    return _totals((f"then {following.name} {name}: {FORMULAS[type(following.layer)]}",
                    value, "activated"))  # fmt: skip


def _gradient(column: Column, position: tuple[int, ...]) -> str:
    if column.grad is None:
        return ""
    value = float(column.grad[0][position])
    return _totals(("∂score/∂ this number (backward)", value, "grad"))


def _totals(*rows: tuple[str, float, str]) -> str:
    lines = "".join(f"<tr><th>{text}</th>{cell(value, role)}</tr>" for text, value, role in rows)
    return f'<table class="sums">{lines}</table>'


def _window_picture(channel: np.ndarray, origin: tuple[int, int], shape: tuple) -> str:
    """The input map ``channel`` (H, W) with the window framed, as an image."""
    scale = float(np.abs(channel).max())
    framed = outlined(heat(channel, scale), *origin, shape[-2], shape[-1])
    height, width = framed.shape[:2]
    return (
        f'<figure><img src="{png_uri(framed)}" width="{width // 2}" height="{height // 2}" '
        f'alt="the window"><figcaption>where the window lies in its input '
        f"(±{short(scale)})</figcaption></figure>"
    )
