"""PyTorch's own files (``torch.save``): the state dict in one, read without unpickling.

    torch.save(torch_model.state_dict(), "model.pt")   # in PyTorch
    nanocnn.load_weights(model, "model.pt")            # here: .pt, .pth or .bin

Since PyTorch 1.6, ``torch.save`` writes a zip of one folder, each entry stored as it is:

    <name>/data.pkl      the object, pickled: each tensor a storage, an offset, a shape and
                         strides (in elements), see :mod:`.torch_pickle`
    <name>/data/<key>    each storage's elements, raw, in the byte order <name>/byteorder names
    <name>/version ...   small entries nanocnn does not need

``data.pkl`` is read by :mod:`.torch_pickle`, which never runs code from the file. Every
storage it names is checked against its zip entry, and every tensor against its storage,
before a byte of them is read: an entry stored compressed (a zip bomb), a storage that holds
fewer bytes than its elements need, a tensor reaching outside its storage, tensors that
together take more than twice the storages' bytes (views repeating elements) and more than
``max_bytes`` of storages are refused. Tensors come out as NumPy arrays of their dtype
(bfloat16 widened to float32, exactly); a view (transposed, strided, offset) is copied, a
tensor filling its storage is not; one tensor under two names (tied weights) is one array.

Refused, each with what to do instead: the format before 1.6 (a bare pickle), a whole pickled
model (``torch.save(model, path)``), a TorchScript archive (``torch.jit.save``), a dict of other
things than tensors (a training checkpoint), big-endian storages. nanocnn never writes these
files: ``nanocnn.save`` writes ``.safetensors``, which ``safetensors.torch.load_file`` reads.
A file of these suffixes that is nanocnn's own ``.npz`` (``nanocnn.save(model, "model.pt")``
wrote one before ``.pt`` meant PyTorch's format) is read as one.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from pathlib import Path
from typing import Any, cast

import numpy as np

from nanocnn.errors import ModelFileError
from nanocnn.io import npz, safetensors
from nanocnn.io.torch_pickle import StorageRef, TensorRef, read_pickle

SAVE_STATE_DICT = "save the weights with torch.save(model.state_dict(), path)"
# Tensors may be views of one storage (a weight and its transpose, slices of a fused one):
# together, each counted once, they may take this many times the storages' bytes, no more.
VIEW_MARGIN = 2
# zipfile raises these for fields it cannot honour, in a damaged file; zlib.error and OSError
# for damaged data (see npz.read_arrays)
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError)


def read(path: Path, max_bytes: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A nanocnn model file's (arrays, header): only a nanocnn ``.npz`` of this suffix is one.
    A PyTorch file holds weights alone: ModelFileError saying to use ``load_weights``."""
    if _holds_npz(path):
        return npz.read(path, max_bytes)
    read_weights(path, max_bytes)  # a damaged or foreign file says so first
    raise ModelFileError(
        f"{path}: a PyTorch file holds weights alone, not a nanocnn model; build the model "
        f"and load them into it with nanocnn.load_weights(model, {str(path)!r})"
    )


def read_weights(path: Path, max_bytes: int) -> dict[str, np.ndarray]:
    """The tensors of the state dict ``torch.save`` wrote to ``path``, by name, as arrays.

    ModelFileError naming the file for anything that is not such a file (see the module)."""
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    if _holds_npz(path):
        return npz.read(path, max_bytes)[0]
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ModelFileError(_not_a_zip(path)) from error
    except ZIP_ERRORS as error:
        raise ModelFileError(f"{path}: not a readable PyTorch file ({error})") from error
    with archive:
        try:
            return _read_state_dict(archive, path, max_bytes)
        except ModelFileError:
            raise
        except ZIP_ERRORS as error:
            raise ModelFileError(f"{path}: the file is damaged ({error})") from error


def _holds_npz(path: Path) -> bool:
    """Whether ``path`` is a zip of ``.npy`` entries alone: NumPy's ``.npz``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except ZIP_ERRORS:
        return False
    return bool(names) and all(name.endswith(".npy") for name in names)


def _not_a_zip(path: Path) -> str:
    with path.open("rb") as file:
        start = file.read(2)
    if start[:1] == b"\x80":  # a pickle's PROTO: torch.save's format before PyTorch 1.6
        return (
            f"{path}: a PyTorch file in the format before PyTorch 1.6 (a bare pickle), which "
            "nanocnn does not read; re-save it in PyTorch with torch.save(state_dict, path, "
            "_use_new_zipfile_serialization=True), or as safetensors with "
            "safetensors.torch.save_file(state_dict, path)"
        )
    return f"{path}: not a PyTorch file (torch.save writes a zip)"


def _read_state_dict(archive: zipfile.ZipFile, path: Path, max_bytes: int) -> dict[str, np.ndarray]:
    names = archive.namelist()
    pickles = [name for name in names if name.endswith("/data.pkl") and name.count("/") == 1]
    if len(pickles) != 1:
        raise ModelFileError(f"{path}: not a PyTorch file (no single <name>/data.pkl in the zip)")
    prefix = pickles[0].removesuffix("data.pkl")
    if f"{prefix}constants.pkl" in names or any(
        name.startswith(f"{prefix}code/") for name in names
    ):
        raise ModelFileError(
            f"{path}: a TorchScript archive (torch.jit.save), a program rather than weights; "
            f"{SAVE_STATE_DICT} of the model before it is scripted"
        )
    byteorder = f"{prefix}byteorder"  # older files lack it: they are little-endian
    if byteorder in names and _read_entry(archive, path, archive.getinfo(byteorder)) != b"little":
        raise ModelFileError(f"{path}: saved on a big-endian machine, which nanocnn does not read")
    info = archive.getinfo(pickles[0])
    if info.file_size > max_bytes:
        raise ModelFileError(f"{path}: data.pkl is larger than {max_bytes} bytes")
    pickled = _read_entry(archive, path, info)
    tensors = _tensors(path, read_pickle(pickled, str(path)))
    infos = _storage_entries(archive, path, prefix, tensors, max_bytes)
    flats = {
        key: safetensors.as_array(_read_entry(archive, path, info), storage.dtype, [storage.numel])
        for key, (storage, info) in infos.items()
    }
    arrays: dict[TensorRef, np.ndarray] = {}
    for tensor in tensors.values():
        if tensor not in arrays:
            arrays[tensor] = _view(flats[tensor.storage.key], tensor)
    return {name: arrays[tensor] for name, tensor in tensors.items()}


def _tensors(path: Path, content: Any) -> dict[str, TensorRef]:
    """``content`` if it is a state dict, tensors by name; ModelFileError otherwise."""
    if not isinstance(content, dict):
        raise ModelFileError(
            f"{path}: data.pkl holds a {type(content).__name__}, not a dict of tensors by name "
            f"(a state dict); {SAVE_STATE_DICT}"
        )
    for name, value in content.items():
        if not isinstance(name, str):
            raise ModelFileError(
                f"{path}: data.pkl holds a dict with the key {name!r}, not a dict of tensors "
                f"by name (a state dict); {SAVE_STATE_DICT}"
            )
        if not isinstance(value, TensorRef):
            raise ModelFileError(
                f"{path}: entry {name!r} is not a tensor; nanocnn reads a state dict alone: "
                f"{SAVE_STATE_DICT}"
            )
    return content


def _storage_entries(
    archive: zipfile.ZipFile,
    path: Path,
    prefix: str,
    tensors: dict[str, TensorRef],
    max_bytes: int,
) -> dict[str, tuple[StorageRef, zipfile.ZipInfo]]:
    """Each storage the tensors use, with its zip entry, after checking the entry's size
    against the storage, every tensor against its storage, and the totals against the limits
    (see the module)."""
    storages: dict[str, tuple[StorageRef, zipfile.ZipInfo]] = {}
    stored = claimed = 0
    for tensor in tensors.values():
        storage = tensor.storage
        if storage.key in storages:
            if storages[storage.key][0] != storage:
                raise ModelFileError(
                    f"{path}: storage {storage.key!r} is declared with two dtypes or sizes"
                )
            continue
        name = f"{prefix}data/{storage.key}"
        try:
            info = archive.getinfo(name)
        except KeyError:
            raise ModelFileError(f"{path}: no storage {storage.key!r} (no entry {name})") from None
        needed = storage.numel * _itemsize(storage.dtype)
        if info.file_size != needed:
            raise ModelFileError(
                f"{path}: storage {storage.key!r} holds {info.file_size} bytes, not the "
                f"{storage.numel} elements of {storage.dtype} ({needed} bytes) data.pkl says"
            )
        stored += needed
        if stored > max_bytes:
            raise ModelFileError(f"{path}: more than {max_bytes} bytes of storages")
        storages[storage.key] = (storage, info)
    for name, tensor in tensors.items():
        size = math.prod(tensor.shape)
        last = tensor.offset + sum(
            (n - 1) * s for n, s in zip(tensor.shape, tensor.stride, strict=True)
        )
        if size and last >= tensor.storage.numel:
            raise ModelFileError(
                f"{path}: tensor {name!r} reaches element {last}, outside its storage of "
                f"{tensor.storage.numel}"
            )
    for tensor in dict.fromkeys(tensors.values()):  # each tensor once, however many names
        claimed += math.prod(tensor.shape) * _itemsize(tensor.storage.dtype)
    if claimed > VIEW_MARGIN * stored:
        raise ModelFileError(
            f"{path}: the tensors take more bytes than {VIEW_MARGIN} times their storages "
            f"({claimed} > {VIEW_MARGIN} x {stored}): views that repeat elements are not read"
        )
    return storages


def _itemsize(dtype: str) -> int:
    return 2 if dtype == safetensors.BF16 else safetensors.DTYPES[dtype].itemsize


def _read_entry(archive: zipfile.ZipFile, path: Path, info: zipfile.ZipInfo) -> bytearray:
    """The bytes of the zip entry ``info``, which must be stored uncompressed, as torch.save
    stores them (a compressed one could inflate to any size); its CRC is checked."""
    if info.compress_type != zipfile.ZIP_STORED:
        raise ModelFileError(
            f"{path}: entry {info.filename} is compressed; torch.save stores its entries as "
            "they are"
        )
    buffer = bytearray(info.file_size)
    with archive.open(info) as file:
        if cast(io.BufferedIOBase, file).readinto(buffer) != info.file_size or file.read(1):
            raise ModelFileError(f"{path}: entry {info.filename} is not {info.file_size} bytes")
    return buffer


def _view(flat: np.ndarray, tensor: TensorRef) -> np.ndarray:
    """The elements of ``tensor`` in the storage ``flat`` (checked to lie inside it): the
    storage itself, reshaped, when they fill it in order; a contiguous copy otherwise."""
    size = math.prod(tensor.shape)
    if size == 0:
        return np.zeros(tensor.shape, flat.dtype)
    # the stride of a dimension of size 1 is never used: 0, so that no huge one overflows
    strides = [
        s * flat.itemsize if n > 1 else 0 for n, s in zip(tensor.shape, tensor.stride, strict=True)
    ]
    view = np.lib.stride_tricks.as_strided(
        flat[tensor.offset :], tensor.shape, strides, writeable=False
    )
    if view.flags.c_contiguous:
        return flat[tensor.offset : tensor.offset + size].reshape(tensor.shape)
    return view.copy()
