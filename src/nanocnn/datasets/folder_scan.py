"""Find the images of a class-per-folder data set without decoding any, and without leaving it.

Two layouts, as torchvision's ``ImageFolder`` and Keras's ``image_dataset_from_directory``::

    DIR/<class>/<image>                  one pool; the test set is split off later
    DIR/train/<class>/<image>            or a split made by hand: train/, test/ and, optionally,
    DIR/test/<class>/<image>             val/ (a top-level folder named train, val or test means
    DIR/val/<class>/<image>              this layout)

Class ``k`` is the ``k``-th class-folder name in sorted order. Each class folder is scanned
recursively, ``MAX_DEPTH`` levels deep, in sorted order. Skipped, and counted by reason: hidden
entries (a name starting with "."), files whose suffix is not an image's, class folders with no
images, links that lead outside ``DIR``, link loops, folders nested too deep and files outside
class folders. At most ``max_files`` entries are looked at, so no folder can keep a scan going.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nanocnn.errors import DataError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
SPLITS = ("train", "val", "test")  # top-level folder names that mean the split layout
MAX_DEPTH = 4  # levels of subfolders scanned inside a class folder
MAX_FILES = 2_000_000  # entries a scan looks at before it refuses the folder

Item = tuple[Path, int]  # an image file and its class index


@dataclass(frozen=True)
class FolderIndex:
    """What a scan of an image folder finds, before a pixel is decoded."""

    root: Path  # the folder scanned
    classes: tuple[str, ...]  # class names, sorted; class k is classes[k]
    train: tuple[Item, ...]  # (file, class index), sorted by class then path
    val: tuple[Item, ...]  # empty without a val/ folder
    test: tuple[Item, ...]  # empty without a test/ folder (then split off train)
    skipped: Mapping[str, tuple[Path, ...]]  # reason -> entries skipped for it

    @property
    def skipped_count(self) -> int:
        """How many entries were skipped, for every reason together."""
        return sum(len(paths) for paths in self.skipped.values())


def scan_image_folder(root: str | os.PathLike[str], *, max_files: int = MAX_FILES) -> FolderIndex:
    """Scan ``root`` in either layout (see the module) and return what it holds, unread.

    Raises ``DataError`` naming the folder when it is missing, holds no image, has fewer than
    two classes, has a val/ or test/ folder without images or with classes other than
    train/'s, or has more than ``max_files`` entries.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder (expected {root}/<class>/<image>)")
    scanner = _Scanner(root, max_files)
    folders, files = scanner.entries(root)
    if any(folder.name in SPLITS for folder in folders):
        parts = {name: scanner.classes(root / name) for name in SPLITS if root / name in folders}
        scanner.skip("not in train/, val/ or test/", [p for p in folders if p.name not in SPLITS])
    else:
        parts = {"train": scanner.classes(root, folders)}
    scanner.skip("not in a class folder", files)
    first = parts.get("train") or parts.get("test") or {}
    if not any(parts.values()):
        raise DataError(
            f"{root}: no images found; expected {root}/<class>/<image> or "
            f"{root}/train/<class>/<image>, with image files ending in "
            f"{', '.join(sorted(IMAGE_SUFFIXES))}"
        )
    classes = tuple(sorted(first))
    if len(classes) < 2:
        raise DataError(
            f"{root}: found {len(classes)} class folder with images ({', '.join(classes)}); "
            "a classifier needs at least two, one folder of images per class"
        )
    for name, found in parts.items():
        if not found and name != "train":  # an empty train/ is for ``load_image_folder`` to judge
            raise DataError(f"{root / name}: no images in its class folders")
        if found and tuple(sorted(found)) != classes:
            _refuse_other_classes(root / name, classes, sorted(found))
    label = {name: k for k, name in enumerate(classes)}
    items = {
        part: tuple((path, label[name]) for name in classes for path in found.get(name, ()))
        for part, found in parts.items()
    }
    return FolderIndex(
        root=root,
        classes=classes,
        train=items.get("train", ()),
        val=items.get("val", ()),
        test=items.get("test", ()),
        skipped={reason: tuple(paths) for reason, paths in scanner.skipped.items()},
    )


def _refuse_other_classes(folder: Path, classes: tuple[str, ...], found: list[str]) -> None:
    missing = sorted(set(classes) - set(found))
    extra = sorted(set(found) - set(classes))
    details = [f"no images for {', '.join(missing)}"] if missing else []
    details += [f"classes not in train: {', '.join(extra)}"] if extra else []
    raise DataError(
        f"{folder}: its class folders must be the same as train's "
        f"({', '.join(classes)}); {'; '.join(details)}"
    )


class _Scanner:
    """Walks a data folder: lists entries, skips (and records) what is not a usable image."""

    def __init__(self, root: Path, max_files: int) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self.max_files = max_files
        self.looked_at = 0
        self.skipped: dict[str, list[Path]] = defaultdict(list)

    def skip(self, reason: str, paths: list[Path]) -> None:
        if paths:
            self.skipped[reason] += paths

    def entries(self, folder: Path) -> tuple[list[Path], list[Path]]:
        """Return the sub-folders and the files of ``folder``, each sorted by name.

        Hidden entries, links leading outside the root and anything neither a folder nor a
        file (a broken link, a device) are skipped.
        """
        try:
            with os.scandir(folder) as listing:
                found = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            raise DataError(f"{folder}: cannot list the folder ({error.strerror})") from error
        self.looked_at += len(found)
        if self.looked_at > self.max_files:
            raise DataError(
                f"{self.root}: more than {self.max_files:,} files and folders; "
                "pass max_files to scan a folder this large"
            )
        folders, files = [], []
        for entry in found:
            path = Path(entry.path)
            if entry.name.startswith("."):
                self.skipped["hidden"].append(path)
            elif entry.is_symlink() and not self._inside(path):
                self.skipped["a link leading outside the folder"].append(path)
            elif _is_dir(entry):
                folders.append(path)
            elif _is_file(entry):
                files.append(path)
            else:
                self.skipped["not a file (a broken link, a device...)"].append(path)
        return folders, files

    def classes(self, folder: Path, folders: list[Path] | None = None) -> dict[str, list[Path]]:
        """Return the images of each non-empty class folder in ``folder``, by class name."""
        if folders is None:
            folders, files = self.entries(folder)
            self.skip("not in a class folder", files)
        found = {}
        for class_folder in folders:
            ancestors = frozenset({self.real_root, _real(folder), _real(class_folder)})
            images = self.images(class_folder, ancestors, depth=0)
            if images:
                found[class_folder.name] = images
            else:
                self.skipped["an empty class folder"].append(class_folder)
        return found

    def images(self, folder: Path, ancestors: frozenset[Path], depth: int) -> list[Path]:
        """Return the image files in ``folder`` and its sub-folders, sorted by name per level."""
        folders, files = self.entries(folder)
        found = []
        for path in files:
            if path.suffix.lower() in IMAGE_SUFFIXES:
                found.append(path)
            else:
                self.skipped["not an image (by its suffix)"].append(path)
        for sub in folders:
            real = _real(sub)
            if real in ancestors:
                self.skipped["a link loop"].append(sub)
            elif depth >= MAX_DEPTH:
                self.skipped[f"nested deeper than {MAX_DEPTH} folders"].append(sub)
            else:
                found += self.images(sub, ancestors | {real}, depth + 1)
        return found

    def _inside(self, path: Path) -> bool:
        return _real(path).is_relative_to(self.real_root)


def _real(path: Path) -> Path:
    """``path`` with every link resolved; never raises, even for a link loop."""
    return Path(os.path.realpath(path))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # e.g. a link to itself: too many levels of links
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False
