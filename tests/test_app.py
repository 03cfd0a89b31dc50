"""Tests of the app without a browser: what it makes of drawings (a digits model) and of
uploaded pictures (an images model), the bundled model, the command line, and the page's API
through ``gradio_client``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nanocnn.app import predict, read_input
from nanocnn.app.page import BRUSH, CANVAS
from nanocnn.app.reading import (
    DRAW_MESSAGE,
    GUTTER,
    SMALL_MESSAGE,
    UPLOAD_MESSAGE,
    ZOOM,
    ink_extent,
    tile_maps,
)
from nanocnn.cli import build_parser
from nanocnn.cli.app import BUNDLED_MODEL
from nanocnn.datasets import load_mnist
from nanocnn.explain import first_conv_maps
from nanocnn.io import load
from nanocnn.layers import Sequential
from nanocnn.layers.activations import softmax
from nanocnn.preprocess import preprocess_digit
from nanocnn.presets import build
from nanocnn.tasks import TASKS, task_of

DIGITS = TASKS["digits"]

Image = pytest.importorskip("PIL.Image")
ImageDraw = pytest.importorskip("PIL.ImageDraw")

# Digits as strokes of the mouse, each a polyline in canvas pixels from the canvas centre
# (x right, y down). The browser test draws the same strokes.
STROKES = {
    "1": [[(0, -90), (0, 90)]],
    "7": [[(-70, -80), (70, -80)], [(70, -80), (-15, 95)]],  # a top bar, then a diagonal
}


def draw(strokes: list[list[tuple[int, int]]], width: int = 2 * BRUSH) -> np.ndarray:
    """A Sketchpad composite: black round-ended strokes on a transparent (CANVAS, CANVAS)
    RGBA canvas."""
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    centre = CANVAS // 2
    for stroke in strokes:
        points = [(centre + x, centre + y) for x, y in stroke]
        pen.line(points, fill=(0, 0, 0, 255), width=width, joint="curve")
        for x, y in (points[0], points[-1]):
            r = width / 2
            pen.ellipse([x - r, y - r, x + r, y + r], fill=(0, 0, 0, 255))
    return np.asarray(image)


def blank(colour: tuple[int, int, int, int]) -> np.ndarray:
    return np.full((CANVAS, CANVAS, 4), colour, dtype=np.uint8)


def dot(radius: int = BRUSH) -> np.ndarray:
    """What a click of the brush leaves: one round dot."""
    return draw([[(30, -20), (30, -20)]], width=2 * radius)


@pytest.fixture(scope="module")
def model() -> Sequential:
    return load(BUNDLED_MODEL)


@pytest.mark.parametrize("digit", sorted(STROKES))
def test_drawn_digits_are_read(model: Sequential, digit: str) -> None:
    reading = read_input(model, DIGITS, draw(STROKES[digit]))
    assert max(reading.probabilities, key=reading.probabilities.get) == digit
    assert reading.probabilities[digit] > 0.9
    assert sorted(reading.probabilities) == [str(k) for k in range(10)]
    assert sum(reading.probabilities.values()) == pytest.approx(1)


def test_the_network_sees_what_nanocnn_predict_sees(model: Sequential) -> None:
    image = draw(STROKES["7"])
    reading = read_input(model, DIGITS, image)
    np.testing.assert_array_equal(reading.picture, preprocess_digit(image)[0])
    expected = softmax(model.predict(preprocess_digit(image)[np.newaxis]))[0]
    np.testing.assert_allclose(list(reading.probabilities.values()), expected, rtol=1e-6)


def test_predict_gives_the_page_its_probabilities_and_pictures(model: Sequential) -> None:
    value = {"background": None, "layers": [], "composite": draw(STROKES["1"])}
    probabilities, digit, maps, looked = predict(model, DIGITS, value)
    assert max(probabilities, key=probabilities.get) == "1"
    assert digit.shape == (28 * ZOOM, 28 * ZOOM) and digit.dtype == np.uint8
    # LeNet's first convolution: 6 maps of 24 x 24, in 2 rows of 3.
    assert maps.shape == ((2 * 24 + GUTTER) * ZOOM, (3 * 24 + 2 * GUTTER) * ZOOM)
    assert maps.dtype == np.uint8
    assert looked.shape == (28 * ZOOM, 28 * ZOOM, 3) and looked.dtype == np.uint8


@pytest.mark.parametrize(
    "value",
    [
        None,
        {"background": None, "layers": [], "composite": None},
        {"composite": blank((0, 0, 0, 0))},  # transparent: nothing drawn yet
        {"composite": blank((255, 255, 255, 255))},
    ],
    ids=["none", "no-composite", "transparent", "white"],
)
def test_a_blank_canvas_asks_for_a_digit(model: Sequential, value: object) -> None:
    assert predict(model, DIGITS, value) == (DRAW_MESSAGE, None, None, None)


@pytest.mark.parametrize("radius", [3, BRUSH, 2 * BRUSH])
def test_a_stray_dot_asks_for_a_larger_digit(model: Sequential, radius: int) -> None:
    assert predict(model, DIGITS, {"composite": dot(radius)}) == (SMALL_MESSAGE, None, None, None)


def test_ink_extent() -> None:
    assert ink_extent(blank((255, 255, 255, 255))) == 0
    assert ink_extent(dot()) == pytest.approx(2 * BRUSH / CANVAS, abs=2 / CANVAS)
    one = ink_extent(draw(STROKES["1"]))  # 180 pixels between the ends, plus the round caps
    assert one == pytest.approx((180 + 2 * BRUSH) / CANVAS, abs=2 / CANVAS)


def test_first_conv_maps_are_the_first_convolution_after_its_relu(model: Sequential) -> None:
    x = preprocess_digit(draw(STROKES["7"]))[np.newaxis]
    maps = first_conv_maps(model, x)
    conv, relu = model[0], model[1]
    expected = relu.forward(conv.forward(x, training=False), training=False)[0]
    np.testing.assert_array_equal(maps, expected)
    assert maps.shape == (6, 24, 24) and maps.min() == 0 and maps.max() > 0


def test_a_model_without_convolution_has_no_maps() -> None:
    mlp = build("mlp")
    assert first_conv_maps(mlp, np.zeros((1, 1, 28, 28), np.float32)) is None
    mlp.metadata["input_shape"] = [1, 28, 28]
    probabilities, digit, maps, looked = predict(mlp, DIGITS, {"composite": draw(STROKES["1"])})
    assert len(probabilities) == 10 and digit is not None and maps is None and looked is not None


def test_tile_maps_share_one_scale_in_a_near_square_grid() -> None:
    maps = np.stack([np.full((2, 3), value, np.float32) for value in (-1, 0, 1, 2, 3)])
    picture = tile_maps(maps)  # 5 maps: 2 rows of 3, the last place empty
    assert picture.shape == ((2 * 2 + GUTTER) * ZOOM, (3 * 3 + 2 * GUTTER) * ZOOM)
    step = (3 + GUTTER) * ZOOM  # from one map's left edge to the next one's
    lows = [picture[0, column * step] for column in range(3)]
    assert lows == [0, 64, 128]  # -1 -> black, 0 -> a quarter of the way, 1 -> half
    second_row = (2 + GUTTER) * ZOOM
    assert picture[second_row, 0] == 191 and picture[second_row, step] == 255
    assert picture[second_row, 2 * step] == 255  # the empty place is white like the gutter
    assert picture[2 * ZOOM, 0] == 255  # the gutter


def test_tile_maps_of_flat_maps_are_black() -> None:
    picture = tile_maps(np.zeros((4, 5, 5), np.float32))
    assert picture[0, 0] == 0 and picture[5 * ZOOM, 0] == 255


def test_the_bundled_model_reads_mnist() -> None:
    assert BUNDLED_MODEL.stat().st_size < 1 << 20
    model = load(BUNDLED_MODEL)
    assert model.metadata["task"] == "digits"
    data = load_mnist()
    x, y = data.x_test[:2000], data.y_test[:2000]
    accuracy = (softmax(model.predict(x)).argmax(axis=1) == y).mean()
    assert accuracy >= 0.98


def test_the_app_command_defaults() -> None:
    args = build_parser().parse_args(["app"])
    assert (args.model, args.port, args.host) == (BUNDLED_MODEL, 7860, "127.0.0.1")
    args = build_parser().parse_args(["app", "--model", "m.npz", "--port", "8000"])
    assert (args.model, args.port) == (Path("m.npz"), 8000)


def test_the_api_reads_a_drawing(app_url: str, tmp_path: Path) -> None:
    client_module = pytest.importorskip("gradio_client")
    client = client_module.Client(app_url, verbose=False)
    path = tmp_path / "seven.png"
    Image.fromarray(draw(STROKES["7"])).save(path)
    value = {"background": None, "layers": [], "composite": client_module.handle_file(path)}
    label, digit, maps, looked = client.predict(value, api_name="/predict")
    assert label["label"] == "7"
    assert [c["label"] for c in label["confidences"]][:1] == ["7"]
    assert len(label["confidences"]) == 3
    assert Image.open(digit).size == (28 * ZOOM, 28 * ZOOM)
    assert Image.open(maps).size == ((3 * 24 + 2 * GUTTER) * ZOOM, (2 * 24 + GUTTER) * ZOOM)
    assert Image.open(looked).size == (28 * ZOOM, 28 * ZOOM)

    Image.fromarray(blank((255, 255, 255, 255))).save(path)
    value["composite"] = client_module.handle_file(path)
    label, digit, maps, looked = client.predict(value, api_name="/predict")
    assert label["label"] == DRAW_MESSAGE and digit is None and maps is None and looked is None


def shape_picture(size: int = 60) -> np.ndarray:
    """A photo-like RGB picture: a red disc on a blue background, (size, size + 20, 3)."""
    image = Image.new("RGB", (size + 20, size), (40, 60, 200))
    ImageDraw.Draw(image).ellipse([20, 10, size, size - 10], fill=(220, 30, 30))
    return np.asarray(image)


def test_an_uploaded_picture_is_read_as_predict_reads_it(picture_model) -> None:
    task = task_of(picture_model)
    probabilities, shown, maps, looked = predict(picture_model, task, shape_picture())
    assert sorted(probabilities) == ["circle", "square", "triangle"]
    x = task.prepare(picture_model, shape_picture())
    expected = softmax(picture_model.predict(x[np.newaxis]))[0]
    np.testing.assert_allclose(list(probabilities.values()), expected, rtol=1e-5)
    assert shown.shape == (224, 224, 3) and looked.shape == (224, 224, 3)  # 32 px, 7x
    assert maps.dtype == np.uint8


def test_no_picture_or_a_bad_one_is_a_message(picture_model) -> None:
    task = task_of(picture_model)
    assert predict(picture_model, task, None) == (UPLOAD_MESSAGE, None, None, None)
    message, *pictures = predict(picture_model, task, np.zeros((0, 5, 3), np.uint8))
    assert "no pixels" in message and pictures == [None, None, None]


def test_the_saliency_is_where_the_answer_changes_most(model: Sequential) -> None:
    """Pixels far from the ink barely matter to a digit model: the saliency map is brighter
    on and near the drawing than in the corners."""
    reading = read_input(model, DIGITS, draw(STROKES["7"]))
    assert reading.saliency.shape == (28, 28) and reading.saliency.max() == 1  # scaled to [0, 1]
    assert reading.saliency[:3, :3].max() < reading.saliency.max() / 4


def test_an_age_model_answers_in_years() -> None:
    """A regression is served too: the page's answer is the task's, in words."""
    model = build("age_cnn", (3, 16, 16), outputs=1, seed=0)
    model.metadata.update(
        task="age", input_shape=[3, 16, 16], image_size=16, target_mean=30.0, target_std=10.0
    )
    task = task_of(model)
    answer, shown, maps, looked = predict(model, task, shape_picture())
    x = task.prepare(model, shape_picture())[np.newaxis]
    assert answer == f"age {30 + 10 * float(model.predict(x)[0, 0]):.1f} years"
    assert read_input(model, task, shape_picture()).probabilities is None
    assert shown.shape == looked.shape == (224, 224, 3) and maps is not None


def test_the_api_reads_an_uploaded_picture(
    picture_model, picture_app_url: str, tmp_path: Path
) -> None:
    """The page answers what ``predict`` answers in this process, class names included."""
    client_module = pytest.importorskip("gradio_client")
    client = client_module.Client(picture_app_url, verbose=False)
    path = tmp_path / "disc.png"
    Image.fromarray(shape_picture()).save(path)
    label, shown, maps, looked = client.predict(
        client_module.handle_file(path), api_name="/predict"
    )
    probabilities, _, expected_maps, _ = predict(
        picture_model, task_of(picture_model), shape_picture()
    )
    assert label["label"] == max(probabilities, key=probabilities.get)
    shown_confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert shown_confidences == pytest.approx(probabilities, rel=1e-4)
    assert Image.open(shown).size == (224, 224) and Image.open(looked).size == (224, 224)
    assert Image.open(maps).size == expected_maps.shape[::-1]
