"""Datasets: the IDX file format and the MNIST digits."""

from nanocnn.datasets.idx import read_idx, write_idx
from nanocnn.datasets.mnist import MNIST, load_mnist

__all__ = ["MNIST", "load_mnist", "read_idx", "write_idx"]
