""" "Look inside", end to end in a real browser (Chromium, driven by Playwright): draw a digit,
open the view, click a convolution's map and read the numbers it shows; go backward from a
class's score; take a ResNet's skips out; slide over the epochs of a run's training. The
numbers are read from the page's ``data-`` attributes and held to NumPy computations of the
test's own, and the times the view takes to answer are printed (run with ``-s``).

Screenshots go to ``$NANOCNN_TEST_ARTIFACTS``; with ``NANOCNN_SCREENSHOTS=1`` the pictures of
docs/look_inside.md are made again, in docs/images/.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import serve
from test_app import STROKES, shape_picture
from test_app_browser import ARTIFACTS, BRUSH_CHOSEN, TIMEOUT_MS, TOP_CLASS, open_page, stroke

from nanocnn.cli.app import BUNDLED_MODEL
from nanocnn.datasets import load_mnist
from nanocnn.io import load
from nanocnn.layers import Sequential
from nanocnn.layers.activations import softmax
from nanocnn.losses import SoftmaxCrossEntropy
from nanocnn.optim import Adam
from nanocnn.presets import build
from nanocnn.training import fit
from nanocnn.training.snapshots import Snapshots, read_snapshots

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

DOCS_IMAGES = Path(__file__).parents[1] / "docs" / "images"
CONV_MAP = '#columns img.map[data-column="{}"][data-channel="{}"]'


def shoot(page: Any, name: str, section: str) -> None:
    """A screenshot of the page to the artifacts; of ``section`` to docs/images/ when asked."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / name, full_page=True)
    if os.environ.get("NANOCNN_SCREENSHOTS") == "1":  # wide enough for LeNet's every column
        DOCS_IMAGES.mkdir(exist_ok=True)
        size = page.viewport_size
        page.set_viewport_size({"width": 1800, "height": size["height"]})
        page.wait_for_timeout(500)
        page.locator(section).screenshot(path=DOCS_IMAGES / name)
        page.set_viewport_size(size)


def timed(what: str, action: Any, selector: str, page: Any) -> None:
    """Do ``action``, wait for ``selector`` and print how long the page took."""
    start = time.perf_counter()
    action()
    page.wait_for_selector(selector)
    print(f"\nlook inside: {what} in {time.perf_counter() - start:.2f} s")


def numbers(page: Any, selector: str, attribute: str = "v", dtype: type = np.float64) -> Any:
    """The ``data-<attribute>`` numbers of the elements ``selector`` picks, in page order (the
    exact ones of a float32 array are given back by ``dtype=np.float32``)."""
    return read(page, found=(selector, attribute), dtype=dtype)["found"]


READ_JS = """
queries => Object.fromEntries(Object.entries(queries).map(([name, [selector, attribute]]) =>
  [name, [...document.querySelectorAll(selector)].map(e => e.dataset[attribute]).join(",")]))
"""


def read(page: Any, dtype: type = np.float64, **queries: tuple[str, str]) -> dict[str, Any]:
    """For each query (selector, attribute): the numbers in the ``data-<attribute>`` of the
    elements it picks, in page order, all read at one moment (the page may update between
    two reads)."""
    found = page.evaluate(READ_JS, queries)
    return {name: np.array(text.split(",") if text else [], dtype) for name, text in found.items()}


def settle(page: Any, quiet_ms: int = 2_000) -> None:
    """Wait until the input the view shows has not changed for ``quiet_ms``: a drawing's last
    change can reach the server after the answer to its stroke (on a busy machine, seconds
    later)."""
    last, quiet = None, 0
    while quiet < quiet_ms:
        now = page.get_attribute("#columns img.input", "data-values")
        quiet = quiet + 250 if now == last else 0
        last = now
        page.wait_for_timeout(250)


def click_number(page: Any, selector: str, row: int, col: int, rows: int, cols: int) -> None:
    """Click the middle of the number (row, col) of the map ``selector`` picks."""
    image = page.locator(selector)
    width, height = image.evaluate("e => [e.clientWidth, e.clientHeight]")
    image.click(position={"x": (col + 0.5) * width / cols, "y": (row + 0.5) * height / rows})


@pytest.fixture(scope="module")
def model() -> Sequential:
    return load(BUNDLED_MODEL)


@pytest.fixture(scope="module")
def page(browser: Any, app_url: str) -> Iterator[Any]:
    """The digits app with a 7 drawn and "Look inside" open."""
    loaded = open_page(browser, app_url)
    loaded.wait_for_selector(BRUSH_CHOSEN)
    for points in STROKES["7"]:
        stroke(loaded, points)
    sync_api.expect(loaded.locator(TOP_CLASS)).to_have_text("7", timeout=TIMEOUT_MS)
    opened = CONV_MAP.format(0, 0)
    timed("opened", lambda: loaded.click("#inside .label-wrap"), opened, loaded)
    settle(loaded)
    yield loaded
    loaded.close()


def test_a_clicked_convolution_pixel_shows_its_arithmetic(page: Any, model: Sequential) -> None:
    shown = read(page, input=("#columns img.input", "values"),
                 answer=("#columns .answer [data-class]", "v"))  # fmt: skip
    probabilities = softmax(model.predict(shown["input"].reshape(1, 1, 28, 28)))[0]
    np.testing.assert_allclose(shown["answer"], np.sort(probabilities)[::-1][:5], rtol=1e-6)
    timed(
        "one neuron",
        lambda: click_number(page, CONV_MAP.format(0, 2), 12, 10, 24, 24),
        '#neuron .neuron[data-position="2,12,10"]',
        page,
    )
    row = '#neuron .row[data-channel="0"]'
    roles = ("sum", "bias", "total", "value", "activated")
    shown = read(
        page,
        input=("#columns img.input", "values"),
        patch=(f"{row} [data-role=patch] td", "v"),
        kernel=(f"{row} [data-role=kernel] td", "v"),
        products=(f"{row} [data-role=products] td", "v"),
        **{role: (f'#neuron td[data-role="{role}"]', "v") for role in roles},
    )
    x = shown["input"].astype(np.float32).reshape(1, 1, 28, 28)
    patch = x[0, 0, 12:17, 10:15]  # LeNet's first layer: 5x5, no padding, stride 1
    kernel, bias = model[0].params["weight"][2, 0], float(model[0].params["bias"][2])
    np.testing.assert_array_equal(shown["patch"].astype(np.float32), patch.ravel())
    np.testing.assert_array_equal(shown["kernel"].astype(np.float32), kernel.ravel())
    products = patch.astype(np.float64) * kernel
    np.testing.assert_allclose(shown["products"], products.ravel(), rtol=1e-8)
    total = products.sum() + bias
    role = {name: float(shown[name][0]) for name in roles}
    assert role["sum"] == pytest.approx(products.sum(), rel=1e-8)
    assert role["bias"] == pytest.approx(bias, rel=1e-8)
    assert role["total"] == pytest.approx(total, rel=1e-8)
    assert role["value"] == pytest.approx(total, rel=1e-5, abs=1e-6)  # the layer's float32
    assert role["activated"] == pytest.approx(max(total, 0.0), abs=1e-6)  # then its ReLU
    shoot(page, "look_inside_forward.png", "#inside")


def test_the_backward_columns_are_the_gradients_of_the_chosen_score(
    page: Any, model: Sequential
) -> None:
    page.click("#direction label:has-text('backward')")
    page.wait_for_selector('#columns .look[data-mode="backward"]')
    page.click("#score input")
    timed(
        "backward from class 3",
        lambda: page.click('ul[role=listbox] li[aria-label="class 3"]'),
        '#columns .look[data-mode="backward"][data-target="3"]',
        page,
    )
    layers = range(len(model) - 1)
    queries = {
        f"{stat} {k}": (f'#columns img.map[data-column="{k}"]', stat)
        for k in layers
        for stat in ("sum", "min", "max")
    }
    shown = read(
        page,
        input=("#columns img.input", "values"),
        grad=('#neuron td[data-role="grad"]', "v"),  # of the neuron clicked before
        **queries,
    )
    x = shown["input"].astype(np.float32).reshape(1, 1, 28, 28)
    for k in layers:
        grad = model[k + 1 :].input_gradient(model[: k + 1].forward(x), 3)[0]
        parts = grad.reshape(len(grad), -1) if grad.ndim == 3 else grad[np.newaxis]
        scale = float(np.abs(grad).max())
        sums = shown[f"sum {k}"]
        np.testing.assert_allclose(sums, parts.sum(axis=1), rtol=1e-4, atol=1e-6 * scale)
        np.testing.assert_allclose(shown[f"max {k}"], parts.max(axis=1), rtol=1e-5)
        np.testing.assert_allclose(shown[f"min {k}"], parts.min(axis=1), rtol=1e-5)
    first = model[1:].input_gradient(model[:1].forward(x), 3)[0]
    assert shown["grad"][0] == pytest.approx(first[2, 12, 10], rel=1e-5, abs=1e-9)
    shoot(page, "look_inside_backward.png", "#inside")


@pytest.fixture(scope="module")
def resnet_url() -> Iterator[str]:
    """An (untrained) ResNet-8 for digits: its blocks have skip connections."""
    resnet = build("resnet", seed=0)
    resnet.metadata.update(task="digits", input_shape=[1, 28, 28])
    yield from serve(resnet)


def test_a_resnet_shows_its_gradients_with_and_without_the_skips(
    browser: Any, resnet_url: str
) -> None:
    page = open_page(browser, resnet_url)
    page.wait_for_selector(BRUSH_CHOSEN)
    stroke(page, STROKES["1"][0])
    timed("ResNet opened", lambda: page.click("#inside .label-wrap"), CONV_MAP.format(0, 0), page)
    timed(
        "ResNet backward",
        lambda: page.click("#direction label:has-text('backward')"),
        "#columns table[data-role=skips]",
        page,
    )
    layers = page.eval_on_selector_all(
        "#columns tr[data-layer]", "all => all.map(r => r.dataset.layer)"
    )
    assert layers[:3] == ["0", "3.body.0", "3.body.3"] and "7.shortcut.0" in layers
    assert page.locator('#columns .col[data-column="3.body.0"]').count() == 1
    shoot(page, "look_inside_resnet.png", "#inside")
    page.click("#skips input")  # without the skip connections
    page.wait_for_selector('#columns .col[data-column="3.0"]')
    assert page.locator('#columns .col[data-column="3.body.0"]').count() == 0
    page.close()


@pytest.fixture(scope="module")
def trained_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """LeNet trained for 3 epochs on 600 MNIST digits with the Snapshots callback."""
    data = load_mnist()
    lenet = build("lenet", seed=0)
    lenet.metadata.update(task="digits", input_shape=[1, 28, 28])
    path = tmp_path_factory.mktemp("run") / "snapshots.npz"
    fit(lenet, SoftmaxCrossEntropy(), Adam(lenet.parameters(), 3e-3), data.x_train[:600],
        data.y_train[:600], epochs=3, callbacks=[Snapshots(path, data.x_train[0])],
        progress="off")  # fmt: skip
    history = read_snapshots(path)
    for url in serve(lenet, history):
        yield url, history


def test_the_epoch_slider_shows_the_filters_of_each_epoch(
    browser: Any, trained_url: tuple[str, Any]
) -> None:
    url, history = trained_url
    page = open_page(browser, url)
    page.click("#training .label-wrap")
    page.wait_for_selector('#epoch-view .look[data-epoch="3"]')
    last = numbers(page, "#epoch-view img.filter", "sum")
    np.testing.assert_allclose(last, history.filters[3].sum(axis=(1, 2, 3)), rtol=1e-6)
    shoot(page, "look_inside_training.png", "#training")
    page.locator("#epoch input[type=range]").press("Home")  # the slider to its start
    page.wait_for_selector('#epoch-view .look[data-epoch="0"]')
    first = numbers(page, "#epoch-view img.filter", "sum")
    np.testing.assert_allclose(first, history.filters[0].sum(axis=(1, 2, 3)), rtol=1e-6)
    assert not np.allclose(first, last)
    page.close()


def test_an_uploaded_picture_opens_in_the_view(
    browser: Any, picture_app_url: str, tmp_path
) -> None:
    path = tmp_path / "disc.png"
    pytest.importorskip("PIL.Image").fromarray(shape_picture()).save(path)
    page = open_page(browser, picture_app_url)
    page.set_input_files("#upload input[type=file]", path)
    page.locator("#prediction .confidence-set dt").first.wait_for()
    page.click("#inside .label-wrap")
    page.wait_for_selector(CONV_MAP.format(0, 0))
    click_number(page, CONV_MAP.format(0, 5), 0, 0, 32, 32)  # in the padding's corner
    page.wait_for_selector('#neuron .neuron[data-position="5,0,0"]')
    assert page.locator("#neuron .row[data-channel]").count() == 3  # red, green and blue
    patch = numbers(page, '#neuron .row[data-channel="1"] [data-role=patch] td')
    assert patch.reshape(3, 3)[0].tolist() == [0, 0, 0]  # the zero padding above the picture
    shoot(page, "look_inside_picture.png", "#inside")
    page.close()
