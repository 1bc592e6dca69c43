"""Print dataset statistics as markdown tables, computed by the loaders (for the data cards).

The statistics describe the datasets of the paper's experiments (supplementary Section 5.1:
UCF-101-24 split 1, whose train boxes are the 403,282 fully supervised cost of Table 6):
videos, frames, boxes, tubes per video, multi-actor share and per-class counts.

Usage (from the repository root)::

    .venv/bin/python scripts/dataset_stats.py ucf101_24        # shipped annotations, split 1
    .venv/bin/python scripts/dataset_stats.py ucf101_24_mini   # the 16 shipped real videos
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from claus_core.data.statistics import class_counts, split_summary, tube_counts
from claus_core.data.types import VideoPool
from claus_core.data.ucf101_24 import load_ucf101_24, load_ucf101_24_mini


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _summary_row(pool: VideoPool) -> list[object]:
    n = split_summary(pool)
    return [
        pool.split,
        n["videos"],
        n["frames"],
        f"{n['frames per video (mean)']:.1f} ({n['frames per video (min)']}-{n['frames per video (max)']})",
        n["tubes"],
        f"{n['tubes per video (mean)']:.2f} (max {n['tubes per video (max)']})",
        n["boxes (= full cost)"],
        f"{n['annotated frames']} ({100 * n['annotated frames'] / n['frames']:.1f} %)",
        f"{n['videos with several tubes (%)']:.1f} %",
        f"{n['videos with several boxes on a frame (%)']:.1f} %",
        f"{n['annotated frames with several boxes (%)']:.1f} %",
    ]


SUMMARY_HEADER = (
    "split",
    "videos",
    "frames",
    "frames per video: mean (min-max)",
    "tubes",
    "tubes per video: mean (max)",
    "boxes (= full cost)",
    "annotated frames (share of frames)",
    "videos with >= 2 tubes",
    "multi-actor videos (>= 2 boxes on a frame)",
    "annotated frames with >= 2 boxes",
)


def summary(pools: Sequence[VideoPool]) -> str:
    """One row per pool: videos, frames, tubes, boxes, annotated frames, multi-actor share."""
    return _table(SUMMARY_HEADER, [_summary_row(pool) for pool in pools])


def tubes_per_video(pools: Sequence[VideoPool]) -> str:
    """How many videos have 0, 1, 2, ... tubes, per pool."""
    counts = [tube_counts(pool) for pool in pools]
    sizes = sorted(set().union(*(c.index for c in counts)))
    rows = [[size, *(int(c.get(size, 0)) for c in counts)] for size in sizes]
    return _table(["tubes in the video", *(f"{p.split} videos" for p in pools)], rows)


def per_class(pools: Sequence[VideoPool], *, only_present: bool = False) -> str:
    """Videos, boxes and multi-actor videos (>= 2 boxes on a frame) of each class, per pool."""
    header = ["label", "class"]
    for pool in pools:
        header += [f"{pool.split} videos", f"{pool.split} boxes", f"{pool.split} multi-actor"]
    tables = [class_counts(pool) for pool in pools]
    present = {v.label for pool in pools for v in pool}
    rows = []
    for label, name in enumerate(pools[0].classes):
        if only_present and label not in present:
            continue
        row: list[object] = [label, name]
        for table in tables:
            counts = table.iloc[label]
            row += [
                int(counts["videos"]),
                int(counts["boxes"]),
                int(counts["videos with several boxes on a frame"]),
            ]
        rows.append(row)
    return _table(header, rows)


def per_video(pool: VideoPool) -> str:
    """One row per video: file, decoded size, frames, tubes, boxes."""
    rows = [
        [
            v.name,
            v.path.suffix if v.path else "-",
            f"{v.width} x {v.height}",
            v.num_frames,
            len(v.tubes),
            v.num_boxes(),
        ]
        for v in pool
    ]
    return _table(["video", "file", "decoded size", "frames", "tubes", "boxes"], rows)


def report(dataset: str) -> str:
    """All tables of ``dataset`` ("ucf101_24" or "ucf101_24_mini") as markdown."""
    if dataset == "ucf101_24":
        pools = [load_ucf101_24(split=split) for split in ("train", "test", "all")]
        return "\n".join(
            [
                "### Summary\n",
                summary(pools),
                "### Tubes per video\n",
                tubes_per_video(pools),
                "### Per class\n",
                per_class(pools[:2]),
            ]
        )
    pool = load_ucf101_24_mini()
    return "\n".join(
        [
            "### Summary\n",
            summary([pool]),
            "### Videos\n",
            per_video(pool),
            "### Per class (classes present)\n",
            per_class([pool], only_present=True),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=("ucf101_24", "ucf101_24_mini"))
    args = parser.parse_args(argv)
    sys.stdout.write(report(args.dataset))


if __name__ == "__main__":
    main()
