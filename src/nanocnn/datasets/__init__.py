"""Datasets: the IDX file format, the MNIST digits and UTKFace's faces labelled with age."""

from nanocnn.datasets.idx import read_idx, write_idx
from nanocnn.datasets.mnist import MNIST, load_mnist
from nanocnn.datasets.utkface import UTKFace, load_utkface, make_synthetic_utkface

__all__ = [
    "MNIST",
    "UTKFace",
    "load_mnist",
    "load_utkface",
    "make_synthetic_utkface",
    "read_idx",
    "write_idx",
]
