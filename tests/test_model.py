"""Sequential: the README snippet, names, state dicts, model files, summary, overfitting."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

import nanocnn as nc
from nanocnn import presets


def lenet(seed: int = 0) -> nc.Sequential:
    rng = np.random.default_rng(seed)
    return nc.Sequential(
        nc.Conv2D(1, 6, kernel_size=5, rng=rng), nc.ReLU(), nc.MaxPool2D(2),
        nc.Conv2D(6, 16, kernel_size=5, rng=rng), nc.ReLU(), nc.MaxPool2D(2),
        nc.Flatten(), nc.Dense(256, 120, rng=rng), nc.ReLU(), nc.Dense(120, 84, rng=rng),
        nc.ReLU(), nc.Dense(84, 10, rng=rng),
    )  # fmt: skip


def test_the_readme_snippet_trains():
    rng = np.random.default_rng(0)
    x = rng.random((16, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 16)
    model = lenet()
    loss_fn = nc.SoftmaxCrossEntropy()
    opt = nc.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        logits = model.forward(x, training=True)
        losses.append(loss_fn.forward(logits, y))
        model.backward(loss_fn.backward())
        opt.step()
    assert losses[-1] < losses[0]
    assert logits.dtype == np.float32
    summary = model.summary((1, 28, 28))
    assert "(16, 4, 4)" in summary and "total parameters: 44,426" in summary


def test_parameter_names_are_dotted_like_pytorch():
    names = [name for name, _, _ in lenet().parameters()]
    assert names[:4] == ["0.weight", "0.bias", "3.weight", "3.bias"]
    assert names[-1] == "11.bias"


def test_predict_equals_forward_in_batches():
    model = lenet()
    x = np.random.default_rng(1).random((23, 1, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(model.predict(x, batch_size=5), model.forward(x), atol=1e-5)


def test_train_and_eval_set_the_default_mode():
    model = nc.Sequential(nc.Dropout(0.5, rng=0))
    x = np.ones((4, 100), dtype=np.float32)
    assert model.forward(x) is x
    assert not np.array_equal(model.train().forward(x), x)
    assert model.eval().forward(x) is x


def test_save_and_load_round_trip_bit_exactly(tmp_path):
    model = nc.Sequential(
        nc.Conv2D(1, 4, 3, padding="same", rng=0), nc.BatchNorm2D(4), nc.LeakyReLU(0.2),
        nc.AvgPool2D(2), nc.Flatten(), nc.Dropout(0.3), nc.Dense(4 * 14 * 14, 10, rng=0),
    )  # fmt: skip
    model.forward(np.random.default_rng(0).random((8, 1, 28, 28), dtype=np.float32), True)
    model.metadata = {"task": "mnist", "classes": list(range(10))}
    path = nc.save(model, tmp_path / "sub" / "model.npz")
    loaded = nc.load(path)
    assert repr(loaded) == repr(model)
    assert loaded.metadata == model.metadata
    for (name, value), (name2, value2) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert name == name2 and value.dtype == value2.dtype
        np.testing.assert_array_equal(value, value2)
    x = np.random.default_rng(1).random((3, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["model.npz"]  # no temp left


def test_load_state_dict_names_what_is_wrong():
    model = lenet()
    state = model.state_dict()
    del state["3.bias"]
    state["7.weight"] = np.zeros((3, 3))
    state["99.weight"] = np.zeros(1)
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "missing '3.bias'" in message
    assert "'7.weight' has shape (3, 3), the model needs (120, 256)" in message
    assert "unexpected '99.weight'" in message


def test_a_file_with_a_missing_or_misshapen_tensor_is_named(tmp_path):
    model = lenet()
    path = nc.save(model, tmp_path / "model.npz")
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(tmp_path / "missing.npz", "w") as archive:
        for name, data in entries.items():
            if name != "9.weight.npy":
                archive.writestr(name, data)
    with pytest.raises(nc.ModelFileError, match=r"missing\.npz.*missing '9\.weight'"):
        nc.load(tmp_path / "missing.npz")

    state = model.state_dict()
    state["0.weight"] = np.zeros((6, 1, 3, 3), np.float32)
    from nanocnn.io.arrays import load_arrays, save_arrays

    _, header = load_arrays(path)
    save_arrays(tmp_path / "shape.npz", state, header)
    with pytest.raises(nc.ModelFileError, match=r"'0\.weight' has shape \(6, 1, 3, 3\)"):
        nc.load(tmp_path / "shape.npz")


def test_truncated_and_foreign_files_get_a_clear_error(tmp_path):
    path = nc.save(lenet(), tmp_path / "model.npz")
    data = path.read_bytes()
    (tmp_path / "truncated.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(nc.ModelFileError, match=r"truncated\.npz"):
        nc.load(tmp_path / "truncated.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(nc.ModelFileError, match=r"text\.npz"):
        nc.load(tmp_path / "text.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(nc.ModelFileError, match="no __header__"):
        nc.load(tmp_path / "plain.npz")
    np.savez(tmp_path / "pickle.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(nc.ModelFileError, match="forbidden dtype"):
        nc.load(tmp_path / "pickle.npz")
    with pytest.raises(nc.ModelFileError, match="no such file"):
        nc.load(tmp_path / "absent.npz")


def test_overfits_64_samples():
    rng = np.random.default_rng(0)
    x = rng.random((64, 1, 12, 12), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    model = nc.Sequential(
        nc.Conv2D(1, 8, 3, padding=1, rng=rng), nc.ReLU(), nc.MaxPool2D(2),
        nc.Flatten(), nc.Dense(8 * 6 * 6, 64, rng=rng), nc.ReLU(), nc.Dense(64, 10, rng=rng),
    )  # fmt: skip
    loss_fn = nc.SoftmaxCrossEntropy()
    opt = nc.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss_fn.forward(model.forward(x, training=True), y)
        model.backward(loss_fn.backward())
        opt.step()
    accuracy = np.mean(model.predict(x).argmax(axis=1) == y)
    assert accuracy == 1.0


def test_sequential_rejects_non_layers():
    with pytest.raises(TypeError, match="item 1"):
        nc.Sequential(nc.ReLU(), "relu")


# ------------------------------------------------- surprises a new user met (issue 12)


def test_a_model_that_builds_also_loads(tmp_path):
    """One rule, the constructor's: a padding wider than a 1x1 kernel is PyTorch's right."""
    model = nc.Sequential(nc.Conv2D(1, 2, kernel_size=1, padding=2, rng=0))
    loaded = nc.load(nc.save(model, tmp_path / "wide.npz"))
    x = np.ones((1, 1, 3, 3), np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: nc.Conv2D(1, 2, 3, padding=-1), "padding must be >= 0"),
        (lambda: nc.Conv2D(1, 2, 3, padding="full"), "padding must be an int, a pair"),
        (lambda: nc.Conv2D(1, 2, 3, stride=2, padding="same"), "'same' needs stride 1"),
        (lambda: nc.Conv2D(1, 2, 2.5), "kernel_size must be an integer"),
        (lambda: nc.Conv2D(0, 2, 3), "in_channels must be >= 1"),
        (lambda: nc.MaxPool2D(3, padding=2), "padding must be at most half the kernel"),
        (lambda: nc.AvgPool2D((2, 4), padding=(1, 3)), "padding must be at most half"),
        (lambda: nc.Dense(3, True), "out_features must be an integer"),
        (lambda: nc.BatchNorm2D(0), "num_features must be >= 1"),
    ],
)
def test_constructors_hold_the_one_rule_and_name_the_argument(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_numpy_integers_and_tuples_save_as_plain_json(tmp_path):
    n = np.int64
    model = nc.Sequential(
        nc.Conv2D(n(1), n(2), (n(3), 3), stride=(1, n(1)), padding=(n(1), 0), rng=0),
        nc.MaxPool2D(n(2), stride=np.array([2, 2]), padding=(n(1), n(0))),
        nc.BatchNorm2D(n(2), eps=np.float32(1e-3)), nc.Flatten(),
        nc.Dense(n(2 * 4 * 2), n(3), bias=np.bool_(False), rng=0), nc.Dropout(np.float64(0.5)),
        nc.LeakyReLU(np.float32(0.5)),
    )  # fmt: skip
    loaded = nc.load(nc.save(model, tmp_path / "numpy-args.npz"))
    assert loaded.config() == model.config()
    assert repr(loaded) == repr(model)
    x = np.ones((1, 1, 6, 6), np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_a_slice_of_a_model_is_a_model_sharing_its_layers():
    model = lenet()
    head = model[:3]
    assert isinstance(head, nc.Sequential) and len(head) == 3
    assert head[0] is model[0]
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(model[3:].predict(head.predict(x)), model.predict(x))


def test_the_inference_copy_leaves_the_training_caches_behind():
    """input_gradient and summary run on a copy: after a training step it must not copy the
    megabytes every layer kept for backward (the im2col columns, BatchNorm's centred input)."""
    model = presets.build("resnet")
    model.fast_forward(np.zeros((8, 1, 28, 28), dtype=np.float32), training=True)
    kept = [layer for layer in model.modules() if getattr(layer, "_cache", None) is not None]
    assert len(kept) == len(list(model.modules())) - 1  # all but the pooling (keeps a shape)
    model.fast_backward(np.ones((8, 10), np.float32))  # the convolutions' dx buffers too
    assert sum(getattr(layer, "_dout_cols", None) is not None for layer in model.modules()) == 4
    detached = nc.layers.state.detached(model)
    assert all(getattr(layer, "_cache", None) is None for layer in detached.modules())
    assert all(getattr(layer, "_dout_cols", None) is None for layer in detached.modules())
    assert all(layer._cache is not None for layer in kept)  # the model's own stay
    assert detached.params["0.weight"] is model.params["0.weight"]  # the weights are shared


class _Link:
    """Stands for an MPI communicator: a link to other processes, which cannot be copied."""

    def sum(self, values: np.ndarray) -> np.ndarray:
        return values

    def __deepcopy__(self, memo: dict) -> _Link:
        raise ValueError("cannot serialize 'mpi4py.MPI.Intracomm' instance")


def test_the_inference_copy_of_a_data_parallel_model_computes_alone():
    """On a rank of ``--workers``, every BatchNorm sums its statistics over the ranks through
    ``sync``. The copies that predict, summarise, fold or snapshot the model must leave that
    link behind (it cannot be copied, and a copy must not wait for other ranks); the model
    keeps it."""
    model = presets.build("resnet")
    link = _Link()
    norms = [layer for layer in model.modules() if isinstance(layer, nc.BatchNorm2D)]
    for norm in norms:
        norm.sync = link.sum
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    copy = nc.layers.state.detached(model)
    assert all(layer.sync is None for layer in copy.modules() if isinstance(layer, nc.BatchNorm2D))
    assert all(norm.sync == link.sum for norm in norms)
    np.testing.assert_allclose(model.fused().predict(x), model.predict(x), rtol=1e-4, atol=1e-5)
    assert "BatchNorm2D" in model.summary((1, 28, 28))


def test_summary_between_forward_and_backward_keeps_the_caches():
    x = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    dout = np.random.default_rng(1).standard_normal((4, 10)).astype(np.float32)
    grads = []
    for summarise in (False, True):
        model = lenet()
        model.forward(x, training=True)
        if summarise:
            assert "total parameters" in model.summary((1, 28, 28))
        model.backward(dout)
        grads.append([grad.copy() for _, _, grad in model.parameters()])
    for without, with_summary in zip(*grads, strict=True):
        np.testing.assert_array_equal(with_summary, without)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5])
def test_predict_refuses_a_batch_size_that_is_not_a_positive_integer(batch_size):
    with pytest.raises(ValueError, match="batch_size must be"):
        lenet().predict(np.zeros((2, 1, 28, 28), np.float32), batch_size=batch_size)


def test_a_wrong_image_size_is_the_model_s_error_with_the_shape_it_expects():
    model = lenet()
    x = np.zeros((2, 1, 32, 32), np.float32)
    with pytest.raises(ValueError, match=r"input of shape \(2, 1, 32, 32\) does not fit") as info:
        model.forward(x)
    assert "layer 7" in str(info.value)  # the Dense layer, as written (not the run order)
    model.metadata["input_shape"] = [1, 28, 28]
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 1, 28, 28\)"):
        model.predict(x)
    with pytest.raises(ValueError, match=r"the model expects input \(N, 1, 28, 28\)"):
        model.forward(x)


def test_calling_the_model_runs_forward():
    model, x = lenet(), np.ones((2, 1, 28, 28), np.float32)
    np.testing.assert_array_equal(model(x), model.forward(x))
