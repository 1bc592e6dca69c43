"""Writing and reading the files of the run store and of labeling projects, atomically.

A file is written to a temporary name in its folder and renamed into place (``os.replace`` is
atomic on POSIX), so a killed process leaves either the old file or the new one, never half of
one. Every failure raises :class:`StoreError` naming the file (a full disk is said to be one).
The run store (:mod:`claus_core.store`), checkpoints, clusters, exports and labeling projects
all write through here.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from claus_core.data.types import DataError


class StoreError(DataError):
    """A run folder that cannot be used: another config, a corrupted file, a missing round."""


def inside_name(name: object, *, what: str) -> PurePosixPath:
    """``name`` as a relative path that stays inside the folder it is joined to (a video name, a
    file under the videos folder). An absolute path, an empty name or part, ``.`` or ``..`` raises
    :class:`StoreError` naming ``what``: a project received from someone must not write, or read,
    outside its folders."""
    if not isinstance(name, str):
        raise StoreError(f"{what}: expected a string, got {type(name).__name__}")
    path = PurePosixPath(name)
    if (
        not name
        or "\\" in name
        or path.is_absolute()
        or any(p in ("", ".", "..") for p in name.split("/"))
    ):
        raise StoreError(
            f"{what}: {name!r} is not a name inside its folder (absolute, empty, '.' or '..')"
        )
    return path


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it onto ``path``.

    A failed write leaves ``path`` as it was (and every other file of the store) and raises
    :class:`StoreError` naming it; a full disk is said to be one.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as err:
        raise write_error(path, err) from err
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the file follows the umask
        os.replace(tmp, path)
    except OSError as err:
        raise write_error(path, err) from err
    except RuntimeError as err:  # torch.save reports a failed write as "[enforce fail at ...]"
        if "enforce fail" not in str(err) and "PytorchStreamWriter" not in str(err):
            raise
        raise write_error(path, err) from err
    finally:
        if tmp.exists():
            tmp.unlink()


def write_error(path: Path, err: Exception) -> StoreError:
    """The StoreError of a failed write of ``path``: the disk is full, or the OS's reason."""
    try:
        free = shutil.disk_usage(path.parent if path.parent.exists() else Path.cwd()).free
    except OSError:
        free = None
    full = getattr(err, "errno", None) == errno.ENOSPC or (free is not None and free < 1 << 20)
    if full:
        return StoreError(
            f"{path}: not written, the disk is full ({free or 0} bytes free); the files written "
            "before it are intact: free some space and run the same command again"
        )
    reason = getattr(err, "strerror", None) or str(err)
    return StoreError(f"{path}: not written ({reason}); the files written before it are intact")


def write_json(path: Path, payload: Any) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=1, default=_plain)))


def read_json(path: Path, expect: type | None = None) -> Any:
    """The JSON in ``path``; with ``expect`` (``dict``, ``list``) it must be of that type.

    A missing file, bytes that are not UTF-8, malformed JSON or JSON of another shape raise
    :class:`StoreError` naming the file.
    """
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise StoreError(f"{path}: missing") from None
    except UnicodeDecodeError as err:
        raise StoreError(f"{path}: not UTF-8 text (byte {err.start}); the file is corrupt") from err
    except json.JSONDecodeError as err:
        raise StoreError(f"{path}: corrupted JSON ({err})") from err
    except OSError as err:
        raise StoreError(f"{path}: cannot be read ({err.strerror or err})") from err
    if expect is not None and not isinstance(value, expect):
        names = {dict: "a JSON object", list: "a JSON array"}
        got = type(value).__name__
        raise StoreError(f"{path}: expected {names.get(expect, expect.__name__)}, got {got}")
    return value


def read_keys(path: Path, *keys: str) -> dict[str, Any]:
    """The JSON object in ``path``, which must hold every one of ``keys`` (StoreError names the
    first one missing)."""
    value = read_json(path, dict)
    missing = [key for key in keys if key not in value]
    if missing:
        raise StoreError(
            f"{path}: has no {missing[0]!r} (a JSON object with {list(keys)} is expected)"
        )
    return value


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.savez_compressed(handle, **arrays)

    atomic_write(path, write)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise StoreError(f"{path}: missing") from None
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise StoreError(f"{path}: corrupted array file ({err})") from err


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
