"""Tests of the UTKFace loader and of the synthetic UTKFace folders it is tested on."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from nanocnn.datasets import utkface
from nanocnn.datasets.utkface import UTKFace, load_utkface, make_synthetic_utkface
from nanocnn.errors import DataError

Image = pytest.importorskip("PIL.Image")

SIZE = 8  # image side the tests load at


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 well-named, readable images."""
    folder = tmp_path_factory.mktemp("clean")
    return make_synthetic_utkface(folder, 40, image_size=16, malformed=0, unreadable=0)


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 good images, 3 with malformed names and 1 unreadable."""
    return make_synthetic_utkface(tmp_path_factory.mktemp("messy"), 20, image_size=16, seed=1)


def all_rows(data: UTKFace) -> tuple[np.ndarray, np.ndarray]:
    """The images and ages of all three splits, in the order of ``data.files``."""
    x = np.concatenate([data.x_train, data.x_val, data.x_test])
    y = np.concatenate([data.y_train, data.y_val, data.y_test])
    return x, y


def write_jpeg(path: Path, colour: tuple[int, int, int] = (200, 30, 30)) -> None:
    Image.new("RGB", (12, 10), colour).save(path)


def test_shapes_dtypes_ranges_and_labels(clean: Path) -> None:
    data = load_utkface(clean, SIZE)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (32, 4, 4)
    assert data.x_train.shape == (32, 3, SIZE, SIZE)
    assert data.y_train.shape == (32,)
    x, y = all_rows(data)
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.5
    assert ((y >= 0) & (y <= 116)).all()
    assert [float(name.split("_")[0]) for name in data.files] == y.tolist()
    assert len(set(data.files)) == 40
    assert (data.skipped_names, data.skipped_unreadable) == (0, 0)


def test_names_plain_and_chip_kept_others_skipped(tmp_path: Path) -> None:
    good = {
        "25_0_1_20170116174525125.jpg": 25,
        "3_1_4_20161219203650636.jpg.chip.jpg": 3,
        "116_1_0_2017.JPG": 116,
        "0_0_2_.jpg": 0,  # lenient about the date
    }
    bad = [
        "61_1_20170109150557335.jpg",  # a field missing, as in the real data set
        "200_0_0_20170109150557335.jpg",  # age out of range
        "abc_0_0_20170109150557335.jpg",  # not a number
        "30_2_0_20170109150557335.jpg",  # gender 2
        "30_0_5_20170109150557335.jpg",  # race 5
        "30_0_0_20170109150557335.png",  # not a .jpg
    ]
    for name in [*good, *bad]:
        write_jpeg(tmp_path / name)
    (tmp_path / "README.txt").write_text("not an image, not counted")
    with pytest.warns(UserWarning, match="skipped 6 file") as caught:
        data = load_utkface(tmp_path, SIZE, split=(1, 0, 0))
    assert len(caught) == 1
    assert "61_1_20170109150557335.jpg" in str(caught[0].message)
    assert dict(zip(data.files, data.y_train.tolist(), strict=True)) == good
    assert data.skipped_names == 6
    assert data.x_val.shape == data.x_test.shape == (0, 3, SIZE, SIZE)
    np.testing.assert_allclose(data.x_train[:, 0], 200 / 255, atol=0.02)  # red channel


def test_one_warning_counts_malformed_and_unreadable(messy: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_utkface(messy, SIZE)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "skipped 3 file(s) with names not in the UTKFace pattern" in message
    assert "1 unreadable image(s)" in message and str(messy) in message
    assert (data.skipped_names, data.skipped_unreadable) == (3, 1)
    assert len(data.files) == 20


def test_split_is_deterministic_by_seed(clean: Path) -> None:
    first, again = load_utkface(clean, SIZE, seed=3), load_utkface(clean, SIZE, seed=3)
    other = load_utkface(clean, SIZE, seed=4)
    assert first.files == again.files
    np.testing.assert_array_equal(first.x_train, again.x_train)
    assert first.files != other.files and sorted(first.files) == sorted(other.files)
    x, y = all_rows(first)
    x_other, y_other = all_rows(other)
    by_name = {name: i for i, name in enumerate(other.files)}
    rows = [by_name[name] for name in first.files]
    np.testing.assert_array_equal(x, x_other[rows])
    np.testing.assert_array_equal(y, y_other[rows])


def test_split_fractions_and_limit(clean: Path) -> None:
    data = load_utkface(clean, SIZE, split=(0.5, 0.25, 0.25))
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (20, 10, 10)
    limited = load_utkface(clean, SIZE, limit=10)
    assert (len(limited.y_train), len(limited.y_val), len(limited.y_test)) == (8, 1, 1)
    assert limited.files == load_utkface(clean, SIZE).files[:10]
    with pytest.raises(ValueError, match="split"):
        load_utkface(clean, SIZE, split=(0.8, 0.1, 0.2))
    with pytest.raises(ValueError, match="limit"):
        load_utkface(clean, SIZE, limit=0)


def test_cache_round_trip(messy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.warns(UserWarning):
        fresh = load_utkface(messy, SIZE, seed=5)
    with pytest.warns(UserWarning):
        built = load_utkface(messy, SIZE, seed=5, cache=True, cache_dir=tmp_path)
    assert sorted(path.name.split(".", 1)[1] for path in tmp_path.iterdir()) == [
        "images.npy",
        "kept.npy",
    ]

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should make reading images unnecessary")

    monkeypatch.setattr(utkface, "open_image", no_reading)
    with pytest.warns(UserWarning, match="1 unreadable"):
        cached = load_utkface(messy, SIZE, seed=5, cache=True, cache_dir=tmp_path)
    for loaded in (built, cached):
        assert loaded.files == fresh.files
        assert loaded.skipped_unreadable == fresh.skipped_unreadable == 1
        for a, b in zip(loaded, fresh, strict=True):
            if isinstance(a, np.ndarray):
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(a, b)


def test_cache_is_keyed_by_size_and_rebuilt_when_broken(clean: Path, tmp_path: Path) -> None:
    load_utkface(clean, SIZE, cache=True, cache_dir=tmp_path)
    load_utkface(clean, 4, cache=True, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("utkface-8px-*.images.npy"))) == 1
    assert len(list(tmp_path.glob("utkface-4px-*.images.npy"))) == 1
    images = next(tmp_path.glob("utkface-8px-*.images.npy"))
    images.write_bytes(images.read_bytes()[:200])  # truncated
    rebuilt = load_utkface(clean, SIZE, cache=True, cache_dir=tmp_path)
    np.testing.assert_array_equal(rebuilt.x_train, load_utkface(clean, SIZE).x_train)


def test_cache_defaults_to_the_data_folder(tmp_path: Path) -> None:
    folder = make_synthetic_utkface(tmp_path, 4, image_size=8, malformed=0, unreadable=0)
    load_utkface(folder, 4, cache=True)
    assert len(list(folder.glob("*.npy"))) == 2
    assert len(load_utkface(folder, 4, cache=True).files) == 4  # .npy files are not images


def test_missing_or_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no UTKFace images found") as caught:
        load_utkface(tmp_path)
    assert str(tmp_path) in str(caught.value) and "[age]_[gender]_[race]" in str(caught.value)
    (tmp_path / "UTKFace").mkdir()
    with pytest.raises(DataError, match="subfolders: UTKFace"):
        load_utkface(tmp_path)
    with pytest.raises(DataError, match="no such folder"):
        load_utkface(tmp_path / "nowhere")


def test_no_readable_image(tmp_path: Path) -> None:
    (tmp_path / "20_0_0_2017.jpg").write_bytes(b"garbage")
    with (
        pytest.warns(UserWarning, match="1 unreadable"),
        pytest.raises(DataError, match="none of the 1 UTKFace images could be read"),
    ):
        load_utkface(tmp_path)


def test_synthetic_folder(tmp_path: Path) -> None:
    folder = make_synthetic_utkface(tmp_path / "a", 30, image_size=32, seed=7)
    again = make_synthetic_utkface(tmp_path / "b", 30, image_size=32, seed=7)
    names = sorted(path.name for path in folder.iterdir())
    assert len(names) == 34
    assert names == sorted(path.name for path in again.iterdir())
    assert all((folder / name).read_bytes() == (again / name).read_bytes() for name in names)
    assert sum(name.endswith(".jpg.chip.jpg") for name in names) == 15
    with pytest.warns(UserWarning):
        data = load_utkface(folder, 32, split=(1, 0, 0))
    # Age is visible: the bright disc's area grows with the square of its radius.
    disc_area = (data.x_train.mean(axis=1) > 0.45).mean(axis=(1, 2))
    radius = 0.05 + 0.4 * data.y_train / 116
    assert np.corrcoef(disc_area, radius**2)[0, 1] > 0.95
