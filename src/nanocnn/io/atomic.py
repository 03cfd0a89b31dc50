"""Atomic file writes: a crash at any moment leaves either the old file or the new one.

The content goes to a temporary file in the same folder, is flushed to disk, renamed over the
target, then the folder itself is flushed so that the rename survives a power cut. The
temporary file is named ``.<name>.<pid>.<random>``: one a killed process left behind is never
read, and the next write to the same path deletes it (those of processes still running are
left alone).
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Create ``path``'s folder if needed and replace ``path`` by what ``write(file)`` writes
    into a fresh binary file, atomically. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def _remove_orphans(path: Path) -> None:
    """Delete the temporary files of earlier writes to ``path`` whose process is gone."""
    for orphan in path.parent.glob(f".{glob.escape(path.name)}.*.*"):
        pid = orphan.name[len(path.name) + 2 :].split(".")[0]
        if pid.isdigit() and not _running(int(pid)):
            orphan.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    """Whether a process ``pid`` exists (signal 0 checks without sending anything; on Windows
    ``os.kill`` would end the process, so there every file is kept)."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot tell: keep its file
    return True


def _fsync_directory(directory: Path) -> None:
    """Flush a folder's entries (a rename) to disk; where folders cannot be opened, as on
    Windows, there is nothing to do."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):  # some file systems refuse to flush folders
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
