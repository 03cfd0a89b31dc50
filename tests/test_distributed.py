"""Data-parallel training over MPI: N ranks train as one process does.

Each test starts ``mpiexec -n 2`` in a subprocess (the ``mpi`` extra: mpi4py and MPICH,
which CI installs through ``make test``) and compares with the same run in one process:
one step's gradients and weights (float64), a short run's loss history (float32, with
dropout, augmentation and BatchNorm), and a real ``nanocnn train --workers 2`` whose rank 1
is killed, then resumed. A run stopped by a signal ends every rank and says how to resume;
errors and warnings are said once.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_reproducibility import start_training, wait_for

import nanocnn.parallel
from nanocnn.cli import main
from nanocnn.datasets.shapes import make_synthetic_folder
from nanocnn.io.arrays import load_arrays
from nanocnn.parallel.data_parallel import BatchShare, ShardedDraws

MPIEXEC = Path(sys.executable).parent / "mpiexec"
SCRIPT = Path(__file__).with_name("distributed_run.py")
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@pytest.fixture(autouse=True)
def needs_mpi(request: pytest.FixtureRequest) -> None:
    """MPI for every test but the one about its absence: skipped where it is not installed,
    but never in CI (the ``CI`` variable set), which installs it."""
    missing = importlib.util.find_spec("mpi4py") is None or not MPIEXEC.exists()
    if missing and "without_mpi" not in request.node.name:
        reason = "data-parallel training needs mpi4py and mpiexec: pip install 'nanocnn[mpi]'"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


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


def test_what_can_be_checked_is_refused_before_any_worker_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A batch smaller than the workers, a run folder that cannot be written, other option
    errors: one line each, before ``mpiexec`` starts a single rank."""
    started: list[list[str]] = []
    monkeypatch.setattr(nanocnn.parallel, "launch", lambda workers, words: started.append(words))
    (tmp_path / "file").write_text("")
    cases = {
        "--workers 64 --batch-size 32": "the batch of 32 is smaller than the 64 workers: each "
        "needs a share of every batch (--batch-size 64 or more)",
        "--workers 2 --out {t}/file/run": f"{tmp_path}/file/run: cannot write the run folder "
        "(Not a directory)",
        "--workers 2 --val-split 1.5": "--val-split must be at least 0 and below 1, got 1.5",
        "--workers 2 --image-size 16": "--image-size is not an option of the digits task",
        "--workers 2 --resume": "--resume needs --out",
    }
    for arguments, problem in cases.items():
        assert main(["train", *arguments.format(t=tmp_path).split()]) == 2, arguments
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("nanocnn train: error: ") and problem in err, err
    assert started == []


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
    job ends at once (never hangs) with status 2 and the error said once, naming the rank,
    without MPI's abort messages."""
    command = [str(MPIEXEC), "-n", "2", sys.executable, str(SCRIPT), "fail", str(tmp_path / "x")]
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert time.monotonic() - start < 30
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "distributed_run: error: MemoryError: out of memory in the test (rank 1 of 2)\n"
    )
    assert "MPI_Abort" not in done.stdout


def test_an_error_every_rank_hits_is_said_once_as_one_process_says_it(tmp_path: Path) -> None:
    """Every rank finds the picture folder missing: the job ends with status 2 and the one
    line a single process prints, said by rank 0 alone, without MPI's abort messages."""
    missing = tmp_path / "nowhere"
    job = start_training(tmp_path / "run", "--task", "images", "--data-dir", str(missing),
                         "--workers", "2")  # fmt: skip
    stdout, stderr = job.communicate(timeout=120)
    assert job.returncode == 2, stderr
    assert stderr == (
        f"nanocnn train: error: {missing}: no such folder (expected {missing}/<class>/<image>)\n"
    )
    assert "MPI_Abort" not in stdout


def test_warnings_are_said_once_as_one_process_says_them(tmp_path: Path) -> None:
    """A picture folder with hidden, stray and broken files: two workers warn as one process
    does, once."""
    folder = make_synthetic_folder(tmp_path / "pictures", per_class=10, broken=3)
    arguments = ("--task", "images", "--data-dir", str(folder), "--image-size", "16",
                 "--epochs", "1")  # fmt: skip
    said = []
    for out, workers in (("one", ()), ("two", ("--workers", "2"))):
        job = start_training(tmp_path / out, *arguments, *workers)
        _, stderr = job.communicate(timeout=120)
        assert job.returncode == 0, stderr
        said.append([line for line in stderr.splitlines() if "warning" in line])
    assert len(said[0]) == 1 and "skipped 5 entries" in said[0][0]
    assert said[1] == said[0]


def test_a_network_with_batchnorm_trains_on_two_workers_to_the_end(tmp_path: Path) -> None:
    """``nanocnn train --model resnet --workers 2``: every BatchNorm sums its statistics over
    the ranks, and the job's copies of the model (the training snapshots, the fused model
    that tests it) are made on each rank; the run ends with its metrics and snapshots."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "nanocnn.cli", "train", "--model", "resnet", "--workers"]
    run = subprocess.run(
        [*command, "2", "--limit", "300", "--epochs", "1", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, **ONE_THREAD},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads((out / "metrics.json").read_text())["training"]["workers"] == 2
    assert (out / "snapshots.npz").exists() and (out / "model.npz").exists()


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


@pytest.mark.parametrize(
    ("stop", "to_group"),
    [(signal.SIGTERM, False), (signal.SIGHUP, True), (signal.SIGINT, True)],
    ids=["kill", "hangup", "ctrl-c"],
)
def test_a_signal_stops_every_rank_and_says_how_to_resume(
    stop: int, to_group: bool, tmp_path: Path
) -> None:
    """``kill`` (SIGTERM to the launcher), a closed terminal (SIGHUP) or Ctrl-C (SIGINT, to
    the terminal's process group) in a later epoch of ``nanocnn train --workers 2``: the
    launcher ends within seconds with status 128 + the signal, no rank is left running, the
    command to resume is said once, without MPI's abort messages, no temporary file is left
    beside the whole checkpoint, and the command said finishes the run."""
    out = tmp_path / "run"
    job = start_training(out, "--limit", "1000", "--epochs", "8", "--workers", "2", session=True)
    ranks = [wait_for_rank(rank, out, job) for rank in (0, 1)]
    wait_for((out / "checkpoint.npz").exists, job)
    time.sleep(0.3)  # inside a later epoch
    (os.killpg if to_group else os.kill)(job.pid, stop)
    stopped = time.monotonic()
    stdout, stderr = job.communicate(timeout=60)
    assert time.monotonic() - stopped < 15
    assert job.returncode == 128 + stop, stderr
    assert [pid for pid in ranks if Path(f"/proc/{pid}").exists()] == []
    epoch = load_arrays(out / "checkpoint.npz")[1]["epoch"]  # a whole, readable checkpoint
    command = (
        f"nanocnn train --resume --out {out} --model lenet --epochs 8 --limit 1000 --workers 2"
    )
    assert stderr.count("interrupted") == 1, stderr
    assert (
        f"interrupted: the state after epoch {epoch} is saved in {out / 'checkpoint.npz'}; "
        f"continue with: {command}"
    ) in stderr.splitlines()
    assert "MPI_Abort" not in stdout + stderr and "BAD TERMINATION" not in stdout + stderr
    assert [path.name for path in out.iterdir() if path.name.startswith(".")] == []
    resumed = subprocess.run(
        [sys.executable, "-m", "nanocnn.cli", *shlex.split(command)[1:]],
        capture_output=True, text=True, timeout=300, env={**os.environ, **ONE_THREAD},
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {out} after epoch {epoch}" in resumed.stdout
    history = json.loads((out / "history.json").read_text())
    assert [row["epoch"] for row in history] == list(range(1, 9))


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
