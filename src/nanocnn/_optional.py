"""Lazy imports of the optional libraries around the NumPy core, with a helpful error."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise ImportError saying which extra of nanocnn installs it.

    >>> plt = require("matplotlib.pyplot", extra="cli")  # doctest: +SKIP
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = module.split(".")[0]
        raise ImportError(
            f"{package} is needed for this feature; install it with: pip install 'nanocnn[{extra}]'"
        ) from error
