"""Atomic file writes: a crash at any moment leaves either the old file or the new one.

The content goes to a temporary file in the same folder, is flushed to disk, renamed over the
target, then the folder itself is flushed so that the rename survives a power cut. Ctrl-C,
SIGTERM and SIGHUP wait until that is done (:func:`nanocnn.interrupts.held_back`). The
temporary file is named ``.<name>.<pid>.<random>``: one a killed process left behind is never
read, and the next write to the same path deletes it (those of processes still running are
left alone).

The file is created as ``open`` creates one, so its mode is ``0o666`` less the umask, as
``np.save`` and ``torch.save`` make it (``-rw-r--r--`` under the usual umask 022). A write
that fails (a read-only folder, a full disk...) raises the system's ``OSError`` with the path
asked for, never the temporary file's hidden name, and leaves the old file as it was.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nanocnn.interrupts import held_back


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Create ``path``'s folder if needed and replace ``path`` by what ``write(file)`` writes
    into a fresh binary file, atomically. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(path)
    with held_back():  # Ctrl-C or kill: once the file is written, or the temporary deleted
        try:
            descriptor, temporary = _create_temporary(path)
        except OSError as error:
            raise _naming(error, path) from error
        try:
            with os.fdopen(descriptor, "wb") as file:
                write(file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException as error:
            temporary.unlink(missing_ok=True)
            if isinstance(error, OSError) and error.errno is not None:  # the system's error
                raise _naming(error, path) from error
            raise
        _fsync_directory(path.parent)
    return path


def _create_temporary(path: Path) -> tuple[int, Path]:
    """Create a new empty file ``.<name>.<pid>.<random>`` beside ``path``: (descriptor, path).

    Created with mode 0o666 as ``open`` does, so the system applies the umask (and a folder's
    default ACL); ``tempfile.mkstemp`` would make it 0o600 whatever they say."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:  # one chance in four billion: draw another name
            continue


def _naming(error: OSError, path: Path) -> OSError:
    """The system's ``error`` (its errno, so its type) about ``path``: "[Errno 28] No space
    left on device: 'model.npz'", whatever file, or none, its message named."""
    return OSError(error.errno, error.strerror, str(path))


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
