"""Data-parallel training over MPI: N ranks train as one process does.

Each test starts ``mpiexec -n 2`` in a subprocess (the ``mpi`` extra: mpi4py and MPICH,
which CI installs through ``make test``) and compares with the same run in one process:
one step's gradients and weights (float64), a short run's loss history (float32, with
dropout, augmentation and BatchNorm), and a real ``nanocnn train --workers 2`` whose rank 1
is killed, then resumed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_reproducibility import start_training, wait_for

from nanocnn.cli import main
from nanocnn.io.arrays import load_arrays
from nanocnn.parallel.data_parallel import BatchShare, ShardedDraws

MPIEXEC = Path(sys.executable).parent / "mpiexec"
SCRIPT = Path(__file__).with_name("distributed_run.py")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def needs_mpi(request: pytest.FixtureRequest) -> None:
    """MPI for every test but the one about its absence."""
    if "without_mpi" not in request.node.name:
        pytest.importorskip("mpi4py", reason="data-parallel training: pip install 'nanocnn[mpi]'")


def test_workers_without_mpi_is_one_line_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--workers 2`` where mpi4py is missing: one error line with the install command."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "mpi4py" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert main(["train", "--workers", "2", "--limit", "100", "--epochs", "1"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "nanocnn train: error: --workers needs MPI: pip install 'nanocnn[mpi]' (mpi4py and MPICH)\n"
    )


def run_script(mode: str, out: Path, ranks: int) -> dict[str, np.ndarray]:
    """tests/distributed_run.py MODE in one process (``ranks=1``) or under mpiexec."""
    command = [sys.executable, str(SCRIPT), mode, str(out)]
    if ranks > 1:
        command = [str(MPIEXEC), "-n", str(ranks), *command]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={**os.environ, **ONE_THREAD}
    )
    assert done.returncode == 0, done.stderr
    with np.load(out) as arrays:
        return dict(arrays)


def test_one_step_on_two_ranks_gives_one_process_gradients_and_weights(tmp_path: Path) -> None:
    """A global batch of 15 (shares of 7 and 8) through convolution, both BatchNorms, dropout
    and augmentation: the summed gradients and the updated weights and running statistics
    are the single process's to 1e-6 of the largest value (float64)."""
    one = run_script("step", tmp_path / "one.npz", ranks=1)
    two = run_script("step", tmp_path / "two.npz", ranks=2)
    assert one.keys() == two.keys()
    scale = max(float(np.abs(value).max()) for value in one.values())
    for name, value in one.items():
        np.testing.assert_allclose(two[name], value, rtol=1e-6, atol=1e-6 * scale, err_msg=name)
    assert any(np.abs(value).max() > 1e-3 for name, value in one.items() if "grad" in name)


def test_a_short_run_on_two_ranks_has_the_one_process_loss_history(tmp_path: Path) -> None:
    """Three epochs with dropout, augmentation, BatchNorm, Adam, a schedule and validation
    (the ranks' weights compared by checksum every 5 steps): the same history within 1e-4."""
    one = json.loads(str(run_script("run", tmp_path / "one.npz", ranks=1)["history"]))
    two = json.loads(str(run_script("run", tmp_path / "two.npz", ranks=2)["history"]))
    assert len(one) == len(two) == 3
    for row_one, row_two in zip(one, two, strict=True):
        assert row_one.keys() == row_two.keys()
        for key in row_one.keys() - {"seconds"}:
            assert row_two[key] == pytest.approx(row_one[key], abs=1e-4), key
    assert one[-1]["loss"] < one[0]["loss"]  # it trains


def test_two_ranks_decode_a_picture_folder_as_one_process_does(tmp_path: Path) -> None:
    """Each rank decodes every other file, then they exchange: the same arrays, labels, test
    files and unreadable files (3 broken) as one process."""
    one = run_script("folder", tmp_path / "one.npz", ranks=1)
    two = run_script("folder", tmp_path / "two.npz", ranks=2)
    assert one.keys() == two.keys()
    for name in one:
        if name in ("test_files", "unreadable"):  # paths, in each run's own folder
            mine = [path.replace("two.npz", "one.npz") for path in two[name]]
            assert mine == list(one[name]), name
        else:
            np.testing.assert_array_equal(two[name], one[name], err_msg=name)
    assert len(one["x_train"]) > 30 and len(one["unreadable"]) >= 3


def test_an_error_on_one_rank_ends_the_job_naming_the_rank(tmp_path: Path) -> None:
    """Rank 1 raises MemoryError mid-run while rank 0 waits for it in the gradient sum: the
    job ends at once with the error and the rank, never hangs."""
    command = [str(MPIEXEC), "-n", "2", sys.executable, str(SCRIPT), "fail", str(tmp_path / "x")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "error: MemoryError: out of memory in the test (rank 1 of 2)" in done.stderr


def test_killing_a_rank_ends_the_job_and_resume_completes_it(tmp_path: Path) -> None:
    """A real ``nanocnn train --workers 2`` whose rank 1 is killed (SIGKILL) after the first
    checkpoint: the job ends within seconds saying which worker stopped, the checkpoint is
    whole, and ``--resume`` with two workers finishes the run."""
    out = tmp_path / "run"
    arguments = ("--limit", "1000", "--epochs", "3", "--workers", "2")
    job = start_training(out, *arguments)
    wait_for((out / "checkpoint.npz").exists, job)
    rank_one = wait_for_rank(1, out, job)
    os.kill(rank_one, signal.SIGKILL)
    killed = time.monotonic()
    _, stderr = job.communicate(timeout=30)
    assert time.monotonic() - killed < 10
    assert job.returncode != 0
    assert "worker 1 of 2 stopped (killed by signal 9" in stderr
    saved = load_arrays(out / "checkpoint.npz")[1]["epoch"]  # a whole, readable checkpoint
    assert 1 <= saved < 3 and not (out / "metrics.json").exists()

    resumed = start_training(out, *arguments, "--resume")
    stdout, stderr = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, stderr
    assert f"resuming {out} after epoch {saved}" in stdout
    assert stdout.count("resuming") == 1  # rank 0 alone prints
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert json.loads((out / "metrics.json").read_text())["training"]["workers"] == 2


def wait_for_rank(rank: int, out: Path, job: subprocess.Popen) -> int:
    """The process id of ``rank`` of the job training into ``out`` (from /proc)."""
    found: list[int] = []

    def rank_running() -> bool:
        for entry in Path("/proc").iterdir():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
                environment = (entry / "environ").read_bytes().split(b"\0")
            except (OSError, ValueError):
                continue
            if str(out).encode() in command and f"PMI_RANK={rank}".encode() in environment:
                found.append(int(entry.name))
                return True
        return False

    wait_for(rank_running, job, timeout=30)
    return found[0]


def test_sharded_draws_are_the_rows_of_the_global_draw() -> None:
    """Each rank's draw is its rows of what one generator draws for the whole batch, and the
    generators end in the same state; draws that cannot be sliced are refused."""
    whole = np.random.default_rng(7)
    expected = [whole.random((10, 3)), whole.integers(0, 5, size=10), whole.uniform(0, 1, 10)]
    for start, stop in ((0, 4), (4, 10)):
        draws = ShardedDraws(np.random.default_rng(7), BatchShare(start, stop, 10))
        got = [draws.random((stop - start, 3)), draws.integers(0, 5, size=stop - start),
               draws.uniform(0, 1, stop - start)]  # fmt: skip
        for mine, everyone in zip(got, expected, strict=True):
            np.testing.assert_array_equal(mine, everyone[start:stop])
        assert draws.bit_generator.state == whole.bit_generator.state
    with pytest.raises(ValueError, match="not a per-sample draw"):
        draws.random((3, 3))
    with pytest.raises(AttributeError, match="only per-sample draws"):
        draws.permutation(10)
