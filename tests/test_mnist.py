"""Loading MNIST: the bundled copy, small generated copies, bad files, and downloads from a
local HTTP server (the tests never reach the internet)."""

from __future__ import annotations

import functools
import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from nanocnn.datasets import MNIST, load_mnist, write_idx
from nanocnn.datasets import mnist as mnist_module
from nanocnn.datasets.idx import read_idx_bytes
from nanocnn.datasets.mnist import (
    FILES,
    MEAN,
    STD,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    check_class_names,
    read_class_names,
)
from nanocnn.errors import DataError


def make_mnist(directory: Path, *, seed: int = 0, gz: bool = True) -> dict[str, np.ndarray]:
    """Write a tiny MNIST (20 train, 10 test images) into ``directory``; return its arrays."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, n in zip(FILES, (20, 20, 10, 10), strict=True):
        shape = (n, 28, 28) if "images" in name else (n,)
        arrays[name] = rng.integers(0, 256 if "images" in name else 10, shape, dtype=np.uint8)
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(directory / (f"{name}.gz" if gz else name), array)
    return arrays


def checksums_of(directory: Path) -> dict[str, str]:
    """The SHA-256 of each MNIST file's decompressed content in ``directory``."""
    return {
        name: hashlib.sha256(read_idx_bytes(directory / f"{name}.gz")).hexdigest() for name in FILES
    }


def assert_matches(data: MNIST, arrays: dict[str, np.ndarray]) -> None:
    """Check that ``data`` holds ``arrays`` scaled to [0, 1], with the documented shapes."""
    assert data.x_train.shape == (20, 1, 28, 28)
    assert data.x_test.shape == (10, 1, 28, 28)
    assert data.x_train.dtype == data.x_test.dtype == np.float32
    assert data.y_train.dtype == data.y_test.dtype == np.int64
    np.testing.assert_allclose(data.x_train[:, 0] * 255, arrays[TRAIN_IMAGES], atol=1e-4)
    np.testing.assert_array_equal(data.y_train, arrays[TRAIN_LABELS])


@pytest.fixture(scope="module")
def bundled() -> MNIST:
    return load_mnist(download=False)


def test_bundled_mnist_shapes_and_types(bundled: MNIST) -> None:
    x_train, y_train, x_test, y_test = bundled
    assert x_train.shape == (60000, 1, 28, 28)
    assert x_test.shape == (10000, 1, 28, 28)
    assert y_train.shape == (60000,)
    assert y_test.shape == (10000,)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    assert x_train.min() == 0.0
    assert x_train.max() == 1.0
    assert set(np.unique(y_train)) == set(np.unique(y_test)) == set(range(10))


def test_bundled_mnist_statistics(bundled: MNIST) -> None:
    assert abs(bundled.x_train.mean() - MEAN) < 1e-3
    assert abs(bundled.x_train.std() - STD) < 1e-3
    assert np.bincount(bundled.y_test).tolist()[:3] == [980, 1135, 1032]


@pytest.mark.parametrize("gz", [True, False])
def test_loads_from_data_dir(tmp_path: Path, gz: bool) -> None:
    arrays = make_mnist(tmp_path, gz=gz)
    assert_matches(load_mnist(tmp_path, download=False, checksums={}), arrays)


def test_normalize(tmp_path: Path) -> None:
    arrays = make_mnist(tmp_path)
    data = load_mnist(tmp_path, normalize=True, download=False, checksums=checksums_of(tmp_path))
    assert data.x_test.dtype == np.float32
    expected = (arrays[TEST_IMAGES].astype(np.float32) / 255 - MEAN) / STD
    np.testing.assert_allclose(data.x_test[:, 0], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "array", "message"),
    [
        (TRAIN_LABELS, np.zeros(19, dtype=np.uint8), "20 images, but .* has 19 labels"),
        (TEST_LABELS, np.full(10, 12, dtype=np.uint8), "label 12 is not a class of the training"),
        (TRAIN_LABELS, np.zeros((20, 1), dtype=np.uint8), r"expected \(N,\) uint8 labels"),
        (TEST_IMAGES, np.zeros((10, 20, 20), dtype=np.uint8), "20×20, but those of .* 28×28"),
        (TEST_IMAGES, np.zeros((10, 28, 28), dtype=np.float32), r"expected \(N, H, W\) uint8"),
        (TEST_IMAGES, np.zeros((10, 28, 0), dtype=np.uint8), r"expected \(N, H, W\) uint8"),
    ],
    ids=[
        "count-mismatch",
        "test-label-not-in-train",
        "labels-2d",
        "images-20x20",
        "images-float",
        "images-empty",
    ],
)
def test_inconsistent_files(tmp_path: Path, name: str, array: np.ndarray, message: str) -> None:
    make_mnist(tmp_path)
    write_idx(tmp_path / f"{name}.gz", array)
    with pytest.raises(DataError, match=message) as info:
        load_mnist(tmp_path, download=False, checksums={})
    assert name in str(info.value)


def test_checksum_mismatch_in_the_cache(tmp_path: Path) -> None:
    make_mnist(tmp_path / "mnist")  # not the real MNIST, so the official checksums fail
    with pytest.raises(DataError, match=f"{TRAIN_IMAGES}.gz: SHA-256 .* expected ba891046"):
        load_mnist(cache_dir=tmp_path, download=False)


def test_missing_without_download_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"{tmp_path} does not hold {TRAIN_IMAGES}"):
        load_mnist(tmp_path, download=False)
    with pytest.raises(DataError, match=f"not found in {tmp_path / 'cache' / 'mnist'}"):
        load_mnist(cache_dir=tmp_path / "cache", download=False)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """Serve ``tmp_path/www`` on 127.0.0.1; yield its base URL and the folder."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=root))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/", root
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_download_tries_mirrors_and_caches(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, root = server
    arrays = make_mnist(root / "good")
    checksums = checksums_of(root / "good")
    cache = tmp_path / "cache"
    mirrors = [f"{url}missing/", f"{url}good"]  # the first 404s; either URL form works
    data = load_mnist(cache_dir=cache, mirrors=mirrors, checksums=checksums)
    assert_matches(data, arrays)
    assert sorted(path.name for path in (cache / "mnist").iterdir()) == sorted(
        f"{name}.gz" for name in FILES
    )
    (root / "good").rename(root / "gone")  # the cache alone serves the second call
    again = load_mnist(cache_dir=cache, download=False, checksums=checksums)
    assert_matches(again, arrays)


def test_nothing_is_downloaded_into_a_folder_of_yours(
    tmp_path: Path, server: tuple[str, Path]
) -> None:
    """A mistyped --data-dir is an error: it is neither created nor filled with MNIST."""
    url, root = server
    make_mnist(root)
    mistyped = tmp_path / "fashon"
    with pytest.raises(DataError, match=f"{mistyped} does not exist"):
        load_mnist(mistyped, mirrors=[url], checksums=checksums_of(root))
    assert not mistyped.exists()
    photos = tmp_path / "photos"  # a folder of something else
    photos.mkdir()
    (photos / "cat.jpg").write_bytes(b"not IDX")
    with pytest.raises(DataError, match="downloads nothing into a folder of yours"):
        load_mnist(photos, mirrors=[url], checksums=checksums_of(root), parts=("test",))
    assert sorted(path.name for path in photos.iterdir()) == ["cat.jpg"]


def test_download_only_what_is_missing(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, root = server
    arrays = make_mnist(root)
    cache = tmp_path / "cache"
    make_mnist(cache / "mnist")
    checksums = checksums_of(cache / "mnist")
    (cache / "mnist" / f"{TRAIN_IMAGES}.gz").unlink()
    (root / f"{TEST_IMAGES}.gz").unlink()  # would fail if it were fetched
    assert_matches(load_mnist(cache_dir=cache, mirrors=[url], checksums=checksums), arrays)


def test_mirror_with_wrong_content_is_skipped(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, root = server
    make_mnist(root / "wrong", seed=1)
    arrays = make_mnist(root / "good", seed=0)
    checksums = checksums_of(root / "good")
    data = load_mnist(
        cache_dir=tmp_path / "d", mirrors=[f"{url}wrong/", f"{url}good/"], checksums=checksums
    )
    assert_matches(data, arrays)


def test_all_mirrors_failing_lists_what_was_tried(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, root = server
    make_mnist(root / "wrong", seed=1)
    (root / "junk").mkdir()
    (root / "junk" / f"{TRAIN_IMAGES}.gz").write_bytes(b"\x1f\x8b not really gzip")
    mirrors = [f"{url}missing/", f"{url}junk/", f"{url}wrong/"]
    checksums = {name: "0" * 64 for name in FILES}  # no mirror serves these
    data_dir = tmp_path / "d" / "mnist"
    with pytest.raises(DataError, match=f"could not download {TRAIN_IMAGES}") as info:
        load_mnist(cache_dir=tmp_path / "d", mirrors=mirrors, checksums=checksums)
    message = str(info.value)
    assert f"{url}missing/{TRAIN_IMAGES}.gz: HTTP Error 404" in message
    assert f"{url}junk/{TRAIN_IMAGES}.gz: " in message
    assert "corrupt gzip" in message
    assert f"{url}wrong/{TRAIN_IMAGES}.gz: SHA-256" in message
    assert not data_dir.exists() or not any(data_dir.iterdir())  # nothing bad was kept


# --- data sets of your own in MNIST's files -----------------------------------------------------


def make_idx_dataset(directory: Path, classes: int = 5, size: tuple[int, int] = (12, 16)) -> dict:
    """Write a non-MNIST data set in MNIST's four files: H × W images, labels 0..classes-1."""
    rng = np.random.default_rng(3)
    arrays = {
        TRAIN_IMAGES: rng.integers(0, 256, (30, *size), dtype=np.uint8),
        TRAIN_LABELS: np.arange(30, dtype=np.uint8) % classes,
        TEST_IMAGES: rng.integers(0, 256, (10, *size), dtype=np.uint8),
        TEST_LABELS: np.arange(10, dtype=np.uint8) % classes,
    }
    directory.mkdir(parents=True, exist_ok=True)
    for k, (name, array) in enumerate(arrays.items()):
        write_idx(directory / (f"{name}.gz" if k % 2 else name), array)  # gzipped or not
    return arrays


def test_any_idx_data_set_loads_without_mnist_checksums(tmp_path: Path) -> None:
    arrays = make_idx_dataset(tmp_path, classes=12, size=(12, 16))
    data = load_mnist(tmp_path, download=False)  # the official checksums are not applied
    assert data.x_train.shape == (30, 1, 12, 16)
    assert data.x_test.shape == (10, 1, 12, 16)
    np.testing.assert_allclose(data.x_test[:, 0] * 255, arrays[TEST_IMAGES], atol=1e-4)
    np.testing.assert_array_equal(data.y_train, arrays[TRAIN_LABELS])
    assert data.y_train.max() == 11


def test_no_mnist_is_downloaded_beside_files_of_another_data_set(tmp_path: Path) -> None:
    make_idx_dataset(tmp_path)
    (tmp_path / TEST_IMAGES).unlink()
    with pytest.raises(DataError, match=f"does not hold {TEST_IMAGES}") as info:
        load_mnist(tmp_path, mirrors=["http://127.0.0.1:9/"])
    assert "downloads nothing into a folder of yours" in str(info.value)
    assert TEST_IMAGES not in {path.name for path in tmp_path.iterdir()}


def closed_port_url() -> str:
    """A URL on this machine where nothing listens: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_test_set_alone_loads_without_the_training_files(tmp_path: Path) -> None:
    arrays = make_idx_dataset(tmp_path, size=(28, 28))
    (tmp_path / TRAIN_IMAGES).unlink()
    (tmp_path / f"{TRAIN_LABELS}.gz").unlink()
    data = load_mnist(tmp_path, parts=("test",), mirrors=[closed_port_url()])  # no download
    assert data.x_train.shape == (0, 1, 28, 28)
    assert data.y_train.shape == (0,) and data.y_train.dtype == np.int64
    np.testing.assert_array_equal(data.y_test, arrays[TEST_LABELS])
    with pytest.raises(ValueError, match="parts must be some of"):
        load_mnist(tmp_path, parts=("validation",))


def test_offline_without_a_bundled_copy_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnist_module, "BUNDLED_DIR", tmp_path / "not-installed")  # pip install
    monkeypatch.setenv("NANOCNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    url = closed_port_url()
    with pytest.raises(DataError) as info:
        load_mnist(mirrors=[url, url])
    message = str(info.value)
    assert "\n" not in message
    assert f"cannot download {TRAIN_IMAGES}: no connection to 127.0.0.1:" in message
    assert "--data-dir FOLDER" in message
    assert all(name in message for name in FILES)
    assert str(tmp_path / "cache" / "mnist") in message


def test_class_names_from_classes_txt(tmp_path: Path) -> None:
    assert read_class_names(tmp_path) is None
    text = "\ufeffT-shirt/top\n\n  Trouser \nPullover\n\n"  # a BOM, blank lines, spaces
    (tmp_path / "classes.txt").write_text(text, encoding="utf-8")
    names = read_class_names(tmp_path)
    assert names == ["T-shirt/top", "Trouser", "Pullover"]
    check_class_names(names, np.array([0, 2, 1, 2]), "classes.txt")
    with pytest.raises(DataError, match=r"names 3 classes, but the labels are 0\.\.3"):
        check_class_names(names, np.array([0, 3]), "classes.txt")
    with pytest.raises(DataError, match=r"names 3 classes, but the labels are 0\.\.1"):
        check_class_names(names, np.array([0, 1]), "classes.txt")
    (tmp_path / "classes.txt").write_text("cat\ndog\ncat\n")
    with pytest.raises(DataError, match=r"classes\.txt: class names given twice: cat"):
        read_class_names(tmp_path)


def test_class_names_given_on_the_command_line_are_not_checked_against_classes_txt(
    tmp_path: Path,
) -> None:
    """``--class-names`` overrides the folder's classes.txt, even a broken one."""
    from nanocnn.tasks import TaskOptions, get_task

    (tmp_path / "classes.txt").write_text("cat\ncat\n")  # a class named twice: a DataError
    task = get_task("digits")
    options = TaskOptions(data_dir=tmp_path, own={"class_names": "cat,dog"})
    assert task.class_names(options, np.array([0, 1])) == ["cat", "dog"]
    with pytest.raises(DataError, match=r"classes\.txt"):
        task.class_names(TaskOptions(data_dir=tmp_path, own={"class_names": None}),
                         np.array([0, 1]))  # fmt: skip
