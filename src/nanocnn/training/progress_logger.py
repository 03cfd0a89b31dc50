"""The trainer's progress display (Keras's ProgbarLogger): a tqdm bar per epoch on a terminal,
one plain line per epoch otherwise (:mod:`nanocnn.progress`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from nanocnn.progress import Style, format_logs, progress_bar
from nanocnn.training.callbacks import Callback

if TYPE_CHECKING:
    from nanocnn.training.trainer import Trainer


class ProgressLogger(Callback):
    """``ProgressLogger(style="auto")``: each epoch's bar (images seen, running loss) or its
    summary line, ``epoch 3/10  loss 0.0412  accuracy 0.9871 ...``; nothing for "off"."""

    def __init__(self, style: Style = "auto") -> None:
        self.style = style
        self.bar: Any = None

    def on_epoch_begin(self, trainer: Trainer) -> None:
        self.label = f"epoch {trainer.epoch + 1}/{trainer.epochs}"
        self.bar = progress_bar(trainer.epoch_samples, self.label, "img", self.style, sys.stdout)

    def on_batch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.update(logs["size"])
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(logs))
            self.bar.close()
            self.bar = None
        elif self.style != "off":
            print(f"{self.label}  {format_logs(logs)}", flush=True)

    def on_train_error(self, trainer: Trainer, error: BaseException) -> None:
        """Close the bar without a summary (training stopped inside the epoch)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
