"""Training, epoch by epoch: how the filters formed. The first convolution's filters, and
what they made of one fixed training input, after each epoch of the run that trained the
model, read from the ``snapshots.npz`` beside its model file
(:mod:`nanocnn.training.snapshots`), with a slider over the epochs.

One colour scale for all the epochs (of the filters, and of the maps), so that filters that
grow out of their random start show it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nanocnn.app.columns import filter_image, runs, shown_size, stats
from nanocnn.app.heatmaps import heat_uri, picture_uri
from nanocnn.app.markup import short
from nanocnn.app.reading import as_picture
from nanocnn.training.snapshots import SNAPSHOTS_FILE, SnapshotHistory, read_snapshots

NO_SNAPSHOTS = f"""\
No `{SNAPSHOTS_FILE}` beside this model, so there is no record of its training to show. A
run writes one when it trains with the `Snapshots` callback
(`nanocnn.training.snapshots.Snapshots(run_folder / "{SNAPSHOTS_FILE}", sample)`): the first
convolution's filters and its maps of one training input, after every epoch.
"""


def snapshots_beside(model_file: Path) -> SnapshotHistory | None:
    """The snapshots in the file beside ``model_file``, or None if there is none."""
    path = model_file.with_name(SNAPSHOTS_FILE)
    return read_snapshots(path) if path.exists() else None


def epoch_html(history: SnapshotHistory, epoch: int) -> str:
    """The filters and maps after ``epoch`` (the last snapshot at or before it)."""
    row = history.at(epoch)
    filters, maps = history.filters[row], history.maps[row]  # (O, C, kh, kw), (O, H, W)
    filter_scale = float(np.abs(history.filters).max())
    map_scale = float(np.abs(history.maps).max())
    filter_cells = [
        filter_image(kernels, filter_scale, 'class="filter"', o)
        for o, kernels in enumerate(filters)
    ]
    map_cells = []
    for o, values in enumerate(maps):
        height, width = shown_size(*values.shape)
        map_cells.append(
            f'<img class="map" data-channel="{o}" {stats(values)}'
            f' src="{heat_uri(values, map_scale)}" width="{width}" height="{height}"'
            f' alt="map {o}">'
        )
    picture = as_picture(history.sample)
    height, width = shown_size(*picture.shape[:2])
    epoch_shown = int(history.epochs[row])
    when = "before training" if epoch_shown == 0 else f"after epoch {epoch_shown}"
    return (
        f'<div class="look" data-epoch="{epoch_shown}">'
        f'<div class="col"><div class="head"><b>{when}</b><span>the training input</span>'
        f'</div><img src="{picture_uri(picture)}" width="{width}" height="{height}"'
        ' alt="the training input"></div>'
        f'<div class="col" data-role="filters"><div class="head"><b>layer {history.layer}: '
        f"{len(filters)} filters</b><span>±{short(filter_scale)}</span></div>"
        f"{runs(filter_cells)}</div>"
        f'<div class="col" data-role="maps"><div class="head"><b>what they make of it</b>'
        f"<span>±{short(map_scale)}</span></div>{runs(map_cells)}</div></div>"
    )


def training_section(gr: Any, history: SnapshotHistory | None, style: str) -> None:
    """The section of the page: a slider over the epochs and the filters and maps it picks,
    or a note saying how to record them."""
    with gr.Accordion("Training, epoch by epoch: how the filters formed", open=False,
                      elem_id="training"):  # fmt: skip
        if history is None:
            gr.Markdown(NO_SNAPSHOTS)
            return
        first, last = int(history.epochs[0]), int(history.epochs[-1])
        slider = gr.Slider(
            first, last, value=last, step=1, label="epoch (0: the random start)", elem_id="epoch"
        )
        shown = gr.HTML(epoch_html(history, last), css_template=style, elem_id="epoch-view")
        slider.change(
            lambda epoch: epoch_html(history, int(epoch)),
            inputs=slider,
            outputs=shown,
            show_progress="hidden",
            api_name="epoch",
        )
