"""The exceptions nanocnn raises on bad input. Each message names the file or layer at fault.

All derive from ``NanocnnError``; those about bad values also derive from ``ValueError`` so
that ``except ValueError`` keeps working.
"""

from __future__ import annotations


class NanocnnError(Exception):
    """Base class of nanocnn's own exceptions."""


class DataError(NanocnnError, ValueError):
    """A data file or image is missing, corrupt, truncated or of the wrong kind."""


class BlankImageError(DataError):
    """An image holds no digit to read: blank, or too little ink (a stray dot)."""


class ModelFileError(NanocnnError, ValueError):
    """A model file is corrupt, truncated, foreign, or does not match the model."""


class NonFiniteLossError(NanocnnError, FloatingPointError):
    """The loss became NaN or infinite during training."""
