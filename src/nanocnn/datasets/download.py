"""Download a data file from the first of several mirrors that serves it intact.

A file is kept only if its decompressed content has the expected SHA-256, and it is written
atomically, so an interrupted or bad download never leaves a file that looks complete. When no
mirror can even be reached (offline, a firewall), the error is one line that says so.
"""

from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nanocnn.datasets.idx import GZIP_MAGIC, decode_idx_bytes, parse_idx
from nanocnn.errors import DataError
from nanocnn.io.atomic import write_atomically

DOWNLOAD_TIMEOUT_S = 30.0  # per network operation
MAX_DOWNLOAD_BYTES = 64 << 20  # the largest MNIST file, train images, is about 10 MB gzipped


def download_idx(
    name: str, directory: Path, mirrors: Sequence[str], sha256: str | None, offline_hint: str
) -> tuple[np.ndarray, str]:
    """Download the IDX file ``name`` (as ``mirror/name.gz``), save it in ``directory``.

    Returns its array and the URL it came from. Raises ``DataError``: one line ending with
    ``offline_hint`` when no mirror could be reached, else a list of what each mirror did.
    """
    failures: list[str] = []
    unreachable: list[str] = []
    for mirror in mirrors:
        url = (mirror if mirror.endswith("/") else f"{mirror}/") + f"{name}.gz"
        try:
            blob = _fetch(url)
            content = decode_idx_bytes(blob, name=url)
        except (OSError, http.client.HTTPException, ValueError) as error:  # DataError included
            failures.append(f"{url}: {error}")
            if _is_unreachable(error):
                unreachable.append(f"{urllib.parse.urlsplit(url).netloc} ({_reason(error)})")
            continue
        digest = hashlib.sha256(content).hexdigest()
        if sha256 is not None and digest != sha256:
            failures.append(f"{url}: SHA-256 of the content is {digest}, expected {sha256}")
            continue
        suffix = ".gz" if blob.startswith(GZIP_MAGIC) else ""
        _save(directory / f"{name}{suffix}", blob)
        return parse_idx(content, name=url), url
    if failures and len(unreachable) == len(failures):
        raise DataError(
            f"cannot download {name}: no connection to {', '.join(dict.fromkeys(unreachable))}. "
            f"{offline_hint}"
        )
    tried = "".join(f"\n  {failure}" for failure in failures) or " no mirrors given"
    raise DataError(f"could not download {name} into {directory}; tried:{tried}\n{offline_hint}")


def _is_unreachable(error: BaseException) -> bool:
    """Whether ``error`` means the server could not be reached at all (not a bad answer)."""
    if isinstance(error, urllib.error.HTTPError):
        return False
    return isinstance(error, (urllib.error.URLError, ConnectionError, TimeoutError))


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", error)
    return getattr(reason, "strerror", None) or str(reason)


def _fetch(url: str) -> bytes:
    """Return the body at ``url``, refusing one larger than ``MAX_DOWNLOAD_BYTES``."""
    body = bytearray()
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
        while chunk := response.read(1 << 20):
            body += chunk
            if len(body) > MAX_DOWNLOAD_BYTES:
                raise DataError(f"{url}: larger than {MAX_DOWNLOAD_BYTES} bytes")
    return bytes(body)


def _save(path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` atomically (flushed to disk before it replaces the file)."""
    write_atomically(path, lambda file: file.write(blob))
