"""The shared data model: validation, masks, the annotation state's JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from claus_core.data.raster import box_mask, video_masks
from claus_core.data.types import AnnotationState, DataError, Tube, VideoPool, VideoRecord


def boxes(n: int) -> np.ndarray:
    return np.tile([[2.0, 3.0, 4.0, 2.0]], (n, 1))


def test_tube_rejects_end_before_start() -> None:
    with pytest.raises(DataError, match="end <= start"):
        Tube(0, 5, 5, boxes(0))


def test_tube_rejects_a_box_count_that_does_not_match_its_frames() -> None:
    with pytest.raises(DataError, match="covers 3 frames .* but has 2 boxes"):
        Tube(0, 0, 3, boxes(2))


def test_video_rejects_a_tube_beyond_its_frames() -> None:
    with pytest.raises(DataError, match="v1: tube \\[0, 5\\) lies outside"):
        VideoRecord("v1", 0, 4, 10, 10, (Tube(0, 0, 5, boxes(5)),))


def test_pool_rejects_duplicate_names_and_reports_missing_ones() -> None:
    video = VideoRecord("v1", 0, 4, 10, 10, ())
    with pytest.raises(DataError, match="duplicate"):
        VideoPool("toy", "train", ("a",), (video, video))
    with pytest.raises(KeyError, match="no video named 'v2'"):
        VideoPool("toy", "train", ("a",), (video,))["v2"]


def test_box_mask_convention() -> None:
    mask = box_mask((2.0, 3.0, 4.0, 2.0), height=8, width=8)  # columns 2..5, rows 3..4
    assert mask.sum() == 8
    assert mask[3:5, 2:6].all()
    clipped = box_mask((6.0, 6.0, 10.0, 10.0), height=8, width=8)
    assert clipped.sum() == 4


def test_video_masks_union_of_tubes() -> None:
    first = Tube(0, 0, 2, np.array([[0, 0, 2, 2], [0, 0, 2, 2]], dtype=float))
    second = Tube(0, 1, 3, np.array([[4, 4, 2, 2], [4, 4, 2, 2]], dtype=float))
    masks = video_masks(VideoRecord("v", 0, 3, 8, 8, (first, second)))  # [frame, H, W]
    assert masks.shape == (3, 8, 8)
    assert masks.sum(axis=(1, 2)).tolist() == [4, 8, 4]


frame_sets = st.dictionaries(
    st.text("abcdef/_", min_size=1, max_size=8),
    st.lists(st.integers(0, 500), max_size=20),
    max_size=6,
)


@given(frame_sets, st.integers(0, 50))
def test_annotation_state_json_round_trip(frames: dict[str, list[int]], round_index: int) -> None:
    state = AnnotationState(round_index, tuple(frames), frames)
    again = AnnotationState.from_json(state.to_json())
    assert again == state
    assert again.videos == state.videos


def test_annotation_state_rejects_malformed_json() -> None:
    with pytest.raises(DataError, match="state.json: not a valid annotation state"):
        AnnotationState.from_json('{"round": 1}', source="state.json")


def test_merged_keeps_old_frames_and_appends_new_videos() -> None:
    state = AnnotationState(1, ("a",), {"a": (1, 5)})
    merged = state.merged({"a": [3], "b": [0]}, round=2)
    assert merged.videos == ("a", "b")
    assert merged.frames == {"a": (1, 3, 5), "b": (0,)}
    assert merged.num_frames() == 4


def test_a_record_at_another_size_scales_its_boxes() -> None:
    """Issue 26: a labeling project decodes HD videos at the detector's input size; the boxes
    follow (hand-computed: 1920 x 1080 -> 112 x 112)."""
    tube = Tube(0, 1, 3, np.array([[960.0, 540.0, 192.0, 108.0]] * 2))
    record = VideoRecord("v", 0, 4, 1920, 1080, (tube,), path=None)
    small = VideoPool("d", "s", ("a",), (record,)).at_size(112, 112)["v"]
    assert (small.width, small.height, small.num_frames) == (112, 112, 4)
    np.testing.assert_allclose(small.tubes[0].boxes, [[56.0, 56.0, 11.2, 11.2]] * 2, rtol=1e-6)
    assert (small.tubes[0].start, small.tubes[0].end, small.tubes[0].label) == (1, 3, 0)


def test_a_record_with_masks_keeps_its_size() -> None:
    from claus_core.data.masks import RunLengthMasks

    masks = RunLengthMasks.encode(np.zeros((2, 4, 4), dtype=bool))
    record = VideoRecord("v", 0, 2, 4, 4, (), masks=masks)
    with pytest.raises(DataError, match="v: a video with segmentation masks keeps its own size"):
        record.at_size(2, 2)
