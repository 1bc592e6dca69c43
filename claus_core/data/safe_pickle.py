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


def _refuse_objects(where: str, *values: Any) -> None:
    """Raise if any of ``values`` is a dtype that holds Python objects."""
    for value in values:
        if isinstance(value, np.dtype) and value.hasobject:
            raise _ObjectDtype(where, value)


def _refuse_object_spec(where: str, spec: Any) -> None:
    """Raise if ``spec``, the dtype argument of an array builder (a dtype, or its name as text),
    names a dtype that holds Python objects."""
    if isinstance(spec, str | bytes) and len(spec) < 64:
        try:
            spec = np.dtype(spec.decode("latin1") if isinstance(spec, bytes) else spec)
        except Exception:  # not a dtype name: the builder will refuse it itself
            return
    _refuse_objects(where, spec)


def _checked(where: str, build: Callable[..., Any], dtype_at: int) -> Callable[..., Any]:
    """``build`` with its dtype argument (position ``dtype_at``) checked first."""

    def call(*args: Any, **kwargs: Any) -> Any:
        _refuse_objects(where, *args, *kwargs.values())
        if len(args) > dtype_at:
            _refuse_object_spec(where, args[dtype_at])
        return build(*args, **kwargs)

    return call


_ALLOWED = _allowed_globals()
for _package in ("numpy.core", "numpy._core"):
    _ALLOWED[(f"{_package}.numeric", "_frombuffer")] = _checked(  # (buffer, dtype, shape, order)
        "_frombuffer", np._core.numeric._frombuffer, dtype_at=1
    )
    _ALLOWED[(f"{_package}.multiarray", "scalar")] = _checked(  # (dtype, data)
        "numpy scalar", np._core.multiarray.scalar, dtype_at=0
    )


class _RefusedGlobal(pickle.UnpicklingError):
    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.qualified_name = f"{module}.{name}"


class _RestrictedUnpickler(pickle._Unpickler):
    """An unpickler whose only reachable globals are those of ``_ALLOWED``, and whose arrays
    never get a dtype that holds Python objects."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _RefusedGlobal(module, name) from None

    def load_build(self) -> None:
        state, instance = self.stack[-1], self.stack[-2]
        if isinstance(instance, np.dtype):  # never numpy's dtype.__setstate__ on untrusted state
            self.stack.pop()
            self.stack[-1] = rebuilt = _rebuild_dtype(instance, state)
            for key, value in self.memo.items():  # later references to it get the rebuilt one
                if value is instance:
                    self.memo[key] = rebuilt
            return
        if isinstance(instance, np.ndarray) and isinstance(state, tuple):
            _refuse_objects("an array's state", *state)  # (version, shape, dtype, fortran, data)
        super().load_build()

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="latin1")
        self.size = len(data)  # nothing the file builds may need more bytes than it holds

    def _bounded(self, what: str, size: int) -> None:
        if size > self.size + 1024:
            raise _TooLarge(f"{what} declares {size} bytes, more than the file's {self.size}")

    def load_reduce(self) -> None:
        arguments, function = self.stack[-1], self.stack[-2]
        if not isinstance(arguments, tuple):
            arguments = ()
        if function in (bytes, bytearray) and arguments and isinstance(arguments[0], int):
            self._bounded(function.__name__, arguments[0])  # bytes(n): n zero bytes
        if function is np._core.multiarray._reconstruct:
            arguments = arguments[1:]  # (subtype, shape, dtype) -> (shape, dtype)
        if function in (np.ndarray, np._core.multiarray._reconstruct):
            _refuse_objects("numpy.ndarray", *arguments)  # (shape, dtype, buffer, ...)
            if len(arguments) > 1:
                _refuse_object_spec("numpy.ndarray", arguments[1])
            if arguments:
                self._bounded("an array", _requested_bytes(*arguments[:2]))
        super().load_reduce()

    def load_bytearray8(self) -> None:  # the pure-Python unpickler allocates before it reads
        (size,) = struct.unpack("<Q", self.read(8))
        self._bounded("BYTEARRAY8", size)
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
    Alignment and flags are left for numpy to derive; datetime dtypes are not supported.
    """
    if not isinstance(state, tuple) or len(state) not in (8, 9) or base.char in "Mm":
        raise pickle.UnpicklingError(f"unsupported dtype state for {base}")
    _, byteorder, subarray, names, fields, elsize = state[:6]
    if subarray is not None:  # (base dtype, shape)
        sub_base, shape = subarray
        result = np.dtype((sub_base, tuple(int(n) for n in shape)))
    elif names is not None:  # fields: name -> (dtype, offset[, title])
        entries = [fields[name] for name in names]
        spec = {"names": list(names), "formats": [e[0] for e in entries],
                "offsets": [int(e[1]) for e in entries], "itemsize": int(elsize)}  # fmt: skip
        if any(len(e) > 2 for e in entries):
            spec["titles"] = [e[2] if len(e) > 2 else None for e in entries]
        result = np.dtype(spec)
    else:
        result = base if byteorder not in ("<", ">") else base.newbyteorder(byteorder)
    if int(elsize) not in (-1, result.itemsize):
        raise pickle.UnpicklingError(
            f"dtype state says {elsize} bytes, {result} has {result.itemsize}"
        )
    _refuse_objects("a dtype's state", result)
    return result


class _TooLarge(pickle.UnpicklingError):
    """An input that asks for more memory than its own size could fill (a memory bomb)."""


def _requested_bytes(shape: Any, dtype: Any = None) -> int:
    """Bytes an array of ``shape`` and ``dtype`` would take (0 when they are not well formed)."""
    try:
        dims = (shape,) if isinstance(shape, int) else tuple(int(n) for n in shape)
        itemsize = np.dtype(dtype if isinstance(dtype, np.dtype | str) else "u1").itemsize
    except (TypeError, ValueError):
        return 0
    return int(np.prod([max(n, 0) for n in dims], dtype=object)) * max(itemsize, 1)


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
