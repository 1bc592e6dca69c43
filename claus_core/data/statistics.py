"""Dataset statistics, computed once here for the data cards, the book and ``claus data stats``.

The statistics describe the datasets of the paper's experiments (supplementary Section 5.1:
UCF-101-24 split 1, whose train boxes are the 403,282 fully supervised cost of Table 6, and
J-HMDB-21 split 1, whose 22,712 train frames are Table 7's). They are plain numbers and
DataFrames; ``scripts/dataset_stats.py`` and ``scripts/jhmdb21_stats.py`` format them as the
data cards' markdown tables, and the book's data chapter shows them.

"Several tubes" and "several boxes on one frame" are kept apart: in the corrected UCF-101-24
annotations one actor can have several tubes one after the other, so only two boxes on one frame
show two actors at once (``data_cards/ucf101_24.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from claus_core.cost import full_cost
from claus_core.data.types import VideoPool, VideoRecord


def has_two_boxes_on_a_frame(video: VideoRecord) -> bool:
    """Two or more ground-truth boxes on at least one frame (tubes that overlap in time)."""
    return bool((video.boxes_per_frame() >= 2).any())


def split_summary(pool: VideoPool) -> dict[str, Any]:
    """One split in numbers: videos, frames, tubes, boxes (= the full cost), annotated frames,
    and the shares of videos with several tubes and with several boxes on one frame."""
    frames = np.array([v.num_frames for v in pool])  # [video]
    tubes = np.array([len(v.tubes) for v in pool])  # [video]
    annotated = sum(int(v.annotated_frames().sum()) for v in pool)
    crowded = sum(int((v.boxes_per_frame() >= 2).sum()) for v in pool)
    return {
        "videos": len(pool),
        "frames": int(frames.sum()),
        "frames per video (mean)": float(frames.mean()),
        "frames per video (min)": int(frames.min()),
        "frames per video (max)": int(frames.max()),
        "tubes": int(tubes.sum()),
        "tubes per video (mean)": float(tubes.mean()),
        "tubes per video (max)": int(tubes.max()),
        "boxes (= full cost)": full_cost(pool),
        "annotated frames": annotated,
        "videos with several tubes (%)": 100.0 * float(np.mean(tubes >= 2)),
        "videos with several boxes on a frame (%)": 100.0
        * float(np.mean([has_two_boxes_on_a_frame(v) for v in pool])),
        "annotated frames with several boxes (%)": 100.0 * crowded / max(annotated, 1),
    }


def class_counts(pool: VideoPool) -> pd.DataFrame:
    """Per class (every class of the pool, in label order): videos, frames, boxes, and videos
    with several boxes on one frame."""
    rows = []
    for label, name in enumerate(pool.classes):
        videos = [v for v in pool if v.label == label]
        rows.append({"label": label, "class": name, "videos": len(videos),
                     "frames": sum(v.num_frames for v in videos), "boxes": sum(v.num_boxes() for v in videos),
                     "videos with several boxes on a frame": sum(has_two_boxes_on_a_frame(v) for v in videos)})  # fmt: skip
    return pd.DataFrame(rows)


def tube_counts(pool: VideoPool) -> pd.Series:
    """How many videos have 0, 1, 2, ... tubes (index: tubes in the video)."""
    counts = pd.Series([len(v.tubes) for v in pool], dtype=int).value_counts().sort_index()
    return counts.rename_axis("tubes in the video").rename("videos")


def box_area_per_class(pool: VideoPool) -> pd.DataFrame:
    """Per class: mean, min and max over its tubes of a tube's mean box area, in percent of the
    frame (boxes ``x, y, w, h`` in the pool's frame size)."""
    rows = [
        {"class": pool.classes[video.label],
         "box area (% of frame)": 100 * float((tube.boxes[:, 2] * tube.boxes[:, 3]).mean()) / (video.width * video.height)}
        for video in pool for tube in video.tubes
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=["class", "box area (% of frame)"])
    return (
        table.groupby("class")["box area (% of frame)"].describe()[["mean", "min", "max"]].round(1)
    )
