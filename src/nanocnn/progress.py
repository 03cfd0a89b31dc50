"""Progress output, one style for everything that takes a while (training, reading images).

``Style``: "bar" shows a tqdm bar, "auto" a bar when the output goes to a terminal,
"lines" plain summary lines instead (one per epoch of training), "off" nothing. tqdm is an
optional extra; without it a bar becomes lines, so logs of CI runs and files stay readable.
"""

from __future__ import annotations

from typing import Any, Literal, TextIO

Style = Literal["auto", "bar", "lines", "off"]
STYLES: tuple[Style, ...] = ("auto", "bar", "lines", "off")


def progress_bar(total: int, desc: str, unit: str, style: Style, stream: TextIO) -> Any:
    """A tqdm bar over ``total`` ``unit``s, on stderr, when ``style`` asks for one ("auto":
    when ``stream``, where the lines would go, is a terminal); None otherwise or without
    tqdm."""
    if style not in STYLES:
        raise ValueError(f"progress must be one of {', '.join(STYLES)}, not {style!r}")
    if style in ("off", "lines") or (style == "auto" and not stream.isatty()):
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True)


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
