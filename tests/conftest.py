"""Shared fixtures: the draw-a-digit app served on a free local port, and the rules that differ
in CI (the ``CI`` variable set, as ``.ci/run`` does):

- the browser tests (marker ``browser``) fail when Chromium is missing; elsewhere they skip;
- the property-based tests (Hypothesis) draw the same examples on every CI run, so that a run
  is red or green for the code alone; elsewhere each run draws new ones and explores further.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = "chromium not installed: apt-get install chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Browser tests need Debian's Chromium: without it they fail in CI (the ``CI`` variable
    is set) and are skipped, with the reason shown, elsewhere."""
    if item.get_closest_marker("browser") and not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{NO_CHROMIUM} (.ci/run installs it)", pytrace=False)
        pytest.skip(NO_CHROMIUM)


def free_port() -> int:
    """A TCP port that nothing listens on now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(model: Any, snapshots: Any = None) -> Iterator[str]:
    """Serve ``model`` (with the training ``snapshots`` of its run, if given) with the app in a
    background thread: yields its URL, then closes it."""
    pytest.importorskip("gradio")
    from nanocnn.app import launch
    from nanocnn.tasks import task_of

    port = free_port()
    demo = launch(model, task_of(model), port=port, block=False, snapshots=snapshots)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """The URL of the app serving the bundled digits model."""
    from nanocnn import load
    from nanocnn.cli.app import BUNDLED_MODEL

    yield from serve(load(BUNDLED_MODEL))


@pytest.fixture(scope="session")
def picture_model() -> Any:
    """An (untrained) images model: 3x32x32 RGB pictures of three named shapes."""
    from nanocnn.presets import build

    model = build("cnn", (3, 32, 32), outputs=3, seed=0)
    model.metadata.update(
        task="images", input_shape=[3, 32, 32], image_size=32,
        classes=["circle", "square", "triangle"],
        normalization={"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
    )  # fmt: skip
    return model


@pytest.fixture(scope="session")
def picture_app_url(picture_model: Any) -> Iterator[str]:
    """The URL of the app serving ``picture_model``: an upload box instead of a sketchpad."""
    yield from serve(picture_model)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, for the browser tests (``pytest_runtest_setup`` checks it is there)."""
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Any]:
    """Headless Chromium, driven by Playwright (one for all the browser tests)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()
