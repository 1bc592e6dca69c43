"""Cost model: hand-computed cases (one box on one frame = 1)."""

from __future__ import annotations

import numpy as np
import pytest

from claus_core.cost import CostModel, annotation_cost, frame_cost, full_cost, percent_of
from claus_core.data.types import AnnotationState, DataError, Tube, VideoPool, VideoRecord


def two_actor_pool() -> VideoPool:
    box = np.tile([[1.0, 1.0, 4.0, 4.0]], (1, 1))
    a = Tube(0, 0, 10, np.repeat(box, 10, axis=0))
    b = Tube(0, 5, 8, np.repeat(box, 3, axis=0))
    single = Tube(1, 2, 4, np.repeat(box, 2, axis=0))
    videos = (
        VideoRecord("A/v1", 0, 12, 16, 16, (a, b)),
        VideoRecord("B/v2", 1, 6, 16, 16, (single,)),
    )
    return VideoPool("toy", "train", ("A", "B"), videos)


def test_full_cost_counts_every_box() -> None:
    assert full_cost(two_actor_pool()) == 10 + 3 + 2


def test_full_cost_with_a_per_video_cost() -> None:
    assert full_cost(two_actor_pool(), CostModel(per_box=2, per_video=5)) == 2 * 15 + 2 * 5


def test_frame_cost_counts_boxes_on_that_frame() -> None:
    video = two_actor_pool()["A/v1"]
    assert [frame_cost(video, f) for f in (0, 5, 7, 8, 10, 11)] == [1, 2, 2, 1, 0, 0]


def test_annotation_cost_of_a_state() -> None:
    pool = two_actor_pool()
    state = AnnotationState(1, ("A/v1", "B/v2"), {"A/v1": (0, 6, 11), "B/v2": (0, 3)})
    assert annotation_cost(pool, state) == 1 + 2 + 0 + 0 + 1
    assert annotation_cost(pool, state, CostModel(per_video=10)) == 4 + 20


def test_annotation_cost_rejects_frames_outside_the_video() -> None:
    state = AnnotationState(1, ("B/v2",), {"B/v2": (6,)})
    with pytest.raises(DataError, match="B/v2 has 6 frames"):
        annotation_cost(two_actor_pool(), state)


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        (0.15, 34),
        (0.3, 68),
        (0.45, 102),
        (0.6, 136),
        (0.75, 170),
        (0.9, 204),
        (1.2, 272),
        (1.5, 340),
        (5.4, 1226),
        (90, 20440),
        (100, 22712),
    ],
)
def test_percent_of_reproduces_table_7(percent: float, expected: int) -> None:
    assert percent_of(22712, percent) == expected


def test_percent_of_rounds_down_like_table_6() -> None:
    assert percent_of(403282, 90) == 362953
    with pytest.raises(ValueError, match="percent"):
        percent_of(10, -1)
