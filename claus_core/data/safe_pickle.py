"""Restricted unpickling of untrusted annotation pickles (``pyannot.pkl``, ACT ``*-GT.pkl``).

The paper's datasets (UCF-101-24 and J-HMDB-21, supplementary Section 5.1, Tables 6 and 7) are
distributed as Python pickles. A plain :func:`pickle.load` runs whatever callable the file names,
so these files are read through :func:`safe_load`, which admits only

- numpy arrays, dtypes and scalars: ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``,
  ``numpy.dtype``, ``numpy.core.multiarray.scalar``, ``numpy.core.numeric._frombuffer``
  (pickle protocol 5) and their ``numpy._core`` spellings;
- builtin containers and plain values: ``dict``, ``list``, ``tuple``, ``set``, ``frozenset``,
  ``bytearray``, ``bytes``, ``str``, ``int``, ``float``, ``complex``, ``bool``;
- ``_codecs.encode`` with the ``latin1`` codec only (how protocols 0-2 store ``bytes``).

Any other global (``os.system``, ``builtins.eval``, a user class...) raises
:class:`~claus_core.data.types.DataError` naming the file and the refused global *before* it is
looked up, so nothing it names is imported or called. Python 2 pickles are read with
``encoding="latin1"`` (numpy's documented way to load Python 2 array pickles).

Numpy's own globals are not harmless either: an array of an object dtype built from raw bytes
(``ndarray((1,), dtype('O'), buffer=b'AAAAAAAA')``, or ``_reconstruct`` followed by a state
whose dtype has an object field) reads those bytes as pointers and crashes the process. So
every dtype that holds objects (``dtype.hasobject``: ``O`` itself, or a structured dtype with an
object field) is refused *before* an array is built from it: in the arguments of ``ndarray``
(the REDUCE opcode), ``_frombuffer`` and ``scalar``, and in the state of every array (BUILD). The
annotation files hold numeric arrays only. This needs the pure-Python unpickler, whose REDUCE
and BUILD steps can be checked; it is slower than the C one, which does not matter for files read once.
"""

from __future__ import annotations

import builtins
import codecs
import io
import pickle
import struct
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from claus_core.data.types import DataError

_BUILTIN_MODULES = ("builtins", "__builtin__")
_BUILTIN_NAMES = (
    "dict",
    "list",
    "tuple",
    "set",
    "frozenset",
    "bytearray",
    "bytes",
    "str",
    "int",
    "float",
    "complex",
    "bool",
)
_LATIN1_NAMES = {"latin1", "latin-1", "iso-8859-1", "iso8859-1"}


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` restricted to the latin1 codec that pickle protocols 0-2 use."""
    if encoding.lower() not in _LATIN1_NAMES or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with codec {encoding!r} is not allowed")
    return codecs.encode(text, "latin1", errors)


def _allowed_globals() -> dict[tuple[str, str], Callable[..., Any]]:
    multiarray = np._core.multiarray
    numeric = np._core.numeric
    allowed: dict[tuple[str, str], Callable[..., Any]] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    for module in _BUILTIN_MODULES:
        for name in _BUILTIN_NAMES:
            allowed[(module, name)] = getattr(builtins, name)
    return allowed


class _ObjectDtype(pickle.UnpicklingError):
    def __init__(self, where: str, dtype: np.dtype) -> None:
        super().__init__(f"{where}: dtype {dtype} holds Python objects")
        self.where, self.dtype = where, dtype


class _TooLarge(pickle.UnpicklingError):
    """An input that asks for more memory than its own size could fill (a memory bomb)."""


class _RefusedGlobal(pickle.UnpicklingError):
    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.qualified_name = f"{module}.{name}"


_ALLOWED = _allowed_globals()
_RECONSTRUCT = np._core.multiarray._reconstruct
_FROMBUFFER = np._core.numeric._frombuffer
_SCALAR = np._core.multiarray.scalar
# the array builders and the position of their dtype argument: ndarray(shape, dtype, buffer, ...),
# _reconstruct(subtype, shape, dtype), _frombuffer(buffer, dtype, shape, order), scalar(dtype, data)
_DTYPE_AT = {np.ndarray: 1, _RECONSTRUCT: 2, _FROMBUFFER: 1, _SCALAR: 0}


def _as_dtype(spec: Any) -> np.dtype | None:
    """The dtype numpy would make of ``spec`` (text, bytes, a list or dict spec, a dtype), or None."""
    try:
        return np.dtype(spec.decode("latin1") if isinstance(spec, bytes) else spec)
    except Exception:  # not a dtype: the builder refuses it itself
        return None


class _Memo(dict[Any, Any]):
    """The unpickler's memo, which remembers under which keys each dtype was stored, so that a
    dtype rebuilt at BUILD replaces exactly its own entries."""

    def __init__(self) -> None:
        super().__init__()
        self.dtype_keys: dict[int, list[Any]] = {}  # id(dtype) -> memo keys

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(value, np.dtype):
            self.dtype_keys.setdefault(id(value), []).append(key)
        super().__setitem__(key, value)

    def replace(self, old: np.dtype, new: np.dtype) -> None:
        for key in self.dtype_keys.pop(id(old), []):
            self[key] = new


class _RestrictedUnpickler(pickle._Unpickler):
    """An unpickler whose only reachable globals are those of ``_ALLOWED``; whose arrays and
    scalars never get a dtype that holds Python objects (every builder's dtype argument is made a
    dtype, checked, and handed on in that form); whose dtypes are rebuilt by numpy's public
    constructor; and whose allocations together stay within the file's own size."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="latin1")
        self.memo = _Memo()
        self.budget = len(data) + (1 << 20)  # what the file's arrays and bytes may take in all
        self.allocated = 0

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _RefusedGlobal(module, name) from None

    def _allocate(self, what: str, size: int) -> None:
        self.allocated += max(int(size), 0)
        if self.allocated > self.budget:
            raise _TooLarge(
                f"{what} would bring the file's allocations to {self.allocated} bytes, more than "
                f"the file's {self.budget - (1 << 20)} bytes could fill"
            )

    def load_reduce(self) -> None:
        arguments, function = self.stack[-1], self.stack[-2]
        if not isinstance(arguments, tuple):
            return super().load_reduce()  # REDUCE itself refuses arguments that are not a tuple
        if function in (bytes, bytearray) and arguments and isinstance(arguments[0], int):
            self._allocate(function.__name__, arguments[0])  # bytes(n): n zero bytes
        at = _DTYPE_AT.get(function)
        if at is not None and len(arguments) > at:
            dtype = _as_dtype(arguments[at])
            if dtype is not None:
                if dtype.hasobject:
                    raise _ObjectDtype(getattr(function, "__name__", "numpy"), dtype)
                arguments = (*arguments[:at], dtype, *arguments[at + 1 :])
                self.stack[-1] = arguments
                if function is _SCALAR:
                    self._allocate("a numpy scalar", dtype.itemsize)
                elif function is np.ndarray and len(arguments) < 3:  # no buffer: new memory
                    self._allocate("an array", _requested_bytes(arguments[0], dtype))
                elif function is _RECONSTRUCT:
                    self._allocate("an array", _requested_bytes(arguments[1], dtype))
        return super().load_reduce()

    def load_build(self) -> None:
        state, instance = self.stack[-1], self.stack[-2]
        if isinstance(instance, np.dtype):  # never numpy's dtype.__setstate__ on untrusted state
            self.stack.pop()
            self.stack[-1] = rebuilt = _rebuild_dtype(instance, state)
            self.memo.replace(instance, rebuilt)
            return
        if (
            not isinstance(instance, np.ndarray)
            or not isinstance(state, tuple)
            or len(state) not in (4, 5)
        ):
            raise pickle.UnpicklingError(f"BUILD on {type(instance).__name__} is not allowed")
        # (version,) shape, dtype, fortran, data
        shape, dtype = state[-4], _as_dtype(state[-3])
        if dtype is None or dtype.hasobject:
            raise _ObjectDtype("an array's state", dtype if dtype is not None else np.dtype("O"))
        self._allocate("an array", _requested_bytes(shape, dtype))
        self.stack[-1] = (*state[:-3], dtype, *state[-2:])
        super().load_build()

    def load_bytearray8(self) -> None:  # the pure-Python unpickler allocates before it reads
        (size,) = struct.unpack("<Q", self.read(8))
        self._allocate("BYTEARRAY8", size)
        value = bytearray(size)
        self.readinto(value)
        self.append(value)

    dispatch = {
        **pickle._Unpickler.dispatch,
        pickle.BUILD[0]: load_build,
        pickle.REDUCE[0]: load_reduce,
        pickle.BYTEARRAY8[0]: load_bytearray8,
    }


def _rebuild_dtype(base: np.dtype, state: Any) -> np.dtype:
    """The dtype a pickled ``(np.dtype(spec), state)`` describes, built by numpy's public
    constructor from the state's layout; numpy's own ``__setstate__`` trusts sizes, alignments
    and flags it is given, and a fuzzed state crashed the process through it.

    ``state``: ``(version, byteorder, subarray, names, fields, elsize, alignment, flags[, meta])``.
    An aligned struct (flag 128) is rebuilt aligned; other flags and the alignment are derived by
    numpy; metadata is dropped; datetime dtypes are not supported.
    """
    if not isinstance(state, tuple) or len(state) not in (8, 9) or base.char in "Mm":
        raise pickle.UnpicklingError(f"unsupported dtype state for {base}")
    _, byteorder, subarray, names, fields, elsize, _, flags = state[:8]
    if subarray is not None:  # (base dtype, shape)
        sub_base, shape = subarray
        result = np.dtype((sub_base, tuple(int(n) for n in shape)))
    elif names is not None:  # fields: name -> (dtype, offset[, title])
        entries = [fields[name] for name in names]
        spec = {"names": list(names), "formats": [e[0] for e in entries],
                "offsets": [int(e[1]) for e in entries], "itemsize": int(elsize)}  # fmt: skip
        if any(len(e) > 2 for e in entries):
            spec["titles"] = [e[2] if len(e) > 2 else None for e in entries]
        result = np.dtype(spec, align=bool(int(flags) & 128))
    else:
        result = base if byteorder not in ("<", ">") else base.newbyteorder(byteorder)
    if int(elsize) not in (-1, result.itemsize):
        raise pickle.UnpicklingError(
            f"dtype state says {elsize} bytes, {result} has {result.itemsize}"
        )
    if result.hasobject:
        raise _ObjectDtype("a dtype's state", result)
    return result


def _requested_bytes(shape: Any, dtype: np.dtype) -> int:
    """Bytes an array of ``shape`` and ``dtype`` would take (0 when the shape is not well formed)."""
    try:
        dims = (shape,) if isinstance(shape, int) else tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        return 0
    return int(np.prod([max(n, 0) for n in dims], dtype=object)) * max(dtype.itemsize, 1)


def safe_load(path_or_file: str | Path | IO[bytes]) -> Any:
    """Unpickle ``path_or_file`` admitting only numpy arrays/dtypes/scalars and builtin containers.

    Raises DataError naming the file for a missing file, a refused global (nothing is executed)
    and for any other malformed content.
    """
    if isinstance(path_or_file, str | Path):
        source = str(path_or_file)
        try:
            data = Path(path_or_file).read_bytes()
        except FileNotFoundError:
            raise DataError(f"{source}: annotation file not found") from None
        except OSError as err:
            raise DataError(f"{source}: cannot read annotation file ({err})") from err
    else:
        source = str(getattr(path_or_file, "name", "<pickle stream>"))
        data = path_or_file.read()
    try:
        return _RestrictedUnpickler(data).load()
    except _TooLarge as err:
        raise DataError(
            f"{source}: not a readable annotation pickle ({err}); nothing was allocated"
        ) from None
    except _ObjectDtype as err:
        raise DataError(
            f"{source}: pickle builds an array of dtype {err.dtype} ({err.where}), which holds Python "
            "objects; only numeric arrays are allowed, and it was not built"
        ) from None
    except _RefusedGlobal as err:
        raise DataError(
            f"{source}: pickle names the global {err.qualified_name!r}, which is not allowed "
            "(only numpy arrays/dtypes/scalars and builtin containers are); it was not executed"
        ) from None
    except Exception as err:  # nothing but the allowed globals ran: any error is a malformed file
        raise DataError(
            f"{source}: not a readable annotation pickle ({type(err).__name__}: {err})"
        ) from err
