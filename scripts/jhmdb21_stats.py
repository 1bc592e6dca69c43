"""Print J-HMDB-21 split-1 statistics as markdown tables, computed from the shipped archive.

J-HMDB-21 is the paper's second dataset (supplementary Section 5.1; Table 7: the 22,712 train
frames, one actor box each, are the fully supervised cost). The tables feed the data card
``data_cards/jhmdb21.md``: videos, frames, per-class counts, box and mask sizes, and the
attribute tags of the J-HMDB video names (``_cm_`` camera motion, ``_np2_`` / ``_np3_`` two or
three people visible while only one is annotated).

Usage (from the repository root)::

    .venv/bin/python scripts/jhmdb21_stats.py
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from claus_core.data.jhmdb21 import HEIGHT, SPLITS, WIDTH, load_jhmdb21
from claus_core.data.statistics import class_counts, split_summary
from claus_core.data.types import VideoPool


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _tagged(pool: VideoPool, *tags: str) -> int:
    """Videos whose name (after the class folder) carries one of ``tags``, e.g. ``_cm_``."""
    return sum(any(tag in v.name.split("/")[1] for tag in tags) for v in pool)


def summary(pools: Sequence[VideoPool]) -> str:
    """One row per pool: videos, frames, frames per video, camera motion, crowd tags."""
    rows = []
    for pool in pools:
        n = split_summary(pool)
        frames = np.array([v.num_frames for v in pool])  # [video]
        rows.append(
            [
                pool.split,
                n["videos"],
                f"{n['frames']:,}",
                f"{n['boxes (= full cost)']:,}",
                f"{n['frames per video (mean)']:.1f} ({n['frames per video (min)']}-{n['frames per video (max)']})",
                int((frames == frames.max()).sum()),
                _tagged(pool, "_cm_"),
                _tagged(pool, "_np2_", "_np3_"),
            ]
        )
    header = (
        "split",
        "videos",
        "frames",
        "full cost (1 box per frame)",
        "frames per video: mean (min-max)",
        "videos of 40 frames",
        "camera motion (`_cm_`)",
        "2+ people visible (`_np2_`, `_np3_`)",
    )
    return _table(header, rows)


def per_class(pools: Sequence[VideoPool]) -> str:
    """Videos and frames of each class, per pool."""
    header = ["label", "class"]
    for pool in pools:
        header += [f"{pool.split} videos", f"{pool.split} frames"]
    tables = [class_counts(pool) for pool in pools]
    rows = []
    for label, name in enumerate(pools[0].classes):
        row: list[object] = [label, name]
        for table in tables:
            row += [int(table.iloc[label]["videos"]), int(table.iloc[label]["frames"])]
        rows.append(row)
    return _table(header, rows)


def _spread(values: np.ndarray, fmt: str) -> str:
    """``median (5th-95th percentile)`` of ``values``."""
    p5, median, p95 = np.percentile(values, [5, 50, 95])
    return f"{median:{fmt}} ({p5:{fmt}}-{p95:{fmt}})"


def box_sizes(pools: Sequence[VideoPool]) -> str:
    """Per-frame box and mask sizes, per pool (decodes every mask)."""
    rows = []
    for pool in pools:
        boxes = np.concatenate([v.tubes[0].boxes for v in pool])  # [frame, 4] x, y, w, h
        mask_pixels = np.concatenate([v.masks.array().sum(axis=(1, 2)) for v in pool])  # [frame]
        box_area = boxes[:, 2] * boxes[:, 3]  # [frame]
        at_edge = (boxes[:, 0] == 0) | (boxes[:, 1] == 0)
        at_edge |= (boxes[:, 0] + boxes[:, 2] == WIDTH) | (boxes[:, 1] + boxes[:, 3] == HEIGHT)
        rows.append(
            [
                pool.split,
                f"{len(boxes):,}",
                _spread(boxes[:, 2], ".0f"),
                _spread(boxes[:, 3], ".0f"),
                _spread(100 * box_area / (WIDTH * HEIGHT), ".1f"),
                _spread(100 * mask_pixels / box_area, ".1f"),
                f"{100 * at_edge.mean():.1f} %",
            ]
        )
    header = (
        "split",
        "frames",
        "box width px",
        "box height px",
        "box area, % of frame",
        "mask area, % of its box",
        "box touches the frame edge",
    )
    return (
        _table(header, rows)
        + "\nCells: median (5th-95th percentile) over frames; frames are 320 x 240.\n"
    )


def report() -> str:
    """All tables as markdown."""
    pools = [load_jhmdb21(split=split) for split in SPLITS]
    return "\n".join(
        [
            "### Summary (split 1)\n",
            summary(pools),
            "### Box and mask sizes\n",
            box_sizes(pools),
            "### Per class\n",
            per_class(pools),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    sys.stdout.write(report())


if __name__ == "__main__":
    main()
