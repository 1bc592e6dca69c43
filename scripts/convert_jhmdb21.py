"""Convert the J-HMDB-21 puppet masks + YOWO split-1 lists into the shipped compact ``.npz``.

J-HMDB-21 (supplementary Section 5.1; Tables 4 and 7) comes as 928 MATLAB files of per-frame
puppet masks (24 MB); the project ships them as one compressed ``.npz`` of flat arrays (read with
``allow_pickle=False``): per-frame boxes and run-length encoded masks
(``claus_core.data.masks``), labels, frame counts and the split-1 flags. The output records the
sha256 of the three lists and of the mask files, and the script checks that the written archive
loads back identical to the ``.mat`` decoding.

With ``--groundtruth-zip`` (YOWO's ``groundtruths_jhmdb.zip``, the per-frame boxes of the
split-1 test set) it also writes a compact copy of those boxes (``--yowo-boxes-output``, a test
fixture) and logs how they compare with the mask boxes.

Usage (from the repository root)::

    .venv/bin/python scripts/convert_jhmdb21.py \\
        --masks-dir path/to/puppet_mask --lists-dir path/to/yowo_lists \\
        --groundtruth-zip path/to/groundtruths_jhmdb.zip
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import zipfile
from pathlib import Path

import numpy as np

from claus_core.data.jhmdb21 import (
    FORMAT_VERSION,
    HEIGHT,
    JHMDB21_CLASSES,
    MASK_FILE,
    SPLITS,
    TEST_LIST,
    TEST_VIDEOS,
    TRAIN_LIST,
    WIDTH,
    jhmdb21_annotations_path,
    load_jhmdb21,
    to_yowo_boxes,
    write_jhmdb21_npz,
)
from claus_core.data.types import DataError, VideoPool

logger = logging.getLogger("convert_jhmdb21")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_YOWO_BOXES = REPO / "tests" / "fixtures" / "jhmdb21_yowo_test_boxes.npz"
DEFAULT_SOURCE = (
    "puppet masks: rendicahya/jhmdb-scripts (mask-annotations/, the official J-HMDB layout); "
    "split-1 lists: sheqi/GAN_Review (YOWO list format)"
)
GROUNDTRUTH_SOURCE = "wei-tim/YOWO evaluation_ucf24_jhmdb/groundtruths_jhmdb.zip"


def file_record(path: Path) -> dict[str, object]:
    """Name, size and sha256 of one input file."""
    data = path.read_bytes()
    return {"file": path.name, "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def masks_record(masks_dir: Path) -> dict[str, object]:
    """Count, size and a digest of every ``puppet_mask.mat`` under ``masks_dir``.

    The digest is the sha256 of the text lines ``<sha256 of file>  <class>/<video>`` sorted by
    name (the ``sha256sum`` format), so one file's change changes it.
    """
    lines, total = [], 0
    for path in sorted(masks_dir.glob(f"*/*/{MASK_FILE}")):
        data = path.read_bytes()
        total += len(data)
        name = path.parent.relative_to(masks_dir).as_posix()
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
    manifest = "".join(lines).encode()
    return {
        "files": len(lines),
        "size_bytes": total,
        "sha256": hashlib.sha256(manifest).hexdigest(),
    }


def check_same(expected: VideoPool, written: VideoPool, output: Path) -> None:
    """Raise DataError unless ``written`` holds exactly the records of ``expected``."""
    if written.names != expected.names:
        raise DataError(f"{output}: split {expected.split} video names do not read back identical")
    for video in expected:
        other = written[video.name]
        same = (
            other.label == video.label
            and other.num_frames == video.num_frames
            and np.array_equal(other.tubes[0].boxes, video.tubes[0].boxes)
            and np.array_equal(other.masks.runs, video.masks.runs)
            and np.array_equal(other.masks.run_offsets, video.masks.run_offsets)
        )
        if not same:
            raise DataError(f"{output}: {video.name} does not read back identical")


def convert(masks_dir: Path, lists_dir: Path, output: Path, *, source: str) -> list[VideoPool]:
    """Write ``output`` from the originals; check that it reads back identical."""
    pools = [load_jhmdb21(masks_dir, lists_dir, split) for split in SPLITS]
    listed = {name for pool in pools for name in pool.names}
    unlisted = sorted(
        p.parent.relative_to(masks_dir).as_posix() for p in masks_dir.glob(f"*/*/{MASK_FILE}")
    )
    unlisted = [name for name in unlisted if name not in listed]
    if unlisted:
        logger.info("%d mask videos are in no split-1 list (not shipped)", len(unlisted))
    provenance = {
        "format_version": FORMAT_VERSION,
        "dataset": "J-HMDB-21 puppet masks, split 1",
        "source": source,
        "inputs": {
            "lists": [file_record(lists_dir / n) for n in (TRAIN_LIST, TEST_LIST, TEST_VIDEOS)],
            "puppet_masks": masks_record(masks_dir),
        },
        "converter": "scripts/convert_jhmdb21.py",
        "frame_size": {"width": WIDTH, "height": HEIGHT},
        "box_format": "x, y, w, h: tight box of the nonzero puppet-mask pixels, columns "
        "[x, x + w) and rows [y, y + h), 0-based",
        "frames": "0-based; frame i is list entry i + 1; one tube over all frames per video",
        "mask_format": "claus_core.data.masks: column-major run lengths, background first, "
        "uint16 (longer runs split by zero-length runs), stored as low/high byte planes",
        "counts": {
            pool.split: {
                "videos": len(pool),
                "frames": int(sum(v.num_frames for v in pool)),
                "mask_runs": int(sum(len(v.masks.runs) for v in pool)),
            }
            for pool in pools
        },
    }
    write_jhmdb21_npz(pools, output, provenance=provenance)
    for pool in pools:
        check_same(pool, load_jhmdb21(split=pool.split, archive=output), output)
    logger.info("wrote %s (%d bytes): %s", output, output.stat().st_size, provenance["counts"])
    return pools


def read_yowo_groundtruth(path: Path, test: VideoPool) -> dict[str, np.ndarray]:
    """The boxes of ``groundtruths_jhmdb.zip`` as flat arrays, ordered like ``test``.

    Each member ``groundtruths_jhmdb/<class>_<video>_<frame5>.txt`` holds one line
    ``<class_id 1-21> x1 y1 x2 y2``; every frame of every ``test`` video must have one.
    """
    found: dict[tuple[str, int], tuple[int, list[int]]] = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith("/"):
                continue
            fields = archive.read(member).decode("ascii").split()
            if len(fields) != 5 or not all(f.lstrip("-").isdigit() for f in fields):
                raise DataError(f"{path}: {member}: expected '<class_id> x1 y1 x2 y2'")
            class_id = int(fields[0])
            stem = Path(member).stem
            class_name = JHMDB21_CLASSES[class_id - 1] if 1 <= class_id <= 21 else "?"
            if not stem.startswith(f"{class_name}_") or stem[-6] != "_":
                raise DataError(f"{path}: {member}: name does not match class id {class_id}")
            name = f"{class_name}/{stem[len(class_name) + 1 : -6]}"
            if name not in test:
                raise DataError(f"{path}: {member}: {name} is not a split-1 test video")
            found[(name, int(stem[-5:]))] = (class_id, [int(f) for f in fields[1:]])
    keys = [(v.name, f) for v in test for f in range(1, v.num_frames + 1)]
    missing = [key for key in keys if key not in found]
    if missing or len(found) != len(keys):
        raise DataError(f"{path}: {len(missing)} test frames have no box, e.g. {missing[:2]}")
    return {
        "video_names": np.array(test.names, dtype=str),
        "video_index": np.array([test.index(name) for name, _ in keys], dtype=np.int16),
        "frames": np.array([frame for _, frame in keys], dtype=np.int16),
        "class_ids": np.array([found[key][0] for key in keys], dtype=np.int8),
        "boxes": np.array([found[key][1] for key in keys], dtype=np.int16),
    }


def write_yowo_boxes(zip_path: Path, test: VideoPool, output: Path) -> None:
    """Write the compact copy of the YOWO test boxes and log how they match the mask boxes."""
    arrays = read_yowo_groundtruth(zip_path, test)
    ours = to_yowo_boxes(np.concatenate([v.tubes[0].boxes for v in test]))  # [frame, 4]
    exact = int((ours == arrays["boxes"]).all(axis=1).sum())
    largest = int(np.abs(ours - arrays["boxes"]).max())
    logger.info(
        "YOWO test boxes: %d of %d frames equal the mask boxes in the +1 convention "
        "(largest coordinate difference %d px)",
        exact,
        len(ours),
        largest,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    provenance = {
        "source": GROUNDTRUTH_SOURCE,
        "input": file_record(zip_path),
        "converter": "scripts/convert_jhmdb21.py",
        "box_format": "x1 y1 x2 y2 as in the zip's files; frames 1-based",
    }
    np.savez_compressed(
        output, **arrays, provenance=np.array(json.dumps(provenance, indent=1, sort_keys=True))
    )
    logger.info("wrote %s (%d bytes)", output, output.stat().st_size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--masks-dir", type=Path, required=True, help="puppet_mask folder")
    parser.add_argument("--lists-dir", type=Path, required=True, help="YOWO split-1 lists folder")
    parser.add_argument(
        "--output", type=Path, default=jhmdb21_annotations_path(), help="output .npz"
    )
    parser.add_argument("--groundtruth-zip", type=Path, help="YOWO groundtruths_jhmdb.zip")
    parser.add_argument(
        "--yowo-boxes-output", type=Path, default=DEFAULT_YOWO_BOXES, help="fixture .npz"
    )
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="provenance of the inputs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pools = convert(args.masks_dir, args.lists_dir, args.output, source=args.source)
    if args.groundtruth_zip is not None:
        write_yowo_boxes(args.groundtruth_zip, pools[SPLITS.index("test")], args.yowo_boxes_output)


if __name__ == "__main__":
    main()
