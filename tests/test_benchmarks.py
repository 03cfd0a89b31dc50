"""Smoke tests of the benchmark suite (benchmarks/): every network trains a step, the naive
loops and the PyTorch copies compute what nanocnn computes, the report renders.

No timings are asserted: speed is measured by ``make bench``, not by the test suite.
"""

from __future__ import annotations

import numpy as np
import pytest

import nanocnn as nc
from benchmarks.naive import NaiveNetwork
from benchmarks.networks import NETWORKS, build, forward_flops, input_shape, train_flops
from benchmarks.report import markdown, summarize
from benchmarks.worker import NanocnnRunner
from nanocnn import presets


def batch(n: int, seed: int = 0, name: str = "lenet") -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *input_shape(name)), dtype=np.float32)
    return x, rng.integers(0, 10, n)


@pytest.mark.parametrize("name", NETWORKS)
def test_one_training_step_changes_every_parameter(name):
    runner = NanocnnRunner(build(name))
    before = {key: value.copy() for key, value in runner.model.state_dict().items()}
    runner.train_step(*batch(8, name=name))
    for key, value in runner.model.state_dict().items():
        assert not np.array_equal(value, before[key]), key
    runner.infer(batch(3, name=name)[0])


def test_flop_counts():
    # LeNet multiply-adds: 6*24*24*25 + 16*8*8*150 + 256*120 + 120*84 + 84*10 = 281,640
    lenet = presets.build("lenet")
    assert forward_flops(lenet) == 2 * 281_640
    assert train_flops(lenet) == 3 * forward_flops(lenet)
    assert forward_flops(presets.build("cnn")) == 2 * (
        32 * 28 * 28 * 9 + 64 * 14 * 14 * 32 * 9 + 3136 * 128 + 128 * 10
    )
    # ResNet-8: the stem, then each block's body and (in blocks 2 and 3) its 1x1 shortcut
    stem = 16 * 28 * 28 * 9
    block1 = 2 * 16 * 28 * 28 * 16 * 9
    block2 = 32 * 14 * 14 * 16 * 9 + 32 * 14 * 14 * 32 * 9 + 32 * 14 * 14 * 16
    block3 = 64 * 7 * 7 * 32 * 9 + 64 * 7 * 7 * 64 * 9 + 64 * 7 * 7 * 32
    resnet_flops = 2 * (stem + block1 + block2 + block3 + 64 * 10)
    assert resnet_flops == 18_691_840
    assert forward_flops(presets.build("resnet")) == resnet_flops
    rgb = presets.build("resnet", (3, 64, 64))
    assert forward_flops(rgb, (3, 64, 64)) == forward_flops(build("resnet64"), (3, 64, 64))
    assert forward_flops(rgb, (3, 64, 64)) > 5 * resnet_flops  # 5.2x the pixels


def test_naive_loops_compute_what_nanocnn_computes():
    """The loop version is a real reference: same logits and same gradients, same weights."""
    model = presets.build("lenet", seed=1)
    naive = NaiveNetwork(model)
    naive_grads = {name: grad for name, _, grad in naive.model.parameters()}
    x, y = batch(2, seed=1)
    naive_logits = naive.gradients(x, y)
    loss = nc.SoftmaxCrossEntropy()
    logits = model.forward(x, training=True)
    loss.forward(logits, y)
    model.backward(loss.backward())
    np.testing.assert_allclose(naive_logits, logits, rtol=1e-5, atol=1e-5)
    for name, _, grad in model.parameters():
        np.testing.assert_allclose(naive_grads[name], grad, rtol=1e-4, atol=1e-5, err_msg=name)
    naive.train_step(x, y)  # the Adam step the benchmark times
    assert not np.array_equal(naive.model[0].params["weight"], model[0].params["weight"])


@pytest.mark.parametrize("name", NETWORKS)
def test_pytorch_copy_computes_what_nanocnn_computes(name):
    torch = pytest.importorskip("torch", reason="PyTorch is optional: pip install torch==2.13.0")
    from benchmarks.torch_reference import to_torch
    from benchmarks.worker import TorchRunner

    # At 64x64 a float32 batch of 4 through nine batch norms leaves the stem's gradient up to
    # 1% from PyTorch's (rounding: float64 agrees to 1e-13), so that network is compared in
    # float64.
    dtype = np.float64 if name == "resnet64" else np.float32
    model = build(name).astype(dtype)
    for layer in model:
        if isinstance(layer, nc.Dropout):
            layer.p = 0.0  # no random masks: the two must then compute the same numbers
    net = to_torch(model)
    x, y = batch(4, name=name)
    x = x.astype(dtype)
    logits = model.forward(x, training=True)
    loss = nc.SoftmaxCrossEntropy()
    loss.forward(logits, y)
    model.backward(loss.backward())
    torch_logits = net(torch.from_numpy(x))
    torch.nn.functional.cross_entropy(torch_logits, torch.from_numpy(y)).backward()
    np.testing.assert_allclose(torch_logits.detach().numpy(), logits, rtol=1e-4, atol=1e-5)
    torch_grads = {key: param.grad.numpy() for key, param in net.named_parameters()}
    for key, _, grad in model.parameters():
        np.testing.assert_allclose(torch_grads[key], grad, rtol=1e-3, atol=1e-5, err_msg=key)
    runner = TorchRunner(build(name), threads=1)
    runner.train_step(x.astype(np.float32), y)
    runner.infer(x.astype(np.float32))


def test_the_report_renders_every_target():
    run = {"train_images_per_s": 1000.0, "infer_images_per_s": 5000.0, "latency_s": 1e-3,
           "peak_rss_mb": 300.0}  # fmt: skip
    slower = dict(run, train_images_per_s=800.0)
    workers = {"train_images_per_s": 900.0, "peak_rss_mb": 200.0}
    raw = {
        "machine": {"cpu": "test", "cores": 2, "threads": 2, "python": "3", "numpy": "2",
                    "blas": "openblas", "torch": "2.13.0"},
        "gemm_gflops": 100.0, "repeats": 2, "data": "MNIST", "notes": ["a note"],
        "seconds": 1.0, "date": "today",
        "networks": {
            name: {"forward_flops": 1e6, "train_flops": 3e6,
                   "runs": {"nanocnn": [run, run], "workers": [workers, workers],
                            "torch": [slower, slower]}}
            for name in NETWORKS
        },
    }  # fmt: skip
    raw["networks"]["lenet"]["runs"]["naive"] = [{"train_images_per_s": 2.0}]
    summary = summarize(raw)
    assert summary["networks"]["lenet"]["train_ratios"] == [0.8, 0.8]
    assert summary["networks"]["resnet"]["workers_train_ratios"] == [800 / 900] * 2
    # report.TARGETS' order: train ratios 0.8, workers 0.89, inference 1.0, limits 33x
    met = [True, True, True, True, False, False, False, False, False, True, False, False, True]
    assert [t["met"] for t in summary["targets"]] == met
    text = markdown(raw, summary)
    assert "| LeNet-5 | naive loops (extrapolated) | 2 |" in text and "Note: a note" in text
    workers_row = "| ResNet-8 | nanocnn, 2 MPI workers (1 thread each) | 900 | 66.7 | – | – | 200 |"
    assert workers_row in text


def test_the_workers_implementation_trains_under_mpiexec():
    """The benchmark's data-parallel row: rank 0 alone prints one measurement."""
    pytest.importorskip("mpi4py", reason="data-parallel training: pip install 'nanocnn[mpi]'")
    from benchmarks.run import subprocess_json

    worker = ["benchmarks.worker", "workers", "lenet", "--seconds", "0.1", "--images", "256"]
    result = subprocess_json([*worker, "--chunk", "2"], threads=1, ranks=2)
    assert set(result) == {"train_images_per_s", "peak_rss_mb", "data"}
    assert result["train_images_per_s"] > 0 and result["peak_rss_mb"] > 0


def test_layer_times_cover_every_layer_type_of_the_network():
    from benchmarks.layer_times import layer_times

    times, whole = layer_times("resnet", steps=1, batch=4)
    kinds = {type(layer).__name__ for layer in presets.build("resnet").modules()}
    assert {kind for kind, _ in times} == kinds
    assert {phase for _, phase in times} == {"forward", "backward"}
    assert 0 < sum(times.values()) <= whole
