"""The version of nanocnn: written here once, read by the package and by its build."""

__version__ = "0.1.0"
