"""What the data and cost chapters compute, so that their notebooks only call and show.

- the cost chapter (supplementary Tables 6 and 7): the paper's Cost column against the floor of
  its percentage of the full cost we count from the real annotations;
- the data chapter: one frame of each of a few videos, with its boxes (and masks), to look at.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from claus_core.cost import percent_of
from claus_core.data.types import FrameSource, VideoRecord
from claus_core.paper import paper_cost_column


def cost_check(number: int, full_cost: int) -> pd.DataFrame:
    """Table ``number``'s Cost column (6: UCF-101-24, 7: J-HMDB-21) beside the floor of each row's
    percentage of ``full_cost`` (boxes), their difference and whether they agree."""
    table = paper_cost_column(number).rename(
        columns={"percent": "% frames annotated", "cost": "paper cost"}
    )
    table["floor(% x full cost)"] = [percent_of(full_cost, p) for p in table["% frames annotated"]]
    table["difference"] = table["paper cost"] - table["floor(% x full cost)"]
    table["agrees"] = table["difference"] == 0
    return table


def cost_check_sentence(name: str, table: pd.DataFrame) -> str:
    """How many Cost entries of :func:`cost_check` agree, and the largest relative departure."""
    agree, rows = int(table["agrees"].sum()), len(table)
    text = f"**{name}**: {agree} of {rows} Cost entries equal the floor of their percentage of the full cost."
    off = table[~table["agrees"]]
    if len(off):
        worst = off.loc[(off["difference"] / off["floor(% x full cost)"]).abs().idxmax()]
        text += (
            f" The {len(off)} others depart; the largest relative departure is at "
            f"{worst['% frames annotated']:g} %: the paper lists {worst['paper cost']:,}, "
            f"the percentage gives {worst['floor(% x full cost)']:,} "
            f"({worst['difference'] / worst['floor(% x full cost)']:+.1%})."
        )
    return text


def middle_of_tubes(video: VideoRecord) -> int:
    """The frame (0-based) halfway through the span its tubes cover."""
    start = min(t.start for t in video.tubes)
    end = max(t.start + t.num_frames for t in video.tubes)
    return start + (end - start) // 2


def one_per_class(videos: Iterable[VideoRecord], limit: int = 8) -> list[VideoRecord]:
    """The first video of each class, in order, at most ``limit``."""
    shown, chosen = set(), []
    for video in videos:
        if video.label not in shown and len(chosen) < limit:
            shown.add(video.label)
            chosen.append(video)
    return chosen


def frames_to_show(
    source: FrameSource, videos: Iterable[VideoRecord], *, masks: bool = False
) -> tuple[list[tuple[VideoRecord, np.ndarray, int]], list[np.ndarray] | None]:
    """``(video, frames, frame)`` of each video at :func:`middle_of_tubes`, for
    ``plots.frames_with_boxes``; with ``masks``, each video's silhouette on that frame too."""
    items = [(v, source.frames(v.name), middle_of_tubes(v)) for v in videos]
    return items, [v.masks.frame(i) for v, _, i in items] if masks else None
