"""Atomic writes (``nanocnn.io.atomic``) as a user sees them: the file's mode follows the umask
as ``open`` and ``np.save`` make it, and a failed write names the file the user asked for, not
the hidden temporary one, and leaves the old file whole. (Crashes: tests/test_resume.py.)"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import nanocnn as nc
from nanocnn.io import save_arrays, write_atomically

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes and umask")


@pytest.fixture(params=[0o022, 0o077, 0o002, 0o000])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    before = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("name", ["model.npz", "model.safetensors"])
def test_the_mode_follows_the_umask_as_np_save_does(tmp_path: Path, umask: int, name: str) -> None:
    np.save(tmp_path / "reference.npy", np.zeros(1))
    nc.save(nc.Sequential(nc.Dense(2, 1, rng=0)), tmp_path / name)
    assert mode(tmp_path / name) == mode(tmp_path / "reference.npy") == 0o666 & ~umask
    write_atomically(tmp_path / "again" / name, lambda file: file.write(b"x"))
    assert mode(tmp_path / "again" / name) == 0o666 & ~umask


def fail_on_temporary(function: object, error: OSError) -> object:
    """``function`` that raises ``error`` when its first argument is a temporary file (a
    hidden name), as the system would for a read-only folder, a full disk..."""

    def failing(*args: object, **kwargs: object) -> object:
        if Path(os.fsdecode(args[0])).name.startswith("."):  # type: ignore[arg-type]
            raise error
        return function(*args, **kwargs)  # type: ignore[operator]

    return failing


@pytest.mark.parametrize(
    ("function", "error"),
    [
        ("open", PermissionError(errno.EACCES, "Permission denied")),  # a read-only folder
        ("replace", OSError(errno.EXDEV, "Invalid cross-device link")),
        ("write", OSError(errno.ENOSPC, "No space left on device")),  # a full disk
        ("fsync", OSError(errno.EIO, "Input/output error")),
    ],
)
def test_a_failed_write_names_the_users_path_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, function: str, error: OSError
) -> None:
    path = tmp_path / "model.npz"
    save_arrays(path, {"w": np.ones(3)}, {"version": 1})
    before = path.read_bytes()
    if function in ("open", "replace"):  # the system names the temporary file in its error
        error.filename = str(tmp_path / ".model.npz.1234.abcdefgh")
        monkeypatch.setattr(os, function, fail_on_temporary(getattr(os, function), error))
    elif function == "fsync":
        monkeypatch.setattr(os, "fsync", lambda descriptor: (_ for _ in ()).throw(error))

    def write(file: object) -> None:
        if function == "write":
            raise error
        file.write(b"new content")  # type: ignore[attr-defined]

    with pytest.raises(type(error)) as raised:
        write_atomically(path, write)
    assert raised.value.errno == error.errno and raised.value.filename == str(path)
    assert str(path) in str(raised.value) and ".model.npz." not in str(raised.value)
    assert path.read_bytes() == before
    assert [item.name for item in tmp_path.iterdir()] == ["model.npz"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_for_real(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError, match=f"Permission denied: '{folder / 'm.npz'}'"):
            nc.save(nc.Sequential(nc.Dense(2, 1, rng=0)), folder / "m.npz")
    finally:
        folder.chmod(0o755)
