"""The docs run as written: every ```python block of README.md and of every page of docs/, in
order, in one namespace (some pages also checked for what they show), and every ``nanocnn``
command line of their shell blocks is one the command accepts."""

from __future__ import annotations

import argparse
import contextlib
import shlex
from pathlib import Path

import pytest

from nanocnn.export.onnx_layers import EMITTERS
from nanocnn.io import FORMATS
from nanocnn.layers import LAYER_TYPES
from nanocnn.optim import OPTIMIZERS
from nanocnn.tasks import TASKS
from nanocnn.training import SCHEDULES

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
# pages with a test of their own below, which also checks what they show
CHECKED_APART = {"custom_layers.md", "tasks.md", "resnet.md", "architecture.md"}


def code_blocks(page: Path) -> list[tuple[str, str]]:
    """(language, text) of each fenced block of a Markdown page, in order."""
    blocks, language, lines = [], None, []
    for line in page.read_text().splitlines():
        if language is None and line.startswith("```"):
            language, lines = line[3:].strip(), []
        elif language is not None and line.startswith("```"):
            blocks.append((language, "\n".join(lines) + "\n"))
            language = None
        elif language is not None:
            lines.append(line)
    return blocks


def python_blocks(page: Path) -> list[str]:
    return [text for language, text in code_blocks(page) if language == "python"]


@pytest.fixture
def registry():
    """A page may register layers, tasks, optimizers, schedules or file formats; every
    registry is restored afterwards."""
    registries = (LAYER_TYPES, TASKS, OPTIMIZERS, SCHEDULES, FORMATS, EMITTERS)
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


def files_a_page_assumes(page: str, folder: Path) -> None:
    """What a page takes as already there, as a reader's folder would hold it: the model a
    ``nanocnn train`` run wrote, a picture of a digit or a face."""
    import nanocnn as nc
    from nanocnn.presets import build

    image = pytest.importorskip("PIL.Image")
    if page == "export.md":
        model = build("cnn")
        model.metadata.update(task="digits", input_shape=[1, 28, 28])
        nc.save(model, folder / "runs" / "cnn" / "model.npz")
        drawing = image.new("L", (64, 64), 255)
        drawing.paste(0, (20, 10, 44, 16))
        drawing.paste(0, (38, 10, 44, 54))  # a seven
        drawing.save(folder / "seven.png")
    if page == "age.md":
        model = build("age_cnn", (3, 16, 16), outputs=1)
        model.metadata.update(task="age", input_shape=[3, 16, 16], image_size=16,
                              target_mean=33.0, target_std=19.0)  # fmt: skip
        nc.save(model, folder / "runs" / "age_cnn" / "model.npz")
        image.new("RGB", (40, 40), (180, 140, 120)).save(folder / "face.jpg")


@pytest.mark.parametrize("page", [p for p in PAGES if p.name not in CHECKED_APART], ids=str)
def test_every_python_block_of_the_page_runs(page, tmp_path, monkeypatch, registry, capsys):
    if page.name == "export.md":
        pytest.importorskip("onnxruntime", reason="the export page runs onnxruntime")
        pytest.importorskip("torch", reason="the export page moves weights to and from PyTorch")
    files_a_page_assumes(page.name, tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": page.stem + "_page"}
    for number, block in enumerate(python_blocks(page), start=1):
        exec(compile(block, f"{page.name} block {number}", "exec"), namespace)


def test_the_pages_tested_apart_are_pages():
    assert {page.name for page in PAGES} >= CHECKED_APART


@pytest.mark.parametrize("page", PAGES, ids=str)
def test_every_command_line_of_the_page_is_accepted(page, monkeypatch):
    """Each ``nanocnn ...`` line of a shell block parses: the flags and choices it shows
    exist (it is not run: its data and models are the reader's)."""
    from nanocnn.cli import build_parser

    monkeypatch.setattr(argparse.ArgumentParser, "exit", _refuse)
    parser = build_parser()
    shell = [text for language, text in code_blocks(page) if language in ("", "sh", "bash")]
    for line in "".join(shell).splitlines():
        if not line.removeprefix("$ ").startswith("nanocnn "):
            continue  # other programs, output, prose
        words = shlex.split(line.removeprefix("$ "), comments=True)
        shown = words[:1] == ["nanocnn"] and len(words) > 1 and words[1] in COMMANDS_SHOWN
        if shown and not any("[" in word or "..." in word for word in words):  # a synopsis
            with contextlib.suppress(_Done):
                parser.parse_args(words[1:])


class _Done(Exception):
    """The command line was whole: argparse printed help or the version."""


COMMANDS_SHOWN = {"train", "evaluate", "predict", "summary", "export", "gradcheck", "app",
                  "lr-find", "tune", "--version", "--help"}  # fmt: skip


def _refuse(self: argparse.ArgumentParser, status: int = 0, message: str | None = None) -> None:
    """``ArgumentParser.exit`` for the test: ``--help`` and ``--version`` (status 0) pass, an
    error fails the test with argparse's message."""
    if status or message:
        raise AssertionError(message or f"exit status {status}")
    raise _Done
