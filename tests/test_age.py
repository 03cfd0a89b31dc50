"""The age task: regression that learns on synthetic UTKFace folders, its run folder, the
``nanocnn train --task age`` and ``nanocnn predict`` commands, and the age_cnn preset."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import nanocnn as nc
from nanocnn import L1Loss, load
from nanocnn.cli import main
from nanocnn.datasets import load_utkface, make_synthetic_utkface
from nanocnn.job import TrainOptions, resume_command, train
from nanocnn.optim import Adam
from nanocnn.presets import build
from nanocnn.tasks import age
from nanocnn.tasks.age import Age, estimate_ages
from nanocnn.training import EarlyStopping, MeanAbsoluteError, fit

pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")

RUN_FILES = {
    "model.npz", "checkpoint.npz", "history.csv", "history.json", "metrics.json",
    "history.png", "age_scatter.png", "error_by_age.png", "filters.png",
}  # fmt: skip


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 synthetic faces of 32x32 pixels, whose disc grows with the age."""
    folder = tmp_path_factory.mktemp("faces")
    return make_synthetic_utkface(folder, 400, image_size=32, malformed=0, unreadable=0)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(folder, run folder): one epoch of ``nanocnn train --task age`` on 40 tiny faces, in a
    folder that also holds 3 malformed names and 1 unreadable file."""
    root = tmp_path_factory.mktemp("cli-age")
    folder = make_synthetic_utkface(root / "faces", 40, image_size=16)
    out = root / "run"
    argv = ["train", "--task", "age", "--data-dir", str(folder), "--image-size", "16"]
    with pytest.warns(UserWarning, match="skipped"):
        assert main([*argv, "--epochs", "1", "--out", str(out)]) == 0
    return folder, out


def test_regression_learns_age_from_synthetic_faces(faces, tmp_path, capsys):
    options = TrainOptions(
        task="age", data_dir=faces, epochs=6, lr=2e-3, out=tmp_path, progress="off",
        task_options={"image_size": 32},
    )  # fmt: skip
    report = train(options)
    data = load_utkface(
        faces, 32, split=(1 - age.TEST_FRACTION, 0.0, age.TEST_FRACTION), seed=age.SPLIT_SEED
    )
    baseline = np.abs(data.y_test - data.y_train.mean()).mean()  # always answer the mean
    assert report["baseline_mae"] == pytest.approx(baseline, rel=1e-5)
    assert report["mae"] < 0.5 * baseline
    assert report["r2"] > 0.6 and report["n"] == len(data.y_test) == 40
    assert "test MAE" in capsys.readouterr().out


def test_fit_and_early_stopping_work_on_standardised_ages(faces):
    """fit() trains a regression unchanged; with the MAE scaled by std it is in years, so
    EarlyStopping can watch val_mae (for L1, exactly std times val_loss)."""
    data = load_utkface(faces, 8, limit=120)
    mean, std = data.y_train.mean(), data.y_train.std()
    model = build("age_cnn", (3, 8, 8), outputs=1)
    stopper = EarlyStopping("val_mae", patience=1, min_delta=1e9)  # stops after epoch 2
    history = fit(
        model, L1Loss(), Adam(model.parameters()), data.x_train, (data.y_train - mean) / std,
        epochs=5, validation_data=(data.x_val, (data.y_val - mean) / std),
        callbacks=[stopper], progress="off", metric=MeanAbsoluteError(scale=float(std)),
    )  # fmt: skip
    assert len(history) == 2
    assert np.allclose(history["val_mae"], np.multiply(history["val_loss"], std), rtol=1e-4)


def test_cli_train_writes_the_run_folder(cli_run):
    _, out = cli_run
    assert {path.name for path in out.iterdir()} >= RUN_FILES
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"mae", "rmse", "r2", "baseline_mae", "n"} <= set(metrics)
    assert metrics["training"]["image_size"] == 16 and metrics["training"]["loss"] == "l1"
    history = json.loads((out / "history.json").read_text())
    assert {"mae", "val_mae", "loss", "val_loss"} <= set(history[0])
    model = load(out / "model.npz")
    assert model.metadata["task"] == "age" and model.metadata["input_shape"] == [3, 16, 16]
    assert model.metadata["target_std"] > 0


def test_predict_tells_the_age_of_a_face(cli_run, capsys):
    folder, out = cli_run
    face = next(folder.glob("*.chip.jpg"))
    assert main(["predict", str(out / "model.npz"), str(face)]) == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(rf"{re.escape(str(face))}: age -?\d+\.\d years", line)


def test_predict_age_reads_faces_as_the_loader_does(cli_run):
    folder, out = cli_run
    model = load(out / "model.npz")
    with pytest.warns(UserWarning):
        data = load_utkface(folder, 16, split=(1.0, 0.0, 0.0))
    paths = [folder / name for name in data.files[:3]]
    task = Age()
    predicted = [task.answer(model, task.predict_one(model, path))["age"] for path in paths]
    np.testing.assert_allclose(predicted, estimate_ages(model, data.x_train[:3]), atol=0.006)


def test_predict_on_a_digits_model_still_classifies(tmp_path, capsys):
    from PIL import Image, ImageDraw

    model = build("lenet")
    model.metadata.update(task="digits", input_shape=[1, 28, 28])
    nc.save(model, tmp_path / "digits.npz")
    image = Image.new("L", (100, 100), 255)
    ImageDraw.Draw(image).line([(50, 15), (50, 85)], fill=0, width=8)
    image.save(tmp_path / "one.png")
    assert main(["predict", str(tmp_path / "digits.npz"), str(tmp_path / "one.png")]) == 0
    assert re.match(r".*one\.png: \d \(0\.\d{3}\), ", capsys.readouterr().out)


def test_age_without_data_dir_is_one_clear_error(tmp_path, capsys):
    assert main(["train", "--task", "age", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--data-dir" in err and "UTKFace" in err
    assert not (tmp_path / "run").exists()


def test_age_options_are_refused_for_digits(capsys):
    assert main(["train", "--loss", "mse"]) == 2
    assert "--loss is not an option of the digits task (it is for --task age)" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("size", [8, 33, 64])
def test_age_cnn_preset(size):
    model = build("age_cnn", (3, size, size), outputs=1, seed=1)
    x = np.random.default_rng(0).random((2, 3, size, size), dtype=np.float32)
    assert model(x).shape == (2, 1) and model.metadata["preset"] == "age_cnn"
    assert build("cnn")(np.zeros((1, 1, 28, 28), np.float32)).shape == (1, 10)


def test_age_cnn_has_the_original_size():
    parameters = sum(p.size for _, p, _ in build("age_cnn", (3, 128, 128), 1).parameters())
    assert parameters == 16 * 27 + 16 + 32 * 144 + 32 + 64 * 288 + 64 + 16384 * 128 + 128 + 129


def test_the_resume_command_of_an_age_run_names_its_task_and_folder() -> None:
    """What Ctrl-C prints to continue an age run: its task, its data and its non-default
    options, with the folder name quoted for the shell."""
    options = TrainOptions(
        task="age", data_dir=Path("my faces"), seed=3,
        task_options={"image_size": 64, "loss": "huber", "channels": None},
    )  # fmt: skip
    assert resume_command(options, Path("runs/age")) == (
        "nanocnn train --resume --out runs/age --task age --seed 3 --data-dir 'my faces' "
        "--image-size 64 --loss huber"
    )
    assert resume_command(options, Path("runs/age"), workers=2).endswith(
        "--image-size 64 --loss huber --workers 2"
    )  # a data-parallel run trains on over as many processes


def test_evaluate_tests_on_the_faces_a_limited_run_tested_on(cli_run, tmp_path, capsys):
    folder, _ = cli_run
    out = tmp_path / "limited"
    argv = ["train", "--task", "age", "--data-dir", str(folder), "--image-size", "16"]
    with pytest.warns(UserWarning):
        assert main([*argv, "--epochs", "1", "--limit", "20", "--out", str(out)]) == 0
    trained = json.loads((out / "metrics.json").read_text())
    capsys.readouterr()
    with pytest.warns(UserWarning):
        assert main(["evaluate", str(out / "model.npz"), "--data-dir", str(folder)]) == 0
    assert f"test MAE {trained['mae']:.2f} years" in capsys.readouterr().out
