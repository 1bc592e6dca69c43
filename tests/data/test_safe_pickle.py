"""Tests of the restricted unpickler (claus_core.data.safe_pickle)."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from claus_core.data.safe_pickle import safe_load
from claus_core.data.types import DataError

# A hand-written Python 2 (protocol 2) pickle of {'boxes': uint8 array [1, 2, 255]}: the array
# bytes are a py2 ``str`` (SHORT_BINSTRING), the global is spelled numpy.core.multiarray.
PY2_PICKLE = (
    b"\x80\x02}U\x05boxescnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b"
    b"\x87R(K\x01K\x03\x85cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xff"
    b"J\xff\xff\xff\xffK\x00tb\x89U\x03\x01\x02\xfftbs."
)


class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _RunsEval:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


def _payload() -> dict:
    return {
        "boxes": np.arange(12, dtype=np.uint16).reshape(3, 4),
        "numf": np.uint8(200),
        "scale": np.float32(1.5),
        "nested": [(1, 2.5, "a"), {"k": None, "b": b"\x00\xff"}],
        "flags": {True, False},
        "frozen": frozenset({3}),
        "raw": bytearray(b"xy"),
        "matrix": np.ones((2, 2), dtype=np.float64),
    }


def _assert_same(loaded: dict, expected: dict) -> None:
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        if isinstance(value, np.ndarray | np.generic):
            assert np.array_equal(loaded[key], value)
            assert loaded[key].dtype == value.dtype
        else:
            assert loaded[key] == value


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_round_trip_of_numpy_and_builtin_containers(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(_payload(), protocol=protocol))
    _assert_same(safe_load(path), _payload())
    _assert_same(safe_load(str(path)), _payload())
    with path.open("rb") as stream:
        _assert_same(safe_load(stream), _payload())


def test_python2_pickle_with_numpy_core_globals_loads() -> None:
    loaded = safe_load(io.BytesIO(PY2_PICKLE))
    assert list(loaded) == ["boxes"]
    assert loaded["boxes"].dtype == np.uint8
    assert loaded["boxes"].tolist() == [1, 2, 255]


@pytest.mark.parametrize(
    ("make", "refused"),
    [(_RunsShell, f"{os.system.__module__}.system"), (_RunsEval, "builtins.eval")],
)
def test_dangerous_global_is_refused_and_not_run(tmp_path: Path, make, refused: str) -> None:
    marker = tmp_path / "was_run"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"boxes": [make(marker)]}))
    with pytest.raises(DataError) as info:
        safe_load(path)
    assert str(path) in str(info.value)
    assert repr(refused) in str(info.value)
    assert not marker.exists()


def test_refused_module_is_never_imported(tmp_path: Path) -> None:
    path = tmp_path / "unknown.pkl"
    path.write_bytes(b"cclaus_no_such_module_xyz\nboom\n(tR.")
    with pytest.raises(DataError, match="claus_no_such_module_xyz.boom"):
        safe_load(path)
    assert "claus_no_such_module_xyz" not in sys.modules


def test_protocol0_os_system_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "was_run"
    path = tmp_path / "evil0.pkl"
    path.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    with pytest.raises(DataError, match=r"'os\.system'.*not executed"):
        safe_load(path)
    assert not marker.exists()


def test_codecs_encode_only_with_latin1() -> None:
    rot13 = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R."
    with pytest.raises(DataError, match="rot13"):
        safe_load(io.BytesIO(rot13))


def test_missing_and_truncated_files_raise_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        safe_load(tmp_path / "absent.pkl")
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(pickle.dumps(_payload())[:40])
    with pytest.raises(DataError, match="truncated.pkl"):
        safe_load(truncated)


# ----------------------------------------------------------------------------- object dtypes
# Arrays of a dtype that holds Python objects, built from raw bytes, read the bytes as pointers:
# before issue 16 these pickles crashed the process (segfault, rc 139). Each is loaded in a child
# process, so that a regression fails this test instead of killing pytest.


class _ObjectArrayFromBuffer:
    def __reduce__(self):
        return (np.ndarray, ((1,), np.dtype("O"), b"AAAAAAAA"))


class _StructuredObjectState:
    def __reduce__(self):
        state = (1, (1,), np.dtype([("a", "O")]), False, b"AAAAAAAA")
        return (np._core.multiarray._reconstruct, (np.ndarray, (0,), b"b"), state)


class _ObjectArrayState:
    def __reduce__(self):
        return (
            np._core.multiarray._reconstruct,
            (np.ndarray, (0,), b"b"),
            (1, (1,), np.dtype("O"), False, b"A" * 8),
        )


def _load_in_child(path: Path, call: str = "safe_load") -> subprocess.CompletedProcess:
    code = (
        "import sys\nfrom claus_core.data.safe_pickle import safe_load\n"
        "from claus_core.data.ucf101_24 import load_ucf101_24\nfrom claus_core.data.types import DataError\n"
        f"try:\n    {call}(sys.argv[1])\nexcept DataError as err:\n    print(err)\n    sys.exit(3)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "make", [_ObjectArrayFromBuffer, _StructuredObjectState, _ObjectArrayState]
)
@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_object_dtypes_are_refused_before_an_array_is_built(
    tmp_path: Path, make, protocol: int
) -> None:
    path = tmp_path / "pyannot.pkl"
    path.write_bytes(pickle.dumps({"v": make()}, protocol=protocol))
    result = _load_in_child(path)
    assert result.returncode == 3, (
        result.returncode,
        result.stderr[-2000:],
    )  # a DataError, not a crash
    assert str(path) in result.stdout and "holds Python objects" in result.stdout


def test_the_ucf_loader_names_the_file_of_an_object_array_pickle(tmp_path: Path) -> None:
    path = tmp_path / "pyannot.pkl"
    path.write_bytes(pickle.dumps({"v_x": {"numf": _ObjectArrayFromBuffer()}}, protocol=2))
    result = _load_in_child(path, call="load_ucf101_24")
    assert result.returncode == 3, (result.returncode, result.stderr[-2000:])
    assert str(path) in result.stdout


def test_numeric_structured_arrays_still_load(tmp_path: Path) -> None:
    values = np.array([(1, 2.5)], dtype=[("a", "<i4"), ("b", "<f8")])
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps({"v": values}, protocol=2))
    assert safe_load(path)["v"].tolist() == values.tolist()


class _ObjectPlaceholder:  # _reconstruct with an object placeholder dtype and one element
    def __reduce__(self):
        return (np._core.multiarray._reconstruct, (np.ndarray, (1,), b"O"))


def test_an_object_placeholder_dtype_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(_ObjectPlaceholder(), protocol=2))
    result = _load_in_child(path)
    assert result.returncode == 3 and "holds Python objects" in result.stdout, result.stderr[-2000:]


# a finding of `make fuzz` (fuzz/fuzz_safe_pickle.py): a 998-byte pickle whose BYTEARRAY8 declares
# 4 GiB made the pure-Python unpickler allocate it before reading (out of memory)
MEMORY_BOMB = b"\x80\x05\x95\x10\x00\x00\x00\x00\x00\x00\x00\x96\x70\x05\x00\x00\x01\x00\x00\x00."


@pytest.mark.parametrize(
    "payload",
    [
        MEMORY_BOMB,
        pickle.dumps(np.zeros(1)).replace(
            b"K\x00\x85", b"J\x00\x00\x00\x40\x85", 1
        ),  # _reconstruct shape 2**30
    ],
)
def test_inputs_that_ask_for_more_memory_than_they_hold_are_refused(payload: bytes) -> None:
    with pytest.raises(
        DataError,
        match=r"allocations to [0-9]+ bytes, more than the file.s [0-9]+ bytes could fill\); nothing was allocated",
    ):
        safe_load(io.BytesIO(payload))


def test_a_truncated_frame_header_is_a_data_error() -> None:  # a finding of make fuzz
    with pytest.raises(
        DataError, match="not a readable annotation pickle \\(error: unpack requires"
    ):
        safe_load(io.BytesIO(b"\x80\x04\x95\xac"))


@pytest.mark.parametrize(
    "name", ["fuzz_dtype_setstate.pkl", "fuzz_dtype_syntax.pkl", "fuzz_dtype_segfault.pkl"]
)
def test_findings_of_make_fuzz_are_data_errors(name: str) -> None:
    # before: numpy's dtype.__setstate__ returned NULL (SystemError) or took a fuzzed size and
    # crashed the process later (segfault); numpy.dtype parsed a text spec (SyntaxError)
    result = _load_in_child(Path(__file__).parent / name)  # loaded (0) or refused (3), no crash
    assert result.returncode in (0, 3), (result.returncode, result.stderr[-2000:])
    assert result.returncode == 0 or f"{name}: not a readable annotation pickle" in result.stdout


VALUES = {
    "big-endian": np.arange(6, dtype=">i4").reshape(2, 3),
    "structured": np.array([(1, [2.5, 3.5])], dtype=[("a", "<i4"), ("b", ">f8", (2,))]),
    "subarray": np.zeros((2,), dtype=("f4", (2, 3))),
    "unicode": np.array(["ab", "c"], dtype="U3"),
    "bytes": np.array([b"xy"], dtype="S5"),
    "offsets": np.zeros(
        2, dtype=np.dtype({"names": ["x"], "formats": ["u1"], "offsets": [3], "itemsize": 8})
    ),
    "dtype": np.dtype(">f8"),
    "scalars": [np.complex128(1 + 2j), np.float32(2.5), np.True_],
}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_dtypes_rebuilt_by_the_public_constructor_load_as_pickle_does(protocol: int) -> None:
    data = pickle.dumps(VALUES, protocol=protocol)
    ours, theirs = safe_load(io.BytesIO(data)), pickle.loads(data)
    for key, expected in theirs.items():
        for got, want in zip(
            ours[key] if key == "scalars" else [ours[key]],
            expected if key == "scalars" else [expected],
            strict=True,
        ):
            if isinstance(want, np.dtype):
                assert got == want, key
            else:
                assert got.dtype == want.dtype and got.tobytes() == want.tobytes(), key


class _ZeroBytes:  # bytes(n) through an allowed builtin: n zero bytes from a few bytes of file
    def __reduce__(self):
        return (bytes, (1 << 33,))


def test_builtin_bytes_of_a_huge_length_is_refused() -> None:
    with pytest.raises(
        DataError, match=r"bytes would bring the file's allocations to 8589934592 bytes"
    ):
        safe_load(io.BytesIO(pickle.dumps(_ZeroBytes(), protocol=2)))


# found in review: dtype specs that are not a plain name, budgets per object instead of per file,
# BUILD on an allowed function (which changed its attributes) and array states given as lists


class _ListSpecObjectField:
    def __reduce__(self):
        return (np.ndarray, ((1,), [("a", "O")], b"AAAAAAAA"))


class _LongCommaSpec:
    def __reduce__(self):
        return (np.ndarray, ((1,), "f8," * 25 + "O", b"A" * 208))


@pytest.mark.parametrize("make", [_ListSpecObjectField, _LongCommaSpec])
def test_object_fields_in_any_dtype_spelling_are_refused(tmp_path: Path, make) -> None:
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(make(), protocol=2))
    result = _load_in_child(path)
    assert result.returncode == 3 and "holds Python objects" in result.stdout, result.stderr[-2000:]


class _ManySmallBombs:
    def __reduce__(self):
        return (list, ([bytearray(0)],))


def test_the_allocation_budget_is_for_the_whole_file() -> None:
    # 2,000 bytes(20,000) calls: each under the file's size, together 40 MB from a 30 KB file
    one = pickle.dumps(bytes, protocol=2)[2:-1]  # GLOBAL builtins bytes
    body = b"".join(one + b"J" + (20_000).to_bytes(4, "little") + b"\x85R" for _ in range(2000))
    payload = b"\x80\x02(" + body + b"l."
    with pytest.raises(DataError, match="allocations to [0-9]+ bytes, more than the file's"):
        safe_load(io.BytesIO(payload))


def test_a_void_scalar_of_gigabytes_is_refused() -> None:
    payload = (
        b"\x80\x02cnumpy._core.multiarray\nscalar\ncnumpy\ndtype\nX\x0b\x00\x00\x00V2147483647"
        b"\x89\x88\x87R(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\x7fK\x01K\x00tbC\x00\x86R."
    )
    with pytest.raises(DataError, match="a numpy scalar would bring the file's allocations"):
        safe_load(io.BytesIO(payload))


def test_build_on_anything_but_arrays_and_dtypes_is_refused() -> None:
    payload = b"\x80\x02c_codecs\nencode\nN}X\x08\x00\x00\x00__name__X\x04\x00\x00\x00pwnds\x86b."
    with pytest.raises(DataError, match="BUILD on function is not allowed"):
        safe_load(io.BytesIO(payload))
    from claus_core.data import safe_pickle

    assert safe_pickle._latin1_encode.__name__ == "_latin1_encode"
