"""The docs pages run: every ```python block of a page, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nanocnn.layers import LAYER_TYPES
from nanocnn.tasks import TASKS

DOCS = Path(__file__).parents[1] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


@pytest.fixture
def registry():
    """A page may register layers or define tasks; both registries are restored afterwards."""
    saved = [(registry, dict(registry)) for registry in (LAYER_TYPES, TASKS)]
    yield
    for registry, entries in saved:
        registry.clear()
        registry.update(entries)


def test_the_custom_layer_page_runs(tmp_path, monkeypatch, registry, capsys):
    page = DOCS / "custom_layers.md"
    blocks = python_blocks(page)
    assert len(blocks) >= 5  # the layer, gradcheck, training, save and load, saliency
    monkeypatch.chdir(tmp_path)  # the page saves a model file
    namespace: dict = {"__name__": "custom_layers_page"}
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"{page.name} block {number}", "exec"), namespace)
    assert "PReLU" in LAYER_TYPES
    assert (tmp_path / "prelu-model.npz").exists()


def test_the_tasks_page_adds_a_task_in_one_file(tmp_path, monkeypatch, registry, capsys):
    """The page's fourth task trains, evaluates and predicts, through the command line too."""
    page = DOCS / "tasks.md"
    blocks = python_blocks(page)
    assert len(blocks) == 3  # the task, training it, the command line
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "tasks_page"}
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"{page.name} block {number}", "exec"), namespace)
    assert "dots" in TASKS
    out = capsys.readouterr().out
    assert "dots.png: " in out and "test accuracy" in out
