"""Which pictures a model never trained on, by identity: each test file's path (relative to
the data folder) and a hash of its bytes, recorded in the model when it is trained.

A folder changes: pictures are added, renamed, re-encoded, removed. Recomputing a seeded split
over the changed folder would draw another test set, and put pictures the model trained on
into it. So ``evaluate`` tests on the recorded files that are still there unchanged, and only
on them (:func:`still_held_out`), and says how many of them it could not find.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from nanocnn.errors import DataError

DIGITS = 16  # hex digits of SHA-256 kept: 64 bits, enough to tell files apart
CHUNK = 1 << 20

Record = list[list[str | int]]  # [relative path, fingerprint, class index] per test file


def fingerprint(path: str | os.PathLike[str]) -> str:
    """The first ``DIGITS`` hex digits of the SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()[:DIGITS]


def record(root: str | os.PathLike[str], files: Sequence[Path], labels: Sequence[int]) -> Record:
    """What a model keeps of its test files under ``root``: path relative to ``root`` (with
    forward slashes), fingerprint and class index, in order."""
    root = Path(root)
    return [
        [path.relative_to(root).as_posix(), fingerprint(path), int(label)]
        for path, label in zip(files, labels, strict=True)
    ]


class HeldOut(NamedTuple):
    """The recorded test files still in the folder unchanged, and what became of the rest."""

    files: list[Path]
    labels: list[int]
    missing: int  # recorded files no longer there
    changed: int  # recorded files there with other bytes (re-encoded, replaced)

    def note(self, root: Path) -> str | None:
        """A line saying what could not be tested on, or None if nothing was lost."""
        if not (self.missing or self.changed):
            return None
        total = len(self.files) + self.missing + self.changed
        return (
            f"{root}: of the {total} pictures the model was tested on when it was trained, "
            f"{self.missing} are missing and {self.changed} changed; testing on the "
            f"{len(self.files)} left (never on pictures it trained on)"
        )


def still_held_out(root: str | os.PathLike[str], recorded: Record) -> HeldOut:
    """The files of ``recorded`` found under ``root`` with the same bytes; DataError naming
    the folder if none is."""
    root = Path(root)
    files, labels, missing, changed = [], [], 0, 0
    for relative, expected, label in recorded:
        path = root / str(relative)
        if not path.is_file():
            missing += 1
        elif fingerprint(path) != expected:
            changed += 1
        else:
            files.append(path)
            labels.append(int(label))
    if not files:
        raise DataError(
            f"{root}: none of the {len(recorded)} pictures the model was tested on when it was "
            f"trained is there unchanged ({missing} missing, {changed} changed): is this its "
            "data folder?"
        )
    return HeldOut(files, labels, missing, changed)
