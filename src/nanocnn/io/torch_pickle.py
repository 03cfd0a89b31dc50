"""The ``data.pkl`` of a PyTorch file, read by a small pickle machine that never runs code.

``torch.save(model.state_dict(), path)`` pickles an ``OrderedDict`` whose values are calls of
``torch._utils._rebuild_tensor_v2(storage, offset, shape, strides, requires_grad, hooks)``,
each storage a persistent id ``("storage", torch.FloatStorage, key, location, numel)``.
:func:`read_pickle` steps through the opcodes (``pickletools.genops`` decodes them) and
carries out only those a state dict needs: numbers, strings, tuples, lists, dicts, the memo,
and calls of the few functions :data:`FUNCTIONS` allows, each done here by a function of
ours. A tensor comes out as a :class:`TensorRef` (where its values are, not the values): the
caller reads the storages. Any other opcode, function or class, such as ``os.system`` or the
class of a whole pickled model, is refused with a ``ModelFileError`` naming it, before
anything it names is imported: the Python standard library's ``pickle`` is never used.

Ideas from tinygrad's ``torch_load`` (``tinygrad/nn/state.py``), which also reads these files
without PyTorch.
"""

from __future__ import annotations

import pickletools
from typing import Any, NamedTuple

from nanocnn.errors import ModelFileError

# torch's storage classes (``torch.FloatStorage``...) and the safetensors dtype names (see
# ``safetensors.DTYPES``) of their elements
STORAGES = {
    "DoubleStorage": "F64", "FloatStorage": "F32", "HalfStorage": "F16", "BFloat16Storage": "BF16",
    "LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8",
    "ByteStorage": "U8", "BoolStorage": "BOOL",
}  # fmt: skip
ORDERED_DICT = "collections.OrderedDict"
REBUILD_TENSOR = "torch._utils._rebuild_tensor_v2"
REBUILD_PARAMETER = "torch._utils._rebuild_parameter"
FUNCTIONS = (ORDERED_DICT, REBUILD_TENSOR, REBUILD_PARAMETER)  # what data.pkl may call
# opcodes that push their argument: integers, floats, strings
VALUES = {"BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT", "BINUNICODE", "SHORT_BINUNICODE",
          "BINUNICODE8"}  # fmt: skip
CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False, "EMPTY_TUPLE": ()}
IGNORED = {"PROTO", "FRAME"}


class StorageRef(NamedTuple):
    """A storage of the file: ``data/<key>`` holds ``numel`` elements of ``dtype``."""

    key: str
    dtype: str  # a safetensors dtype name: "F32", "BF16", "I64"...
    numel: int


class TensorRef(NamedTuple):
    """A tensor: its elements ``storage[offset + sum(i_k * stride_k)]`` for each index ``i``
    of ``shape`` (offset and strides in elements, as PyTorch counts them)."""

    storage: StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


class _Global(NamedTuple):
    """A function or class ``data.pkl`` names; only those of FUNCTIONS and STORAGES pass."""

    name: str  # "module.qualified_name"


class _StateDict(dict):
    """An ``OrderedDict()`` of the pickle: the one object ``BUILD`` may give attributes to
    (torch's ``_metadata``, which is dropped)."""


def read_pickle(data: bytes | bytearray, where: str) -> Any:
    """The object pickled in ``data`` (the ``data.pkl`` of the file ``where``), tensors as
    :class:`TensorRef`. ModelFileError naming the file for anything a state dict's pickle
    never holds, and for a damaged pickle."""
    machine = _Machine(data, where)
    try:
        return machine.run()
    except ModelFileError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as error:
        problem = f"{type(error).__name__}: {error}"[:200]
        raise ModelFileError(f"{where}: data.pkl is damaged ({problem})") from error


class _Machine:
    """The stack, marks and memo of one pickle, and the opcodes a state dict needs."""

    def __init__(self, data: bytes | bytearray, where: str) -> None:
        self.data, self.where = data, where
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}

    def run(self) -> Any:
        """The object the pickle leaves on the stack at STOP (genops raises if there is none)."""
        for opcode, argument, _ in pickletools.genops(self.data):
            if opcode.name == "STOP":
                break
            self.step(opcode.name, argument)
        if len(self.stack) != 1 or self.marks:
            raise ValueError("the stack does not end with one object")
        return self.stack.pop()

    def step(self, name: str, argument: Any) -> None:
        stack = self.stack
        if name in VALUES:
            stack.append(argument)
        elif name in CONSTANTS:
            stack.append(CONSTANTS[name])
        elif name in IGNORED:
            pass
        elif name == "MARK":
            self.marks.append(len(stack))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            count = int(name[-1])
            if len(stack) < count:
                raise IndexError(f"{name} on a stack of {len(stack)}")
            stack[len(stack) - count :] = [tuple(stack[len(stack) - count :])]
        elif name == "TUPLE":
            stack.append(tuple(self.pop_mark()))
        elif name in ("EMPTY_LIST", "EMPTY_DICT"):
            stack.append([] if name == "EMPTY_LIST" else {})
        elif name in ("APPEND", "APPENDS"):
            items = self.pop_mark() if name == "APPENDS" else [stack.pop()]
            self.top(list).extend(items)
        elif name in ("SETITEM", "SETITEMS"):
            items = self.pop_mark() if name == "SETITEMS" else [stack.pop(-2), stack.pop()]
            if len(items) % 2:
                raise ValueError(f"{name} of an odd number of items")
            target = self.top(dict)
            for key, value in zip(items[::2], items[1::2], strict=True):
                if type(key) not in (str, int):  # nothing else needs hashing, nor deep hashing
                    raise TypeError(f"a dict key of type {type(key).__name__}")
                target[key] = value
        elif name in ("BINPUT", "LONG_BINPUT", "MEMOIZE"):
            self.memo[len(self.memo) if name == "MEMOIZE" else argument] = stack[-1]
        elif name in ("BINGET", "LONG_BINGET"):
            stack.append(self.memo[argument])
        elif name in ("GLOBAL", "STACK_GLOBAL"):
            module, qualname = argument.split(" ", 1) if name == "GLOBAL" else self.pop_names()
            stack.append(self.named(module, qualname))
        elif name == "BINPERSID":
            stack.append(self.storage(stack.pop()))
        elif name == "REDUCE":
            arguments = stack.pop()
            stack.append(self.call(stack.pop(), arguments))
        elif name == "BUILD":
            state = stack.pop()
            if type(self.top(object)) is not _StateDict or not isinstance(state, dict):
                raise ModelFileError(f"{self.where}: data.pkl sets the state of an object")
        else:
            raise ModelFileError(
                f"{self.where}: data.pkl uses the pickle opcode {name}, which a state dict "
                "never needs"
            )

    def top(self, kind: type) -> Any:
        if not isinstance(self.stack[-1], kind):
            raise TypeError(f"expected a {kind.__name__}, found {type(self.stack[-1]).__name__}")
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    def pop_names(self) -> tuple[str, str]:
        qualname, module = self.stack.pop(), self.stack.pop()
        if not (isinstance(module, str) and isinstance(qualname, str)):
            raise TypeError("STACK_GLOBAL of names that are not strings")
        return module, qualname

    def named(self, module: str, qualname: str) -> _Global:
        """A global that data.pkl may use; ModelFileError naming any other."""
        name = f"{module}.{qualname}"
        if name in FUNCTIONS or (module == "torch" and qualname in STORAGES):
            return _Global(name)
        advice = ""
        if module.startswith("torch.nn.") or b"_modules" in self.data:
            advice = (
                " It looks like a whole model, saved with torch.save(model, path): save its "
                "weights with torch.save(model.state_dict(), path) and load them into a "
                "nanocnn model with nanocnn.load_weights."
            )
        raise ModelFileError(
            f"{self.where}: data.pkl names {name}, which a state dict never holds; nanocnn "
            f"does not run code from a file.{advice}"
        )

    def storage(self, pid: Any) -> StorageRef:
        """The storage a persistent id ``("storage", type, key, location, numel)`` names."""
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise ModelFileError(f"{self.where}: data.pkl has a persistent id not a storage's")
        _, kind, key, location, numel = pid
        dtype = (
            STORAGES.get(kind.name.removeprefix("torch.")) if isinstance(kind, _Global) else None
        )
        if dtype is None or not (isinstance(key, str) and isinstance(location, str)):
            raise ModelFileError(f"{self.where}: data.pkl has a storage of no storage type")
        return StorageRef(key, dtype, _size(self.where, numel))

    def call(self, function: Any, arguments: Any) -> Any:
        """What the allowed ``function`` returns for ``arguments``, computed here."""
        name = function.name if isinstance(function, _Global) else type(function).__name__
        if not isinstance(arguments, tuple):
            raise TypeError(f"the arguments of {name} are not a tuple")
        if name == ORDERED_DICT and arguments == ():
            return _StateDict()
        if name == REBUILD_TENSOR and len(arguments) in (6, 7):
            storage, offset, shape, stride, requires_grad, hooks = arguments[:6]
            if not (isinstance(storage, StorageRef) and type(requires_grad) is bool):
                raise TypeError(f"{name} of a {type(storage).__name__}")
            if not (isinstance(hooks, dict) and isinstance(shape, tuple)):
                raise TypeError(f"{name} without a shape or hooks")
            if not (isinstance(stride, tuple) and len(stride) == len(shape)):
                raise ModelFileError(f"{self.where}: a tensor's shape and strides differ in length")
            sizes = tuple(_size(self.where, value) for value in (offset, *shape, *stride))
            return TensorRef(storage, sizes[0], sizes[1 : 1 + len(shape)], sizes[1 + len(shape) :])
        if (
            name == REBUILD_PARAMETER
            and len(arguments) == 3
            and isinstance(arguments[0], TensorRef)
        ):
            return arguments[0]  # a Parameter is its tensor
        raise ModelFileError(f"{self.where}: data.pkl calls {name} with arguments it never takes")


def _size(where: str, value: Any) -> int:
    """``value`` if it is a non-negative integer (not a bool); ModelFileError otherwise."""
    if type(value) is not int or value < 0:
        raise ModelFileError(
            f"{where}: a tensor's sizes, offset and strides must be non-negative integers"
        )
    return value
