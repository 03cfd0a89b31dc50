"""What users looked for in a training run and did not find (issue 22): ``--resume`` with
nothing but the run folder, extending a finished run with more epochs, ``--val-split 0``,
``--overwrite``; in Python, gradients accumulated over batches, ``load_state_dict(strict=
False)``, a seed and a one-sample split refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import nanocnn as nc
from nanocnn.cli import main
from nanocnn.datasets import make_synthetic_folder
from nanocnn.training import Trainer, fit

pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_folder(tmp_path_factory.mktemp("shapes") / "shapes", per_class=20)


def metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def test_resume_needs_only_the_run_folder_and_extends_a_finished_run(shapes, tmp_path):
    run = tmp_path / "run"
    first = ["train", "--task", "images", "--data-dir", str(shapes), "--model", "mlp",
             "--image-size", "12", "--epochs", "2", "--out", str(run)]  # fmt: skip
    with pytest.warns(UserWarning, match="skipped"):
        assert main(first) == 0
    assert metrics(run)["training"]["epochs"] == 2
    with pytest.warns(UserWarning, match="skipped"):  # --task, --data-dir... from options.json
        assert main(["train", "--resume", "--out", str(run), "--epochs", "4"]) == 0
    resumed = metrics(run)["training"]
    assert resumed["epochs"] == 4 and resumed["model"] == "mlp" and resumed["task"] == "images"
    history = json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]


def test_other_options_than_the_runs_are_still_refused_on_resume(shapes, tmp_path, capsys):
    run = tmp_path / "run"
    start = ["train", "--model", "mlp", "--limit", "100", "--epochs", "1", "--out", str(run)]
    assert main(start) == 0
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(run), "--lr", "0.5"]) == 2
    assert "was started with other options: --lr" in capsys.readouterr().err


def test_val_split_0_trains_on_every_sample_and_keeps_the_last_epoch(tmp_path):
    run = tmp_path / "run"
    argv = ["train", "--model", "mlp", "--limit", "120", "--epochs", "2", "--val-split", "0"]
    assert main([*argv, "--out", str(run)]) == 0
    history = json.loads((run / "history.json").read_text())
    assert len(history) == 2 and not any(key.startswith("val_") for key in history[-1])
    assert metrics(run)["training"]["best_epoch"] == 2  # the last, as there is no validation
    assert main([*argv, "--patience", "2", "--out", str(tmp_path / "other")]) == 2


def test_overwrite_starts_again_and_keeps_what_is_not_the_runs(tmp_path):
    run = tmp_path / "run"
    argv = ["train", "--model", "mlp", "--limit", "100", "--epochs", "1", "--out", str(run)]
    assert main(argv) == 0
    (run / "notes.md").write_text("mine")
    before = (run / "model.npz").stat().st_mtime_ns
    assert main([*argv, "--seed", "3"]) == 2  # refused: the folder holds a run
    assert main([*argv, "--seed", "3", "--overwrite"]) == 0
    assert (run / "model.npz").stat().st_mtime_ns != before
    assert nc.load(run / "model.npz").metadata["training_options"]["seed"] == 3
    assert (run / "notes.md").read_text() == "mine"


def test_gradients_accumulate_over_batches_when_asked():
    """Two half batches, accumulated, give the gradients of the whole batch (each half's
    mean loss weighted by a half), as PyTorch's loss.backward() twice would."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 1, 6, 6)), rng.integers(0, 3, 8)
    model = nc.Sequential(nc.Conv2D(1, 2, 3, rng=0), nc.ReLU(), nc.Flatten(),
                          nc.Dense(32, 3, rng=1)).astype(np.float64)  # fmt: skip
    loss = nc.SoftmaxCrossEntropy()
    loss.forward(model.forward(x, training=True), y)
    model.backward(loss.backward())
    whole = {name: grad.copy() for name, _, grad in model.parameters()}
    optimizer = nc.SGD(model.parameters(), lr=0.1)
    optimizer.zero_grad()
    assert all(not grad.any() for _, _, grad in model.parameters())
    for half in (slice(0, 4), slice(4, 8)):
        loss.forward(model.forward(x[half], training=True), y[half])
        model.backward(loss.backward() * 0.5, accumulate=True)
    for name, _, grad in model.parameters():
        np.testing.assert_allclose(grad, whole[name], rtol=1e-12, atol=1e-15)
    model.backward(loss.backward())  # without accumulate: overwritten, as always
    assert not np.allclose(model.params["0.weight"], 0) and not all(
        np.allclose(grad, whole[name]) for name, _, grad in model.parameters()
    )


def test_load_state_dict_not_strict_says_what_it_left_out():
    model = nc.Sequential(nc.Dense(4, 3, rng=0), nc.ReLU(), nc.Dense(3, 2, rng=1))
    state = {"0.weight": np.ones((3, 4), np.float32), "0.bias": np.ones(3, np.float32),
             "5.weight": np.zeros(1)}  # fmt: skip
    with pytest.raises(ValueError, match=r"missing '2\.weight'"):
        model.load_state_dict(state)
    keys = model.load_state_dict(state, strict=False)
    assert keys.missing_keys == ["2.weight", "2.bias"] and keys.unexpected_keys == ["5.weight"]
    assert (model.params["0.weight"] == 1).all()
    with pytest.raises(ValueError, match="has shape"):  # names may differ, shapes may not
        model.load_state_dict({"0.weight": np.ones((4, 4))}, strict=False)


def test_a_seed_and_a_split_that_cannot_be_are_refused_by_name():
    model = nc.Sequential(nc.Dense(2, 2, rng=0))
    with pytest.raises(ValueError, match="seed must be >= 0"):
        Trainer(model, nc.SoftmaxCrossEntropy(), nc.SGD(model.parameters(), lr=0.1), seed=-1)
    one = np.ones((1, 2), np.float32), np.zeros(1, np.int64)
    with pytest.raises(ValueError, match="leaves none to train on"):
        fit(model, nc.SoftmaxCrossEntropy(), nc.SGD(model.parameters(), lr=0.1), *one, 1,
            validation_split=0.1, progress="off")  # fmt: skip
