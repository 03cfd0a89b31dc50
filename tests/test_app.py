"""Tests of the draw-a-digit app without a browser: what it makes of drawings, the bundled
model, the command line, and the page's API through ``gradio_client``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nanocnn.app import (
    BRUSH,
    CANVAS,
    DRAW_MESSAGE,
    GUTTER,
    SMALL_MESSAGE,
    ZOOM,
    first_conv_maps,
    ink_extent,
    predict,
    read_drawing,
    tile_maps,
)
from nanocnn.cli import build_parser
from nanocnn.cli.app import BUNDLED_MODEL
from nanocnn.datasets import load_mnist
from nanocnn.layers.activations import softmax
from nanocnn.model import Sequential
from nanocnn.persistence import load_model as load
from nanocnn.preprocess import preprocess_digit
from nanocnn.presets import build

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
    reading = read_drawing(model, draw(STROKES[digit]))
    assert max(reading.probabilities, key=reading.probabilities.get) == digit
    assert reading.probabilities[digit] > 0.9
    assert sorted(reading.probabilities) == [str(k) for k in range(10)]
    assert sum(reading.probabilities.values()) == pytest.approx(1)


def test_the_network_sees_what_nanocnn_predict_sees(model: Sequential) -> None:
    image = draw(STROKES["7"])
    reading = read_drawing(model, image)
    np.testing.assert_array_equal(reading.digit, preprocess_digit(image)[0])
    expected = softmax(model.predict(preprocess_digit(image)[np.newaxis]))[0]
    np.testing.assert_allclose(list(reading.probabilities.values()), expected, rtol=1e-6)


def test_predict_gives_the_page_its_probabilities_and_pictures(model: Sequential) -> None:
    value = {"background": None, "layers": [], "composite": draw(STROKES["1"])}
    probabilities, digit, maps = predict(model, value)
    assert max(probabilities, key=probabilities.get) == "1"
    assert digit.shape == (28 * ZOOM, 28 * ZOOM) and digit.dtype == np.uint8
    # LeNet's first convolution: 6 maps of 24 x 24, in 2 rows of 3.
    assert maps.shape == ((2 * 24 + GUTTER) * ZOOM, (3 * 24 + 2 * GUTTER) * ZOOM)
    assert maps.dtype == np.uint8


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
    assert predict(model, value) == (DRAW_MESSAGE, None, None)


@pytest.mark.parametrize("radius", [3, BRUSH, 2 * BRUSH])
def test_a_stray_dot_asks_for_a_larger_digit(model: Sequential, radius: int) -> None:
    assert predict(model, {"composite": dot(radius)}) == (SMALL_MESSAGE, None, None)


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
    probabilities, digit, maps = predict(mlp, {"composite": draw(STROKES["1"])})
    assert len(probabilities) == 10 and digit is not None and maps is None


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
    label, digit, maps = client.predict(value, api_name="/predict")
    assert label["label"] == "7"
    assert [c["label"] for c in label["confidences"]][:1] == ["7"]
    assert len(label["confidences"]) == 3
    assert Image.open(digit).size == (28 * ZOOM, 28 * ZOOM)
    assert Image.open(maps).size == ((3 * 24 + 2 * GUTTER) * ZOOM, (2 * 24 + GUTTER) * ZOOM)

    Image.fromarray(blank((255, 255, 255, 255))).save(path)
    value["composite"] = client_module.handle_file(path)
    label, digit, maps = client.predict(value, api_name="/predict")
    assert label["label"] == DRAW_MESSAGE and digit is None and maps is None
