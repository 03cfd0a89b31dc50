"""Each plot writes a real PNG, handles its edge cases and rejects shapes that do not match."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nanocnn import plots

pytest.importorskip("matplotlib")


def _assert_png(path: Path) -> None:
    """``path`` is a PNG of a reasonable size that is not one flat colour."""
    assert path.is_file()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width > 150 and image.height > 100
        extrema = image.convert("RGB").getextrema()  # ((min, max) per band)
    assert any(low != high for low, high in extrema)


@pytest.fixture(autouse=True)
def _no_figure_left_open() -> Iterator[None]:
    """Every plot closes its figure, including when it raises."""
    yield
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_import_does_not_need_matplotlib(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import nanocnn.plots as p\n"
        "try:\n"
        f"    p.plot_age_scatter([1.0, 2.0], [1.0, 2.0], {str(tmp_path / 'a.png')!r})\n"
        "except ImportError as e:\n"
        "    assert 'nanocnn[cli]' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('no ImportError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------- history


def test_plot_history_creates_folders_and_returns_path(tmp_path: Path) -> None:
    epochs = 5
    loss = np.linspace(2.0, 0.3, epochs)
    history = {
        "loss": loss.tolist(),
        "val_loss": (loss + 0.1).tolist(),
        "accuracy": (1 - loss / 3).tolist(),
        "val_accuracy": (0.9 - loss / 3).tolist(),
        "lr": [0.1] * epochs,
        "seconds": [2.5] * epochs,
    }
    path = tmp_path / "deep" / "er" / "history.png"
    assert plots.plot_history(history, str(path)) == path
    _assert_png(path)


@pytest.mark.parametrize(
    "history",
    [
        {"loss": [0.7], "val_loss": [0.8]},  # one epoch
        {"loss": [0.9, 0.5, 0.4], "mae": [9.0, 7.0, 6.5], "lr": [0.1, 0.1, 0.01]},  # no val
        {"val_loss": [0.9, 0.5]},  # validation only
    ],
    ids=["one-epoch", "no-validation", "validation-only"],
)
def test_plot_history_edge_cases(tmp_path: Path, history: dict[str, list[float]]) -> None:
    _assert_png(plots.plot_history(history, tmp_path / "history.png"))


@pytest.mark.parametrize(
    ("history", "match"),
    [
        ({"loss": [1.0, 0.5], "val_loss": [1.0]}, "same non-zero length"),
        ({"loss": []}, "same non-zero length"),
        ({"lr": [0.1], "seconds": [1.0]}, "no metric"),
        ({}, "no metric"),
    ],
)
def test_plot_history_rejects_bad_history(
    tmp_path: Path, history: dict[str, list[float]], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        plots.plot_history(history, tmp_path / "history.png")
    assert not (tmp_path / "history.png").exists()


# --------------------------------------------------------------------------- classification


@pytest.mark.parametrize("class_names", [None, ["cat", "dog", "bird"]])
def test_plot_confusion_matrix(tmp_path: Path, class_names: list[str] | None) -> None:
    cm = np.array([[50, 3, 0], [4, 40, 6], [0, 0, 0]])  # an empty row too
    _assert_png(plots.plot_confusion_matrix(cm, tmp_path / "cm.png", class_names))


@pytest.mark.parametrize(
    ("cm", "class_names", "match"),
    [
        (np.zeros((2, 3), dtype=int), None, "square"),
        (np.zeros(3, dtype=int), None, "square"),
        (np.zeros((2, 2), dtype=int), ["a", "b", "c"], "class_names"),
        (-np.ones((2, 2), dtype=int), None, "non-negative"),
    ],
)
def test_plot_confusion_matrix_rejects_bad_input(
    tmp_path: Path, cm: np.ndarray, class_names: list[str] | None, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        plots.plot_confusion_matrix(cm, tmp_path / "cm.png", class_names)


@pytest.mark.parametrize("shape", [(12, 1, 10, 10), (12, 10, 10), (12, 3, 10, 10)])
def test_plot_misclassified(tmp_path: Path, rng: np.random.Generator, shape: tuple) -> None:
    images = rng.random(shape)
    y_true = rng.integers(0, 3, size=12)
    y_pred = (y_true + (rng.random(12) < 0.5)) % 3
    probabilities = rng.dirichlet(np.ones(3), size=12)
    path = plots.plot_misclassified(
        images, y_true, y_pred, tmp_path / "wrong.png", max_images=4, probabilities=probabilities
    )
    _assert_png(path)


def test_plot_misclassified_with_probability_of_prediction(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    path = plots.plot_misclassified(
        rng.random((3, 8, 8)), [0, 1, 2], [1, 1, 0], tmp_path / "wrong.png", probabilities=[0.9] * 3
    )
    _assert_png(path)


def test_plot_misclassified_when_all_are_right(tmp_path: Path, rng: np.random.Generator) -> None:
    labels = np.array([0, 1, 2, 1])
    _assert_png(plots.plot_misclassified(rng.random((4, 8, 8)), labels, labels, tmp_path / "w.png"))


@pytest.mark.parametrize(
    ("images", "y_pred", "probabilities", "match"),
    [
        (np.zeros((5, 8, 8)), [0, 1, 1], None, "images has 5 samples"),
        (np.zeros((3, 8, 8)), [0, 1], None, "equal length"),
        (np.zeros((3, 2, 8, 8)), [0, 1, 1], None, "images must have shape"),
        (np.zeros((3, 8)), [0, 1, 1], None, "images must have shape"),
        (np.zeros((3, 8, 8)), [0, 1, 1], np.ones(4), "probabilities"),
        (np.zeros((3, 8, 8)), [0, 1, 1], np.ones((4, 2)), "probabilities"),
    ],
)
def test_plot_misclassified_rejects_mismatched_shapes(
    tmp_path: Path,
    images: np.ndarray,
    y_pred: list[int],
    probabilities: np.ndarray | None,
    match: str,
) -> None:
    with pytest.raises(ValueError, match=match):
        plots.plot_misclassified(
            images, [0, 0, 0], y_pred, tmp_path / "w.png", probabilities=probabilities
        )


# ---------------------------------------------------------------------------- what it learned


@pytest.mark.parametrize("shape", [(8, 1, 3, 3), (6, 3, 5, 5), (1, 4, 3, 3)])
def test_plot_filters(tmp_path: Path, rng: np.random.Generator, shape: tuple) -> None:
    weight = rng.normal(size=shape)
    _assert_png(plots.plot_filters(weight, tmp_path / "filters.png", title="conv1"))


def test_plot_filters_shows_a_flat_filter(tmp_path: Path, rng: np.random.Generator) -> None:
    weight = rng.normal(size=(4, 1, 3, 3))
    weight[0] = 0.0
    _assert_png(plots.plot_filters(weight, tmp_path / "filters.png"))


def test_plot_feature_maps(tmp_path: Path, rng: np.random.Generator) -> None:
    _assert_png(plots.plot_feature_maps(rng.random((5, 12, 12)), tmp_path / "maps.png"))


@pytest.mark.parametrize(
    ("function", "array", "match"),
    [
        (plots.plot_filters, np.zeros((4, 3, 3)), "out, in, kh, kw"),
        (plots.plot_filters, np.zeros((0, 1, 3, 3)), "out, in, kh, kw"),
        (plots.plot_feature_maps, np.zeros((2, 5, 8, 8)), "C, H, W"),
    ],
)
def test_tile_plots_reject_bad_shapes(
    tmp_path: Path, function: object, array: np.ndarray, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        function(array, tmp_path / "tiles.png")  # type: ignore[operator]


# ------------------------------------------------------------------------------- regression


def test_plot_age_scatter(tmp_path: Path, rng: np.random.Generator) -> None:
    age = rng.uniform(1, 90, size=100)
    _assert_png(plots.plot_age_scatter(age, age + rng.normal(0, 5, 100), tmp_path / "age.png"))


@pytest.mark.parametrize("bucket", [10, 5])
def test_plot_error_by_bucket(tmp_path: Path, rng: np.random.Generator, bucket: int) -> None:
    age = np.concatenate([rng.uniform(0, 30, 50), rng.uniform(60, 80, 20)])  # a gap of buckets
    path = plots.plot_error_by_bucket(age, age + rng.normal(0, 5, 70), tmp_path / "b.png", bucket)
    _assert_png(path)


@pytest.mark.parametrize("function", [plots.plot_age_scatter, plots.plot_error_by_bucket])
def test_regression_plots_reject_mismatched_shapes(tmp_path: Path, function: object) -> None:
    for y_true, y_pred in [([1.0, 2.0], [1.0]), ([[1.0]], [[1.0]]), ([], [])]:
        with pytest.raises(ValueError, match="equal length"):
            function(y_true, y_pred, tmp_path / "r.png")  # type: ignore[operator]


def test_plot_error_by_bucket_rejects_bad_bucket(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bucket"):
        plots.plot_error_by_bucket([1.0, 2.0], [1.0, 2.0], tmp_path / "b.png", bucket=0)
