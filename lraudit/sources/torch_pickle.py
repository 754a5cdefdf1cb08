"""Reading ``torch.save`` files without running them: a restricted unpickler over inert stand-ins.

``torch.save`` writes a zip archive (``<name>/data.pkl`` + one ``<name>/data/<key>`` record per
storage; torch >= 1.6) or, with ``_use_new_zipfile_serialization=False`` and before 1.6, a
*legacy* stream: a magic-number pickle, a protocol pickle, a sys-info pickle, the object pickle,
a pickle of the storage keys, then each storage's raw bytes (8-byte element count + data). Both
are read here by :func:`load`, which never imports a module and never calls a class of the file:

* :class:`RestrictedUnpickler.find_class` resolves a global only to something inert:
  - a few builtins that build plain data (``set``, ``frozenset``, ``complex``, ``slice``,
    ``bytearray``, ``collections.OrderedDict`` -> ``dict``, ``_codecs.encode`` for latin-1 bytes);
  - torch's tensor rebuild functions and storage types -> :class:`TensorPlaceholder` (for a
    one-element float/int tensor, its value read from the storage record), ``torch.device`` and
    dtypes -> their name, ``torch.Size`` -> a tuple; numpy scalars -> their value;
  - any class of a *data module* (``transformers``, ``accelerate``, ``lightning``,
    ``pytorch_lightning``, ``lightning_fabric``, ``torch.optim``, ``argparse``, ``enum``,
    ``pathlib``) -> a generated stand-in class that only records its constructor arguments and
    ``__setstate__`` state (a dataclass such as ``TrainingArguments`` -> the dict of its fields, an
    enum such as ``SchedulerType('linear')`` -> its value);
  - anything else (``os.system``, ``builtins.eval``, ``subprocess.Popen``, a user's class...) ->
    an :class:`Unreadable` stand-in (calling it records the call and runs nothing) and a warning.
* :func:`plain` turns the result into plain Python data (dicts, lists, numbers, strings).

A damaged or truncated file gives what could be read and a warning, never an exception.
"""
from __future__ import annotations

import io
import math
import pickle
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

#: the number torch's legacy format starts with (``torch.serialization.MAGIC_NUMBER``)
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PREFIX = b"\x80\x02\x8a\x0a" + LEGACY_MAGIC.to_bytes(10, "little")
#: modules whose classes are plain data: rebuilt as recording stand-ins (nothing imported)
DATA_MODULES = (
    "transformers", "accelerate", "lightning", "pytorch_lightning", "lightning_fabric",
    "torch.optim", "argparse", "enum", "pathlib", "peft", "trl",
)
#: storage type -> (numpy dtype of one element, element size)
_STORAGE_DTYPES = {
    "FloatStorage": ("<f4", 4), "DoubleStorage": ("<f8", 8), "HalfStorage": ("<f2", 2),
    "BFloat16Storage": ("bf16", 2), "LongStorage": ("<i8", 8), "IntStorage": ("<i4", 4),
    "ShortStorage": ("<i2", 2), "CharStorage": ("i1", 1), "ByteStorage": ("u1", 1),
    "BoolStorage": ("?", 1),
}
_DTYPE_NAMES = {
    "float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
    "float", "double", "half", "long", "int", "complex64", "complex128",
}
_SAFE_BUILTINS = {
    "set": set, "frozenset": frozenset, "complex": complex, "slice": slice, "bytearray": bytearray,
}
#: at most this many bytes of one pickle are read (a larger data.pkl is not a training state)
MAX_PICKLE_BYTES = 256 * 1024 * 1024


@dataclass
class TensorPlaceholder:
    """A tensor of the file: its dtype and shape, and its value when it holds one number."""

    dtype: str | None
    shape: tuple[int, ...]
    value: float | int | bool | None = None

    def __str__(self) -> str:
        return f"<tensor {self.dtype} {list(self.shape)}>"


@dataclass
class _Storage:
    dtype: str | None
    size: int  # bytes of one element
    key: str
    numel: int | None
    data: bytes | None = None


class _StandIn:
    """Base of the generated stand-ins for classes of :data:`DATA_MODULES`: records, never runs."""

    qualname: ClassVar[str] = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> _StandIn:
        instance = object.__new__(cls)
        instance.args = args
        instance.kwargs = kwargs
        instance.state = None
        instance.items = []
        return instance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass  # __new__ recorded everything

    def __setstate__(self, state: Any) -> None:
        self.state = state

    # pickled subclasses of list/dict add their items through these
    def append(self, item: Any) -> None:
        self.items.append(item)

    def extend(self, items: Any) -> None:
        self.items.extend(items)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.items.append((key, value))


class Unreadable(_StandIn):
    """Base of the stand-ins for globals lraudit does not rebuild (not on its list of inert
    classes: ``os.system``, a user's class...): constructing one records the call, runs nothing."""

    def __str__(self) -> str:
        return f"<unreadable {self.qualname}>"


class _PlainDict(dict):
    """``OrderedDict``/``Counter``/``defaultdict`` as a dict: keeps items, ignores a default
    factory (never called) and keeps a BUILD state (a state_dict's ``_metadata``) aside."""

    def __init__(self, *args: Any) -> None:
        first = args[0] if args else None
        super().__init__(first if isinstance(first, (dict, list)) else ())

    def __setstate__(self, state: Any) -> None:
        self.pickled_state = state


def _stand_in(module: str, name: str, base: type[_StandIn] = _StandIn) -> type[_StandIn]:
    return type(name, (base,), {"qualname": f"{module}.{name}"})


def _codecs_encode(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol 2 pickles bytes; only text codecs."""
    if encoding not in ("latin1", "latin-1", "utf-8", "utf8", "ascii"):
        raise pickle.UnpicklingError(f"refused _codecs.encode(..., {encoding!r})")
    return text.encode(encoding)


def _numpy_value(raw: bytes, dtype: str) -> float | int | bool | None:
    import numpy as np

    if dtype == "bf16":
        return float(np.frombuffer(b"\x00\x00" + raw[:2], "<f4")[0]) if len(raw) >= 2 else None
    try:
        array = np.frombuffer(raw, dtype=np.dtype(dtype), count=1)
    except (TypeError, ValueError):
        return None
    return array[0].item()


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle reader whose globals are inert stand-ins (see the module docstring)."""

    def __init__(self, file: Any, storages: dict[str, bytes] | None = None) -> None:
        super().__init__(file)
        self.storages = storages  # zip: key -> record bytes (read on demand); legacy: filled later
        self.refused: list[str] = []
        self.tensors: list[tuple[TensorPlaceholder, _Storage, int]] = []

    def find_class(self, module: str, name: str) -> Any:
        """An inert stand-in for ``module.name``; never imports."""
        plain_global = _plain_global(module, name)
        if plain_global is not None:
            return plain_global
        if module == "torch._utils" and name.startswith("_rebuild_tensor"):
            return self._rebuild_tensor
        if any(module == data or module.startswith(data + ".") for data in DATA_MODULES):
            return _stand_in(module, name)
        self.refused.append(f"{module}.{name}")
        return _stand_in(module, name, Unreadable)

    def persistent_load(self, pid: Any) -> Any:
        """torch's storage references: ``('storage', type, key, location, numel)``."""
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage" or len(pid) < 5:
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r:.60}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        known = isinstance(storage_type, str) and storage_type in _STORAGE_DTYPES
        dtype, size = _STORAGE_DTYPES[storage_type] if known else (None, 0)
        return _Storage(dtype, size, key, numel if isinstance(numel, int) else None)

    def _rebuild_tensor(
        self, storage: Any, offset: Any = 0, size: Any = (), *rest: Any
    ) -> TensorPlaceholder:
        shape = tuple(int(n) for n in size) if isinstance(size, (tuple, list)) else ()
        placeholder = TensorPlaceholder(getattr(storage, "dtype", None), shape)
        if isinstance(storage, _Storage) and math.prod(shape) == 1 and isinstance(offset, int):
            self.tensors.append((placeholder, storage, offset))
        return placeholder

    def fill_tensor_values(self) -> None:
        """Read the value of every one-element tensor from its storage record."""
        records = self.storages if self.storages is not None else {}
        for placeholder, storage, offset in self.tensors:
            raw = storage.data if storage.data is not None else records.get(storage.key)
            size = storage.size
            if raw is None or storage.dtype is None:
                continue
            chunk = raw[offset * size : (offset + 1) * size]
            if len(chunk) == size:
                placeholder.value = _numpy_value(chunk, storage.dtype)


def _torch_global(module: str, name: str) -> Any:
    """torch's own globals a state_dict uses: parameters, storage types, devices, sizes, dtypes."""
    if module == "torch._utils" and name in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
        return lambda data, *rest: data
    if module in ("torch", "torch.storage") and name.endswith("Storage"):
        return name
    if module == "torch" and name == "device":
        return lambda *args: ":".join(str(arg) for arg in args)
    if module == "torch" and name == "Size":
        return tuple
    if module == "torch" and name in _DTYPE_NAMES:
        return name
    return None


def _plain_global(module: str, name: str) -> Any:
    """The inert builtins, collections, codecs, numpy and torch globals (None for anything else)."""
    if module == "builtins" and name in _SAFE_BUILTINS:
        return _SAFE_BUILTINS[name]
    if module == "collections" and name in ("OrderedDict", "Counter", "defaultdict"):
        return _PlainDict
    if module == "_codecs" and name == "encode":
        return _codecs_encode
    if module == "copyreg" and name == "_reconstructor":
        return _reconstructor
    if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name == "scalar":
        return _numpy_scalar
    if module == "numpy" and name == "dtype":
        return _stand_in(module, name)
    if module.startswith("torch"):
        return _torch_global(module, name)
    return None


def _reconstructor(cls: Any, base: Any, state: Any = None) -> Any:
    """``copyreg._reconstructor`` (protocol 0/1 objects): a stand-in instance, nothing called."""
    if isinstance(cls, type) and issubclass(cls, _StandIn):
        instance = cls.__new__(cls)
        instance.args = (state,) if state is not None else ()
        return instance
    return _stand_in("copyreg", "_reconstructor", Unreadable)(cls, base, state)


def _numpy_scalar(dtype: Any, raw: Any = b"") -> Any:
    """``numpy.core.multiarray.scalar(dtype, bytes)``: the value, decoded with NumPy from the bytes."""
    code = dtype.args[0] if isinstance(dtype, _StandIn) and dtype.args else None
    if isinstance(dtype, _StandIn) and isinstance(dtype.state, tuple) and len(dtype.state) > 1:
        order = dtype.state[1] if dtype.state[1] in ("<", ">") else ""
        code = f"{order}{code}" if code else None
    if isinstance(code, str) and isinstance(raw, (bytes, bytearray)):
        return _numpy_value(bytes(raw), code)
    return _stand_in("numpy", "scalar", Unreadable)(dtype, raw)


def plain(value: Any, depth: int = 0) -> Any:
    """The loaded object as plain data: stand-ins -> dicts/values, tensors -> value or a label."""
    if depth > 64:
        return "<too deep>"
    if isinstance(value, dict):
        return {_key(key): plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item, depth + 1) for item in value]
    if isinstance(value, TensorPlaceholder):
        return value.value if value.value is not None else str(value)
    if isinstance(value, Unreadable):
        return str(value)  # before _StandIn: its subclass
    if isinstance(value, _StandIn):
        return _plain_stand_in(value, depth)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, _Storage):
        return f"<storage {value.dtype}>"
    return value


def _plain_stand_in(value: _StandIn, depth: int) -> Any:
    state = value.state
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
        state = {**(state[0] or {}), **state[1]}  # (dict state, slot state)
    if isinstance(state, dict):
        return plain(state, depth + 1)
    if value.items:
        return plain(value.items, depth + 1)
    if len(value.args) == 1 and state is None:
        return plain(value.args[0], depth + 1)  # an enum member: its value
    if not value.args and state is None:
        return f"<{value.qualname}>"
    return {"class": value.qualname, "args": plain(list(value.args), depth + 1)}


def _key(key: Any) -> Any:
    return key if isinstance(key, (str, int, float, bool)) or key is None else str(key)


def class_name(value: Any) -> str | None:
    """``module.Name`` of a stand-in (the class the file named), None for plain data."""
    return value.qualname if isinstance(value, _StandIn) else None


@dataclass
class Loaded:
    """What :func:`load` read: the object (stand-ins kept), the format, and what went wrong."""

    obj: Any = None
    format: str | None = None  # "zip", "legacy", "pickle"
    ok: bool = False
    refused: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def sniff_bytes(prefix: bytes) -> str | None:
    """``"zip"``, ``"legacy"`` or ``"pickle"`` when ``prefix`` starts a torch.save file / a pickle."""
    if prefix.startswith(b"PK\x03\x04") and len(prefix) >= 30:
        (name_length,) = struct.unpack_from("<H", prefix, 26)
        name = prefix[30 : 30 + name_length]
        return "zip" if name.endswith(b"data.pkl") else None
    if prefix.startswith(_LEGACY_PREFIX):
        return "legacy"
    if len(prefix) >= 3 and prefix[0] == 0x80 and 2 <= prefix[1] <= 5:
        return "pickle"
    return None


def _unreadable(where: str, exc: Exception) -> str:
    return f"{where}: unreadable pickle ({type(exc).__name__}: {str(exc)[:80]}); nothing kept"


def _unpickle(data: bytes, where: str, loaded: Loaded, storages: Any = None) -> RestrictedUnpickler | None:
    """Run the restricted unpickler over ``data``; warnings instead of exceptions."""
    unpickler = RestrictedUnpickler(io.BytesIO(data), storages)
    try:
        loaded.obj = unpickler.load()
        loaded.ok = True
    except Exception as exc:  # any damage: pickle raises many kinds (EOFError, ValueError, ...)
        loaded.warnings.append(_unreadable(where, exc))
    loaded.refused.extend(unpickler.refused)
    return unpickler if loaded.ok else None


class _ZipStorages(dict):
    """Storage records of a torch zip, read on first access (only one-element tensors ask)."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__()
        self.archive = archive
        self.prefix = prefix

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self.archive.read(f"{self.prefix}data/{key}")
        except (KeyError, zipfile.BadZipFile, OSError, EOFError):
            return default


def _load_zip(path: Path, loaded: Loaded) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [name for name in archive.namelist() if name.endswith("data.pkl")]
            if not names:
                loaded.warnings.append(f"{path}: zip archive without data.pkl; not a torch.save file")
                return
            info = archive.getinfo(names[0])
            if info.file_size > MAX_PICKLE_BYTES:
                loaded.warnings.append(f"{path}: data.pkl of {info.file_size} bytes is too large; not read")
                return
            prefix = names[0][: -len("data.pkl")]
            unpickler = _unpickle(archive.read(names[0]), str(path), loaded, _ZipStorages(archive, prefix))
            if unpickler is not None:
                unpickler.fill_tensor_values()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        loaded.warnings.append(f"{path}: damaged zip archive ({exc}); nothing kept")


def _load_legacy(data: bytes, path: Path, loaded: Loaded) -> None:
    """The legacy stream: skip its three header pickles, read the object, then the storages."""
    stream = io.BytesIO(data)
    for _ in range(3):  # magic number, protocol version, sys info: plain data
        header = RestrictedUnpickler(stream)
        try:
            header.load()
        except Exception as exc:  # a damaged header: nothing follows that can be trusted
            loaded.warnings.append(f"{path}: damaged legacy header ({type(exc).__name__}); nothing kept")
            return
    unpickler = RestrictedUnpickler(stream)
    try:
        loaded.obj = unpickler.load()
        loaded.ok = True
    except Exception as exc:
        loaded.warnings.append(_unreadable(str(path), exc))
    loaded.refused.extend(unpickler.refused)
    if not loaded.ok:
        return
    _legacy_storages(stream, unpickler, path, loaded)
    unpickler.fill_tensor_values()


def _legacy_storages(
    stream: io.BytesIO, unpickler: RestrictedUnpickler, path: Path, loaded: Loaded
) -> None:
    by_key = {storage.key: storage for _, storage, _ in unpickler.tensors}
    try:
        keys = RestrictedUnpickler(stream).load()
    except Exception:  # no storage section (no tensors) or a truncated one: values stay unknown
        if by_key:
            loaded.warnings.append(f"{path}: legacy storage section unreadable; tensor values unknown")
        return
    for key in keys if isinstance(keys, list) else []:
        head = stream.read(8)
        if len(head) < 8:
            loaded.warnings.append(f"{path}: legacy storage data truncated; tensor values unknown")
            return
        (count,) = struct.unpack("<q", head)
        storage = by_key.get(str(key))
        raw = stream.read(count * (storage.size if storage is not None and storage.size else 1))
        if storage is not None:
            storage.data = raw


def load(path: Path) -> Loaded:
    """Read a torch.save file (zip or legacy) or a plain pickle, inertly; never raises."""
    loaded = Loaded()
    try:
        with open(path, "rb") as handle:
            prefix = handle.read(64)
    except OSError as exc:
        loaded.warnings.append(f"{path}: cannot read: {exc.strerror or exc}")
        return loaded
    loaded.format = sniff_bytes(prefix)
    if loaded.format == "zip":
        _load_zip(path, loaded)
    elif loaded.format in ("legacy", "pickle"):
        try:
            size = path.stat().st_size
            if size > MAX_PICKLE_BYTES:
                loaded.warnings.append(f"{path}: pickle of {size} bytes is too large; not read")
                return loaded
            data = path.read_bytes()
        except OSError as exc:
            loaded.warnings.append(f"{path}: cannot read: {exc.strerror or exc}")
            return loaded
        if loaded.format == "legacy":
            _load_legacy(data, path, loaded)
        else:
            _unpickle(data, str(path), loaded)
    else:
        loaded.warnings.append(f"{path}: neither a torch.save archive nor a pickle")
    if loaded.refused:
        names = ", ".join(sorted(set(loaded.refused))[:6])
        loaded.warnings.append(
            f"{path}: refused to rebuild {names} (not on lraudit's list of inert classes; "
            "kept as unreadable placeholders, nothing was run)"
        )
    return loaded
