"""Image folders by class: layouts, formats and modes, what is skipped, errors, the stratified
split, memory, and the pixels a loader and ``read_image`` give for the same file. (Links:
tests/test_folder_links.py.)"""

from __future__ import annotations

import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

from nanocnn.datasets import (
    channel_stats,
    image_channels,
    load_image_folder,
    load_images,
    make_synthetic_folder,
    read_image,
    scan_image_folder,
    stratified_split,
    train_test_items,
)
from nanocnn.errors import DataError

Image = pytest.importorskip("PIL.Image", reason="image folders need Pillow: pip install pillow")


def write_image(path: Path, mode: str = "RGB", size: tuple[int, int] = (12, 10)) -> Path:
    """Write a small image in ``mode`` (W × H = ``size``) at ``path``, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(len(path.name)).integers(0, 256, (size[1], size[0], 3))
    image = Image.fromarray(pixels.astype(np.uint8))
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257)
    elif mode != "RGB":
        image = image.convert(mode)
    image.save(path)
    return path


def load_quietly(root: Path, **options: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_image_folder(root, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_folder(tmp_path_factory.mktemp("data") / "shapes", per_class=20)


# --- layouts ------------------------------------------------------------------------------------


def test_flat_layout_loads_uint8_with_labels_and_warns_once(shapes: Path) -> None:
    with pytest.warns(UserWarning) as record:
        data = load_image_folder(shapes, 16, progress="off")
    assert len(record) == 1
    message = str(record[0].message)
    for name in ("skipped 5 entries", ".DS_Store", "notes.txt", "broken_0.png", "3 unreadable"):
        assert name in message
    assert data.classes == ("circle", "square", "triangle")
    assert data.channels == 3
    assert data.skipped == 5
    assert data.x_train.dtype == data.x_test.dtype == np.uint8
    assert data.y_train.dtype == np.int64
    assert data.x_train.shape == (54, 3, 16, 16)  # 60 images, 2 held out of each class
    assert data.x_test.shape == (6, 3, 16, 16)
    assert data.x_val is None and data.y_val is None
    np.testing.assert_array_equal(np.bincount(data.y_test), [2, 2, 2])
    for path, label in zip(data.test_files, data.y_test, strict=True):
        assert path.parent.name == data.classes[label]


def test_split_layout_takes_test_from_its_folder(tmp_path: Path) -> None:
    root = make_synthetic_folder(tmp_path / "s", per_class=10, layout="split", broken=0)
    data = load_quietly(root, size=8, progress="off")
    assert data.x_train.shape[0] == 24 and data.x_test.shape[0] == 6
    assert all(path.parts[-3] == "test" for path in data.test_files)
    _, test = train_test_items(scan_image_folder(root), test_fraction=0.5, seed=3)
    assert [path for path, _ in test] == list(data.test_files)  # the fraction is not used


def test_train_val_test_layout(tmp_path: Path) -> None:
    for part, n in (("train", 3), ("val", 2), ("test", 1)):
        for name in ("cat", "dog"):
            for i in range(n):
                write_image(tmp_path / part / name / f"{i}.png")
    data = load_image_folder(tmp_path, 8, progress="off")
    assert data.x_val is not None and data.y_val is not None
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (6, 4, 2)
    np.testing.assert_array_equal(data.y_val, [0, 0, 1, 1])


@pytest.mark.parametrize(
    "names",
    [("Training", "Testing"), ("Train", "Test"), ("training", "validation", "testing"),
     ("TRAIN", "Valid", "TEST"), ("train", "Val", "test"), ("Training", "Validation")],
)  # fmt: skip
def test_the_split_folders_usual_spellings(tmp_path: Path, names: tuple[str, ...]) -> None:
    """Kaggle's Training/ and Testing/, Keras's validation/...: in any case, never classes."""
    for count, name in enumerate(names, start=2):
        two_classes(tmp_path / name, n=count)
    index = scan_image_folder(tmp_path)
    assert index.classes == ("a", "b")
    sizes = {"train": len(index.train), "val": len(index.val), "test": len(index.test)}
    assert [sizes[split] for split in ("train", "val", "test") if sizes[split]] == [
        4, 6, 8][: len(names)]  # fmt: skip
    assert all(path.parts[-3] == names[0] for path, _ in index.train)


def test_two_folders_for_one_split_are_refused(tmp_path: Path) -> None:
    two_classes(tmp_path / "train")
    two_classes(tmp_path / "Training")
    with pytest.raises(DataError, match="Training and train are both the training"):
        scan_image_folder(tmp_path)


@pytest.mark.parametrize(
    ("folders", "warned"),
    [
        (("part1/a", "part1/b", "part2/a", "part2/b"), True),  # a split by unknown names
        (("a/train", "a/test", "b/train", "b/test"), True),  # a split nested in the classes
        (("a/images", "b/images"), False),  # one subfolder each: a usual layout
        (("a/2023", "a/2024", "b/2024"), False),  # different subfolders
    ],
)
def test_a_split_it_cannot_recognise_is_warned_about(
    tmp_path: Path, folders: tuple[str, ...], warned: bool
) -> None:
    for folder in folders:
        write_image(tmp_path / folder / "0.png")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        scan_image_folder(tmp_path)
    messages = [str(warning.message) for warning in record]
    if warned:
        (message,) = messages
        assert "every class folder" in message and "train/, val/ and test/" in message
    else:
        assert messages == []


def test_classes_are_sorted_folder_names(tmp_path: Path) -> None:
    for name in ("b_dogs", "a_cats", "9", "10"):
        for i in range(2):
            write_image(tmp_path / name / f"{i}.png")
    index = scan_image_folder(tmp_path)
    assert index.classes == ("10", "9", "a_cats", "b_dogs")
    for path, label in index.train:
        assert path.parent.name == index.classes[label]


def test_class_folders_are_scanned_recursively(tmp_path: Path) -> None:
    write_image(tmp_path / "a" / "x.png")
    write_image(tmp_path / "a" / "2024" / "june" / "y.jpg")
    write_image(tmp_path / "b" / "z.bmp")
    files = [path.name for path, _ in scan_image_folder(tmp_path).train]
    assert files == ["x.png", "y.jpg", "z.bmp"]


# --- formats, modes, sizes and channels ---------------------------------------------------------


MODES = ["RGB", "L", "P", "RGBA", "LA", "I;16", "1"]
SAVABLE = {"jpg": ["RGB", "L", "1"], "bmp": ["RGB", "L", "P", "RGBA", "1"]}  # what Pillow writes


@pytest.mark.parametrize(
    ("suffix", "mode"),
    [
        (suffix, mode)
        for suffix in ("png", "jpg", "bmp", "gif", "webp", "tiff")
        for mode in SAVABLE.get(suffix, MODES)
    ],
)
def test_every_format_and_mode_reads_to_a_square(tmp_path: Path, suffix: str, mode: str) -> None:
    path = write_image(tmp_path / f"image.{suffix}", mode, size=(30, 17))
    for channels in (1, 3):
        assert read_image(path, 12, channels).shape == (channels, 12, 12)


def test_sixteen_bit_gray_is_scaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((6, 6), 65535, np.uint16)).save(path)
    np.testing.assert_array_equal(read_image(path, 6, 1), np.full((1, 6, 6), 255))


def test_centre_crop_keeps_the_middle_square(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, 10:30] = (0, 0, 255)  # a blue centred square between red margins
    pixels[:, :10] = pixels[:, 30:] = (255, 0, 0)
    for array in (pixels, pixels.transpose(1, 0, 2)):  # wide, then tall
        Image.fromarray(array).save(tmp_path / "wide.png")
        np.testing.assert_array_equal(read_image(tmp_path / "wide.png", 20, 3)[2], 255)
        assert read_image(tmp_path / "wide.png", 5, 3)[0].max() == 0  # no red after resizing


def test_channels_decided_from_headers(tmp_path: Path) -> None:
    gray = [write_image(tmp_path / f"g{mode}.png", mode) for mode in ("L", "LA", "I;16", "1")]
    assert image_channels(gray) == 1
    assert image_channels([*gray, write_image(tmp_path / "p.png", "P")]) == 3
    assert image_channels([*gray, tmp_path / "missing.png"]) == 1  # unreadable: ignored


def test_channels_decided_by_data_or_forced(tmp_path: Path) -> None:
    for name in ("a", "b"):
        for i, mode in enumerate(("L", "I;16", "LA")):
            write_image(tmp_path / name / f"{i}.png", mode)
    assert load_quietly(tmp_path, size=8, progress="off").x_train.shape[1] == 1
    forced = load_quietly(tmp_path, size=8, channels=3, progress="off")
    assert forced.channels == 3
    np.testing.assert_array_equal(forced.x_train[:, 0], forced.x_train[:, 2])  # gray as RGB
    write_image(tmp_path / "b" / "colour.png", "RGB")
    assert load_quietly(tmp_path, size=8, progress="off").channels == 3
    assert load_quietly(tmp_path, size=8, channels=1, progress="off").channels == 1


def test_read_image_equals_the_loaders_row(shapes: Path) -> None:
    data = load_quietly(shapes, size=16, progress="off")
    for row, path in enumerate(data.test_files):
        np.testing.assert_array_equal(read_image(path, 16, data.channels), data.x_test[row])


def test_load_images_lists_the_unreadable_and_keeps_order(tmp_path: Path) -> None:
    good = [write_image(tmp_path / f"{i}.png") for i in range(3)]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n")
    loaded = load_images([good[0], bad, good[1], good[2]], 8, 3, progress="off")
    assert loaded.x.shape == (3, 3, 8, 8)
    np.testing.assert_array_equal(loaded.kept, [0, 2, 3])
    assert loaded.unreadable == (bad,)
    np.testing.assert_array_equal(loaded.x[1], read_image(good[1], 8, 3))


def test_progress_bar_on_request_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm", reason="the progress bar needs tqdm: pip install tqdm")
    files = [write_image(tmp_path / f"{i}.png") for i in range(3)]
    load_images(files, 8, 3, progress="off")
    load_images(files, 8, 3, progress="auto")  # stderr is captured, not a terminal
    assert capsys.readouterr().err == ""
    load_images(files, 8, 3, progress="bar")
    assert "3/3" in capsys.readouterr().err
    with pytest.raises(ValueError, match="progress must be"):
        load_images(files, 8, 3, progress="loud")  # type: ignore[arg-type]


# --- what is skipped, and what is refused -------------------------------------------------------


def two_classes(root: Path, n: int = 2) -> Path:
    for name in ("a", "b"):
        for i in range(n):
            write_image(root / name / f"{i}.png")
    return root


def test_skipped_entries_by_reason(tmp_path: Path) -> None:
    root = two_classes(tmp_path / "data")
    (root / "a" / ".hidden.png").write_bytes(b"")
    (root / "a" / "labels.csv").write_text("x\n")
    (root / ".git").mkdir()
    (root / "empty").mkdir()
    (root / "README.md").write_text("my data\n")
    index = scan_image_folder(root)
    assert index.classes == ("a", "b")
    assert {reason: len(paths) for reason, paths in index.skipped.items()} == {
        "hidden": 2,
        "not an image (by its suffix)": 1,
        "an empty class folder": 1,
        "not in a class folder": 1,
    }
    assert index.skipped_count == 5


def test_split_layout_skips_other_top_level_folders(tmp_path: Path) -> None:
    two_classes(tmp_path / "train")
    two_classes(tmp_path / "extra")
    index = scan_image_folder(tmp_path)
    assert index.skipped["not in train/, val/ or test/"] == (tmp_path / "extra",)
    assert len(index.train) == 4 and index.test == ()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda root: root.mkdir(), "no images found"),
        (lambda root: write_image(root / "only" / "0.png"), "at least two"),
        (lambda root: (root / "a").mkdir(parents=True), "no images found"),
        (lambda root: two_classes(root / "test"), "no training images"),
    ],
    ids=["empty", "one-class", "empty-class-only", "test-only"],
)
def test_refuses_folders_a_classifier_cannot_use(tmp_path: Path, build, message: str) -> None:
    root = tmp_path / "data"
    build(root)
    with pytest.raises(DataError, match=message) as info:
        load_quietly(root, size=8, progress="off")
    assert str(root) in str(info.value)


def test_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        scan_image_folder(tmp_path / "nowhere")


def test_refuses_a_class_with_no_readable_image(tmp_path: Path) -> None:
    root = two_classes(tmp_path)
    for i in range(2):
        (root / "c" / f"{i}.png").parent.mkdir(exist_ok=True)
        (root / "c" / f"{i}.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"class 'c' could be read \(e.g. c/[01].png\)"):
        load_quietly(root, size=8, progress="off")


@pytest.mark.parametrize("split", ["test", "val"])
def test_refuses_other_classes_in_test_or_val(tmp_path: Path, split: str) -> None:
    two_classes(tmp_path / "train")
    write_image(tmp_path / split / "a" / "0.png")
    write_image(tmp_path / split / "z" / "0.png")
    with pytest.raises(DataError, match=f"{split}: .* no images for b; classes not in train: z"):
        scan_image_folder(tmp_path)


@pytest.mark.parametrize("split", ["test", "val"])
def test_refuses_an_empty_test_or_val_folder(tmp_path: Path, split: str) -> None:
    two_classes(tmp_path / "train")
    (tmp_path / split / "a").mkdir(parents=True)
    with pytest.raises(DataError, match=f"{split}: no images in its class folders"):
        scan_image_folder(tmp_path)


def test_refuses_more_entries_than_max_files(tmp_path: Path) -> None:
    two_classes(tmp_path, n=5)
    assert len(scan_image_folder(tmp_path, max_files=12).train) == 10
    with pytest.raises(DataError, match="more than 11 files"):
        scan_image_folder(tmp_path, max_files=11)


# --- the stratified split -----------------------------------------------------------------------


def test_stratified_split_holds_out_each_class_in_proportion() -> None:
    sizes = [50, 20, 3, 1, 2]
    labels = np.random.default_rng(0).permutation(np.repeat(np.arange(5), sizes))
    kept, held = stratified_split(labels, 0.2, seed=0)
    np.testing.assert_array_equal(np.bincount(labels[held], minlength=5), [10, 4, 1, 0, 1])
    assert np.all(np.diff(kept) > 0) and np.all(np.diff(held) > 0)
    np.testing.assert_array_equal(np.sort(np.concatenate([kept, held])), np.arange(len(labels)))
    again = stratified_split(labels, 0.2, seed=0)
    np.testing.assert_array_equal(again[1], held)
    assert not np.array_equal(stratified_split(labels, 0.2, seed=1)[1], held)


def test_stratified_split_edges() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    assert len(stratified_split(labels, 0.0, seed=0)[1]) == 0
    kept, _ = stratified_split(labels, 0.9, seed=0)  # never a whole class
    np.testing.assert_array_equal(np.bincount(labels[kept]), [1, 1])
    for fraction in (-0.1, 1.0):
        with pytest.raises(ValueError, match="test fraction"):
            stratified_split(labels, fraction, seed=0)


def test_evaluate_recomputes_the_same_test_images(shapes: Path) -> None:
    data = load_quietly(shapes, size=8, test_fraction=0.25, seed=7, progress="off")
    train, test = train_test_items(scan_image_folder(shapes), test_fraction=0.25, seed=7)
    readable_test = [path for path, _ in test if not path.name.startswith("broken")]
    assert readable_test == list(data.test_files)
    assert not {path for path, _ in train} & {path for path, _ in test}


def test_limit_keeps_a_seeded_subset(shapes: Path) -> None:
    small = load_quietly(shapes, size=8, limit=10, progress="off")
    assert len(small.y_train) <= 10 and len(small.y_test) <= 6
    again = load_quietly(shapes, size=8, limit=10, progress="off")
    np.testing.assert_array_equal(small.x_train, again.x_train)


# --- memory and statistics ----------------------------------------------------------------------


def test_loading_allocates_one_uint8_array(shapes: Path) -> None:
    load_quietly(shapes, size=32, progress="off")  # imports and caches first
    tracemalloc.start()
    try:
        data = load_quietly(shapes, size=32, progress="off")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    images = 63 * 3 * 32 * 32  # every candidate file gets a row, readable or not
    assert data.x_train.base is data.x_test.base  # views of one array
    assert peak < images + 200_000  # a float32 copy alone would be 4 × images


def test_channel_stats_matches_numpy_on_the_float_data() -> None:
    x = np.random.default_rng(0).integers(0, 256, (50, 3, 8, 8), dtype=np.uint8)
    mean, std = channel_stats(x, chunk=7)
    floats = x.astype(np.float64) / 255
    np.testing.assert_allclose(mean, floats.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std, floats.std(axis=(0, 2, 3)), rtol=1e-5)
    assert mean.dtype == std.dtype == np.float32
    with pytest.raises(ValueError, match="non-empty batch"):
        channel_stats(x[:0])


def test_synthetic_folder_checks_its_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="classes must be two or more"):
        make_synthetic_folder(tmp_path, classes=("circle", "blob"))
    with pytest.raises(ValueError, match="formats must be"):
        make_synthetic_folder(tmp_path, formats=("jxl",))


def test_test_set_alone_for_evaluate(shapes: Path) -> None:
    whole = load_quietly(shapes, size=8, test_fraction=0.2, seed=2, progress="off")
    test = load_quietly(shapes, size=8, channels=3, test_fraction=0.2, seed=2, parts=("test",))
    assert test.x_train.shape == (0, 3, 8, 8) and test.y_train.shape == (0,)
    assert test.x_val is None
    np.testing.assert_array_equal(test.x_test, whole.x_test)
    np.testing.assert_array_equal(test.y_test, whole.y_test)
    assert test.test_files == whole.test_files and test.classes == whole.classes
    with pytest.raises(ValueError, match="parts must be some of"):
        load_image_folder(shapes, parts=("validation",))
