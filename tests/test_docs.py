"""The docs pages run: every ```python block of a page, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nanocnn.io import FORMATS
from nanocnn.layers import LAYER_TYPES
from nanocnn.optim import OPTIMIZERS
from nanocnn.tasks import TASKS
from nanocnn.training import SCHEDULES

DOCS = Path(__file__).parents[1] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


@pytest.fixture
def registry():
    """A page may register layers, tasks, optimizers, schedules or file formats; every
    registry is restored afterwards."""
    registries = (LAYER_TYPES, TASKS, OPTIMIZERS, SCHEDULES, FORMATS)
    saved = [(registry, dict(registry)) for registry in registries]
    yield
    for registry, entries in saved:
        registry.clear()
        registry.update(entries)


def test_the_custom_layer_page_runs(tmp_path, monkeypatch, registry, capsys):
    run_page("custom_layers.md", 5, tmp_path, monkeypatch)  # layer, gradcheck, fit, save, saliency
    assert "PReLU" in LAYER_TYPES
    assert (tmp_path / "prelu-model.npz").exists()


def test_the_tasks_page_adds_a_task_in_one_file(tmp_path, monkeypatch, registry, capsys):
    """The page's fourth task trains, evaluates and predicts, through the command line too."""
    run_page("tasks.md", 3, tmp_path, monkeypatch)  # the task, training it, the command line
    assert "dots" in TASKS
    out = capsys.readouterr().out
    assert "dots.png: " in out and "test accuracy" in out


def test_the_architecture_page_adds_a_layer_an_optimizer_a_format_and_a_task(
    tmp_path, monkeypatch, registry, capsys
):
    """Each of the four is one change in one place, and the rest of the house knows it."""
    run_page("architecture.md", 5, tmp_path, monkeypatch)
    assert {"Swish", "stripes", "signsgd", ".json"} <= {*LAYER_TYPES, *TASKS, *OPTIMIZERS, *FORMATS}
    assert (tmp_path / "stripes.json").read_bytes().startswith(b'{"header"')
    assert "test accuracy" in capsys.readouterr().out


def test_the_resnet_page_runs(tmp_path, monkeypatch, capsys):
    namespace = run_page("resnet.md", 3, tmp_path, monkeypatch)  # pieces, names, recipe
    assert "3: Residual" in capsys.readouterr().out
    assert namespace["trainer"].optimizer.skipped  # norms and biases skip the weight decay


def test_the_look_inside_page_runs(tmp_path, monkeypatch, capsys):
    namespace = run_page("look_inside.md", 2, tmp_path, monkeypatch)  # snapshots, explain
    assert namespace["history"].epochs.tolist() == [0, 1, 2]
    assert (tmp_path / "runs" / "lenet-snapshots" / "model.npz").exists()
    assert "0 Conv2D (1, 6, 24, 24) (1, 6, 24, 24)" in capsys.readouterr().out


def run_page(name: str, blocks: int, folder: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Run every python block of ``docs/name`` (at least ``blocks`` of them) in order, in one
    namespace, in ``folder``; returns the namespace."""
    page = DOCS / name
    sources = python_blocks(page)
    assert len(sources) >= blocks
    monkeypatch.chdir(folder)  # a page may write files
    namespace: dict = {"__name__": page.stem + "_page"}
    for number, block in enumerate(sources, start=1):
        exec(compile(block, f"{page.name} block {number}", "exec"), namespace)
    return namespace
