"""The docs pages run: every ```python block of a page, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nanocnn.layers import LAYER_TYPES

DOCS = Path(__file__).parents[1] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


@pytest.fixture
def registry():
    """A page may register layers; the registry is restored afterwards."""
    saved = dict(LAYER_TYPES)
    yield
    LAYER_TYPES.clear()
    LAYER_TYPES.update(saved)


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


def test_the_resnet_page_runs(tmp_path, monkeypatch, capsys):
    page = DOCS / "resnet.md"
    blocks = python_blocks(page)
    assert len(blocks) >= 3  # the pieces, the names, the recipe
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "resnet_page"}
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"{page.name} block {number}", "exec"), namespace)
    assert "3: Residual" in capsys.readouterr().out
    assert namespace["trainer"].optimizer.skipped  # norms and biases skip the weight decay
