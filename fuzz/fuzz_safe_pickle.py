"""Coverage-guided fuzzing of the restricted unpickler (``claus_core.data.safe_pickle``, issue 16).

Every input is handed to :func:`safe_load` as a pickle stream. The only allowed outcomes are a
loaded value or a :class:`~claus_core.data.types.DataError`; any other exception, a crash or a
hang is a finding, which libFuzzer reports with the input that caused it (``crash-*`` files in
the working directory). A finding becomes a regression test in ``tests/data/test_safe_pickle.py``.

Run (``make fuzz`` does, for a bounded time)::

    .venv/bin/python fuzz/fuzz_safe_pickle.py -max_total_time=60 CORPUS_DIR

The corpus starts from pickles of what annotation files hold (numpy arrays of several dtypes,
nested dicts and lists) over protocols 0-5, written into ``CORPUS_DIR`` when it is empty.
"""

from __future__ import annotations

import io
import pickle
import sys
from pathlib import Path

import atheris
import numpy as np

with atheris.instrument_imports():
    from claus_core.data.safe_pickle import safe_load
    from claus_core.data.types import DataError


def seeds() -> list[bytes]:
    """Pickles shaped like the annotation files, one per protocol."""
    value = {
        "v_Basketball_g01_c01": {
            "numf": 120,
            "label": 0,
            "annotations": [
                {
                    "sf": 3,
                    "ef": 90,
                    "label": 0,
                    "boxes": np.arange(348, dtype=np.int32).reshape(87, 4),
                }
            ],
        },
        "labels": ["Basketball", "Biking"],
        "scale": np.float32(1.5),
        "flags": (True, None, b"\x00\xff", 2.5j),
        "mixed": np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]),
    }
    return [pickle.dumps(value, protocol=p) for p in range(pickle.HIGHEST_PROTOCOL + 1)]


def objects_inside(value: object, seen: set[int] | None = None) -> bool:
    """Whether a loaded value holds an array or scalar of a dtype with Python objects: what the
    unpickler must never build, even when nothing crashes until the array is read. Pickles can
    make containers that hold themselves; each container is visited once."""
    seen = set() if seen is None else seen
    if isinstance(value, np.ndarray | np.generic):
        return value.dtype.hasobject
    if not isinstance(value, dict | list | tuple | set | frozenset) or id(value) in seen:
        return False
    seen.add(id(value))
    items = [x for pair in value.items() for x in pair] if isinstance(value, dict) else list(value)
    return any(objects_inside(item, seen) for item in items)


def test_one_input(data: bytes) -> None:
    try:
        loaded = safe_load(io.BytesIO(data))
    except DataError:
        return
    if objects_inside(loaded):
        raise AssertionError("the restricted unpickler built an array of Python objects")


def main() -> None:
    corpus = next((Path(a) for a in sys.argv[1:] if not a.startswith("-")), None)
    if corpus is not None:
        corpus.mkdir(parents=True, exist_ok=True)
        if not any(corpus.iterdir()):
            for i, seed in enumerate(seeds()):
                (corpus / f"seed{i}.pkl").write_bytes(seed)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
