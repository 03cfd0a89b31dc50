"""The command line on bad input: bad arguments, missing or corrupt files, a model for another
task, a diverging run. Each ends in one line on stderr (after argparse's usage line, for bad
arguments) and exit status 2, never a traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nanocnn as nc
from nanocnn.cli import main
from nanocnn.presets import build
from nanocnn.tasks import TASKS

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of good and bad files: models, images, a run, an MNIST folder of garbage."""
    folder = tmp_path_factory.mktemp("files")
    model = build("lenet")
    model.metadata.update(task="digits", input_shape=[1, 28, 28])
    nc.save(model, folder / "digits.npz")
    model.metadata["task"] = "faces"
    nc.save(model, folder / "faces.npz")
    (folder / "random.npz").write_bytes(np.random.default_rng(0).bytes(3000))
    (folder / "cut.npz").write_bytes((folder / "digits.npz").read_bytes()[:5000])
    np.savez(folder / "plain.npz", weight=np.zeros(3))
    (folder / "text.png").write_text("not an image")
    Image.new("L", (40, 40), 255).save(folder / "blank.png")
    (folder / "run").mkdir()
    (folder / "run" / "model.npz").write_bytes(b"")
    (folder / "run-bad-checkpoint").mkdir()
    (folder / "run-bad-checkpoint" / "checkpoint.npz").write_bytes(b"PK\x03\x04 truncated")
    for name in ("cat", "dog"):  # a picture folder: two classes of one picture each
        (folder / "pictures" / name).mkdir(parents=True)
        Image.new("RGB", (8, 8), (200, 0, 0)).save(folder / "pictures" / name / "a.png")
    (folder / "mnist").mkdir()
    for name in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
        kind = "idx3" if "images" in name else "idx1"
        (folder / "mnist" / f"{name}-{kind}-ubyte").write_bytes(b"\0\0\x08\x01garbage")
    return folder


CASES = {
    # name: (arguments, with {f} for the files folder, what the error line must say)
    "unknown command": ("fly", "invalid choice"),
    "epochs 0": ("train --epochs 0", "must be a positive integer"),
    "lr not a number": ("train --lr fast", "invalid positive_float value"),
    "unknown model": ("train --model resnet50", "invalid choice"),
    "resume without --out": ("train --resume", "--resume needs --out"),
    "resume with no checkpoint": ("train --resume --out {f}/empty", "no checkpoint to resume"),
    "run exists": ("train --out {f}/run", "already holds a run"),
    "corrupt MNIST": ("train --data-dir {f}/mnist --out {f}/new", "mnist/t"),
    "mistyped data dir": ("train --data-dir {f}/fashon --out {f}/new", "fashon does not exist"),
    "one sample": ("train --limit 1 --out {f}/new", "leave none to train on once 1 are held out"),
    "negative seed": ("train --seed -1", "must be a non-negative integer, got -1"),
    "pictures too large for memory": (
        "train --task images --data-dir {f}/pictures --image-size 100000 --out {f}/new",
        "2 pictures of 3x100000x100000 need 55.9 GiB of memory",
    ),
    "evaluate on photos": (
        "evaluate {f}/digits.npz --data-dir {f}/run",
        "run does not hold t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]",
    ),
    "corrupt checkpoint": (
        "train --model lenet --limit 50 --resume --out {f}/run-bad-checkpoint",
        "checkpoint.npz: not a readable nanocnn file",
    ),
    "evaluate missing model": ("evaluate {f}/absent.npz", "absent.npz: no such file"),
    "evaluate random bytes": ("evaluate {f}/random.npz", "random.npz: not a readable"),
    "evaluate truncated model": ("evaluate {f}/cut.npz", "cut.npz: not a readable"),
    "evaluate plain npz": ("evaluate {f}/plain.npz", "plain.npz: not a nanocnn file"),
    "evaluate other task": ("evaluate {f}/faces.npz", "faces.npz: "),
    "predict other task": ("predict {f}/faces.npz {f}/blank.png", "faces.npz: "),
    "predict missing image": ("predict {f}/digits.npz {f}/absent.png", "absent.png: no such file"),
    "predict not an image": ("predict {f}/digits.npz {f}/text.png", "text.png: not an image"),
    "predict a folder of no images": ("predict {f}/digits.npz {f}/run", "run: no images in"),
    "predict blank image": ("predict {f}/digits.npz {f}/blank.png", "no digit found"),
    "predict no images": ("predict {f}/digits.npz", "the following arguments are required"),
    "model given as a URL": (
        "predict https://example.org/model.npz {f}/blank.png",
        "https://example.org/model.npz: a model is read from a file or run folder, not a URL",
    ),
    "summary random bytes": ("summary {f}/random.npz", "random.npz: not a readable"),
    "gradcheck unknown layer": ("gradcheck --layer Conv3D", "invalid choice"),
}


def run_main(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, list[str]]:
    """Exit status and stderr lines of ``nanocnn ARGV``, in this process."""
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse
        status = exit_.code
    return status, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize("case", CASES)
def test_one_line_and_exit_status_2(case: str, files: Path, capsys) -> None:
    arguments, problem = CASES[case]
    status, lines = run_main(arguments.format(f=files).split(), capsys)
    assert status == 2, lines
    assert not any("Traceback" in line for line in lines)
    command = arguments.split()[0] if not case.startswith("unknown command") else ""
    usage = [line for line in lines if line.startswith("usage:") or line.startswith(" ")]
    (line,) = [line for line in lines if line not in usage]  # one line besides argparse's usage
    assert line.startswith(f"nanocnn {command}".rstrip() + ": error: "), line
    assert problem in line, line


def test_a_diverging_run_names_epoch_batch_and_learning_rate(tmp_path: Path, capsys) -> None:
    argv = ["train", "--model", "lenet", "--limit", "200", "--epochs", "1", "--lr", "1e30"]
    status, lines = run_main([*argv, "--out", str(tmp_path / "run")], capsys)
    assert status == 2
    (line,) = lines  # NumPy's overflow warnings are not printed either
    assert line.startswith("nanocnn train: error: training stopped at epoch 1, batch ")
    assert "learning rate" in line and "lower learning rate" in line


def test_resuming_with_other_options_names_them(tmp_path: Path, capsys) -> None:
    """A resumed run must train as the interrupted one would have: other options are refused,
    each named with its value then and now, and the run folder is left as it was."""
    out = tmp_path / "run"
    start = ["train", "--model", "lenet", "--limit", "60", "--epochs", "2", "--out", str(out)]
    assert run_main(start, capsys)[0] == 0
    saved = {path.name: path.read_bytes() for path in out.iterdir()}
    status, lines = run_main([*start, "--resume", "--lr", "0.5", "--augment"], capsys)
    assert status == 2
    (line,) = lines
    assert line == (
        f"nanocnn train: error: {out} was started with other options: --lr 0.002 (now --lr "
        f"0.5), --no-augment (now --augment); resume it with the options it was started with"
    )
    assert saved == {path.name: path.read_bytes() for path in out.iterdir()}
    status, _ = run_main([*start, "--resume"], capsys)
    assert status == 0


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if any task loads its data."""

    def load(*args: object) -> None:
        raise AssertionError("the data was loaded")

    for task in TASKS.values():
        monkeypatch.setattr(type(task), "load", load)


@pytest.mark.parametrize("problem", ["Not a directory", "No space left on device"])
def test_a_run_folder_that_cannot_be_written_is_refused_before_the_data_loads(
    problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_data: None, capsys
) -> None:
    """``--out`` under a file, or on a full disk: one line, before any data is loaded."""
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "run"
    if problem == "No space left on device":
        out = tmp_path / "run"

        def fsync(descriptor: int) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "fsync", fsync)
    status, lines = run_main(["train", "--limit", "50", "--out", str(out)], capsys)
    assert status == 2
    assert lines == [f"nanocnn train: error: {out}: cannot write the run folder ({problem})"]


@pytest.mark.parametrize("case", ["evaluate random bytes", "predict not an image", "epochs 0"])
def test_as_a_separate_process(case: str, files: Path) -> None:
    """The real command, end to end: the same one line, and exit status 2."""
    arguments, problem = CASES[case]
    result = subprocess.run(
        [sys.executable, "-m", "nanocnn.cli", *arguments.format(f=files).split()],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "default"},
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and problem in result.stderr.splitlines()[-1]
    assert result.stdout == ""


def test_a_model_saved_from_python_without_a_task_says_what_to_set(tmp_path, capsys) -> None:
    """A model trained in Python and saved without metadata: the commands that need its task
    say in one line which metadata to set; summary still shows its layers."""
    nc.save(build("lenet"), tmp_path / "bare.npz")
    Image.new("L", (40, 40), 255).save(tmp_path / "a.png")
    for argv in (
        ["predict", "bare.npz", "a.png"],
        ["evaluate", "bare.npz"],
        ["app", "--model", "bare.npz"],
    ):
        status, lines = run_main(
            [argv[0], *(str(tmp_path / a) if "." in a else a for a in argv[1:])], capsys
        )
        assert status == 2 and len(lines) == 1, lines
        assert "does not say its task" in lines[0] and "model.metadata.update(task=" in lines[0]
    assert main(["summary", str(tmp_path / "bare.npz")]) == 0
    assert "input_shape" in capsys.readouterr().out


def test_evaluate_needs_only_the_two_test_files(tmp_path, capsys) -> None:
    """A folder with t10k-images and t10k-labels only: evaluate reads them, downloads nothing."""
    from nanocnn.cli.app import BUNDLED_MODEL
    from nanocnn.datasets.mnist import BUNDLED_DIR

    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes((BUNDLED_DIR / name).read_bytes())
    assert main(["evaluate", str(BUNDLED_MODEL), "--data-dir", str(tmp_path)]) == 0
    assert "test accuracy 0.9900" in capsys.readouterr().out
    assert {path.name for path in tmp_path.iterdir()} == {
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
    }  # fmt: skip


def test_output_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """``nanocnn predict MODEL folder/ | head -1``: the reader closes the pipe after one line;
    the command stops with the shell's SIGPIPE status and says nothing on stderr (it printed
    "error: [Errno 32] Broken pipe" before). More rows than a pipe holds, so a write fails."""
    from PIL import Image

    from nanocnn.cli.app import BUNDLED_MODEL

    folder = tmp_path / "a_folder_with_a_long_name_so_that_each_row_is_long"
    folder.mkdir()
    picture = Image.fromarray(np.eye(28, dtype=np.uint8) * 255)
    for i in range(800):  # 800 rows of ~150 bytes: more than a 64 KiB pipe buffer
        picture.save(folder / f"{i:04d}.png")
    command = [sys.executable, "-m", "nanocnn", "predict", str(BUNDLED_MODEL), str(folder)]
    with subprocess.Popen(
        [*command, "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.readline().startswith(b"image,class")
        process.stdout.close()
        stderr = process.stderr.read().decode()
        status = process.wait(timeout=120)
    assert stderr == ""
    assert status == 141
