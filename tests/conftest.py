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

import pytest
from hypothesis import settings

CHROMIUM = Path("/usr/bin/chromium")
NO_CHROMIUM = "chromium not installed: apt-get install chromium"

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


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """The URL of the app serving the bundled model in a background thread, closed at the end
    of the session."""
    pytest.importorskip("gradio")
    from nanocnn import load
    from nanocnn.app import launch
    from nanocnn.cli.app import BUNDLED_MODEL

    port = free_port()
    demo = launch(load(BUNDLED_MODEL), port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, for the browser tests (``pytest_runtest_setup`` checks it is there)."""
    return CHROMIUM
