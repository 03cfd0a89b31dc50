"""Your own pictures and your own IDX data set, from the command line: ``nanocnn train
--task images`` on a generated folder of coloured shapes (mixed formats, modes and sizes, a few
broken files), then ``evaluate``, ``predict`` and ``summary`` of its model; and ``nanocnn
train --data-dir`` on an MNIST-format set that is not MNIST, with its class names."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import nanocnn as nc
from nanocnn import load
from nanocnn.cli import main
from nanocnn.datasets import load_images, make_synthetic_folder, write_idx
from nanocnn.tasks.images import Images

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("matplotlib")

CLASSES = ["circle", "square", "triangle"]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 pictures of each of three shapes, and a hidden file, a text file, 3 broken ones."""
    return make_synthetic_folder(tmp_path_factory.mktemp("shapes") / "shapes", per_class=150)


@pytest.fixture(scope="module")
def images_run(shapes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("images") / "run"
    argv = ["train", "--task", "images", "--data-dir", str(shapes), "--out", str(out)]
    with pytest.warns(UserWarning, match=r"skipped 5 entries"):
        assert main([*argv, "--epochs", "10"]) == 0
    return out


def test_train_learns_the_shapes_and_writes_the_run(images_run: Path) -> None:
    metrics = json.loads((images_run / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.7  # three classes: chance is 1/3
    assert [row["name"] for row in metrics["classes"]] == CLASSES and metrics["n"] == 45
    names = {path.name for path in images_run.iterdir()}
    assert {"model.npz", "checkpoint.npz", "confusion_matrix.png", "misclassified.png"} <= names
    model = load(images_run / "model.npz")
    assert model.metadata["task"] == "images" and model.metadata["classes"] == CLASSES
    assert model.metadata["input_shape"] == [3, 32, 32]
    normalization = model.metadata["normalization"]
    assert len(normalization["mean"]) == 3 and min(normalization["std"]) > 0


def test_evaluate_tests_on_the_pictures_the_run_held_out(images_run, shapes, capsys) -> None:
    metrics = json.loads((images_run / "metrics.json").read_text())
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the recorded test files are read, the folder not scanned
        assert main(["evaluate", str(images_run / "model.npz"), "--data-dir", str(shapes)]) == 0
    out = capsys.readouterr().out
    assert f"test accuracy {metrics['accuracy']:.4f}" in out
    assert all(name in out for name in CLASSES)


def test_evaluate_never_tests_on_pictures_the_model_trained_on(
    images_run, shapes, tmp_path, capsys
) -> None:
    """Pictures added, removed or re-encoded after training: evaluate says so and tests on
    the recorded test pictures that are left, never on a training picture, whatever the
    seeded split of the changed folder would now draw."""
    model = nc.load(images_run / "model.npz")
    recorded = model.metadata["test_files"]
    copy = tmp_path / "shapes"
    shutil.copytree(shapes, copy)
    (copy / recorded[0][0]).unlink()  # one test picture gone
    changed = Image.open(copy / recorded[1][0]).convert("RGB")
    changed.rotate(90).save(copy / recorded[1][0])  # one re-encoded, other pixels
    for k in range(40):  # new pictures: a seeded split of the folder would now differ
        Image.new("RGB", (20, 20), (k, 0, 0)).save(copy / CLASSES[k % 3] / f"new_{k}.png")
    with pytest.warns(UserWarning, match=r"1 are missing and 1 changed; testing on the \d+"):
        x, y = Images().test_data(model, copy)
    left = [copy / str(entry[0]) for entry in recorded[2:]]  # recorded and unchanged: only those
    np.testing.assert_array_equal(x, load_images(left, 32, 3, progress="off").x)
    assert y.tolist() == [entry[2] for entry in recorded[2:]]


def test_predict_names_the_classes_and_reports_each_image(images_run, shapes, capsys) -> None:
    good = [shapes / "circle" / "circle_000.png", shapes / "square" / "square_001.jpg"]
    bad = shapes / "circle" / "notes.txt"
    argv = ["predict", str(images_run / "model.npz"), str(good[0]), str(bad), str(good[1])]
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line.split(":")[0] for line in lines] == [str(path) for path in good]
    number = r"\(\d\.\d{3}\)"
    for line in lines:
        assert re.fullmatch(rf".*: (\w+) {number}, (\w+) {number}, (\w+) {number}", line)
        assert set(re.findall(r"(\w+) \(", line)) == set(CLASSES)
    assert f"{bad}: not an image" in captured.err


def test_summary_shows_the_shapes_of_a_picture_model(images_run, capsys) -> None:
    assert main(["summary", str(images_run / "model.npz")]) == 0
    out = capsys.readouterr().out
    assert "(3, 32, 32)" in out and "classes: ['circle', 'square', 'triangle']" in out


def test_a_val_folder_is_the_validation_set(tmp_path, capsys) -> None:
    folder = make_synthetic_folder(tmp_path / "split", per_class=30, layout="split", broken=0)
    for name in CLASSES:  # move a few training pictures into val/
        (folder / "val" / name).mkdir(parents=True)
        for path in sorted((folder / "train" / name).glob(f"{name}_*"))[:5]:
            path.rename(folder / "val" / name / path.name)
    argv = ["train", "--task", "images", "--data-dir", str(folder), "--epochs", "1"]
    with pytest.warns(UserWarning):
        assert main([*argv, "--image-size", "16", "--out", str(tmp_path / "run")]) == 0
    assert re.search(r"on \d+ pictures .*\(15 in the validation folder\)", capsys.readouterr().out)


def test_an_option_of_another_task_is_refused(tmp_path, capsys) -> None:
    assert main(["train", "--channels", "1", "--out", str(tmp_path / "run")]) == 2
    assert "--channels is not an option of the digits task (it is for --task images)" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "run").exists()


def stripes(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """16x16 uint8 images of three classes: horizontal, vertical or diagonal stripes."""
    labels = rng.integers(0, 3, count)
    rows, cols = np.mgrid[:16, :16]
    patterns = np.stack([rows % 4 < 2, cols % 4 < 2, (rows + cols) % 4 < 2]) * 200
    noise = rng.integers(0, 56, (count, 16, 16))
    return (patterns[labels] + noise).astype(np.uint8), labels.astype(np.uint8)


@pytest.fixture(scope="module")
def idx_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MNIST-format data set that is not MNIST: 16x16 stripes, with a classes.txt."""
    folder = tmp_path_factory.mktemp("stripes")
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 600), ("t10k", 150)):
        images, labels = stripes(count, rng)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    (folder / "classes.txt").write_text("horizontal\nvertical\ndiagonal\n")
    return folder


def test_an_idx_set_that_is_not_mnist_trains_with_its_class_names(idx_set, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--data-dir", str(idx_set), "--model", "cnn", "--epochs", "2"]
    assert main([*argv, "--out", str(out)]) == 0
    report = capsys.readouterr().out
    assert "diagonal" in report and "horizontal" in report
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.9
    assert [row["name"] for row in metrics["classes"]] == ["horizontal", "vertical", "diagonal"]
    model = load(out / "model.npz")
    assert model.metadata["input_shape"] == [1, 16, 16]
    assert main(["evaluate", str(out / "model.npz"), "--data-dir", str(idx_set)]) == 0
    assert f"test accuracy {metrics['accuracy']:.4f}" in capsys.readouterr().out


def test_class_names_from_the_command_line_must_fit(idx_set, tmp_path, capsys) -> None:
    argv = ["train", "--data-dir", str(idx_set), "--limit", "100", "--epochs", "1"]
    assert main([*argv, "--class-names", "a,b", "--out", str(tmp_path / "bad")]) == 2
    assert "--class-names: names 2 classes" in capsys.readouterr().err
    assert main([*argv, "--class-names", "h,v,d", "--out", str(tmp_path / "run")]) == 0
    assert load(tmp_path / "run" / "model.npz").metadata["classes"] == ["h", "v", "d"]
