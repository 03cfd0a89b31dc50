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


class InputShapeError(NanocnnError, ValueError):
    """An input whose shape does not fit a layer: its rank, its channels or its size.

    The layer raises it with what it expected (``detail``). On the way out, every model or
    block the layer sits in adds the layer's name within it (``path``: ``"3.body.0"``, the
    dotted name of its parameters) and a model its own input's shape, so the message names
    the layer once, with the shape the whole model was given and, when its metadata says,
    the shape it expects.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.path: list[str] = []
        self.model_input: tuple[int, ...] | None = None
        self.expected: list[int] | None = None

    def within(
        self,
        name: str,
        model_input: tuple[int, ...] | None = None,
        expected: list[int] | None = None,
    ) -> InputShapeError:
        """Note that the layer sits at ``name`` in a container (a model also gives its input
        shape and the input shape of its metadata); returns this error, to raise again."""
        self.path.insert(0, name)
        if model_input is not None:
            self.model_input, self.expected = model_input, expected
        return self

    def __str__(self) -> str:
        if not self.path:
            return self.detail
        wanted = ""
        if self.expected is not None:
            wanted = f"; the model expects input (N, {', '.join(map(str, self.expected))})"
        where = f"input of shape {self.model_input} does not fit the model{wanted}"
        return f"{where}: layer {'.'.join(self.path)}: {self.detail}"


class NonFiniteLossError(NanocnnError, FloatingPointError):
    """The loss became NaN or infinite during training."""


# The errors a command reports in one line (bad options, files, data, a missing extra): what
# the user can mend. Anything else is a bug, reported with its type (and, with --debug, its
# traceback).
EXPECTED_ERRORS = (NanocnnError, OSError, ValueError, ImportError)
