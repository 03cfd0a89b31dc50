"""Image folders made of symbolic links: followed wherever they point, as torchvision's
``ImageFolder`` and Keras follow them (a folder linked to save copying, the caches of DVC and
git-annex); loops refused; a link whose target is gone skipped, and said so even when nothing
else is left to say."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pytest

from nanocnn.datasets import load_image_folder, scan_image_folder
from nanocnn.errors import DataError
from tests.test_folder import two_classes, write_image

pytestmark = pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges")


def link(target: Path, name: Path) -> Path:
    """A relative link ``name`` -> ``target``, as DVC and git-annex write them."""
    name.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(target, name.parent), name)
    return name


def test_links_to_files_and_folders_anywhere_are_followed(tmp_path: Path) -> None:
    """DVC's cache names files by hash, without suffix; git-annex's keeps the suffix; a class
    folder may be a link to photos kept elsewhere; a file link may lack the suffix its target
    has. Every one is read, by content, under its link's name."""
    project = tmp_path / "project"
    root = project / "data"
    cache = project / ".dvc" / "cache" / "files" / "md5" / "ab"
    dvc = [write_image(cache / f"{i}.png").rename(cache / f"cdef{i}") for i in range(2)]
    key = "SHA256E-s1234--0123abcd.jpg"
    annex = write_image(project / ".git" / "annex" / "objects" / "Xq" / "9k" / key / key)
    photos = tmp_path / "photos" / "rabbits"
    write_image(photos / "r0.webp")
    write_image(photos / "2024" / "r1.png")
    for i, target in enumerate(dvc):
        link(target, root / "cat" / f"{i}.png")
    link(annex, root / "dog" / "0.jpg")
    link(write_image(tmp_path / "elsewhere" / "d1.bmp"), root / "dog" / "d1")
    link(photos, root / "rabbit")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing skipped, nothing to warn about
        data = load_image_folder(root, size=8, test_fraction=0.0, progress="off")
    index = scan_image_folder(root)
    assert index.classes == data.classes == ("cat", "dog", "rabbit")
    assert [path.relative_to(root).as_posix() for path, _ in index.train] == [
        "cat/0.png", "cat/1.png", "dog/0.jpg", "dog/d1", "rabbit/r0.webp", "rabbit/2024/r1.png",
    ]  # fmt: skip
    assert data.x_train.shape == (6, 3, 8, 8) and data.skipped == 0


def test_link_loops_end(tmp_path: Path) -> None:
    root = two_classes(tmp_path / "data")
    os.symlink(root / "a", root / "a" / "again")  # a folder inside itself
    os.symlink(root, root / "b" / "up")  # the root inside a class
    os.symlink(tmp_path, root / "b" / "above")  # a folder holding the root
    os.symlink("/", root / "b" / "everything")
    os.symlink(tmp_path, root / "c")  # a class folder holding the root
    os.symlink(root / "b" / "self", root / "b" / "self")  # a link to itself
    index = scan_image_folder(root)
    assert index.classes == ("a", "b") and len(index.train) == 4
    assert len(index.skipped["a link loop"]) == 6


def test_broken_links_are_skipped_and_named_when_nothing_is_left(tmp_path: Path) -> None:
    """git-annex before ``git annex get``, DVC before ``dvc checkout``: every link dangles.
    The error says so, rather than only "no images found"."""
    root, objects = tmp_path / "data", tmp_path / ".git" / "annex" / "objects"
    for name in ("cat", "dog"):
        for i in range(3):
            link(objects / f"{name}{i}", root / name / f"{i}.png")
    with pytest.raises(DataError, match="no images found") as error:
        scan_image_folder(root)
    assert str(error.value).endswith(
        "skipped 8 entries: 6 a broken link (its target is missing) (cat/0.png, cat/1.png, "
        "cat/2.png, ...); 2 an empty class folder (cat, dog)"
    )
    for name in ("cat", "dog"):  # one of each fetched
        write_image(objects / f"{name}0.png").rename(objects / f"{name}0")
    broken = re.escape("skipped 4 entries: 4 a broken link (its target is missing) (cat/1.png")
    with pytest.warns(UserWarning, match=broken):
        data = load_image_folder(root, size=8, progress="off")
    assert data.classes == ("cat", "dog") and len(data.y_train) + len(data.y_test) == 2
