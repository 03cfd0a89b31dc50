"""Progress output: a tqdm bar per epoch on a terminal, one plain line per epoch otherwise.

tqdm is an optional extra; without it, or when output goes to a file or CI log, each epoch
prints a single summary line so logs stay readable.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

Style = Literal["auto", "bar", "lines", "off"]


def format_logs(logs: dict[str, float]) -> str:
    """``loss 0.1234  accuracy 0.9712  val_loss ...``, with sensible precision per figure."""
    parts = []
    for key, value in logs.items():
        if key == "epoch":
            continue
        if key == "lr":
            parts.append(f"lr {value:.2e}")
        elif key == "seconds":
            parts.append(f"{value:.1f}s")
        else:
            parts.append(f"{key} {value:.4f}")
    return "  ".join(parts)


class Progress:
    """One epoch's display: ``update(n, loss)`` per batch, ``close(logs)`` at the end.

    ``style``: "bar" (tqdm), "lines" (one line per epoch), "off", or "auto": a bar on a
    terminal when tqdm is installed, lines otherwise.
    """

    def __init__(self, epoch: int, epochs: int, total: int, style: Style = "auto") -> None:
        self.label = f"epoch {epoch}/{epochs}"
        self.style = style
        self.bar: Any = None
        if style == "bar" or (style == "auto" and sys.stdout.isatty()):
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self.style = "lines"
                return
            self.bar = tqdm(total=total, desc=self.label, unit="img", dynamic_ncols=True)

    def update(self, images: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(images)
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def close(self, logs: dict[str, float]) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(logs))
            self.bar.close()
        elif self.style != "off":
            print(f"{self.label}  {format_logs(logs)}", flush=True)

    def abort(self) -> None:
        """Close the bar without a summary (training stopped inside the epoch)."""
        if self.bar is not None:
            self.bar.close()
