"""Find the images of a class-per-folder data set without decoding any.

Two layouts, as torchvision's ``ImageFolder`` and Keras's ``image_dataset_from_directory``::

    DIR/<class>/<image>                  one pool; the test set is split off later
    DIR/train/<class>/<image>            or a split made by hand: train/, test/ and, optionally,
    DIR/test/<class>/<image>             val/. A top-level folder named as a split, in any case
    DIR/val/<class>/<image>              and any of its usual spellings (``folder_layout``:
                                         Training/, Testing/, valid/...), means this layout.

Class ``k`` is the ``k``-th class-folder name in sorted order. Each class folder is scanned
recursively, ``MAX_DEPTH`` levels deep, in sorted order. Links are followed wherever they
point, as torchvision and Keras follow them (class folders linked to save copying, the caches
of DVC and git-annex), but a link to a folder that holds it (a loop). A file is an image by
its suffix, or, for a link, by its target's (DVC's cache names files by hash alone). Skipped,
and counted by reason: hidden entries (a name starting with "."), files that are not images,
class folders with no images, broken links, link loops, folders nested too deep and files
outside class folders. At most ``max_files`` entries are looked at, so no folder can keep a
scan going. A flat layout whose class folders all hold the same subfolders, and nothing
else, looks like a split the scan could not recognise: it warns.
"""

from __future__ import annotations

import errno
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from nanocnn.datasets.folder_layout import split_folders, warn_if_split_below
from nanocnn.errors import DataError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
MAX_DEPTH = 4  # levels of subfolders scanned inside a class folder
MAX_FILES = 2_000_000  # entries a scan looks at before it refuses the folder
SHOWN_NAMES = 3  # entries a message names for each reason they were skipped, before "..."

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
    two classes (both say what was skipped), has two folders for one split, a val/ or test/
    folder without images or with classes other than train/'s, or more than ``max_files``
    entries.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder (expected {root}/<class>/<image>)")
    scanner = _Scanner(root, max_files)
    folders, files = scanner.entries(root)
    splits = split_folders(root, folders)
    if splits:
        parts = {split: scanner.classes(folder) for split, folder in splits.items()}
        others = [path for path in folders if path not in splits.values()]
        scanner.skip("not in train/, val/ or test/", others)
    else:
        parts = {"train": scanner.classes(root, folders)}
        warn_if_split_below(root, parts["train"])
    scanner.skip("not in a class folder", files)
    first = parts.get("train") or parts.get("test") or {}
    skipped = describe_skipped(root, scanner.skipped)
    if not any(parts.values()):
        raise DataError(
            f"{root}: no images found; expected {root}/<class>/<image> or "
            f"{root}/train/<class>/<image>, with image files ending in "
            f"{', '.join(sorted(IMAGE_SUFFIXES))}{skipped and f'; {skipped}'}"
        )
    classes = tuple(sorted(first))
    if len(classes) < 2:
        raise DataError(
            f"{root}: found {len(classes)} class folder with images ({', '.join(classes)}); "
            f"a classifier needs at least two, one folder of images per class"
            f"{skipped and f'; {skipped}'}"
        )
    for name, found in parts.items():
        folder = splits.get(name, root)
        if not found and name != "train":  # an empty train/ is for ``load_image_folder`` to judge
            raise DataError(f"{folder}: no images in its class folders")
        if found and tuple(sorted(found)) != classes:
            _refuse_other_classes(folder, classes, sorted(found))
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


def describe_skipped(root: Path, skipped: Mapping[str, Sequence[Path]]) -> str:
    """The entries of ``root`` skipped, by reason, naming a few of each, in one line ("skipped
    2 entries: 1 hidden (cat/.DS_Store); 1 a link loop (cat/up)"); "" when none were."""
    total = sum(len(paths) for paths in skipped.values())
    if total == 0:
        return ""
    problems = []
    for reason, paths in skipped.items():
        if paths:
            names = [relative_name(path, root) for path in paths[:SHOWN_NAMES]]
            more = ", ..." if len(paths) > SHOWN_NAMES else ""
            problems.append(f"{len(paths)} {reason} ({', '.join(names)}{more})")
    return f"skipped {total} {'entry' if total == 1 else 'entries'}: {'; '.join(problems)}"


def relative_name(path: Path, root: Path) -> str:
    """``path`` as a message shows it: relative to the data folder ``root`` if inside it."""
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


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
        """Return the sub-folders and the files of ``folder``, each sorted by name, links
        followed. Hidden entries, broken links, links to themselves and anything neither a
        folder nor a file (a device) are skipped."""
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
            elif _is_dir(entry):
                folders.append(path)
            elif _is_file(entry):
                files.append(path)
            elif entry.is_symlink():
                self.skipped[_broken_link(path)].append(path)
            else:
                self.skipped["not a file (a device, a pipe...)"].append(path)
        return folders, files

    def classes(self, folder: Path, folders: list[Path] | None = None) -> dict[str, list[Path]]:
        """Return the images of each non-empty class folder in ``folder``, by class name."""
        if folders is None:
            folders, files = self.entries(folder)
            self.skip("not in a class folder", files)
        found = {}
        for class_folder in folders:
            walked = (self.real_root, _real(folder))
            real = _real(class_folder)
            if _loops(real, walked):
                self.skipped[LOOP].append(class_folder)
                continue
            images = self.images(class_folder, (*walked, real), depth=0)
            if images:
                found[class_folder.name] = images
            else:
                self.skipped["an empty class folder"].append(class_folder)
        return found

    def images(self, folder: Path, walked: tuple[Path, ...], depth: int) -> list[Path]:
        """Return the image files in ``folder`` and its sub-folders, sorted by name per level;
        ``walked`` are the real paths of the folders this one was reached through, itself
        included."""
        folders, files = self.entries(folder)
        found = []
        for path in files:
            if _is_image(path):
                found.append(path)
            else:
                self.skipped["not an image (by its suffix)"].append(path)
        for sub in folders:
            real = _real(sub)
            if _loops(real, walked):
                self.skipped[LOOP].append(sub)
            elif depth >= MAX_DEPTH:
                self.skipped[f"nested deeper than {MAX_DEPTH} folders"].append(sub)
            else:
                found += self.images(sub, (*walked, real), depth + 1)
        return found


LOOP = "a link loop"


def _loops(real: Path, walked: tuple[Path, ...]) -> bool:
    """Whether a folder whose real path is ``real`` holds (or is) one of the folders ``walked``
    through to reach it: a link back up, which would be read again and again."""
    return any(folder.is_relative_to(real) for folder in walked)


def _is_image(path: Path) -> bool:
    """An image by its suffix, or a link to one by its target's (as DVC's cache names its
    files by hash alone, the link's name may have the suffix and the target none)."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return True
    return path.is_symlink() and _real(path).suffix.lower() in IMAGE_SUFFIXES


def _broken_link(path: Path) -> str:
    """Why the link ``path`` leads to nothing: the reason it is skipped for."""
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:  # a link to itself, or round a circle of links
            return LOOP
    return "a broken link (its target is missing)"


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
