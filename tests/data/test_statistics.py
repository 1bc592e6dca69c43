"""Dataset statistics (claus_core.data.statistics) on a hand-made pool."""

from __future__ import annotations

import numpy as np
import pytest

from claus_core.data.statistics import box_area_per_class, class_counts, split_summary, tube_counts
from claus_core.data.types import Tube, VideoPool, VideoRecord


def _tube(label: int, start: int, end: int, w: float = 10.0, h: float = 10.0) -> Tube:
    boxes = np.tile(
        np.array([0.0, 0.0, w, h], dtype=np.float32), (end - start, 1)
    )  # [frame, 4] x, y, w, h
    return Tube(label, start, end, boxes)


POOL = VideoPool(
    "toy",
    "train",
    ("a", "b"),
    (
        VideoRecord("a/one", 0, 10, 100, 100, (_tube(0, 0, 4),)),  # 4 boxes
        VideoRecord(
            "a/two_actors", 0, 10, 100, 100, (_tube(0, 0, 5), _tube(0, 3, 8, w=20))
        ),  # overlap on 3, 4
        VideoRecord(
            "b/one_after_other", 1, 20, 100, 100, (_tube(1, 0, 5), _tube(1, 10, 15))
        ),  # no overlap
    ),
)


def test_split_summary_by_hand() -> None:
    n = split_summary(POOL)
    assert (n["videos"], n["frames"], n["tubes"], n["boxes (= full cost)"]) == (
        3,
        40,
        5,
        4 + 10 + 10,
    )
    assert n["annotated frames"] == 4 + 8 + 10
    assert n["videos with several tubes (%)"] == pytest.approx(100 * 2 / 3)
    assert n["videos with several boxes on a frame (%)"] == pytest.approx(
        100 / 3
    )  # only a/two_actors
    assert n["annotated frames with several boxes (%)"] == pytest.approx(100 * 2 / 22)
    assert (
        n["frames per video (min)"],
        n["frames per video (max)"],
        n["tubes per video (max)"],
    ) == (10, 20, 2)


def test_per_class_tables_by_hand() -> None:
    counts = class_counts(POOL)
    assert counts["videos"].tolist() == [2, 1] and counts["boxes"].tolist() == [14, 10]
    assert counts["videos with several boxes on a frame"].tolist() == [1, 0]
    assert tube_counts(POOL).to_dict() == {1: 1, 2: 2}
    areas = box_area_per_class(POOL)
    assert (
        areas.loc["a", "max"] == 2.0
        and areas.loc["a", "min"] == 1.0
        and areas.loc["b", "mean"] == 1.0
    )
