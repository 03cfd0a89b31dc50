"""The recipes benchmark (benchmarks/recipes/) at tiny sizes: every data set is built the
same from the same seed and loads as nanocnn's commands load it; the runner reads run
folders and renders the table; the PyTorch reference trains on nanocnn's own splits. No
timings are asserted."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.recipes import run
from benchmarks.recipes.datasets import DATA_SETS, colour, ensure, texture
from nanocnn import presets
from nanocnn.io import save
from nanocnn.job.options import TrainOptions
from nanocnn.job.setup import plan
from nanocnn.tasks import TaskData

pytest.importorskip("PIL.Image")
pytest.importorskip("sklearn", reason="the digits8 data set is scikit-learn's digits")
SCALE = 0.1  # of the benchmark's sizes: every class in every split, a few seconds to build
CLASSES = {"digits8": 10, "mnist-inverted": 10, "mnist-colour": 10, "shapes": 5, "textures": 6}


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def load(name: str, folder: Path) -> TaskData:
    task = "images" if DATA_SETS[name].form == "folder" else "digits"
    return plan(TrainOptions(task=task, data_dir=folder, progress="off")).load()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("recipes")
    return {name: ensure(data, root, SCALE) for name, data in DATA_SETS.items()}


@pytest.mark.parametrize("name", list(DATA_SETS))
def test_data_sets_are_deterministic_and_load_as_nanocnn_loads_them(name, built, tmp_path):
    again = ensure(DATA_SETS[name], tmp_path, SCALE)
    assert files(again) == files(built[name])
    if name != "mnist-inverted":  # MNIST's first pictures, whatever the seed
        other = ensure(DATA_SETS[name], tmp_path / "other", SCALE, seed=1)
        assert files(other) != files(built[name])
    broken_files = pytest.warns(UserWarning) if name == "shapes" else contextlib.nullcontext()
    with broken_files:
        data = load(name, built[name])
    assert len(data.metadata["classes"]) == CLASSES[name]
    assert set(np.unique(data.train[1])) == set(range(CLASSES[name]))
    assert len(data.test[0]) > 0
    assert data.metadata["input_shape"][0] == (3 if name in ("mnist-colour", "shapes") else 1)
    if DATA_SETS[name].form == "idx":
        assert data.metadata["centring"] == "none"  # not MNIST's: the fitted recipe's path


def test_a_complete_data_set_is_not_built_again(built):
    marker = built["textures"] / "0.png"
    marker.write_bytes(b"")
    try:
        assert ensure(DATA_SETS["textures"], built["textures"].parent, SCALE) == built["textures"]
        assert marker.exists()
    finally:
        marker.unlink()


def test_inverted_digits_are_dark_on_light_and_coloured_ones_keep_their_contrast(built):
    inverted = load("mnist-inverted", built["mnist-inverted"]).train[0]
    assert inverted.mean() > 0.6  # MNIST's mean is 0.13
    gray = np.zeros((200, 4, 4), np.uint8)
    gray[:, 1:3, 1:3] = 255
    pictures = colour(gray, np.random.default_rng(0)).astype(float)
    ink, paper = pictures[:, 1, 1].mean(axis=1), pictures[:, 0, 0].mean(axis=1)
    assert np.abs(ink - paper).min() >= 60


def test_textures_differ_by_class():
    rng = np.random.default_rng(0)
    horizontal, vertical = texture("horizontal", rng).astype(float), texture("vertical", rng)
    # stripes vary along one axis: across rows for horizontal ones, across columns otherwise
    assert horizontal.mean(axis=1).std() > horizontal.mean(axis=0).std()
    assert vertical.mean(axis=0).std() > vertical.mean(axis=1).std()


def default_metrics(accuracy: float) -> dict:
    return {"accuracy": accuracy, "training": {
        "seconds": 100.0, "epochs": 30, "best_epoch": 25, "stopped_early": True,
        "train_images": 5000}}  # fmt: skip


def test_the_runner_reads_run_folders_and_marks_a_missed_target(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps(default_metrics(0.95)))
    model = presets.build("lenet")
    model.metadata["training_options"] = {"model": "lenet", "epochs": 40, "lr": 0.002}
    save(model, tmp_path / "model.npz")
    default = run.read_default(tmp_path)
    assert default["accuracy"] == 0.95 and default["epochs_run"] == 30
    assert default["recipe"]["epochs"] == 40 and default["recipe"]["model"] == "lenet"
    assert default["stopped_early"] and default["train_images"] == 5000
    tuned = {"accuracy": 0.96, "training": {"command": "--lr 0.002", "trials": 7, "seconds": 20}}
    (tmp_path / "metrics.json").write_text(json.dumps(tuned))
    tune = {**run.read_tune(tmp_path), "budget": 200}
    assert tune["command"] == "--lr 0.002" and tune["trials"] == 7
    recipe = {"lr": 1e-3, "batch_size": 64, "weight_decay": 0.0, "augment": "shift"}
    row = {"name": "x", "form": "idx", "default": {**default, "cpu_seconds": 90.0},
           "tune": tune, "reference": {"test_accuracy": 0.96, "cpu_seconds": 90.0,
                                       "epochs": 40, "recipe": recipe}}  # fmt: skip
    line = run.markdown([row]).splitlines()[-1]
    assert "95.00%" in line and "96.00%" in line and "-1.00 ✗" in line and "shift" in line
    assert "30/40" in line
    row["reference"]["test_accuracy"] = 0.952
    assert "✗" not in run.markdown([row]).splitlines()[-1]


def test_the_commands_run_on_one_thread():
    environment = run.environment()
    assert environment["OMP_NUM_THREADS"] == environment["OPENBLAS_NUM_THREADS"] == "1"


def test_the_reference_trains_on_nanocnns_splits(built):
    torch = pytest.importorskip("torch", reason="the reference needs: pip install torch==2.13.0")
    from benchmarks.recipes import reference

    torch.set_num_threads(1)
    setup, data = reference.load("digits", built["mnist-inverted"])
    whole = load("mnist-inverted", built["mnist-inverted"])
    assert len(data.train[0]) + len(data.val[0]) == len(whole.train[0])
    assert len(data.val[0]) == round(len(whole.train[0]) * setup.val_split)
    np.testing.assert_array_equal(data.test[1], whole.test[1])
    recipe = {"lr": 1e-3, "batch_size": 32, "weight_decay": 0.0, "augment": "shift"}
    result = reference.train(torch, setup, data, recipe, seconds=0.01, test=True)
    assert result["epochs"] == 1 and 0.0 <= result["test_accuracy"] <= 1.0
