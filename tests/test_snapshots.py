"""The Snapshots callback: the first convolution's filters and its maps of one training input,
written after every epoch to one small file, read back without pickle; a resumed run keeps
the epochs before its checkpoint."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nanocnn.errors import ModelFileError
from nanocnn.explain import first_conv_maps
from nanocnn.losses import SoftmaxCrossEntropy
from nanocnn.optim import Adam
from nanocnn.presets import build
from nanocnn.training import Trainer
from nanocnn.training.snapshots import SNAPSHOTS_FILE, Snapshots, read_snapshots

RNG = np.random.default_rng(0)
X = RNG.random((96, 1, 28, 28), dtype=np.float32)
Y = RNG.integers(0, 10, 96)


def trainer(path: Path, seed: int = 0, checkpoint: Path | None = None) -> Trainer:
    model = build("lenet", seed=seed)
    return Trainer(
        model, SoftmaxCrossEntropy(), Adam(model.parameters(), lr=1e-2), batch_size=32,
        callbacks=[Snapshots(path, X[5])], progress="off", checkpoint=checkpoint,
    )  # fmt: skip


def test_every_epoch_is_written_with_its_filters_and_maps(tmp_path: Path) -> None:
    path = tmp_path / "run" / SNAPSHOTS_FILE
    run = trainer(path)
    start = run.model[0].params["weight"].copy()
    run.fit(X, Y, epochs=2)
    assert sorted(p.name for p in path.parent.iterdir()) == [SNAPSHOTS_FILE]  # no leftovers
    with np.load(path, allow_pickle=False) as file:  # plain arrays only
        assert sorted(file.files) == ["epochs", "filters", "layer", "maps", "sample"]
    history = read_snapshots(path)
    assert history.epochs.tolist() == [0, 1, 2] and history.layer == "0"
    np.testing.assert_array_equal(history.filters[0], start)
    np.testing.assert_array_equal(history.filters[2], run.model[0].params["weight"])
    assert not np.array_equal(history.filters[1], history.filters[0])
    np.testing.assert_array_equal(history.sample, X[5])
    maps = first_conv_maps(run.model, X[5:6])
    assert history.maps.shape == (3, 6, 24, 24)
    np.testing.assert_allclose(history.maps[2], maps, rtol=1e-3, atol=1e-3)  # float16 in the file
    assert history.at(1) == 1 and history.at(7) == 2


def test_a_resumed_run_keeps_the_epochs_before_its_checkpoint(tmp_path: Path) -> None:
    """The file may be an epoch ahead of the checkpoint (written first, then a crash): the
    resumed run drops that epoch and writes it again, once."""
    path, checkpoint = tmp_path / SNAPSHOTS_FILE, tmp_path / "checkpoint.npz"
    first = trainer(path, checkpoint=checkpoint)
    first.fit(X, Y, epochs=1)
    shutil.copy(checkpoint, tmp_path / "after-1.npz")
    first.fit(X, Y, epochs=2)
    whole = read_snapshots(path)
    resumed = trainer(path, checkpoint=checkpoint)
    resumed.load_checkpoint(tmp_path / "after-1.npz")
    resumed.fit(X, Y, epochs=3)
    history = read_snapshots(path)
    assert history.epochs.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(history.filters[:3], whole.filters)  # resumed bit for bit
    np.testing.assert_array_equal(history.filters[3], resumed.model[0].params["weight"])


def test_nothing_is_written_without_a_convolution_or_on_another_rank(tmp_path: Path) -> None:
    mlp = build("mlp")
    callback = Snapshots(tmp_path / SNAPSHOTS_FILE, X[0])
    callback.on_train_begin(
        SimpleNamespace(model=mlp, epoch=0, workers=SimpleNamespace(is_root=True))
    )
    lenet = build("lenet")
    other_rank = SimpleNamespace(model=lenet, epoch=0, workers=SimpleNamespace(is_root=False))
    callback.on_train_begin(other_rank)
    callback.on_epoch_end(other_rank, {})
    assert not list(tmp_path.iterdir())


def test_a_file_that_is_not_a_snapshots_file_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "other.npz", weights=np.ones(3))
    with pytest.raises(ModelFileError, match="not a snapshots file"):
        read_snapshots(tmp_path / "other.npz")
    arrays = {key: np.zeros(2) for key in ("epochs", "filters", "maps", "sample")}
    np.savez(tmp_path / "objects.npz", layer=np.array([{"code": 1}], dtype=object), **arrays)
    with pytest.raises(ModelFileError, match="not a snapshots file"):
        read_snapshots(tmp_path / "objects.npz")  # a pickled object is never loaded
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelFileError, match="not a snapshots file"):
        read_snapshots(tmp_path / "text.npz")
