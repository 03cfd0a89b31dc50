"""What the HTML of the "Look inside" view shares: how numbers are written, how a layer is
named, and the style sheet.

Every number the view shows is written twice: short in the text (four significant digits),
and exact in a ``data-v`` attribute (float32's nine), so a test, or a curious reader of the
page's source, can check the arithmetic to the last digit.
"""

from __future__ import annotations

from html import escape

import numpy as np

from nanocnn.layers import AvgPool2D, Conv2D, Dense, Layer, MaxPool2D, Residual


def short(value: float) -> str:
    """A number as the text shows it: four significant digits, a true minus sign (none for a
    negative zero)."""
    return f"{value + 0.0:.4g}".replace("-", "−")


def exact(value: float) -> str:
    """A number as the ``data-v`` attributes hold it: enough digits to give back a float32."""
    return f"{value:.9g}"


def cell(value: float, role: str = "", extra: str = "") -> str:
    """A ``<td>`` showing ``value`` short, with the exact value in ``data-v``."""
    attributes = f' data-role="{role}"' if role else ""
    attributes += f' class="{extra}"' if extra else ""
    return f'<td{attributes} data-v="{exact(value)}">{short(value)}</td>'


def table(values: np.ndarray, role: str, marked: tuple[int, int] | None = None) -> str:
    """A (rows, columns) array of numbers as a ``<table>`` of :func:`cell`s; the cell at
    ``marked`` gets the class ``win``."""
    rows = []
    for i, row in enumerate(values):
        tds = "".join(
            cell(float(v), extra="win" if (i, j) == marked else "") for j, v in enumerate(row)
        )
        rows.append(f"<tr>{tds}</tr>")
    return f'<table class="numbers" data-role="{role}">{"".join(rows)}</table>'


def label(layer: Layer) -> str:
    """A layer's short name for a column's head: ``Conv2D 5×5``, ``Dense 120→84``..."""
    kind = type(layer).__name__
    if isinstance(layer, (Conv2D, MaxPool2D, AvgPool2D)):
        (kh, kw), (sh, _) = layer.kernel_size, layer.stride
        stride = f" /{sh}" if sh > 1 and not isinstance(layer, (MaxPool2D, AvgPool2D)) else ""
        return f"{kind} {kh}×{kw}{stride}"
    if isinstance(layer, Dense):
        return f"{kind} {layer.in_features}→{layer.out_features}"
    if isinstance(layer, Residual):
        return "Residual: body + skip"
    return kind


def title(layer: Layer) -> str:
    """The layer's constructor call, escaped for an attribute (the column's tooltip)."""
    return escape(repr(layer).replace("\n", " "), quote=True)


STYLE = """
.look { display: flex; gap: 10px; overflow-x: auto; align-items: flex-start;
        padding: 4px 2px 10px; }
.look .col { flex: none; display: flex; flex-direction: column; gap: 4px; width: min-content; }
.look .head { font-size: 12px; line-height: 1.3; min-width: 6.5em; }
.look .head span { display: block; color: #666; }
.look .maps { display: grid; grid-auto-flow: column;
              grid-template-rows: repeat(var(--down), auto); gap: 3px; justify-content: start; }
.look img, .neuron img { image-rendering: pixelated; display: block; margin: 0;
                         max-width: none; border: 1px solid #ddd; }
.look .cell { position: relative; display: block; }
.look img.map { cursor: crosshair; }
.look .mark { position: absolute; outline: 2px solid #000; pointer-events: none; }
.look .sub { font-size: 11px; color: #666; margin-top: 6px; }
.look .answer { width: auto; }
.look .answer .share { display: grid; grid-template-columns: auto 60px 3em; gap: 6px;
                    font-size: 13px; align-items: center; }
.look .answer i { display: block; height: 10px; background: #b2182b; }
.neuron { font-size: 13px; }
.neuron .row { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 6px 0; }
.neuron table.numbers { border-collapse: collapse; font-size: 11px; margin: 0; }
.neuron table.numbers td { border: 1px solid #ddd; padding: 1px 4px; text-align: right;
                           min-width: 3.2em; }
.neuron td.win { background: #fddbc7; font-weight: bold; }
.neuron table.sums td, .neuron table.sums th { padding: 1px 8px; text-align: right;
                                               font-weight: normal; }
.neuron figure { margin: 0; }
.neuron figcaption { font-size: 11px; color: #666; }
.skips td, .skips th { padding: 1px 8px; font-size: 12px; text-align: left; font-weight: normal; }
.skips i { display: inline-block; height: 9px; vertical-align: middle; }
"""
