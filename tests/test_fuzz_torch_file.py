"""Fuzzing PyTorch files (``nanocnn.io.torch_file``): the attacks of test_fuzz_model_files.py on
``torch.save``'s zip, whose ``data.pkl`` is a pickle. Pickles that call ``os.system`` or any
other function, that use opcodes a state dict never needs, that lie about storages, shapes,
strides and offsets; random bytes, truncations, flipped bytes. Each ends in a
``ModelFileError`` naming the file (or, for harmless damage, the same arrays), no code from a
file ever runs, and memory stays bounded by the file's size. The files are made by hand, so
that all but the real ``torch.save`` files run without PyTorch."""

from __future__ import annotations

import io
import os
import pickle
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nanocnn as nc
from nanocnn.io import load_state_dict_file
from tests.test_fuzz_model_files import FUZZ, MARKER, Exploit

# --- a pickle written opcode by opcode, as torch.save writes a state dict -----------------------


def text(value: str) -> bytes:  # BINUNICODE
    data = value.encode("utf-8")
    return b"X" + len(data).to_bytes(4, "little") + data


def integer(value: int) -> bytes:  # BININT, or LONG1 beyond 32 bits
    if -(2**31) <= value < 2**31:
        return b"J" + value.to_bytes(4, "little", signed=True)
    data = pickle.encode_long(value)
    return b"\x8a" + bytes([len(data)]) + data


def tuple_of(*items: bytes) -> bytes:  # MARK ... TUPLE
    return b"(" + b"".join(items) + b"t"


def named(module: str, name: str) -> bytes:  # GLOBAL
    return b"c" + f"{module}\n{name}\n".encode()


HOOKS = named("collections", "OrderedDict") + b")R"  # OrderedDict(): no backward hooks


def storage(key: str = "0", numel: int = 4, kind: str = "FloatStorage") -> bytes:
    """The persistent id of a storage, then BINPERSID."""
    return (
        tuple_of(text("storage"), named("torch", kind), text(key), text("cpu"), integer(numel))
        + b"Q"
    )


def tensor(shape=(2, 2), stride=(2, 1), offset=0, source: bytes | None = None) -> bytes:
    """``torch._utils._rebuild_tensor_v2(storage, offset, shape, stride, False, hooks)``."""
    arguments = (
        storage() if source is None else source,
        integer(offset),
        tuple_of(*map(integer, shape)),
        tuple_of(*map(integer, stride)),
        b"\x89",  # NEWFALSE: requires_grad
        HOOKS,
    )
    return named("torch._utils", "_rebuild_tensor_v2") + tuple_of(*arguments) + b"R"


def state_dict(**tensors: bytes) -> bytes:
    """``OrderedDict`` of the tensors by name, with the ``_metadata`` torch adds (BUILD)."""
    items = b"".join(text(name) + value for name, value in tensors.items())
    metadata = b"}" + text("_metadata") + HOOKS + b"s"  # {"_metadata": OrderedDict()}
    return (
        b"\x80\x02" + named("collections", "OrderedDict") + b")R(" + items + b"u" + metadata + b"b."
    )


FLOATS = np.arange(4, dtype="<f4")


def torch_zip(
    path: Path,
    pickled: bytes,
    storages: dict[str, bytes] | None = None,
    method: int = zipfile.ZIP_STORED,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """A zip laid out as torch.save writes one: ``archive/data.pkl``, ``archive/data/<key>``."""
    storages = {"0": FLOATS.tobytes()} if storages is None else storages
    entries = {"data.pkl": pickled, "byteorder": b"little", "version": b"3", **(extra or {})}
    entries |= {f"data/{key}": data for key, data in storages.items()}
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in entries.items():
            archive.writestr(f"archive/{name}", data)
    return path


def read_or_error(path: Path, max_peak: int = 1 << 20, **limits: int):
    """``load_state_dict_file``'s arrays, or the ModelFileError it raised, which must name the
    file; any other exception fails the test, and so does a peak above ``max_peak``."""
    tracemalloc.start()
    try:
        return load_state_dict_file(path, **limits)
    except nc.ModelFileError as error:
        assert str(path) in str(error)
        return error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < max_peak, f"reading {path} allocated {peak:,} bytes"


def test_the_hand_made_file_is_a_valid_one(tmp_path: Path) -> None:
    """The baseline every hostile file below departs from: it reads, as torch reads it."""
    arrays = read_or_error(torch_zip(tmp_path / "valid.pt", state_dict(w=tensor())))
    np.testing.assert_array_equal(arrays["w"], FLOATS.reshape(2, 2))
    torch = pytest.importorskip("torch", reason="pip install torch==2.13.0")
    loaded = torch.load(tmp_path / "valid.pt", weights_only=True)
    np.testing.assert_array_equal(loaded["w"].numpy(), arrays["w"])


# --- pickles that try to run code -----------------------------------------------------------


def smuggled(marker: Path) -> dict[str, bytes]:
    command = text(f"touch {marker}")
    code = text(f"__import__('pathlib').Path('{marker}').touch()")
    stacked = text("os") + text("system") + b"\x93"  # STACK_GLOBAL of the two strings
    return {
        "os.system": b"\x80\x02" + named("os", "system") + tuple_of(command) + b"R.",
        "posix.system (pickle.dumps)": pickle.dumps(_System(f"touch {marker}"), protocol=2),
        "pathlib (protocol 4)": pickle.dumps(Exploit(marker), protocol=4),
        "builtins.eval": b"\x80\x02" + named("builtins", "eval") + tuple_of(code) + b"R.",
        "a tensor rebuilt by eval": state_dict(
            w=named("builtins", "eval") + tuple_of(text("1")) + b"R"
        ),
        "getattr on a storage": state_dict(
            w=named("builtins", "getattr") + tuple_of(storage(), text("x")) + b"R"
        ),
        "computed global (STACK_GLOBAL)": b"\x80\x04" + stacked + tuple_of(command) + b"R.",
        "INST opcode": b"(" + command + b"ios\nsystem\n.",
        "OBJ opcode": b"(" + named("os", "system") + command + b"o.",
        "NEWOBJ opcode": b"\x80\x02" + named("os", "system") + tuple_of(command) + b"\x81.",
        "a storage type called": state_dict(w=named("torch", "FloatStorage") + tuple_of() + b"R"),
        "BUILD on a tensor": state_dict(w=tensor() + b"}" + text("dtype") + text("O") + b"sb"),
        "BUILD with slot state": state_dict(
            w=tensor() + tuple_of(b"N", b"}" + text("strides") + tuple_of() + b"s") + b"b"
        ),
        "REDUCE on a storage": state_dict(w=storage() + tuple_of() + b"R"),
    }


class _System:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_smuggled_code_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / MARKER
    for case, pickled in smuggled(marker).items():
        result = read_or_error(torch_zip(tmp_path / "smuggled.pt", pickled))
        assert isinstance(result, nc.ModelFileError), case
        assert not marker.exists(), case
    message = str(read_or_error(torch_zip(tmp_path / "system.pt", smuggled(marker)["os.system"])))
    assert "data.pkl names os.system, which a state dict never holds" in message
    assert pickle.loads(pickle.dumps(Exploit(marker))) is None  # the exploit works
    assert marker.exists()


# --- files that lie -----------------------------------------------------------------------------


def lying_files() -> dict[str, tuple[bytes, dict[str, bytes] | None, str]]:
    """(data.pkl, storages or None for the valid one, what the error says)."""
    valid = state_dict(w=tensor())
    return {
        "storage smaller than its numel": (valid, {"0": bytes(8)}, "holds 8 bytes"),
        "numel larger than the storage": (
            state_dict(w=tensor(source=storage(numel=5))),
            None,
            "holds 16 bytes",
        ),
        "a huge numel": (state_dict(w=tensor(source=storage(numel=2**62))), None, "holds 16 bytes"),
        "shape beyond the storage": (state_dict(w=tensor((3, 2))), None, "outside its storage"),
        "offset beyond the storage": (state_dict(w=tensor(offset=1)), None, "outside its storage"),
        "strides beyond the storage": (
            state_dict(w=tensor(stride=(3, 1))),
            None,
            "outside its storage",
        ),
        "a huge shape repeating one element": (
            state_dict(w=tensor((2**40, 2**20), (0, 0))),
            None,
            "more bytes than",
        ),
        "overflowing strides": (
            state_dict(w=tensor((2, 2), (2**64, 1))),
            None,
            "outside its storage",
        ),
        "negative stride": (
            state_dict(w=tensor(stride=(-2, 1), offset=2)),
            None,
            "non-negative integers",
        ),
        "negative shape": (state_dict(w=tensor((-2, 2))), None, "non-negative integers"),
        "float in the shape": (
            state_dict(w=tensor().replace(integer(2), b"G" + bytes(8), 1)),
            None,
            "non-negative integers",
        ),
        "bool as an offset": (
            state_dict(w=tensor().replace(integer(0), b"\x88", 1)),
            None,
            "non-negative integers",
        ),
        "shape and strides of other lengths": (state_dict(w=tensor((4,), (2, 1))), None, "shape"),
        "a missing storage": (
            state_dict(w=tensor(source=storage(key="7"))),
            None,
            "no storage '7'",
        ),
        "a storage key leaving the folder": (
            state_dict(w=tensor(source=storage(key="../data.pkl"))),
            None,
            "no storage",
        ),
        "an unknown storage type": (
            state_dict(w=tensor(source=storage(kind="ComplexFloatStorage"))),
            None,
            "torch.ComplexFloatStorage",
        ),
        "one storage, two dtypes": (
            state_dict(
                w=tensor(), v=tensor((2,), (1,), source=storage(kind="DoubleStorage", numel=2))
            ),
            None,
            "storage '0'",
        ),
        "a persistent id not a storage": (
            state_dict(w=tensor(source=tuple_of(text("module")) + b"Q")),
            None,
            "persistent id",
        ),
        "not a dict": (b"\x80\x02" + tuple_of(tensor()) + b".", None, "not a dict"),
        "a key not a string": (
            b"\x80\x02}" + integer(1) + tensor() + b"s.",
            None,
            "not a dict of tensors",
        ),
        "a list as a key": (b"\x80\x02}](" + tensor() + b"e" + tensor() + b"s.", None, "data.pkl"),
        "an unbalanced stack": (b"\x80\x02" + tensor() + tensor() + b".", None, "data.pkl"),
        "an empty pickle": (b"", None, "data.pkl"),
        "a memo never stored": (b"\x80\x02h\x05.", None, "data.pkl"),
        "a mark never closed": (b"\x80\x02(((.", None, "data.pkl"),
        "setitems of an odd count": (b"\x80\x02}(" + text("w") + b"u.", None, "data.pkl"),
    }


@pytest.mark.parametrize("case", lying_files())
def test_lying_files(tmp_path: Path, case: str) -> None:
    pickled, storages, problem = lying_files()[case]
    result = read_or_error(torch_zip(tmp_path / "lying.pt", pickled, storages))
    assert isinstance(result, nc.ModelFileError) and problem in str(result), result


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.pt", b"", "not a PyTorch file"),
        ("legacy.pt", b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.", "_use_new_zipfile"),
        ("text.pth", b"hello", "not a PyTorch file"),
    ],
)
def test_files_that_are_not_zips(tmp_path: Path, name: str, content: bytes, problem: str) -> None:
    (tmp_path / name).write_bytes(content)
    result = read_or_error(tmp_path / name)
    assert isinstance(result, nc.ModelFileError) and problem in str(result)


def test_zips_that_are_not_torch_files(tmp_path: Path) -> None:
    valid = state_dict(w=tensor())
    two = torch_zip(tmp_path / "two.pt", valid)
    with zipfile.ZipFile(two, "a") as archive:
        archive.writestr("other/data.pkl", valid)
    with zipfile.ZipFile(tmp_path / "none.pt", "w") as archive:
        archive.writestr("archive/data/0", FLOATS.tobytes())
    cases = {
        "no data.pkl": (tmp_path / "none.pt", "no single <name>/data.pkl"),
        "two data.pkl": (two, "no single <name>/data.pkl"),
        "compressed": (
            torch_zip(tmp_path / "deflated.pt", valid, method=zipfile.ZIP_DEFLATED),
            "compressed",
        ),
        "big-endian": (
            torch_zip(tmp_path / "big.pt", valid, extra={"byteorder": b"big"}),
            "big-endian",
        ),
    }
    for case, (path, problem) in cases.items():
        result = read_or_error(path)
        assert isinstance(result, nc.ModelFileError) and problem in str(result), (case, result)


def test_a_deeply_nested_pickle_ends_without_recursion(tmp_path: Path) -> None:
    """Tuples inside one another 100,000 deep: no recursion. One byte of data.pkl may make
    one Python object (a tuple, 48 bytes): memory stays within a fixed multiple of its size."""
    for nested in (b"(" * 100_000 + b"t" * 100_000, b")" + b"\x85" * 200_000):
        pickled = b"\x80\x02" + nested + b"."
        path = torch_zip(tmp_path / "nested.pt", pickled)
        result = read_or_error(path, max_peak=64 * len(pickled))
        assert isinstance(result, nc.ModelFileError) and "not a dict" in str(result)


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    """64 MB of zeros deflate to 64 kB: the entry is refused by its method, never read."""
    storages = {"0": bytes(64 << 20)}
    pickled = state_dict(w=tensor((16 << 20,), (1,), source=storage(numel=16 << 20)))
    path = torch_zip(tmp_path / "bomb.pt", pickled, storages, method=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 1 << 20
    assert "compressed" in str(read_or_error(path))


def test_more_than_max_bytes_is_refused_before_reading(tmp_path: Path) -> None:
    pickled = state_dict(w=tensor((1 << 18,), (1,), source=storage(numel=1 << 18)))
    path = torch_zip(tmp_path / "big.pt", pickled, {"0": bytes(1 << 20)})
    result = read_or_error(path, max_peak=1 << 18, max_bytes=1 << 16)
    assert isinstance(result, nc.ModelFileError) and "more than 65536" in str(result)


def test_tensors_sharing_a_storage_cannot_claim_more_than_it_holds(tmp_path: Path) -> None:
    """A thousand overlapping views of one storage would take 500 times its bytes: refused.
    A tied weight, the same view under two names, is one array."""
    numel = 1000
    whole = storage(numel=numel)
    views = {f"w{i}": tensor((numel - i,), (1,), i, whole) for i in range(numel)}
    path = torch_zip(tmp_path / "views.pt", state_dict(**views), {"0": bytes(4 * numel)})
    result = read_or_error(path, max_peak=4 << 20)
    assert isinstance(result, nc.ModelFileError) and "more bytes than" in str(result)
    tied = read_or_error(torch_zip(tmp_path / "tied.pt", state_dict(a=tensor(), b=tensor())))
    assert tied["a"] is tied["b"]


# --- random damage ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_torch(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict[str, np.ndarray]]:
    """A real torch.save file of a small state dict (hand-made when torch is missing)."""
    path = tmp_path_factory.mktemp("torch") / "valid.pt"
    try:
        import torch
    except ImportError:
        torch_zip(path, state_dict(w=tensor()))
    else:
        generator = torch.Generator().manual_seed(0)
        conv = torch.nn.Conv2d(1, 2, 3)
        torch.save({**conv.state_dict(), "t": torch.randn(3, 4, generator=generator).t()}, path)
    return path.read_bytes(), load_state_dict_file(path)


@FUZZ
@given(content=st.binary(max_size=2000), zip_magic=st.booleans())
def test_random_bytes(tmp_path: Path, content: bytes, zip_magic: bool) -> None:
    path = tmp_path / "random.pt"
    path.write_bytes((b"PK\x03\x04" if zip_magic else b"") + content)
    assert isinstance(read_or_error(path), nc.ModelFileError)


@FUZZ
@given(data=st.data())
def test_truncated(tmp_path: Path, valid_torch, data: st.DataObject) -> None:
    content = valid_torch[0]
    path = tmp_path / "truncated.pt"
    path.write_bytes(content[: data.draw(st.integers(0, len(content) - 1), label="cut")])
    assert isinstance(read_or_error(path), nc.ModelFileError)


@FUZZ
@given(data=st.data())
def test_flipped_bytes(tmp_path: Path, valid_torch, data: st.DataObject) -> None:
    """The zip's CRCs catch damage to data.pkl and the storages; damage elsewhere (a
    timestamp) leaves the same arrays."""
    content, arrays = valid_torch
    damaged = bytearray(content)
    pickle_at = content.index(b"data.pkl") + 8
    anywhere, in_pickle = st.integers(0, len(content) - 1), st.integers(pickle_at, pickle_at + 400)
    for _ in range(data.draw(st.integers(1, 3), label="flips")):
        position = data.draw(anywhere | in_pickle, label="position") % len(content)
        damaged[position] ^= data.draw(st.integers(1, 255), label="xor")
    path = tmp_path / "flipped.pt"
    path.write_bytes(bytes(damaged))
    result = read_or_error(path)
    if not isinstance(result, nc.ModelFileError):
        assert result.keys() == arrays.keys()
        for name, value in arrays.items():
            np.testing.assert_array_equal(result[name], value)


@FUZZ
@given(data=st.data())
def test_rewritten_pickles(tmp_path: Path, valid_torch, data: st.DataObject) -> None:
    """data.pkl itself damaged and stored with a good CRC, as an attacker would: refused, or
    arrays no larger than the storages."""
    with zipfile.ZipFile(io.BytesIO(valid_torch[0])) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    (name,) = [name for name in entries if name.endswith("/data.pkl")]
    pickled = bytearray(entries[name])
    for _ in range(data.draw(st.integers(1, 4), label="changes")):
        position = data.draw(st.integers(0, len(pickled) - 1), label="position")
        pickled[position] = data.draw(st.integers(0, 255), label="byte")
    entries[name] = bytes(pickled)
    path = tmp_path / "rewritten.pt"
    with zipfile.ZipFile(path, "w") as archive:
        for entry, content in entries.items():
            archive.writestr(entry, content)
    result = read_or_error(path)
    if not isinstance(result, nc.ModelFileError):
        assert sum(array.nbytes for array in result.values()) <= 2 * path.stat().st_size
