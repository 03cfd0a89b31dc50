"""The Makefile's targets that delete things, run for real in a copy of the Makefile: ``make
clean`` removes what ``make`` rebuilds (the virtual environment, tool caches) and never
``runs/``, where every trained model is; ``make clean-runs`` removes those on request."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

MAKEFILE = Path(__file__).parents[1] / "Makefile"
REBUILT = (".venv", ".pytest_cache", ".ruff_cache")  # what `make clean` may delete


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the Makefile beside a trained run and the folders ``make`` rebuilds."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(MAKEFILE, tmp_path / "Makefile")
    for folder in REBUILT:
        (tmp_path / folder).mkdir()
    (tmp_path / "runs" / "cnn").mkdir(parents=True)
    (tmp_path / "runs" / "cnn" / "model.npz").write_bytes(b"weights")
    return tmp_path


def make(target: str, project: Path) -> None:
    subprocess.run(["make", "-s", target], cwd=project, check=True, timeout=60)


def test_make_clean_keeps_the_trained_models(project: Path) -> None:
    make("clean", project)
    assert [folder for folder in REBUILT if (project / folder).exists()] == []
    assert (project / "runs" / "cnn" / "model.npz").read_bytes() == b"weights"


def test_make_clean_runs_deletes_them(project: Path) -> None:
    make("clean-runs", project)
    assert not (project / "runs").exists()
    assert all((project / folder).is_dir() for folder in REBUILT)
