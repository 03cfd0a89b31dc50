"""``nanocnn predict`` as scripts and new users call it: folders, globs and URLs of images,
run folders wherever a model file is taken, ``--top-k``, ``--format csv|json``; and a model
whose metadata will not do, refused once, when it is loaded, saying what is missing."""

from __future__ import annotations

import csv
import io
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import nanocnn as nc
from nanocnn.cli import main
from nanocnn.presets import build

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder holding an (untrained) digits model that reads whole pictures."""
    run = tmp_path_factory.mktemp("run")
    model = build("lenet", seed=0)
    model.metadata.update(task="digits", input_shape=[1, 28, 28], centring="none",
                          classes=[f"c{k}" for k in range(10)])  # fmt: skip
    nc.save(model, run / "model.npz")
    return run


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """b.png, a.png, sub/c.png, .hidden/d.png and notes.txt."""
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(0)
    for name in ("b.png", "a.png", "sub/c.png", ".hidden/d.png"):
        (folder / name).parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / name)
    (folder / "notes.txt").write_text("not a picture")
    return folder


def predicted(capsys: pytest.CaptureFixture, *argv: str) -> list[str]:
    assert main(["predict", *argv]) == 0, capsys.readouterr().err
    return capsys.readouterr().out.splitlines()


def test_a_folder_is_every_image_in_it_recursively_in_sorted_order(run_folder, pictures, capsys):
    lines = predicted(capsys, str(run_folder), str(pictures))
    assert [line.split(": ")[0] for line in lines] == [
        str(pictures / name) for name in ("a.png", "b.png", "sub/c.png")
    ]


def test_a_glob_the_shell_left_alone(run_folder, pictures, capsys):
    lines = predicted(capsys, str(run_folder), str(pictures / "**" / "*.png"))
    assert [line.split(": ")[0] for line in lines] == [
        str(pictures / name) for name in ("a.png", "b.png", "sub/c.png")
    ]


def test_a_url(run_folder, pictures, capsys):
    handler = partial(QuietHandler, directory=str(pictures))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/sub/c.png"
        by_url = predicted(capsys, str(run_folder), url)
        status = main(["predict", str(run_folder), url.replace("c.png", "gone.png")])
        server.shutdown()
    assert status == 2 and "gone.png: cannot download it (HTTP Error 404" in capsys.readouterr().err
    by_file = predicted(capsys, str(run_folder), str(pictures / "sub" / "c.png"))
    assert by_url == [f"{url}: {by_file[0].split(': ', 1)[1]}"]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_top_k_and_the_formats_for_scripts(run_folder, pictures, capsys):
    image = str(pictures / "a.png")
    (text,) = predicted(capsys, str(run_folder), image, "--top-k", "2")
    (line,) = predicted(capsys, str(run_folder), image, "--top-k", "2", "--format", "json")
    record = json.loads(line)
    assert record["image"] == image and len(record["probabilities"]) == 2
    assert record["class"] == next(iter(record["probabilities"]))
    assert text == f"{image}: " + ", ".join(
        f"{name} ({p:.3f})" for name, p in record["probabilities"].items()
    )
    table = predicted(capsys, str(run_folder), str(pictures), "--format", "csv", "--top-k", "1")
    rows = list(csv.DictReader(io.StringIO("\n".join(table))))
    assert [row["image"] for row in rows] == [str(pictures / "a.png"), str(pictures / "b.png"),
                                              str(pictures / "sub" / "c.png")]  # fmt: skip
    assert set(rows[0]) == {"image", "class", "class_1", "p_1"}
    assert rows[0]["class"] == record["class"] and float(rows[0]["p_1"]) == pytest.approx(
        record["probabilities"][record["class"]]
    )


def test_a_run_folder_wherever_a_model_file_is_taken(run_folder, pictures, tmp_path, capsys):
    assert main(["summary", str(run_folder)]) == 0
    assert "total parameters" in capsys.readouterr().out
    assert main(["export", str(run_folder), str(tmp_path / "m.safetensors")]) == 0
    assert (tmp_path / "m.safetensors").is_file()
    empty = tmp_path / "empty-run"
    empty.mkdir()
    with pytest.raises(SystemExit):
        main(["summary", str(empty)])
    assert "a folder without a model.npz" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({"task": "age", "input_shape": [3, 16, 16], "target_mean": 30.0, "target_std": 9.0},
         "image_size is missing"),
        ({"task": "digits", "input_shape": [1, 28, 28], "classes": ["cat", "dog", "bird"]},
         "classes names 3 classes, but the model has 10 outputs"),
        ({"task": "images", "classes": [str(k) for k in range(10)]},
         "input_shape must be [C, H, W]"),
    ],
)  # fmt: skip
def test_a_model_whose_metadata_will_not_do_is_refused_when_loaded(
    metadata, problem, pictures, tmp_path, capsys
):
    """A model built in Python and given a task, as the CLI's own message suggests, but
    missing what predict needs: one line naming what is missing, not a KeyError later."""
    model = build("lenet", seed=0)
    model.metadata.update(metadata)
    nc.save(model, tmp_path / "model.npz")
    assert main(["predict", str(tmp_path / "model.npz"), str(pictures / "a.png")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("nanocnn predict: error: ") and problem in line
