"""``History``: one row of figures per epoch (loss, accuracy or MAE, validation, lr, seconds)."""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class History:
    """Per-epoch logs, e.g. ``{"epoch": 1, "loss": 0.21, "accuracy": 0.94, "val_loss": ...}``."""

    rows: list[dict[str, float]] = field(default_factory=list)

    def append(self, row: dict[str, float]) -> None:
        self.rows.append(dict(row))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: str) -> list[float]:
        """The column ``key`` over the epochs: ``history["val_loss"]``. A KeyError naming the
        known columns if no epoch logged ``key`` (a misspelling, or no validation data)."""
        if key not in self:
            known = ", ".join(map(repr, self._keys())) or "none: no epoch logged yet"
            raise KeyError(f"no column {key!r} in the history; its columns: {known}")
        return [row[key] for row in self.rows if key in row]

    def __contains__(self, key: object) -> bool:
        return any(key in row for row in self.rows)

    def _keys(self) -> list[str]:
        return list(dict.fromkeys(key for row in self.rows for key in row))

    def columns(self) -> dict[str, list[float]]:
        """Every column, for :func:`nanocnn.plots.plot_history`."""
        return {key: self[key] for key in self._keys()}

    def to_csv(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        keys = list(self.columns())
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)
        return path

    def to_json(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.rows, indent=2) + "\n")
        return path
