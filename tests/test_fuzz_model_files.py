"""Fuzzing model files and checkpoints: random bytes, truncations, flipped bytes, well-formed
files with wrong names, shapes, dtypes or architectures, and hand-made files that try to run
code or to make the loader allocate far more than they hold. Each ends in a ``ModelFileError``
naming the file (or, for harmless damage, the same model), with memory bounded by the file's
size. (``pytest --hypothesis-show-statistics`` prints the cases tried.)
"""

from __future__ import annotations

import io
import json
import pickle
import re
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nanocnn as nc
from nanocnn import presets
from nanocnn.io.arrays import load_arrays, save_arrays
from nanocnn.io.npz import HEADER
from nanocnn.training import Trainer

FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
MARKER = "nanocnn-fuzz-pwned"  # a file that code smuggled into a model file would create
SOURCE = Path(nc.__file__).parent


def small_model() -> nc.Sequential:
    """(N, 1, 8, 8) -> (N, 3), with a layer of every kind that has sizes."""
    return nc.Sequential(
        nc.Conv2D(1, 2, 3, padding=1, rng=0), nc.BatchNorm2D(2), nc.ReLU(), nc.MaxPool2D(2),
        nc.Flatten(), nc.Dropout(0.2, rng=0), nc.Dense(2 * 4 * 4, 3, rng=0),
    )  # fmt: skip


class Saved:
    """A saved file: its bytes, arrays and header."""

    def __init__(self, content: bytes, arrays: dict[str, np.ndarray], header: dict) -> None:
        self.content, self.arrays, self.header = content, arrays, header

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing case
        return f"Saved({len(self.content)} bytes)"


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """A saved small model."""
    path = nc.save(small_model(), tmp_path_factory.mktemp("valid") / "model.npz")
    return Saved(path.read_bytes(), *load_arrays(path))


def load_or_error(path: Path, max_peak: int = 32 << 20) -> nc.Sequential | nc.ModelFileError:
    """``nc.load``'s model, or the ModelFileError it raised, which must name the file; any
    other exception fails the test, and so does a peak of allocations above ``max_peak``."""
    tracemalloc.start()
    try:
        return nc.load(path)
    except nc.ModelFileError as error:
        assert str(path) in str(error)
        return error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < max_peak, f"loading {path} allocated {peak:,} bytes"


def assert_same_model(model: nc.Sequential, arrays: dict[str, np.ndarray]) -> None:
    state = model.state_dict()
    assert state.keys() == arrays.keys()
    for name, value in arrays.items():
        np.testing.assert_array_equal(state[name], value)


@FUZZ
@given(content=st.binary(max_size=2000), zip_magic=st.booleans())
def test_random_bytes(tmp_path: Path, content: bytes, zip_magic: bool) -> None:
    path = tmp_path / "random.npz"
    path.write_bytes((b"PK\x03\x04" if zip_magic else b"") + content)
    assert isinstance(load_or_error(path), nc.ModelFileError)


@FUZZ
@given(data=st.data())
def test_truncated_files(tmp_path: Path, valid, data: st.DataObject) -> None:
    content = valid.content
    cut = data.draw(st.integers(0, len(content) - 1), label="cut")
    path = tmp_path / "truncated.npz"
    path.write_bytes(content[:cut])
    assert isinstance(load_or_error(path), nc.ModelFileError)


def zip_structure(content: bytes) -> list[int]:
    """The byte positions of a zip's local headers, central directory and end record: where
    damage reaches zipfile's own parsing (versions, flags, methods, sizes, offsets)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        headers = [
            range(
                info.header_offset, info.header_offset + 30 + len(info.filename) + len(info.extra)
            )
            for info in archive.infolist()
        ]
        return sorted(
            {*(p for header in headers for p in header), *range(archive.start_dir, len(content))}
        )


@FUZZ
@given(data=st.data())
def test_flipped_bytes(tmp_path: Path, valid, data: st.DataObject) -> None:
    """The zip's CRCs and sizes catch damage to the data; damage elsewhere (a timestamp)
    leaves a file that loads as the very same model."""
    content, arrays = valid.content, valid.arrays
    damaged = bytearray(content)
    anywhere, structure = st.integers(0, len(damaged) - 1), st.sampled_from(zip_structure(content))
    for _ in range(data.draw(st.integers(1, 3), label="flips")):
        position = data.draw(anywhere | structure, label="position")
        damaged[position] ^= data.draw(st.integers(1, 255), label="xor")
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(damaged))
    result = load_or_error(path)
    if isinstance(result, nc.Sequential):
        assert_same_model(result, arrays)


@pytest.mark.parametrize(
    ("field", "value"),
    [(6, 109), (8, 1), (8, 32), (10, 99)],
    ids=["zip version 10.9", "encrypted", "patched data", "compression method 99"],
)
def test_zip_fields_zipfile_cannot_honour(tmp_path: Path, valid, field: int, value: int) -> None:
    """Found by the fuzzing above: for these fields of a central directory entry (here the
    first one's) zipfile raises NotImplementedError or RuntimeError, not BadZipFile."""
    with zipfile.ZipFile(io.BytesIO(valid.content)) as archive:
        start = archive.start_dir
    damaged = bytearray(valid.content)
    damaged[start + field] = value
    path = tmp_path / "odd.npz"
    path.write_bytes(bytes(damaged))
    assert isinstance(load_or_error(path), nc.ModelFileError)


DTYPES = [np.float16, np.float64, np.int32, np.int64, np.uint8, np.bool_, np.complex64]


@st.composite
def wrong_arrays(draw: st.DrawFn, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays with one entry dropped, renamed, added, reshaped or of another dtype."""
    arrays = dict(arrays)
    name = draw(st.sampled_from(sorted(arrays)))
    change = draw(st.sampled_from(["drop", "rename", "add", "reshape", "dtype"]))
    if change == "drop":
        del arrays[name]
    elif change == "rename":
        arrays[draw(st.sampled_from(["0.kernel", "7.weight", "1.running_mean2", "x"]))] = (
            arrays.pop(name)
        )
    elif change == "add":
        arrays[draw(st.sampled_from(["9.weight", "0.extra", "metadata"]))] = np.zeros(3, "f4")
    elif change == "reshape":
        shape = draw(st.lists(st.integers(0, 5), max_size=4).filter(
            lambda shape: tuple(shape) != arrays[name].shape))  # fmt: skip
        arrays[name] = np.zeros(shape, np.float32)
    else:
        arrays[name] = arrays[name].astype(draw(st.sampled_from(DTYPES)))
    return arrays


@FUZZ
@given(data=st.data())
def test_wrong_names_shapes_and_dtypes(tmp_path: Path, valid, data: st.DataObject) -> None:
    arrays, header = valid.arrays, valid.header
    wrong = data.draw(wrong_arrays(arrays), label="arrays")
    path = save_arrays(tmp_path / "wrong.npz", wrong, header)
    result = load_or_error(path)
    assert isinstance(result, nc.ModelFileError), sorted(wrong)
    assert re.search(r"missing|unexpected|shape|dtype|larger than the weights", str(result))


def test_one_float_dtype_throughout_loads_as_that_dtype(tmp_path: Path, valid) -> None:
    arrays, header = valid.arrays, valid.header
    as64 = {name: value.astype(">f8") for name, value in arrays.items()}  # big-endian too
    model = load_or_error(save_arrays(tmp_path / "f8.npz", as64, header))
    assert model.dtype == np.float64
    assert_same_model(model, as64)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**70) | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
LAYER_KEYS = [
    "type", "in_channels", "out_channels", "kernel_size", "stride", "padding", "bias", "init",
    "in_features", "out_features", "num_features", "p", "eps", "momentum", "rng", "dtype",
    "negative_slope", "extra",
]  # fmt: skip
HUGE = st.sampled_from([2**31, 10**6, 65536, [30000, 30000], [2**20, 1], "30000", 3e4])


@FUZZ
@given(data=st.data())
def test_tampered_architectures(tmp_path: Path, valid, data: st.DataObject) -> None:
    """One value of one layer spec replaced by random JSON or a huge size, or the layer list
    itself replaced: refused, or a model that loads without allocating more than a few MB."""
    arrays, header = valid.arrays, valid.header
    header = json.loads(json.dumps(header))
    if data.draw(st.booleans(), label="replace the whole list"):
        header["layers"] = data.draw(json_values, label="layers")
    else:
        spec = header["layers"][data.draw(st.integers(0, len(header["layers"]) - 1))]
        key = data.draw(st.sampled_from(LAYER_KEYS), label="key")
        spec[key] = data.draw(json_values | HUGE, label="value")
    path = save_arrays(tmp_path / "tampered.npz", arrays, header)
    load_or_error(path, max_peak=8 << 20)


def all_specs(specs: list) -> list[dict]:
    """Every spec in a (valid) architecture, nested ones included."""
    found = []
    for spec in specs:
        found.append(spec)
        found += all_specs(spec.get("layers", []))
        if isinstance(spec.get("shortcut"), dict):
            found += all_specs([spec["shortcut"]])
    return found


@FUZZ
@given(data=st.data())
def test_tampered_nested_architectures(tmp_path: Path, data: st.DataObject) -> None:
    """As above, for any spec of a small residual network, containers and their lists too."""
    model = presets.resnet(np.random.default_rng(0), (1, 8, 8), 3)
    arrays, header = model.state_dict(), {"format": "nanocnn-model", "version": 1}
    header["layers"] = model.config()
    specs = all_specs(header["layers"])
    spec = specs[data.draw(st.integers(0, len(specs) - 1), label="spec")]
    key = data.draw(st.sampled_from([*LAYER_KEYS, "layers", "shortcut"]), label="key")
    spec[key] = data.draw(json_values | HUGE, label="value")
    path = save_arrays(tmp_path / "tampered.npz", arrays, header)
    load_or_error(path, max_peak=8 << 20)


@settings(FUZZ, max_examples=40)
@given(copies=st.integers(2, 400), width=st.integers(1, 1000))
def test_many_layers_cannot_claim_more_than_the_file_holds(
    tmp_path: Path, copies: int, width: int
) -> None:
    """One real (width x width) weight, and ``copies`` layers that each declare as much."""
    arrays = {"0.weight": np.zeros((width, width), np.float32)}
    layers = [{"type": "Dense", "in_features": width, "out_features": width, "bias": False}]
    header = {"format": "nanocnn-model", "version": 1, "layers": layers * copies}
    path = save_arrays(tmp_path / "many.npz", arrays, header)
    result = load_or_error(path, max_peak=64 * width * width + (1 << 20))
    assert isinstance(result, nc.ModelFileError)


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"type": "Dense", "in_features": 4, "out_features": 4, "dtype": "S1000000000"}, "dtype"),
        ({"type": "Dense", "in_features": 4, "out_features": 4, "rng": [1] * 10}, "rng"),
        ({"type": "Dense", "in_features": 4, "out_features": 2**40}, "larger than the weights"),
        ({"type": "Dense", "in_features": 4.0, "out_features": 4}, "integers"),
        ({"type": "Conv2D", "in_channels": 1, "out_channels": 1, "kernel_size": [3e4, 3e4]},
         "integers"),
        ({"type": "Conv2D", "in_channels": 1, "out_channels": 1, "kernel_size": ["30000", 1]},
         "integers"),
        ({"type": "Conv2D", "in_channels": 1, "out_channels": 1, "kernel_size": 2,
          "padding": 100000}, "pad more than 1024 pixels"),
        ({"type": "BatchNorm2D", "num_features": -(2**40)}, "integers"),
        ({"type": "__import__('os').system('touch pwned')"}, "unknown layer type"),
        ({"type": "Sequential"}, "holds only its list of layers"),
        ({"type": "Residual", "layers": {"0": {"type": "ReLU"}}, "shortcut": None},
         "holds its layers and shortcut"),
        ({"type": "Residual", "layers": [], "shortcut": None}, "at least one layer"),
        ({"type": "Residual", "layers": [{"type": "ReLU"}], "shortcut": [{"type": "ReLU"}]},
         "layer 0.shortcut is not a layer spec"),
        ({"type": "Sequential", "layers": [{"type": "Residual", "layers": [
            {"type": "Dense", "in_features": 4, "out_features": 2**40}], "shortcut": None}]},
         "layer 0.0.body.0 (Dense) is larger than the weights"),
        ({"type": "Residual", "layers": [{"type": "ReLU"}],
          "shortcut": {"type": "Dropout", "rng": [1] * 10}}, "layer 0.shortcut (Dropout) sets"),
    ],
)  # fmt: skip
def test_hostile_layer_specs(tmp_path: Path, spec: dict, problem: str) -> None:
    arrays = {"0.weight": np.zeros((4, 4), np.float32)}
    header = {"format": "nanocnn-model", "version": 1, "layers": [spec]}
    result = load_or_error(save_arrays(tmp_path / "hostile.npz", arrays, header), 1 << 20)
    assert isinstance(result, nc.ModelFileError) and problem in str(result)


def nested(depth: int) -> dict:
    """A ReLU inside ``depth`` Sequentials."""
    spec: dict = {"type": "ReLU"}
    for _ in range(depth):
        spec = {"type": "Sequential", "layers": [spec]}
    return spec


@pytest.mark.parametrize("depth", [16, 100, 900, 100_000])
def test_deeply_nested_containers_are_refused_cheaply(tmp_path: Path, depth: int) -> None:
    """Deeper than MAX_DEPTH is refused before anything is built; too deep for Python's JSON
    parser (a RecursionError) is a damaged header. The header is written as text, since
    ``json.dumps`` itself cannot write the deepest."""
    layers = '{"type": "Sequential", "layers": [' * depth + '{"type": "ReLU"}' + "]}" * depth
    text = f'{{"format": "nanocnn-model", "version": 1, "layers": [{layers}]}}'
    path = tmp_path / "deep.npz"
    header = np.frombuffer(text.encode(), dtype=np.uint8)
    np.savez(path, **{HEADER: header, "0.weight": np.zeros((4, 4), np.float32)})
    result = load_or_error(path, max_peak=(8 << 20) + 64 * len(text))
    assert isinstance(result, nc.ModelFileError)
    assert re.search("nests containers over 16 deep|header is not valid JSON", str(result))


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "Sequential", "layers": [{"type": "ReLU"}] * 10_001},
        {"type": "Sequential", "layers": [{"type": "Sequential", "layers": []}] * 20_000},
        {"type": "Residual", "layers": [nested(13)] * 800, "shortcut": None},
    ],
    ids=["wide", "many containers", "wide and deep"],
)
def test_huge_containers_are_refused_before_building(tmp_path: Path, spec: dict) -> None:
    """Memory bounded by the header's own size (parsing it is the largest cost)."""
    header = {"format": "nanocnn-model", "version": 1, "layers": [spec]}
    path = save_arrays(tmp_path / "wide.npz", {"0.weight": np.zeros(4, np.float32)}, header)
    result = load_or_error(path, max_peak=64 * len(json.dumps(header)) + (1 << 20))
    assert isinstance(result, nc.ModelFileError) and "more than 10000 layers" in str(result)


def test_a_model_nested_to_the_limit_loads_the_same(tmp_path: Path) -> None:
    inner: nc.Layer = nc.Residual(nc.Dense(3, 3, rng=0))
    for _ in range(14):  # 16 containers with the model itself
        inner = nc.Sequential(inner)
    model = nc.Sequential(inner)
    loaded = load_or_error(nc.save(model, tmp_path / "deep.npz"))
    assert isinstance(loaded, nc.Sequential) and loaded.config() == model.config()
    assert_same_model(loaded, model.state_dict())
    name = "0" + ".0" * 14 + ".body.0.weight"
    assert list(model.state_dict()) == [name, name.replace("weight", "bias")]
    with pytest.raises(nc.ModelFileError, match="nests containers over 16 deep"):
        nc.load(nc.save(nc.Sequential(model), tmp_path / "deeper.npz"))


class Exploit:
    """Unpickling this creates the marker file: proof that code from a file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def npy_bytes(header: str, payload: bytes = b"") -> bytes:
    """A hand-made .npy entry: version 1.0 magic, the header dict as text, the payload."""
    text = header.encode("latin1")
    text += b" " * (63 - (10 + len(text)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


def zip_of(path: Path, entries: dict[str, bytes], valid) -> Path:
    """A zip holding a valid model's entries plus (or replaced by) ``entries``."""
    content = valid.content
    with zipfile.ZipFile(io.BytesIO(content)) as source:
        existing = {info.filename: source.read(info) for info in source.infolist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in {**existing, **entries}.items():
            archive.writestr(name, data)
    return path


def smuggling_files(tmp_path: Path, valid) -> dict[str, Path]:
    marker = tmp_path / MARKER
    exploit = pickle.dumps(np.array([Exploit(marker)], dtype=object), protocol=2)
    with io.BytesIO() as buffer:
        np.save(buffer, np.array([Exploit(marker)], dtype=object), allow_pickle=True)
        object_npy = buffer.getvalue()
    code = f"__import__('pathlib').Path('{marker}').touch()"
    code_header = f"{{'descr': {code}, 'fortran_order': False, 'shape': (1,), }}"
    fields_header = "{'descr': [('a', '|O')], 'fortran_order': False, 'shape': (1,), }"
    (tmp_path / "pickle.npz").write_bytes(pickle.dumps(Exploit(marker), protocol=4))
    return {
        "a whole pickle instead of a zip": tmp_path / "pickle.npz",
        "object array (np.save, allow_pickle)": zip_of(
            tmp_path / "object.npz", {"0.weight.npy": object_npy}, valid
        ),
        "raw pickle as an entry": zip_of(tmp_path / "raw.npz", {"0.weight.npy": exploit}, valid),
        "pickle entry beside the arrays": zip_of(
            tmp_path / "extra.npz", {"payload.pkl": exploit}, valid
        ),
        "code in the .npy header": zip_of(
            tmp_path / "code.npz", {"0.weight.npy": npy_bytes(code_header, bytes(8))}, valid
        ),
        "pickle as the JSON header": zip_of(
            tmp_path / "header.npz", {f"{HEADER}.npy": object_npy}, valid
        ),
        "structured dtype with an object field": zip_of(
            tmp_path / "fields.npz", {"0.weight.npy": npy_bytes(fields_header, exploit)}, valid
        ),
    }


def test_smuggled_pickles_and_code_never_run(tmp_path: Path, valid) -> None:
    for case, path in smuggling_files(tmp_path, valid).items():
        result = load_or_error(path)
        assert isinstance(result, nc.ModelFileError), case
        assert not (tmp_path / MARKER).exists(), case
    assert pickle.loads(pickle.dumps(Exploit(tmp_path / MARKER))) is None  # the exploit works
    assert (tmp_path / MARKER).exists()


def test_no_pickle_anywhere_in_the_package() -> None:
    """nanocnn never unpickles: no pickle module, no np.load that may allow it."""
    for path in SOURCE.rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from) (c?pickle|dill|joblib|shelve)\b", text, re.M), path
        assert "allow_pickle=True" not in text, path
        for call in re.findall(r"np\.load\([^)]*\)", text):
            assert "allow_pickle=False" in call, (path, call)


@pytest.mark.parametrize("shape", [(2**40,), (2**31, 2**31), (2**62, 4), (-1, -4), (2**70,)])
def test_huge_declared_array_shapes_are_never_allocated(tmp_path: Path, valid, shape) -> None:
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape!r}, }}"
    path = zip_of(tmp_path / "huge.npz", {"0.weight.npy": npy_bytes(header, bytes(64))}, valid)
    result = load_or_error(path, max_peak=1 << 20)
    assert isinstance(result, nc.ModelFileError)


def test_a_compressed_bomb_is_refused_before_it_is_inflated(tmp_path: Path, valid) -> None:
    """64 MB of zeros, deflated to about 64 KB, against a 16 MB limit."""
    bomb = np.zeros(16 << 20, np.float32)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, io.BytesIO() as buffer:
        np.save(buffer, bomb)
        archive.writestr("0.weight.npy", buffer.getvalue())
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    with pytest.raises(nc.ModelFileError, match="limit"):
        load_arrays(path, max_bytes=16 << 20)
    assert tracemalloc.get_traced_memory()[1] < 1 << 20
    tracemalloc.stop()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """The checkpoint of a small model trained one epoch."""
    path = tmp_path_factory.mktemp("checkpoint") / "checkpoint.npz"
    run = checkpoint_trainer(checkpoint=path)
    x = np.random.default_rng(0).random((16, 1, 8, 8), dtype=np.float32)
    run.fit(x, np.arange(16) % 3, epochs=1)
    return Saved(path.read_bytes(), *load_arrays(path))


def checkpoint_trainer(checkpoint: Path | None = None) -> Trainer:
    model = small_model()
    return Trainer(
        model, nc.SoftmaxCrossEntropy(), nc.Adam(model.parameters()), checkpoint=checkpoint,
        progress="off", batch_size=8,
    )  # fmt: skip


CHECKPOINT_KEYS = ["format", "version", "epoch", "step", "rng", "layer_rngs", "history",
                   "callbacks", "layers"]  # fmt: skip


@FUZZ
@given(data=st.data())
def test_tampered_checkpoints(tmp_path: Path, checkpoint, data: st.DataObject) -> None:
    """A checkpoint with one header value replaced, or one array dropped or reshaped:
    ``load_checkpoint`` raises ModelFileError naming the file, or restores cleanly."""
    header, arrays = json.loads(json.dumps(checkpoint.header)), dict(checkpoint.arrays)
    if data.draw(st.booleans(), label="tamper with the header"):
        key = data.draw(st.sampled_from(CHECKPOINT_KEYS), label="key")
        if data.draw(st.booleans(), label="delete"):
            del header[key]
        else:
            header[key] = data.draw(json_values, label="value")
    else:
        name = data.draw(st.sampled_from(sorted(arrays)), label="array")
        if data.draw(st.booleans(), label="delete"):
            del arrays[name]
        else:
            arrays[name] = np.zeros((2, 2), arrays[name].dtype)
    path = save_arrays(tmp_path / "checkpoint.npz", arrays, header)
    try:
        checkpoint_trainer().load_checkpoint(path)
    except nc.ModelFileError as error:
        assert str(path) in str(error)


def test_stacked_paddings_cannot_grow_an_input_to_gigabytes(tmp_path: Path) -> None:
    """Each Conv2D may pad up to 1,024 a side, but the layers of a file together may not:
    three 1x1 convolutions padding 1,000 each would make a 28x28 input 6,028 wide."""
    model = nc.Sequential(*(nc.Conv2D(1, 1, 1, padding=1000, bias=False) for _ in range(3)))
    path = nc.save(model, tmp_path / "padded.npz")
    with pytest.raises(nc.ModelFileError, match="pad more than 1024 pixels in all"):
        nc.load(path)
    one = nc.Sequential(nc.Conv2D(1, 2, 1, padding=1000, bias=False))
    assert nc.load(nc.save(one, tmp_path / "one.npz")).config() == one.config()
