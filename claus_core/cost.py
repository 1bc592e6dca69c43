"""Annotation cost accounting (supplementary Section 5.1, Tables 6 and 7).

One annotated box on one frame costs 1 unit, so a fully annotated UCF-101-24 split-1 train set
costs 403,282 (Table 6, 100 %) and J-HMDB-21 split-1 train 22,712 (Table 7: one actor per frame).
An optional per-video cost (default 0) models the price of opening a new video for annotators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

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
    """``percent`` % of the full cost, rounded down to a whole unit (Tables 6 and 7).

    Rounding down is what the paper's tables do: 90 % of UCF-101-24's 403,282 is 362,953.8 and
    Table 6 lists 362,953; every Cost entry of Table 7 is the floor of its percentage of 22,712.
    The percentage is read exactly (as a decimal), so ``percent_cost(pool, 0.15)`` is not hit by
    binary floating point.
    """
    return percent_of(full_cost(pool, model), percent)


def percent_of(total: int, percent: float) -> int:
    """``floor(total * percent / 100)`` computed exactly on the decimal value of ``percent``."""
    if percent < 0:
        raise ValueError(f"percent must be >= 0, got {percent}")
    return math.floor(Fraction(total) * Fraction(str(percent)) / 100)
