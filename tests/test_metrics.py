"""The metrics against scikit-learn's, on random data and on hypothesis-drawn inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import metrics as skm

from nanocnn import metrics

K = 5


@pytest.fixture(params=[0, 1, 2])
def labels(request: pytest.FixtureRequest) -> tuple[np.ndarray, np.ndarray]:
    """Labels in 0..4 where class 3 is never true and class 4 never predicted (zero division)."""
    rng = np.random.default_rng(request.param)
    y_true = rng.choice([0, 1, 2, 4], size=200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 4, size=200))
    y_pred[y_pred == 4] = 0
    return y_true, y_pred


@st.composite
def label_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 40))
    k = draw(st.integers(1, 6))
    elements = st.integers(0, k - 1)
    y_true = draw(hnp.arrays(np.int64, n, elements=elements))
    y_pred = draw(hnp.arrays(np.int64, n, elements=elements))
    return y_true, y_pred


@st.composite
def value_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 40))
    elements = st.floats(-1e3, 1e3, allow_nan=False)
    return draw(hnp.arrays(np.float64, n, elements=elements)), draw(
        hnp.arrays(np.float64, n, elements=elements)
    )


def _sk_scores(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    return skm.precision_recall_fscore_support(y_true, y_pred, labels=np.arange(k), zero_division=0)


# --------------------------------------------------------------------------- classification


def test_accuracy_matches_sklearn(labels: tuple[np.ndarray, np.ndarray]) -> None:
    y_true, y_pred = labels
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))


def test_confusion_matrix_matches_sklearn(labels: tuple[np.ndarray, np.ndarray]) -> None:
    y_true, y_pred = labels
    cm = metrics.confusion_matrix(y_true, y_pred)
    assert cm.shape == (K, K)
    assert cm.dtype == np.int64
    assert_array_equal(cm, skm.confusion_matrix(y_true, y_pred, labels=np.arange(K)))


def test_confusion_matrix_num_classes_pads() -> None:
    cm = metrics.confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=4)
    assert_array_equal(cm, [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])


def test_precision_recall_f1_matches_sklearn(labels: tuple[np.ndarray, np.ndarray]) -> None:
    y_true, y_pred = labels
    scores = metrics.precision_recall_f1(y_true, y_pred)
    precision, recall, f1, support = _sk_scores(y_true, y_pred, K)
    assert_allclose(scores.precision, precision)
    assert_allclose(scores.recall, recall)
    assert_allclose(scores.f1, f1)
    assert_array_equal(scores.support, support)
    for ours, average in [
        (scores.macro_precision, skm.precision_score),
        (scores.macro_recall, skm.recall_score),
        (scores.macro_f1, skm.f1_score),
    ]:
        theirs = average(y_true, y_pred, labels=np.arange(K), average="macro", zero_division=0)
        assert ours == pytest.approx(theirs)


def test_zero_division_gives_zero() -> None:
    # Class 2 is never predicted (precision 0/0) and class 1 never true (recall 0/0).
    scores = metrics.precision_recall_f1([0, 0, 2], [0, 1, 0])
    assert_allclose(scores.precision, [0.5, 0.0, 0.0])
    assert_allclose(scores.recall, [0.5, 0.0, 0.0])
    assert_allclose(scores.f1, [0.5, 0.0, 0.0])
    assert np.all(np.isfinite(scores.f1))


def test_class_scores_is_frozen() -> None:
    scores = metrics.precision_recall_f1([0, 1], [0, 1])
    with pytest.raises(AttributeError):
        scores.precision = np.zeros(2)  # type: ignore[misc]


@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")  # sklearn, at K=1
@settings(max_examples=60, deadline=None)
@given(label_pairs())
def test_classification_metrics_match_sklearn_on_drawn_labels(
    pair: tuple[np.ndarray, np.ndarray],
) -> None:
    y_true, y_pred = pair
    k = int(max(y_true.max(), y_pred.max())) + 1
    assert_array_equal(
        metrics.confusion_matrix(y_true, y_pred),
        skm.confusion_matrix(y_true, y_pred, labels=np.arange(k)),
    )
    scores = metrics.precision_recall_f1(y_true, y_pred)
    for ours, theirs in zip(
        (scores.precision, scores.recall, scores.f1, scores.support),
        _sk_scores(y_true, y_pred, k),
        strict=True,
    ):
        assert_allclose(ours, theirs)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))


def test_classification_report(labels: tuple[np.ndarray, np.ndarray]) -> None:
    y_true, y_pred = labels
    names = ["zero", "one", "two", "three", "four"]
    report = metrics.classification_report(y_true, y_pred, class_names=names)
    assert json.loads(json.dumps(report)) == report
    theirs = skm.classification_report(
        y_true, y_pred, labels=np.arange(K), target_names=names, output_dict=True, zero_division=0
    )
    assert report["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert report["n"] == len(y_true)
    assert [c["name"] for c in report["classes"]] == names
    for c in report["classes"]:
        assert c["precision"] == pytest.approx(theirs[c["name"]]["precision"])
        assert c["recall"] == pytest.approx(theirs[c["name"]]["recall"])
        assert c["f1"] == pytest.approx(theirs[c["name"]]["f1-score"])
        assert c["support"] == theirs[c["name"]]["support"]
    assert report["macro"]["precision"] == pytest.approx(theirs["macro avg"]["precision"])
    assert report["macro"]["recall"] == pytest.approx(theirs["macro avg"]["recall"])
    assert report["macro"]["f1"] == pytest.approx(theirs["macro avg"]["f1-score"])
    assert report["confusion_matrix"] == metrics.confusion_matrix(y_true, y_pred).tolist()


def test_classification_report_default_names_and_extra_classes() -> None:
    report = metrics.classification_report([0, 1, 1], [0, 1, 0])
    assert [c["name"] for c in report["classes"]] == ["0", "1"]
    report = metrics.classification_report([0, 1, 1], [0, 1, 0], class_names=["a", "b", "c"])
    assert len(report["confusion_matrix"]) == 3
    assert report["classes"][2] == {
        "name": "c",
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 0,
    }


def test_format_classification_report_shows_the_numbers() -> None:
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 0, 2])
    report = metrics.classification_report(y_true, y_pred, class_names=["cat", "dog", "bird"])
    text = metrics.format_classification_report(report)
    for c in report["classes"]:
        line = next(line for line in text.splitlines() if line.strip().startswith(c["name"]))
        for key in ("precision", "recall", "f1"):
            assert f"{c[key]:.3f}" in line
        assert line.split()[-1] == str(c["support"])
    assert f"{report['accuracy']:.3f}" in text
    assert f"{report['macro']['f1']:.3f}" in text
    # The confusion matrix rows follow a heading, one per class, counts in order.
    rows = text.split("confusion matrix")[1].splitlines()[2:]
    assert [row.split()[1:] for row in rows] == [
        [str(count) for count in counts] for counts in report["confusion_matrix"]
    ]


@pytest.mark.parametrize(
    ("y_true", "y_pred", "match"),
    [
        ([0, 1], [0, 1, 1], "same length"),
        ([[0, 1]], [[0, 1]], "1-D"),
        ([], [], "empty"),
        ([0, -1], [0, 1], "negative"),
        ([0.0, 1.5], [0, 1], "integer"),
    ],
)
def test_classification_rejects_bad_input(y_true: list, y_pred: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        metrics.confusion_matrix(y_true, y_pred)
    with pytest.raises(ValueError, match=match):
        metrics.classification_report(y_true, y_pred)


def test_num_classes_too_small_is_rejected() -> None:
    with pytest.raises(ValueError, match="out of range"):
        metrics.confusion_matrix([0, 3], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match="out of range"):
        metrics.classification_report([0, 3], [0, 1], class_names=["a", "b"])


# ------------------------------------------------------------------------------- regression


def test_regression_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.uniform(1, 90, size=300)
    y_pred = y_true + rng.normal(0, 8, size=300)
    assert metrics.mae(y_true, y_pred) == pytest.approx(skm.mean_absolute_error(y_true, y_pred))
    assert metrics.rmse(y_true, y_pred) == pytest.approx(
        np.sqrt(skm.mean_squared_error(y_true, y_pred))
    )
    assert metrics.r2_score(y_true, y_pred) == pytest.approx(skm.r2_score(y_true, y_pred))
    report = metrics.regression_report(y_true, y_pred)
    assert json.loads(json.dumps(report)) == report
    assert report == {
        "mae": pytest.approx(skm.mean_absolute_error(y_true, y_pred)),
        "rmse": pytest.approx(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "r2": pytest.approx(skm.r2_score(y_true, y_pred)),
        "n": 300,
    }


@settings(max_examples=60, deadline=None)
@given(value_pairs())
def test_regression_matches_sklearn_on_drawn_values(pair: tuple[np.ndarray, np.ndarray]) -> None:
    y_true, y_pred = pair
    assert metrics.mae(y_true, y_pred) == pytest.approx(skm.mean_absolute_error(y_true, y_pred))
    assert metrics.rmse(y_true, y_pred) == pytest.approx(
        np.sqrt(skm.mean_squared_error(y_true, y_pred))
    )
    assert metrics.r2_score(y_true, y_pred) == pytest.approx(
        skm.r2_score(y_true, y_pred), rel=1e-6, abs=1e-9
    )


def test_r2_of_constant_target() -> None:
    assert metrics.r2_score([3.0, 3.0, 3.0], [3.0, 3.0, 3.0]) == 1.0
    assert metrics.r2_score([3.0, 3.0, 3.0], [2.0, 3.0, 4.0]) == 0.0


@pytest.mark.parametrize(
    ("y_true", "y_pred", "match"),
    [
        ([1.0, 2.0], [1.0], "same length"),
        ([[1.0]], [[1.0]], "1-D"),
        ([], [], "empty"),
        ([1.0, np.nan], [1.0, 2.0], "NaN"),
    ],
)
def test_regression_rejects_bad_input(y_true: list, y_pred: list, match: str) -> None:
    for metric in (metrics.mae, metrics.rmse, metrics.r2_score, metrics.regression_report):
        with pytest.raises(ValueError, match=match):
            metric(y_true, y_pred)


def test_binary_accuracy_reads_the_sign_of_the_logits():
    binary_accuracy = metrics.binary_accuracy
    y = np.array([1, 0, 1, 0])
    assert binary_accuracy(y, np.array([2.0, -1.0, -0.5, 0.0])) == 0.75  # 0 predicts 0
    assert binary_accuracy(y, np.array([[3.0], [-3.0], [0.1], [-0.1]])) == 1.0
    with pytest.raises(ValueError, match="binary labels"):
        binary_accuracy(np.array([0, 2]), np.zeros(2))
    with pytest.raises(ValueError, match="same length"):
        binary_accuracy(y, np.zeros(3))
