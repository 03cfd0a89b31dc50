"""Datasets: the IDX format, MNIST-format digits, UTKFace's faces, and image folders by class."""

from nanocnn.datasets.folder import (
    ImageFolder,
    load_image_folder,
    stratified_split,
    train_test_items,
    warn_skipped,
)
from nanocnn.datasets.folder_scan import FolderIndex, scan_image_folder
from nanocnn.datasets.idx import read_idx, write_idx
from nanocnn.datasets.image_arrays import (
    LoadedImages,
    channel_stats,
    image_channels,
    load_images,
    read_image,
)
from nanocnn.datasets.mnist import MNIST, load_mnist
from nanocnn.datasets.shapes import make_synthetic_folder
from nanocnn.datasets.utkface import UTKFace, load_utkface, make_synthetic_utkface

__all__ = [
    "MNIST",
    "FolderIndex",
    "ImageFolder",
    "LoadedImages",
    "UTKFace",
    "channel_stats",
    "image_channels",
    "load_image_folder",
    "load_images",
    "load_mnist",
    "load_utkface",
    "make_synthetic_folder",
    "make_synthetic_utkface",
    "read_idx",
    "read_image",
    "scan_image_folder",
    "stratified_split",
    "train_test_items",
    "warn_skipped",
    "write_idx",
]
