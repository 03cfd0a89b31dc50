"""End to end in a real browser: Debian's Chromium, driven by Playwright, draws digits on the
app's canvas with the mouse, or uploads a picture to the app of a picture model, and reads
what the page answers.

Screenshots of the page go to the folder ``$NANOCNN_TEST_ARTIFACTS`` (default
``test-artifacts``). Run these tests alone with ``pytest -m browser``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from test_app import STROKES, shape_picture

from nanocnn.app.reading import DRAW_MESSAGE, SMALL_MESSAGE, UPLOAD_MESSAGE

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

ARTIFACTS = Path(os.environ.get("NANOCNN_TEST_ARTIFACTS", "test-artifacts"))
TIMEOUT_MS = 60_000  # for each wait: page, prediction (generous: CI machines can be slow)
STEPS = 8  # mouse moves along each straight piece of a stroke

BRUSH_CHOSEN = '#sketch button[aria-label="Brush"].highlight'
TOP_CLASS = '#prediction [data-testid="label-output-value"]'
CLASSES_SHOWN = "#prediction .confidence-set dt"


def open_page(browser: Any, url: str) -> Any:
    """A new tab showing ``url``, loaded."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return page


@pytest.fixture(scope="module")
def page(browser: Any, app_url: str) -> Any:
    """The digits app's page, loaded, with the brush chosen."""
    loaded = open_page(browser, app_url)
    loaded.wait_for_selector(BRUSH_CHOSEN)
    return loaded


def clear(page: Any) -> None:
    """Press Clear; wait for the empty canvas's message and for the brush to be chosen again."""
    page.click("#clear")
    page.locator(TOP_CLASS, has_text=DRAW_MESSAGE).wait_for()
    page.wait_for_selector(BRUSH_CHOSEN)


def stroke(page: Any, points: list[tuple[int, int]]) -> None:
    """Drag the mouse through ``points`` (pixels from the canvas centre) with the button down,
    and wait until the page shows the reading of the drawing with this stroke."""
    box = page.locator("#sketch canvas").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    shown = page.eval_on_selector_all("#input img", "images => images.map(image => image.src)")
    page.mouse.move(x + points[0][0], y + points[0][1])
    page.mouse.down()
    for dx, dy in points[1:]:
        page.mouse.move(x + dx, y + dy, steps=STEPS)
    page.mouse.up()
    page.wait_for_function(
        "shown => { const image = document.querySelector('#input img');"
        " return image !== null && !shown.includes(image.src); }",
        arg=shown,
    )


@pytest.mark.parametrize("digit", ["1", "7"])
def test_a_digit_drawn_with_the_mouse_is_read(page: Any, digit: str) -> None:
    clear(page)
    for points in STROKES[digit]:
        stroke(page, points)  # the page answers after every stroke
    # The outputs render one after another: each check waits (up to TIMEOUT_MS) for its own.
    expect = sync_api.expect
    expect(page.locator(TOP_CLASS)).to_have_text(digit, timeout=TIMEOUT_MS)
    expect(page.locator(CLASSES_SHOWN)).to_have_count(3, timeout=TIMEOUT_MS)
    expect(page.locator(CLASSES_SHOWN).first).to_have_text(digit, timeout=TIMEOUT_MS)
    expect(page.locator("#feature-maps img")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#saliency img")).to_be_visible(timeout=TIMEOUT_MS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"app-drew-{digit}.png", full_page=True)


def test_a_stray_dot_asks_for_a_digit(page: Any) -> None:
    clear(page)
    box = page.locator("#sketch canvas").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 - 30)
    page.locator(TOP_CLASS, has_text=SMALL_MESSAGE).wait_for()
    assert not page.locator("#input img").count()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "app-stray-dot.png", full_page=True)


def test_an_uploaded_picture_is_read_with_the_class_names(
    browser: Any, picture_app_url: str, tmp_path: Path
) -> None:
    """The app of a picture model has an upload box instead of the sketchpad."""
    path = tmp_path / "disc.png"
    pytest.importorskip("PIL.Image").fromarray(shape_picture()).save(path)
    page = open_page(browser, picture_app_url)
    assert not page.locator("#sketch").count()
    page.locator(TOP_CLASS, has_text=UPLOAD_MESSAGE).wait_for()
    page.set_input_files("#upload input[type=file]", path)
    expect = sync_api.expect
    expect(page.locator(CLASSES_SHOWN)).to_have_count(3, timeout=TIMEOUT_MS)
    shown = {page.locator(CLASSES_SHOWN).nth(i).inner_text() for i in range(3)}
    assert shown == {"circle", "square", "triangle"}
    for output in ("#input img", "#feature-maps img", "#saliency img"):
        expect(page.locator(output)).to_be_visible(timeout=TIMEOUT_MS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "app-uploaded-picture.png", full_page=True)
