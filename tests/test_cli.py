"""The nanocnn command: train a tiny run, then evaluate, predict and summarise its model."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

import nanocnn
from nanocnn.cli import main

RUN_FILES = {
    "model.npz", "checkpoint.npz", "history.csv", "history.json", "metrics.json",
    "history.png", "confusion_matrix.png", "misclassified.png", "filters.png",
}  # fmt: skip


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """One tiny epoch of LeNet on 600 real MNIST images."""
    out = tmp_path_factory.mktemp("cli") / "run"
    assert (
        main(["train", "--model", "lenet", "--epochs", "1", "--limit", "600", "--out", str(out)])
        == 0
    )
    return out


def test_train_writes_the_run_folder(trained_run, capsys):
    assert {path.name for path in trained_run.iterdir()} >= RUN_FILES
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert 0.3 < metrics["accuracy"] <= 1.0 and metrics["n"] == 600
    assert metrics["training"]["epochs"] == 1 and metrics["training"]["peak_memory_mb"] > 0
    history = json.loads((trained_run / "history.json").read_text())
    assert len(history) == 1 and "val_accuracy" in history[0]


def test_evaluate_prints_the_report(trained_run, capsys):
    assert main(["evaluate", str(trained_run / "model.npz")]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "confusion matrix" in out and "10000" in out


def test_predict_a_drawn_digit(trained_run, tmp_path, capsys):
    image = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(image).line([(100, 30), (100, 170)], fill=0, width=16)  # a "1"
    image.save(tmp_path / "one.png")
    assert main(["predict", str(trained_run / "model.npz"), str(tmp_path / "one.png")]) == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(
        rf"{re.escape(str(tmp_path / 'one.png'))}: (\d \(0\.\d{{3}}\)(, )?){{3}}", line
    )


def test_summary(trained_run, capsys):
    assert main(["summary", str(trained_run / "model.npz")]) == 0
    out = capsys.readouterr().out
    assert "total parameters: 44,426" in out and "task: digits" in out


def test_an_existing_run_is_not_overwritten(trained_run, capsys):
    before = (trained_run / "model.npz").read_bytes()
    assert main(["train", "--model", "lenet", "--limit", "100", "--out", str(trained_run)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (trained_run / "model.npz").read_bytes() == before


def test_default_run_folders_are_numbered(tmp_path, monkeypatch):
    from nanocnn.job.run_folder import RunFolder

    monkeypatch.chdir(tmp_path)
    assert RunFolder.choose(None, "mlp", resume=False).path == Path("runs/mlp")
    (tmp_path / "runs/mlp").mkdir(parents=True)
    (tmp_path / "runs/mlp/model.npz").write_bytes(b"")
    assert RunFolder.choose(None, "mlp", resume=False).path == Path("runs/mlp-2")


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "summary"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: nanocnn" in capsys.readouterr().out


def test_predict_names_the_blank_image(trained_run, tmp_path, capsys):
    Image.new("L", (100, 100), 255).save(tmp_path / "blank.png")
    assert main(["predict", str(trained_run / "model.npz"), str(tmp_path / "blank.png")]) == 2
    assert f"{tmp_path / 'blank.png'}: no digit found" in capsys.readouterr().err


def test_the_resnet_preset_trains_with_its_own_recipe(tmp_path, trained_run) -> None:
    """SGD with Nesterov momentum, a one-cycle schedule, weight decay skipping norms and
    biases, label smoothing: the preset's recipe reaches the run, and is recorded."""
    from nanocnn import load

    out = tmp_path / "resnet"
    argv = ["train", "--model", "resnet", "--epochs", "1", "--limit", "300", "--out", str(out)]
    assert main(argv) == 0
    recorded = load(out / "model.npz").metadata["training_options"]
    assert (recorded["optimizer"], recorded["schedule"]) == ("sgd", "onecycle")
    assert (recorded["weight_decay"], recorded["label_smoothing"]) == (5e-4, 0.1)
    lenet = load(trained_run / "model.npz").metadata["training_options"]
    assert (lenet["optimizer"], lenet["schedule"], lenet["label_smoothing"]) == (
        "adam",
        "cosine",
        0.0,
    )


def test_python_dash_m_nanocnn_is_the_command(tmp_path: Path) -> None:
    """``python -m nanocnn`` (what ``mpiexec -n 2 python -m nanocnn train`` starts, docs/
    distributed.md) runs the ``nanocnn`` command, from any folder."""

    def run(*arguments: str) -> str:
        done = subprocess.run([sys.executable, "-m", "nanocnn", *arguments], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert run("--version").strip() == f"nanocnn {nanocnn.__version__}"
    assert run("train", "--help").startswith("usage: nanocnn train")
