"""The package as a new user gets it: the sdist is built, the wheel is built from the sdist and
installed into a fresh virtual environment outside the repository (its dependencies from the
package index), and the commands run from another folder: ``--version``, ``predict`` with the
bundled model, ``export`` to ONNX checked by a three-line onnxruntime script, and the app's
page. About a minute and a half, most of it pip."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import nanocnn
from tests.conftest import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[1]
# What a build never needs and can be large; the rest of the tree is copied as it is.
NOT_SOURCE = (".git", ".venv", "data", "runs", "build", "dist", "*.egg-info", "__pycache__")
DIGITS = {"one": [(100, 30), (100, 170)], "seven": [(50, 35), (150, 35), (85, 170)]}
ONNX_SCRIPT = """
import sys, onnxruntime, nanocnn.preprocess
x = nanocnn.preprocess.preprocess_digit(sys.argv[2])[None]  # (1, 1, 28, 28)
print(onnxruntime.InferenceSession(sys.argv[1]).run(None, {"input": x})[0].argmax())
"""


def run(*command: str | Path, cwd: Path, timeout: float = 300) -> str:
    """Run ``command`` in ``cwd``, without a PYTHONPATH that would put a checkout's copy of
    nanocnn before the installed one; its stdout, or a failure that shows its stderr."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=environment)  # fmt: skip
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the repository holding the built files, the fresh virtual
    environment in ``venv`` and an empty folder ``elsewhere`` to run the commands from."""
    pytest.importorskip("build", reason="pip install build")
    work = tmp_path_factory.mktemp("package")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE), symlinks=True)
    run(sys.executable, "-m", "build", "--outdir", work / "dist", source, cwd=work)
    shutil.rmtree(source)
    (wheel,) = (work / "dist").glob("nanocnn-*.whl")  # built from the sdist beside it
    run(sys.executable, "-m", "venv", work / "venv", cwd=work)
    pip = [work / "venv" / "bin" / "python", "-m", "pip", "install", "-q"]
    run(*pip, f"{wheel}[app,export]", "onnxruntime", cwd=work, timeout=900)
    (work / "elsewhere").mkdir()
    from PIL import Image, ImageDraw

    for name, stroke in DIGITS.items():
        image = Image.new("L", (200, 200), 255)
        ImageDraw.Draw(image).line(stroke, fill=0, width=16)
        image.save(work / "elsewhere" / f"{name}.png")
    return work


def nanocnn_command(work: Path, *args: str | Path) -> str:
    return run(work / "venv" / "bin" / "nanocnn", *args, cwd=work / "elsewhere")


def bundled_model(work: Path) -> Path:
    """Where the installed package keeps its digits model."""
    script = "import importlib.resources as r; print(r.files('nanocnn') / 'models/digits.npz')"
    return Path(run(work / "venv" / "bin" / "python", "-c", script, cwd=work).strip())


def test_the_sdist_and_the_wheel_hold_the_bundled_model(work: Path) -> None:
    (sdist,) = (work / "dist").glob("nanocnn-*.tar.gz")
    assert sdist.name == f"nanocnn-{nanocnn.__version__}.tar.gz"
    model = bundled_model(work)
    assert model.is_file() and (work / "venv") in model.parents  # not the repository's copy


def test_version_comes_from_the_package(work: Path) -> None:
    assert nanocnn_command(work, "--version").strip() == f"nanocnn {nanocnn.__version__}"


def test_predict_and_onnx_export_classify_a_drawn_digit(work: Path) -> None:
    model, onnx_file = bundled_model(work), work / "elsewhere" / "digits.onnx"
    output = nanocnn_command(work, "predict", model, *(f"{name}.png" for name in DIGITS))
    assert output.splitlines()[0].startswith("one.png: 1 (")
    assert output.splitlines()[1].startswith("seven.png: 7 (")
    assert "ONNX" in nanocnn_command(work, "export", model, onnx_file)
    python = work / "venv" / "bin" / "python"
    for name, digit in (("one", "1"), ("seven", "7")):
        image = work / "elsewhere" / f"{name}.png"
        assert run(python, "-c", ONNX_SCRIPT, onnx_file, image, cwd=work).strip() == digit


def test_the_app_serves_its_page(work: Path) -> None:
    port = free_port()
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["GRADIO_ANALYTICS_ENABLED"] = "False"
    app = subprocess.Popen(
        [work / "venv" / "bin" / "nanocnn", "app", "--port", str(port)],
        cwd=work / "elsewhere",
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        page = ""
        deadline = time.monotonic() + 120
        while not page and app.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode("utf-8")
            except OSError:
                time.sleep(0.5)
        assert app.poll() is None, app.communicate()[1]
        assert "nanocnn: draw a digit" in page
    finally:
        app.terminate()
        app.wait(timeout=30)
