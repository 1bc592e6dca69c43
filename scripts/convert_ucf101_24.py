"""Convert UCF-101-24's ``pyannot.pkl`` + ``testlist01.txt`` into the shipped safe ``.npz``.

The annotations of the paper's main dataset (supplementary Section 5.1, Table 6) come as a
Python pickle; the project ships them as a compressed ``.npz`` of flat arrays (read with
``allow_pickle=False``), so nobody has to unpickle untrusted data to use the package. The pickle
is read through ``claus_core.data.safe_pickle.safe_load``. The output records the sha256 and size
of both inputs, and the script checks that the written file loads back identical.

Usage (from the repository root)::

    .venv/bin/python scripts/convert_ucf101_24.py \\
        --pyannot path/to/pyannot.pkl \\
        --testlist path/to/testlist01.txt \\
        --output claus_core/assets/ucf101_24/annotations.npz
"""

from __future__ import annotations

import argparse
import hashlib
import logging
from pathlib import Path

import numpy as np

from claus_core.data.safe_pickle import safe_load
from claus_core.data.types import DataError
from claus_core.data.ucf101_24 import (
    ANNOTATION_HEIGHT,
    ANNOTATION_WIDTH,
    ARRAY_FIELDS,
    FORMAT_VERSION,
    annotations_from_pyannot,
    read_annotations,
    read_testlist,
    ucf101_24_annotations_path,
    write_annotations_npz,
)

logger = logging.getLogger("convert_ucf101_24")

DEFAULT_SOURCE = "gurkirt/corrected-UCF101-Annots (pyannot.pkl, testlist01.txt)"


def file_record(path: Path) -> dict[str, object]:
    """Name, size and sha256 of one input file."""
    data = path.read_bytes()
    return {"file": path.name, "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def convert(pyannot: Path, testlist: Path, output: Path, *, source: str) -> Path:
    """Write ``output`` from ``pyannot`` and ``testlist``; check that it reads back identical."""
    for path in (pyannot, testlist):
        if not path.is_file():
            raise DataError(f"{path}: input file not found")
    test_names = read_testlist(testlist)
    annotations = annotations_from_pyannot(
        safe_load(pyannot), source=str(pyannot), test_names=test_names
    )
    unknown = sorted(set(test_names) - set(annotations.video_names.tolist()))
    if unknown:
        raise DataError(f"{testlist}: {len(unknown)} test videos are not annotated: {unknown[:3]}")
    provenance = {
        "format_version": FORMAT_VERSION,
        "dataset": "UCF-101-24 (corrected annotations), split 1",
        "source": source,
        "inputs": [file_record(pyannot), file_record(testlist)],
        "converter": "scripts/convert_ucf101_24.py",
        "box_format": "x, y, w, h in pixels",
        "annotation_grid": [ANNOTATION_WIDTH, ANNOTATION_HEIGHT],
        "frames": "0-based; a tube covers [tube_starts, tube_ends) (pyannot 'sf', 'ef')",
        "counts": {
            "videos": int(len(annotations.video_names)),
            "test_videos": int(annotations.is_test.sum()),
            "tubes": int(len(annotations.tube_starts)),
            "boxes": int(len(annotations.boxes)),
        },
    }
    write_annotations_npz(annotations, output, provenance=provenance)
    written = read_annotations(output)
    for field in ARRAY_FIELDS:
        if not np.array_equal(getattr(written, field), getattr(annotations, field)):
            raise DataError(f"{output}: field {field} does not read back identical")
    if written.class_names != annotations.class_names:
        raise DataError(f"{output}: class names do not read back identical")
    logger.info("wrote %s (%d bytes): %s", output, output.stat().st_size, provenance["counts"])
    return output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyannot", type=Path, required=True, help="pyannot.pkl")
    parser.add_argument("--testlist", type=Path, required=True, help="testlist01.txt")
    parser.add_argument(
        "--output", type=Path, default=ucf101_24_annotations_path(), help="output .npz"
    )
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="provenance of the inputs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    convert(args.pyannot, args.testlist, args.output, source=args.source)


if __name__ == "__main__":
    main()
