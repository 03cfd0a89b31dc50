"""The run folder: where one training run keeps everything it writes.

    runs/cnn/
      model.npz         the best model so far (by the task's monitored figure)
      checkpoint.npz    the whole training state after the last finished epoch (--resume)
      history.csv/json  one row per epoch
      metrics.json      the final test report, with the training figures
      *.png             the history plot and the task's own plots

A folder that already holds a run is never overwritten: it is continued (``resume``), with
the options it was started with (recorded in the model's metadata, so in every checkpoint).
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nanocnn import plots
from nanocnn.io import read_checkpoint, write_atomically
from nanocnn.job.options import option_flag

if TYPE_CHECKING:
    from nanocnn.training import Trainer

OPTIONS_FILE = "options.json"  # the options the run was started with
RUN_FILES = ("model.npz", "checkpoint.npz", "history.csv", "history.json", "metrics.json",
             OPTIONS_FILE, "snapshots.npz")  # fmt: skip
PROBE = ".writable"  # the file that shows a run folder can be written (RunFolder.check_writable)
PROBE_BYTES = 4096  # a block: a full disk refuses it


class RunExistsError(FileExistsError):
    """The chosen run folder already holds a run, and ``--resume`` was not given."""


class RunFolder:
    """The files of one run under ``path``; see the module docstring."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.model_file = self.path / "model.npz"
        self.checkpoint_file = self.path / "checkpoint.npz"

    @classmethod
    def choose(
        cls, out: Path | None, name: str, resume: bool, overwrite: bool = False
    ) -> RunFolder:
        """``out``, else the first free of ``runs/<name>``, ``runs/<name>-2``... An ``out``
        that already holds a run is refused unless resuming (which needs one) or told to
        ``overwrite`` it: then the files the run wrote are deleted, and nothing else. A
        folder that cannot be written is refused too (:meth:`check_writable`)."""
        if out is None and resume:
            raise ValueError("--resume needs --out: the run folder to continue")
        run = cls(out if out is not None else free_folder(Path("runs") / name))
        if resume and not run.checkpoint_file.exists():
            raise FileNotFoundError(f"{run.checkpoint_file}: no checkpoint to resume from")
        if run.taken() and not resume and not overwrite:
            raise RunExistsError(
                f"{out} already holds a run: pass --resume to continue it, --overwrite "
                f"to start it again, or choose another folder with --out"
            )
        run.check_writable()
        if run.taken() and overwrite and not resume:
            run.clear()
        return run

    def check_writable(self) -> None:
        """Create the folder and a probe file in it, then remove what was created: a folder
        that cannot be written (read-only, a full disk, a file in its way) is refused, with
        an OSError naming it, before any data is loaded, and a run that fails before it
        trains leaves no empty folder behind."""
        created = [folder for folder in (self.path, *self.path.parents) if not folder.exists()]
        probe = self.path / PROBE
        try:
            write_atomically(probe, lambda file: file.write(bytes(PROBE_BYTES)))
            probe.unlink()
        except OSError as error:
            cause = error.strerror or str(error)
            raise OSError(f"{self.path}: cannot write the run folder ({cause})") from error
        finally:
            for folder in created:  # the deepest first
                with contextlib.suppress(OSError):
                    folder.rmdir()

    def taken(self) -> bool:
        return self.model_file.exists() or self.checkpoint_file.exists()

    def clear(self) -> None:
        """Delete the files a run writes here (``RUN_FILES`` and its plots), nothing else."""
        for path in [*(self.path / name for name in RUN_FILES), *self.path.glob("*.png")]:
            path.unlink(missing_ok=True)

    def keep_options(self, options: dict[str, Any]) -> None:
        """Write the run's options (``kept_options``) to options.json: --resume reads them."""
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / OPTIONS_FILE).write_text(json.dumps(options, indent=2) + "\n")

    def kept_options(self) -> dict[str, Any]:
        """What options.json holds ({} for a run from before it was written)."""
        path = self.path / OPTIONS_FILE
        if not path.is_file():
            return {}
        try:
            kept = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not the options of a run ({error})") from error
        return kept if isinstance(kept, dict) else {}

    def resume(self, trainer: Trainer, options: dict[str, Any]) -> None:
        """Restore ``trainer`` from the checkpoint (read once), after checking that the run
        was started with the same ``options``."""
        arrays, state = read_checkpoint(self.checkpoint_file)
        recorded = state.get("metadata", {}).get("training_options")
        if isinstance(recorded, dict):  # older checkpoints recorded none: nothing to compare
            changed = [
                f"{option_flag(name, recorded.get(name))} (now {option_flag(name, value)})"
                for name, value in options.items()
                if recorded.get(name) != value and not _longer(name, recorded.get(name), value)
            ]
            if changed:
                raise ValueError(
                    f"{self.path} was started with other options: {', '.join(changed)}; "
                    f"resume it with the options it was started with"
                )
        trainer.load_state(arrays, state, source=self.checkpoint_file)

    def record(
        self, report: dict[str, Any], trainer: Trainer, seconds: float, **details: Any
    ) -> dict[str, Any]:
        """Add the run's ``training`` figures (``details``, epochs, times, peak memory) to the
        test ``report``; write the history, its plot and ``metrics.json``. Returns the report."""
        epoch_seconds = trainer.history["seconds"]
        report["training"] = {
            **details,
            "epochs": len(trainer.history),
            "seconds": seconds,
            "seconds_per_epoch": float(np.mean(epoch_seconds)) if epoch_seconds else None,
            "peak_memory_mb": peak_memory_mb(),
        }
        trainer.history.to_csv(self.path / "history.csv")
        trainer.history.to_json(self.path / "history.json")
        plots.plot_history(trainer.history.columns(), self.path / "history.png")
        (self.path / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
        return report

    def footer(self, report: dict[str, Any]) -> str:
        """The last lines a training run prints: epochs, time, peak memory and the folder."""
        training = report["training"]
        best = training.get("best_epoch")
        kept = "" if best is None else f" | kept epoch {best} (best {training['monitor']})"
        early = ", stopped early" if training.get("stopped_early") else ""
        return (
            f"{training['epochs']} epochs in {training['seconds']:.0f} s{early}{kept} | peak "
            f"memory {training['peak_memory_mb']:.0f} MiB\n"
            f"run folder: {self.path} (model.npz, history, metrics.json, plots)"
        )


def free_folder(base: Path) -> Path:
    """``base``, else the first of ``base-2``, ``base-3``... that is missing or empty."""
    path, number = base, 1
    while path.exists() and any(path.iterdir()):
        number += 1
        path = base.with_name(f"{base.name}-{number}")
    return path


def _longer(name: str, before: Any, now: Any) -> bool:
    """Whether ``now`` extends the run: more epochs than it was started with."""
    return name == "epochs" and isinstance(before, int) and isinstance(now, int) and now > before


def peak_memory_mb() -> float:
    """This process's peak resident memory in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)
