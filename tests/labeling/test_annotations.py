"""Annotations of a labeling round (claus_core.labeling.annotations): tracks, spans and keys,
frame-to-frame linking, clipping, the round's bookkeeping (asked, annotated, extra, empty,
cost), and the training record built from several rounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labeling_support import CLASSES

from claus_core.data.types import DataError, VideoRecord
from claus_core.labeling.annotations import (
    RoundAnnotations,
    Track,
    VideoAnnotations,
    _group_tubes,
    clip_box,
    link_frames,
    make_track,
    training_record,
)

BIKING = CLASSES.index("Biking")  # 1


def box(x: float, y: float = 10.0, w: float = 20.0, h: float = 20.0) -> np.ndarray:
    return np.array([x, y, w, h], dtype=np.float64)


def video(num_frames: int = 40) -> VideoRecord:
    return VideoRecord("Biking/clip", -1, num_frames, 100, 100, ())


# ---- make_track ---------------------------------------------------------------------------


def test_make_track_keys_are_tool_keys_and_asked_frames_it_is_shown_on() -> None:
    shown = {f: box(float(f)) for f in (2, 3, 4, 7, 8)}
    track = make_track("Biking", shown, tool_keys=[2, 8], asked=[3, 5, 8])
    # keys = ({2, 8} | {3, 5, 8}) & {2, 3, 4, 7, 8} = {2, 3, 8}: asked frame 5 is not shown
    assert track.keys == (2, 3, 8)
    np.testing.assert_array_equal(track.boxes, [box(2.0), box(3.0), box(8.0)])
    # shown frames 2-4 and 7-8: two runs, [2, 5) and [7, 9)
    assert track.spans == ((2, 5), (7, 9))
    assert track.shown(10).tolist() == [f in shown for f in range(10)]


def test_make_track_drops_a_tool_key_it_is_not_shown_on() -> None:
    # a CVAT outside key frame (frame 6) is a key of the tool but no box of the track
    track = make_track("Biking", {5: box(5.0)}, tool_keys=[5, 6], asked=[])
    assert track.keys == (5,)
    assert track.spans == ((5, 6),)


def test_make_track_without_any_key_box_is_refused() -> None:
    with pytest.raises(DataError, match="needs at least one key box"):
        make_track("Biking", {4: box(4.0), 5: box(5.0)}, tool_keys=[], asked=[9])


@settings(max_examples=200, deadline=None)
@given(
    shown=st.sets(st.integers(0, 60), min_size=1, max_size=40),
    tool_keys=st.lists(st.integers(0, 60), max_size=10),
    asked=st.lists(st.integers(0, 60), max_size=10),
)
def test_make_track_spans_cover_exactly_the_shown_frames(
    shown: set[int], tool_keys: list[int], asked: list[int]
) -> None:
    boxes = {f: box(float(f)) for f in shown}
    expected_keys = sorted((set(tool_keys) | set(asked)) & shown)
    if not expected_keys:
        with pytest.raises(DataError):
            make_track("Biking", boxes, tool_keys, asked)
        return
    track = make_track("Biking", boxes, tool_keys, asked)
    covered = [f for start, end in track.spans for f in range(start, end)]
    assert sorted(covered) == sorted(shown)  # every shown frame, once
    assert len(covered) == len(set(covered))
    for (_, end), (start, _) in zip(track.spans, track.spans[1:], strict=False):
        assert start > end  # maximal runs: a gap of at least one frame between spans
    assert list(track.keys) == expected_keys
    np.testing.assert_array_equal(track.boxes[:, 0], expected_keys)  # each key its own box


# ---- Track / VideoAnnotations / RoundAnnotations --------------------------------------------


def test_track_refuses_keys_out_of_order_or_without_one_box_each() -> None:
    with pytest.raises(DataError, match="keys must be ascending"):
        Track("Biking", (5, 3), np.array([box(5.0), box(3.0)]), ((3, 6),))
    with pytest.raises(DataError, match="keys must be ascending, one box each"):
        Track("Biking", (3, 5), np.array([box(3.0)]), ((3, 6),))


def test_video_annotations_extra_empty_and_cost() -> None:
    one = Track("Biking", (5, 9), np.array([box(5.0), box(9.0)]), ((5, 10),))
    two = Track("Biking", (5,), np.array([box(50.0)]), ((5, 6),))
    video_annotations = VideoAnnotations("Biking/clip", (1, 5), (1, 5, 9), (one, two))
    assert video_annotations.extra == (9,)  # drawn on, never asked
    assert video_annotations.empty() == (1,)  # asked, no box: "no action"
    # one unit per box on an annotated frame: frame 1: 0, frame 5: 2, frame 9: 1
    assert video_annotations.cost() == 3


def test_video_annotations_refuse_an_asked_frame_missing_from_annotated() -> None:
    with pytest.raises(DataError, match=r"Biking/clip: asked frames \[7\] missing"):
        VideoAnnotations("Biking/clip", (1, 7), (1,))


def test_round_annotations_json_round_trip_keeps_boxes_to_four_decimals() -> None:
    track = Track("Biking", (5,), np.array([[1.23456789, 2.0, 3.0, 4.0]]), ((5, 6),))
    imported = RoundAnnotations(
        2,
        "cvat-video",
        {"Biking/clip": VideoAnnotations("Biking/clip", (5, 6), (5, 6), (track,))},
        ("a warning",),
        ({"file": "/x.xml", "sha256": "00"},),
    )
    again = RoundAnnotations.from_json(imported.to_json(), source="annotations.json")
    assert (again.round, again.format, again.warnings) == (2, "cvat-video", ("a warning",))
    assert again.sources == ({"file": "/x.xml", "sha256": "00"},)
    read = again.videos["Biking/clip"]
    assert (read.asked, read.annotated, read.empty(), read.cost()) == ((5, 6), (5, 6), (6,), 1)
    assert read.tracks[0].keys == (5,)
    assert read.tracks[0].spans == ((5, 6),)
    np.testing.assert_array_equal(read.tracks[0].boxes, [[1.2346, 2.0, 3.0, 4.0]])


def test_round_annotations_from_invalid_json_names_the_file() -> None:
    with pytest.raises(DataError, match="round0/annotations.json: not a valid imported round"):
        RoundAnnotations.from_json('{"round": 0}', source="round0/annotations.json")


# ---- clip_box -----------------------------------------------------------------------------


def test_clip_box_clips_a_box_partly_outside_and_warns() -> None:
    warnings: list[str] = []
    # (-10, 5, 30, 20): corners x -10..20, y 5..25 -> x 0..20 inside the 100 x 50 frame
    clipped = clip_box(
        [-10, 5, 30, 20], 100, 50, where="f.json, task 3, frame 7", warnings=warnings
    )
    np.testing.assert_array_equal(clipped, [0, 5, 20, 20])
    assert warnings == [
        "f.json, task 3, frame 7: box (x -10.0, y 5.0, w 30.0, h 20.0) extends outside the "
        "100x50 frame; clipped to it"
    ]


def test_clip_box_keeps_a_box_inside_without_warning() -> None:
    warnings: list[str] = []
    np.testing.assert_array_equal(
        clip_box([0, 0, 100, 50], 100, 50, where="w", warnings=warnings), [0, 0, 100, 50]
    )
    assert warnings == []


def test_clip_box_refuses_a_box_wholly_outside_or_not_finite() -> None:
    with pytest.raises(
        DataError, match=r"task 3, frame 7: box \(x 120\.0.*no area inside the 100x50"
    ):
        clip_box([120, 5, 10, 10], 100, 50, where="task 3, frame 7", warnings=[])
    with pytest.raises(DataError, match="task 3: box .* is not finite"):
        clip_box([np.nan, 5, 10, 10], 100, 50, where="task 3", warnings=[])


# ---- link_frames --------------------------------------------------------------------------


def test_link_frames_two_separated_actors_over_three_frames_make_two_tracks() -> None:
    # A moves right 1 px a frame from x 10, B from x 60: IoU(A_f, A_f+1) = 19*20 / (800 - 380)
    # = 0.90 >= 0.1, IoU(A, B) = 0. On frame 1 B comes first: linking goes by overlap, not order.
    per_frame = {
        0: [("Biking", box(10.0)), ("Biking", box(60.0))],
        1: [("Biking", box(61.0)), ("Biking", box(11.0))],
        2: [("Biking", box(12.0)), ("Biking", box(62.0))],
    }
    tracks = link_frames(per_frame)
    assert [label for label, _ in tracks] == ["Biking", "Biking"]
    assert {f: b[0] for f, b in tracks[0][1].items()} == {0: 10.0, 1: 11.0, 2: 12.0}
    assert {f: b[0] for f, b in tracks[1][1].items()} == {0: 60.0, 1: 61.0, 2: 62.0}


def _link_frames_plain(per_frame):  # the rule as first written: every pair compared in Python
    from claus_core.labeling.annotations import LINK_IOU, _iou

    tracks = []
    for frame in sorted(per_frame):
        taken = set()
        for label, b in per_frame[frame]:
            best, best_iou = None, LINK_IOU
            for index, (track_label, boxes) in enumerate(tracks):
                if index in taken or track_label != label:
                    continue
                iou = _iou(boxes[max(boxes)], b)
                if iou >= best_iou:
                    best, best_iou = index, iou
            if best is None:
                tracks.append((label, {}))
                best = len(tracks) - 1
            tracks[best][1][frame] = b
            taken.add(best)
    return tracks


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.integers(0, 12),
        st.lists(
            st.tuples(st.sampled_from(["Biking", "Fencing"]), st.integers(0, 8), st.integers(0, 3)),
            max_size=6,
        ),
        max_size=10,
    )
)
def test_link_frames_links_as_the_plain_pairwise_loop(drawn) -> None:
    """Issue 26 (9): linking compared every box with every track in Python (a 2.6 MB CVAT
    images file took 95 s); the vectorized rule links exactly as that loop, ties included
    (boxes on a coarse grid make equal overlaps common)."""
    per_frame = {
        f: [(label, box(5.0 * x, 5.0 * y)) for label, x, y in boxes] for f, boxes in drawn.items()
    }
    fast, plain = link_frames(per_frame), _link_frames_plain(per_frame)
    assert [(label, sorted(frames)) for label, frames in fast] == [
        (label, sorted(frames)) for label, frames in plain
    ]
    for (_, a), (_, b) in zip(fast, plain, strict=True):
        assert all(np.array_equal(a[f], b[f]) for f in a)


def test_link_frames_never_links_two_classes_nor_two_boxes_of_one_frame() -> None:
    per_frame = {
        0: [("Biking", box(10.0))],
        1: [("Fencing", box(10.0)), ("Biking", box(11.0)), ("Biking", box(12.0))],
    }
    tracks = link_frames(per_frame)
    # frame 1: Fencing starts a track (another class); the first Biking box (IoU 0.90) joins
    # track 0; the second (IoU 0.82) finds track 0 taken on this frame and starts its own
    assert [(label, sorted(frames)) for label, frames in tracks] == [
        ("Biking", [0, 1]),
        ("Fencing", [1]),
        ("Biking", [1]),
    ]
    assert tracks[0][1][1][0] == 11.0


# ---- training_record ----------------------------------------------------------------------


def test_training_record_links_two_rounds_of_one_actor_into_one_tube() -> None:
    # round 0: keys 10 (x 10) and 20 (x 30), shown 10..20; round 1: key 15 (x 22).
    # Round 0 interpolated to frame 15: x 20; IoU((20,10,20,20), (22,10,20,20)) = 360/440 = 0.82
    first = VideoAnnotations(
        "Biking/clip", (10, 20), (10, 20),
        (Track("Biking", (10, 20), np.array([box(10.0), box(30.0)]), ((10, 21),)),),
    )  # fmt: skip
    second = VideoAnnotations(
        "Biking/clip", (15,), (15,), (Track("Biking", (15,), np.array([box(22.0)]), ((15, 16),)),)
    )
    record, annotated = training_record(video(), [first, second], CLASSES)
    assert annotated == (10, 15, 20)
    assert record is not None and record.label == BIKING
    (tube,) = record.tubes
    assert (tube.label, tube.start, tube.end) == (BIKING, 10, 21)
    # keys 10 (x 10), 15 (x 22), 20 (x 30): frame 12 = 10 + 2/5 * 12 = 14.8, frame 18 = 22 + 3/5 * 8
    # = 26.8; y, w, h stay 10, 20, 20
    np.testing.assert_allclose(tube.box_at(12), [14.8, 10, 20, 20], rtol=1e-6)
    np.testing.assert_allclose(tube.box_at(15), [22, 10, 20, 20], rtol=1e-6)
    np.testing.assert_allclose(tube.box_at(18), [26.8, 10, 20, 20], rtol=1e-6)


def test_training_record_keeps_a_far_box_of_a_later_round_as_another_actor() -> None:
    first = VideoAnnotations(
        "Biking/clip", (10, 20), (10, 20),
        (Track("Biking", (10, 20), np.array([box(10.0), box(30.0)]), ((10, 21),)),),
    )  # fmt: skip
    # round 0 at frame 15: x 20..40; this box x 70..90: IoU 0 -> a second actor
    second = VideoAnnotations(
        "Biking/clip", (15,), (15,), (Track("Biking", (15,), np.array([box(70.0)]), ((15, 16),)),)
    )
    record, _ = training_record(video(), [first, second], CLASSES)
    assert record is not None
    # the first actor is cut at frame 15, which round 1 annotated with only the far box there
    assert sorted((t.start, t.end) for t in record.tubes) == [(10, 15), (15, 16), (16, 21)]


def test_a_box_held_from_an_earlier_round_never_lands_on_a_frame_annotated_empty() -> None:
    # round 0: a region drawn on frame 10 and left enabled, so the tool shows it to the end of
    # the 40-frame video; round 1 asks frame 30 and the person draws nothing ("no action")
    held = Track("Biking", (10,), np.array([box(10.0)]), ((10, 40),))
    first = VideoAnnotations("Biking/clip", (10,), (10,), (held,))
    second = VideoAnnotations("Biking/clip", (30,), (30,))
    record, annotated = training_record(video(), [first, second], CLASSES)
    assert annotated == (10, 30)
    assert sorted((t.start, t.end) for t in record.tubes) == [(10, 30), (31, 40)]
    assert all(t.box_at(30) is None for t in record.tubes)


def test_training_record_of_a_video_without_any_box_is_none_with_its_annotated_frames() -> None:
    rounds = [
        VideoAnnotations("Biking/clip", (3, 7), (3, 7)),
        VideoAnnotations("Biking/clip", (12,), (12,)),
    ]
    assert training_record(video(), rounds, CLASSES) == (None, (3, 7, 12))


def test_training_record_label_is_the_class_with_most_key_boxes_ties_to_the_first_class() -> None:
    fencing = Track("Fencing", (5,), np.array([box(60.0)]), ((5, 6),))
    biking_1 = Track("Biking", (5,), np.array([box(10.0)]), ((5, 6),))
    biking_2 = Track("Biking", (5, 9), np.array([box(10.0), box(10.0)]), ((5, 10),))
    fencing_2 = Track("Fencing", (5, 6, 7), np.array([box(60.0)] * 3), ((5, 8),))
    tie = VideoAnnotations("Biking/clip", (5,), (5,), (fencing, biking_1))
    record, _ = training_record(video(), [tie], CLASSES)  # 1 key each: Biking comes first
    assert record is not None and record.label == BIKING
    assert {t.label for t in record.tubes} == {BIKING}  # every tube takes the video's class
    more = VideoAnnotations("Biking/clip", (5,), (5, 6, 7, 9), (biking_2, fencing_2))
    record, _ = training_record(video(), [more], CLASSES)  # Biking 2 keys, Fencing 3
    assert record is not None and record.label == CLASSES.index("Fencing")


def test_group_tubes_splits_where_the_tool_said_the_actor_was_absent_between_its_keys() -> None:
    # Label Studio: a disabled key frame at 10 hides the region until the enabled one at 20,
    # which keeps it to the end of the 40-frame video: shown {10} and 20..39
    track = Track("Biking", (10, 20), np.array([box(10.0), box(30.0)]), ((10, 11), (20, 40)))
    tubes = _group_tubes([track], BIKING, 40, (10, 20))
    assert [(t.start, t.end) for t in tubes] == [(10, 11), (20, 40)]
    np.testing.assert_allclose(tubes[0].boxes, [box(10.0)])
    np.testing.assert_allclose(tubes[1].boxes, [box(30.0)] * 20)  # held after the last key


def test_group_tubes_fills_the_gap_between_two_rounds_nobody_annotated() -> None:
    # Neither round said anything about frames 11..19: the actor is taken as present there
    first = Track("Biking", (10,), np.array([box(10.0)]), ((10, 11),))
    second = Track("Biking", (20,), np.array([box(30.0)]), ((20, 21),))
    (tube,) = _group_tubes([first, second], BIKING, 40, (10, 20))
    assert (tube.start, tube.end) == (10, 21)
    np.testing.assert_allclose(tube.box_at(15), [20, 10, 20, 20], rtol=1e-6)  # halfway 10 -> 30
