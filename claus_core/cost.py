"""Annotation cost accounting (supplementary Section 5.1, Tables 6 and 7).

One annotated box on one frame costs 1 unit, so a fully annotated UCF-101-24 split-1 train set
costs 403,282 (Table 6, 100 %) and J-HMDB-21 split-1 train 22,712 (Table 7: one actor per frame).
An optional per-video cost (default 0) models the price of opening a new video for annotators.
"""

from __future__ import annotations

from dataclasses import dataclass

from claus_core.data.types import AnnotationState, VideoPool, VideoRecord


@dataclass(frozen=True)
class CostModel:
    """Cost of one GT box on one frame, and of each newly selected video."""

    per_box: int = 1
    per_video: int = 0


def frame_cost(video: VideoRecord, frame: int, model: CostModel = CostModel()) -> int:
    """Cost of annotating one frame: every GT box present on it."""
    return model.per_box * sum(1 for tube in video.tubes if tube.start <= frame < tube.end)


def full_cost(pool: VideoPool, model: CostModel = CostModel()) -> int:
    """Cost of annotating every box of every video of ``pool`` (the fully supervised cost)."""
    return sum(model.per_box * v.num_boxes() + model.per_video for v in pool.videos)


def annotation_cost(pool: VideoPool, state: AnnotationState, model: CostModel = CostModel()) -> int:
    """Cost of the annotations recorded in ``state`` (all rounds together)."""
    state.validate(pool)
    total = 0
    for name in state.videos:
        counts = pool[name].boxes_per_frame()  # [frame]
        frames = list(state.frames[name])
        total += model.per_box * int(counts[frames].sum()) + model.per_video
    return total


def percent_cost(pool: VideoPool, percent: float, model: CostModel = CostModel()) -> int:
    """The cost of ``percent`` % of the full cost, rounded to the nearest unit (Tables 6, 7)."""
    return int(round(full_cost(pool, model) * percent / 100.0))
