"""Which layout an image folder has: the split folders by any of their usual names, and a
split the scan cannot recognise, warned about.

``DIR/train/<class>``, ``DIR/val/<class>`` and ``DIR/test/<class>`` may be spelled in any case
and as people spell them (:data:`SPLIT_NAMES`): Kaggle's ``Training/`` and ``Testing/``,
Keras's ``validation/``, Roboflow's ``valid/``. A flat layout whose class folders all hold the
same subfolders and no image of their own is likely a split by other names (``part1/<class>``)
or one nested in the classes (``<class>/train``): read as it is, it would give classes named
after the splits, so it is warned about.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from nanocnn.errors import DataError

# the names of the split folders (in any case) by split
SPLIT_NAMES = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation"),
    "test": ("test", "testing"),
}
SPLIT_OF = {name: split for split, names in SPLIT_NAMES.items() for name in names}
KINDS = {"train": "training", "val": "validation", "test": "test"}  # how messages name a split


def split_folders(root: Path, folders: list[Path]) -> dict[str, Path]:
    """The split folders among ``root``'s ``folders``, by split; DataError for a split two
    folders claim (train/ and Training/)."""
    splits: dict[str, Path] = {}
    for folder in folders:
        split = SPLIT_OF.get(folder.name.casefold())
        if split in splits:
            raise DataError(
                f"{root}: {splits[split].name} and {folder.name} are both the "
                f"{KINDS[split]} folder; keep one of them"
            )
        if split is not None:
            splits[split] = folder
    return splits


def warn_if_split_below(root: Path, classes: dict[str, list[Path]]) -> None:
    """Warn when every class folder holds the same two or more subfolders and no image of its
    own: ``DIR/part1/<class>``, ``DIR/part2/<class>`` (a split named as the scan does not
    know) or ``DIR/<class>/train`` (one nested in the classes) read as classes otherwise."""
    if len(classes) < 2:
        return
    subfolders = set()
    for name, images in classes.items():
        below = [path.relative_to(root / name).parts for path in images]
        if any(len(parts) == 1 for parts in below):  # an image of its own
            return
        subfolders.add(frozenset(parts[0] for parts in below))
    common, *others = subfolders
    if others or len(common) < 2:
        return
    warnings.warn(
        f"{root}: every class folder ({', '.join(sorted(classes))}) holds the same subfolders "
        f"({', '.join(sorted(common))}) and no image of its own; if they are a split, name "
        f"its folders train/, val/ and test/ (or Training/, Validation/, Testing/...), each "
        f"holding the class folders: {root}/train/<class>/<image>",
        UserWarning,
        stacklevel=3,
    )
