"""The JSON header every nanocnn file carries, parsed safely."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nanocnn.errors import ModelFileError


def parse_header(path: Path, text: str | bytes) -> dict[str, Any]:
    """The JSON object ``text`` (bytes: UTF-8), or a ModelFileError naming the file."""
    try:
        header = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ModelFileError(f"{path}: the header is not valid JSON ({error})") from error
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: the header is not a JSON object")
    return header
