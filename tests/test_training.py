"""The training loop: learning, data rules, callbacks, schedules, NaN, checkpoints."""

from __future__ import annotations

import itertools
import json
import tracemalloc

import numpy as np
import pytest

import nanocnn as nc
from nanocnn.training import (
    Callback,
    CosineLR,
    EarlyStopping,
    History,
    MeanAbsoluteError,
    ModelCheckpoint,
    OneCycleLR,
    ReduceLROnPlateau,
    StepLR,
    Trainer,
    fit,
    split_indices,
)


def blobs(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian blobs in 4-D: an easy classification problem."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]], dtype=np.float32)
    return (centres[y] + rng.standard_normal((n, 4))).astype(np.float32), y


def small_model(seed: int = 0, dropout: float = 0.0) -> nc.Sequential:
    rng = np.random.default_rng(seed)
    return nc.Sequential(
        nc.Dense(4, 16, rng=rng), nc.ReLU(), nc.Dropout(dropout, rng=rng), nc.Dense(16, 3, rng=rng)
    )


def trainer(model: nc.Sequential, **kwargs) -> Trainer:
    kwargs.setdefault("progress", "off")
    return Trainer(model, nc.SoftmaxCrossEntropy(), nc.Adam(model.parameters(), lr=0.01), **kwargs)


def test_fit_learns_and_logs_every_epoch():
    x, y = blobs()
    model = small_model()
    history = fit(
        model, nc.SoftmaxCrossEntropy(), nc.Adam(model.parameters(), lr=0.01), x, y,
        epochs=5, batch_size=16, validation_split=0.25, progress="off",
    )  # fmt: skip
    assert len(history) == 5
    assert set(history.rows[0]) == {
        "epoch", "loss", "accuracy", "lr", "seconds", "val_loss", "val_accuracy",
    }  # fmt: skip
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.9


def test_progress_lines_are_one_per_epoch(capsys):
    x, y = blobs(64)
    trainer(small_model(), progress="lines").fit(x, y, epochs=2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "accuracy" in lines[0] and "loss" in lines[0]


def test_validation_split_is_deterministic_and_disjoint():
    x, _ = blobs(100)
    kept, held = split_indices(len(x), 0.2, seed=3)
    kept2, held2 = split_indices(len(x), 0.2, seed=3)
    assert len(held) == 20 and len(kept) == 80
    np.testing.assert_array_equal(held, held2)
    np.testing.assert_array_equal(kept, kept2)
    assert not set(map(bytes, x[kept])) & set(map(bytes, x[held]))


def test_fit_trains_on_the_callers_array_without_copying_it():
    """Batches are drawn from ``x`` itself: a data set that fits in memory once is enough
    (only the held-out tenth is copied, for validation)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50_000, 100), dtype=np.float32)  # 20 MB
    y = rng.integers(0, 3, len(x))
    model = nc.Sequential(nc.Dense(100, 3, rng=rng))
    tracemalloc.start()
    try:
        trainer(model, batch_size=500).fit(x, y, epochs=1, validation_split=0.1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert x.nbytes * 0.1 < peak < x.nbytes * 0.3, peak / x.nbytes


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.zeros((4, 4), np.uint8), np.zeros(4, int), "dtype uint8.*255"),
        (np.full((4, 4), np.nan, np.float32), np.zeros(4, int), "NaN"),
        (np.zeros((4, 4), np.float32), np.zeros(3, int), "same, non-zero number"),
        (np.zeros((4, 4), np.float32), np.zeros(4, np.float32), "integers"),
    ],
)
def test_bad_data_is_refused(x, y, message):
    with pytest.raises(ValueError, match=message):
        trainer(small_model()).fit(x, y, epochs=1)


def test_float64_data_is_converted_to_the_model_dtype():
    x, y = blobs(32)
    model = small_model()
    trainer(model).fit(x.astype(np.float64), y, epochs=1)
    assert all(param.dtype == np.float32 for _, param, _ in model.parameters())


def test_a_diverging_loss_stops_with_epoch_and_batch():
    x, y = blobs(64)
    model = small_model()
    model[0].params["weight"][...] = 1e38  # float32 logits overflow on the first batch
    with pytest.raises(nc.NonFiniteLossError, match=r"epoch 1, batch 1 .*learning rate"):
        trainer(model).fit(x, y, epochs=2)


def test_regression_reports_mae_in_original_units():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 0.0], np.float32)).astype(np.float32)
    model = nc.Sequential(nc.Dense(4, 1, rng=0))
    run = Trainer(
        model, nc.MSELoss(), nc.Adam(model.parameters(), lr=0.05), progress="off",
        metric=MeanAbsoluteError(scale=10.0),
    )  # fmt: skip
    history = run.fit(x, y, epochs=30, validation_split=0.2)
    _, held = split_indices(len(x), 0.2, seed=0)
    x_val, y_val = x[held], y[held]
    unscaled = np.mean(np.abs(model.predict(x_val)[:, 0] - y_val))
    assert history["val_mae"][-1] == pytest.approx(10 * unscaled, rel=1e-5)
    assert unscaled < 0.05
    rmse = np.sqrt(np.mean((model.predict(x_val)[:, 0] - y_val) ** 2))
    assert history["val_rmse"][-1] == pytest.approx(10 * rmse, rel=1e-5)
    assert history["val_r2"][-1] > 0.99


def test_early_stopping_restores_the_best_weights():
    model = small_model()
    run = trainer(model)
    stopper = EarlyStopping("val_loss", patience=2)
    best = model.state_dict()
    for epoch, val_loss in enumerate([1.0, 0.5, 0.7, 0.6], start=1):
        run.epoch = epoch
        if epoch == 2:
            best = model.state_dict()
        stopper.on_epoch_end(run, {"val_loss": val_loss})
        model[0].params["weight"] += 1.0  # training moves on
    assert run.stop_training and stopper.best_epoch == 2
    stopper.on_train_end(run)
    np.testing.assert_array_equal(model[0].params["weight"], best["0.weight"])


def test_early_stopping_inside_fit(capsys):
    x, y = blobs(120)
    run = trainer(
        small_model(),
        progress="lines",
        callbacks=[EarlyStopping("loss", patience=1, min_delta=10.0)],
    )
    run.fit(x, y, epochs=10)
    assert len(run.history) == 2  # no epoch beats the first by 10: stop after the second
    assert "early stopping" in capsys.readouterr().out


@pytest.mark.parametrize("callback", [EarlyStopping("val_loss"), ModelCheckpoint("m.npz")])
def test_monitoring_validation_without_validation_data_fails_at_once(callback):
    """Before the first epoch, not with a KeyError after it."""
    x, y = blobs(32)
    run = trainer(small_model(), callbacks=[callback])
    with pytest.raises(ValueError, match="monitors a validation figure"):
        run.fit(x, y, epochs=1)
    assert run.epoch == 0 and len(run.history) == 0


def test_monitoring_a_missing_figure_says_why():
    x, y = blobs(32)
    with pytest.raises(KeyError, match="the logs have"):
        trainer(small_model(), callbacks=[EarlyStopping("val_f1")]).fit(
            x, y, epochs=1, validation_split=0.25
        )


def test_cosine_schedule_anneals_per_batch():
    x, y = blobs(64)
    run = trainer(small_model(), batch_size=16, callbacks=[CosineLR()])
    lrs = []
    run.callbacks.append(type("Spy", (Callback,), {
        "on_batch_begin": lambda self, t: lrs.append(t.optimizer.lr)})())  # fmt: skip
    run.fit(x, y, epochs=2)
    assert lrs[0] == pytest.approx(0.01) and len(lrs) == 8
    assert all(a > b for a, b in itertools.pairwise(lrs))
    assert lrs[-1] == pytest.approx(0.01 * 0.5 * (1 + np.cos(np.pi * 7 / 8)))


def test_step_and_plateau_schedules():
    x, y = blobs(32)
    run = trainer(small_model(), callbacks=[StepLR(step_size=2, gamma=0.5)])
    run.fit(x, y, epochs=5)
    assert run.history["lr"] == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025])

    run = trainer(
        small_model(), callbacks=[ReduceLROnPlateau("loss", factor=0.5, patience=1, mode="max")]
    )
    run.fit(x, y, epochs=3)  # "max" on a falling loss: never improves after epoch 1
    assert run.optimizer.lr == pytest.approx(0.0025)


def test_model_checkpoint_keeps_the_best(tmp_path):
    x, y = blobs(64)
    path = tmp_path / "best.npz"
    run = trainer(small_model(), callbacks=[ModelCheckpoint(path, monitor="loss")])
    run.fit(x, y, epochs=3)
    best_epoch = int(np.argmin(run.history["loss"]))
    assert path.exists() and best_epoch == 2
    np.testing.assert_array_equal(nc.load(path)[0].params["weight"], run.model[0].params["weight"])


def test_resuming_from_a_checkpoint_is_bit_exact(tmp_path):
    """Train 3 epochs straight, or 1 epoch + checkpoint + a fresh trainer for 2 more: the
    weights must be identical, dropout masks and shuffling included."""
    x, y = blobs(96)
    straight = trainer(small_model(dropout=0.3), callbacks=[CosineLR()])
    straight.fit(x, y, epochs=3, validation_split=0.25)

    class StopAfterOneEpoch(Callback):
        def on_epoch_end(self, trainer, logs):
            trainer.stop_training = True

    first = trainer(small_model(dropout=0.3), callbacks=[CosineLR(), StopAfterOneEpoch()])
    first.fit(x, y, epochs=3, validation_split=0.25)
    assert first.epoch == 1
    first.save_checkpoint(tmp_path / "ckpt.npz")
    resumed = trainer(small_model(seed=99, dropout=0.3), callbacks=[CosineLR()])
    resumed.load_checkpoint(tmp_path / "ckpt.npz")
    resumed.fit(x, y, epochs=3, validation_split=0.25)

    for name, value in straight.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[name], value, err_msg=name)
    assert resumed.history.rows[1:] == [
        {**row, "seconds": resumed.history.rows[i + 1]["seconds"]}
        for i, row in enumerate(straight.history.rows[1:])
    ]


def test_history_files(tmp_path):
    x, y = blobs(32)
    history = trainer(small_model()).fit(x, y, epochs=2)
    history.to_json(tmp_path / "h.json")
    history.to_csv(tmp_path / "h.csv")
    assert json.loads((tmp_path / "h.json").read_text())[1]["epoch"] == 2
    assert (tmp_path / "h.csv").read_text().splitlines()[0].startswith("epoch,loss,accuracy")


def test_a_last_batch_of_one_is_dropped_so_batchnorm_trains():
    """321 samples, 64 held out: 257 to train in batches of 64 leaves one sample, which
    BatchNorm1D cannot normalise. By default that batch is dropped; ``drop_last=True`` drops
    any short batch, ``False`` none."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((321, 6)).astype(np.float32), rng.integers(0, 3, 321)
    model = nc.Sequential(
        nc.Dense(6, 8, rng=0), nc.BatchNorm1D(8), nc.ReLU(), nc.Dense(8, 3, rng=1)
    )
    run = trainer(model, batch_size=64)
    run.fit(x, y, epochs=2, validation_split=0.2)
    assert run.step == 2 * 4
    assert trainer(small_model(), batch_size=64, drop_last=True)._batch_starts(257) == range(
        0, 256, 64
    )
    assert len(trainer(small_model(), batch_size=64, drop_last=False)._batch_starts(257)) == 5


def test_the_seed_reaches_dropout_built_without_its_own_generator():
    """Two runs with the same seed give the same weights even when the Dropout layer drew its
    generator from fresh entropy: the trainer seeds every random layer."""
    x, y = blobs(64)

    def run() -> dict[str, np.ndarray]:
        model = nc.Sequential(
            nc.Dense(4, 16, rng=0), nc.ReLU(), nc.Dropout(0.5), nc.Dense(16, 3, rng=1)
        )
        nc.training.fit(
            model, nc.SoftmaxCrossEntropy(), nc.Adam(model.parameters()), x, y, epochs=2,
            batch_size=16, seed=7, progress="off",
        )  # fmt: skip
        return model.state_dict()

    first, second = run(), run()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])


def test_history_names_the_known_columns_for_a_misspelled_key():
    history = History([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.4, "val_loss": 0.6}])
    assert history["val_loss"] == [0.6] and "val_loss" in history
    with pytest.raises(KeyError, match=r"'val_los'.*'epoch', 'loss', 'val_loss'"):
        history["val_los"]
    with pytest.raises(KeyError, match="no epoch logged yet"):
        History()["loss"]


def test_a_binary_classifier_trains_and_logs_its_accuracy():
    """One logit and ``BCEWithLogitsLoss`` with 0/1 targets: fit logs the accuracy of
    "logit > 0", not the MAE of the logits."""
    x, labels = blobs(240)
    y = (labels == 0).astype(np.float32)
    model = nc.Sequential(nc.Dense(4, 8, rng=0), nc.ReLU(), nc.Dense(8, 1, rng=1))
    run = Trainer(model, nc.BCEWithLogitsLoss(), nc.Adam(model.parameters(), lr=0.05),
                  progress="off")  # fmt: skip
    history = run.fit(x, y, epochs=20, validation_split=0.25)
    assert "mae" not in history.rows[-1] and history["val_accuracy"][-1] > 0.95
    _, held = split_indices(len(x), 0.25, seed=0)
    assert history["val_accuracy"][-1] == nc.metrics.binary_accuracy(
        y[held], model.predict(x[held])
    )


def test_a_binary_classifier_takes_bool_labels():
    """Bool targets (``labels == 0``, as Keras takes them) train ``BCEWithLogitsLoss`` as 0/1
    floats would, and fit logs the accuracy."""
    x, labels = blobs(240)
    histories = []
    for y in (labels == 0, (labels == 0).astype(np.float32)):
        model = nc.Sequential(nc.Dense(4, 8, rng=0), nc.ReLU(), nc.Dense(8, 1, rng=1))
        histories.append(fit(model, nc.BCEWithLogitsLoss(), nc.Adam(model.parameters(), lr=0.05),
                             x, y, epochs=10, validation_split=0.25, progress="off"))  # fmt: skip
    assert histories[0]["val_accuracy"][-1] > 0.95 and "mae" not in histories[0].rows[-1]
    assert histories[0]["loss"] == histories[1]["loss"]


def test_one_cycle_warms_up_then_anneals_per_batch_and_cycles_the_momentum():
    x, y = blobs(64)
    model = small_model()
    optimizer = nc.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    seen = []
    spy = type("Spy", (Callback,), {"on_batch_begin": lambda self, t: seen.append(
        (t.optimizer.lr, t.optimizer.momentum))})()  # fmt: skip
    schedule = OneCycleLR(pct_start=0.25)
    run = Trainer(model, nc.SoftmaxCrossEntropy(), optimizer, batch_size=8,
                  callbacks=[schedule, spy], progress="off")  # fmt: skip
    run.fit(x, y, epochs=2)
    assert len(seen) == 16
    lrs, momenta = zip(*seen, strict=True)
    assert lrs[0] == pytest.approx(0.1 / 25) and momenta[0] == pytest.approx(0.95)
    peak = int(np.argmax(lrs))
    assert peak == 3 and lrs[peak] == pytest.approx(0.1) and momenta[peak] == pytest.approx(0.85)
    assert all(a < b for a, b in itertools.pairwise(lrs[: peak + 1]))
    assert all(a > b for a, b in itertools.pairwise(lrs[peak:]))
    assert lrs[-1] == pytest.approx(0.1 / 25 / 1e4) and momenta[-1] == pytest.approx(0.95)
    expected = [schedule.values(step, 16, 0.1) for step in range(16)]
    np.testing.assert_allclose(np.array(seen), np.array(expected), rtol=1e-12)


@pytest.mark.parametrize(("pct_start", "steps"), [(0.2, 5), (0.25, 4), (0.5, 2)])
def test_one_cycle_whose_warm_up_is_one_step_starts_at_the_peak(pct_start, steps):
    """pct_start x steps = 1: the warm-up ends at step 0 (no division by zero)."""
    schedule = OneCycleLR(pct_start=pct_start)
    lrs = [schedule.values(step, steps, 0.1)[0] for step in range(steps)]
    assert lrs[0] == pytest.approx(0.1) and all(a > b for a, b in itertools.pairwise(lrs))
