"""Hand-computed cases for claus_core.metrics (the worked examples of book/metrics.md included)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from claus_core.metrics import (
    DETECTION_COLUMNS,
    GROUND_TRUTH_COLUMNS,
    DetectionTube,
    GroundTruthTube,
    average_precision,
    box_iou,
    frame_ap,
    localization_map,
    localization_map_per_class,
    localization_scores,
    mask_boxes,
    mask_to_box,
    tube_iou,
    video_ap,
)

FULL = np.ones((2, 2), dtype=bool)
EMPTY = np.zeros((2, 2), dtype=bool)
TOP_ROW = np.array([[True, True], [False, False]])
ONE_PIXEL = np.array([[True, False], [False, False]])


def book_videos(with_predicted_labels: bool = False) -> list[tuple]:
    """The localization example of book/metrics.md: 2 x 2 frames, classes 0, 1 (and 2 unused)."""
    videos = [
        # video A, class 0: IoU 1, IoU 1/2, and a frame without GT (not scored)
        (0, np.stack([FULL, TOP_ROW, FULL]), np.stack([FULL, FULL, EMPTY]), 0),
        # video B, class 1: IoU 1/4, IoU 0
        (1, np.stack([ONE_PIXEL, EMPTY]), np.stack([FULL, FULL]), 1),
        # video C, class 1: IoU 1, but the detector calls it class 0
        (1, np.stack([FULL]), np.stack([FULL]), 0),
    ]
    return videos if with_predicted_labels else [v[:3] for v in videos]


def as_dict(table: pd.DataFrame) -> dict[tuple[str, float], float]:
    return {
        (m, t): v for m, t, v in table[["metric", "threshold", "value"]].itertuples(index=False)
    }


def test_book_localization_example() -> None:
    table = localization_map(book_videos(), num_classes=3)
    assert list(table.columns) == ["metric", "threshold", "value"]
    expected = {
        ("f-mAP", 0.1): 5 / 6,
        ("f-mAP", 0.2): 5 / 6,
        ("f-mAP", 0.3): 2 / 3,
        ("f-mAP", 0.5): 2 / 3,
        ("v-mAP", 0.1): 1.0,
        ("v-mAP", 0.2): 0.75,
        ("v-mAP", 0.3): 0.75,
        ("v-mAP", 0.5): 0.75,
    }
    assert as_dict(table) == pytest.approx(expected)


def test_book_localization_example_per_class_leaves_out_class_without_ground_truth() -> None:
    per_class = localization_map_per_class(book_videos(), num_classes=3)
    assert list(per_class.columns) == ["metric", "threshold", "class", "value"]
    values = {(m, t, c): v for m, t, c, v in per_class.itertuples(index=False)}
    expected = {}
    for threshold, frame_1, video_1 in (
        (0.1, 2 / 3, 1.0),
        (0.2, 2 / 3, 0.5),
        (0.3, 1 / 3, 0.5),
        (0.5, 1 / 3, 0.5),
    ):
        expected[("f-mAP", threshold, 0)] = 1.0
        expected[("f-mAP", threshold, 1)] = frame_1
        expected[("v-mAP", threshold, 0)] = 1.0
        expected[("v-mAP", threshold, 1)] = video_1
    assert values == pytest.approx(expected)  # no row for class 2


def test_book_localization_example_require_class() -> None:
    table = localization_map(book_videos(True), num_classes=3, require_class=True)
    values = as_dict(table)
    assert values[("f-mAP", 0.1)] == pytest.approx((1 + 1 / 3) / 2)
    assert values[("f-mAP", 0.5)] == pytest.approx(0.5)
    assert values[("v-mAP", 0.1)] == pytest.approx(0.75)
    assert values[("v-mAP", 0.5)] == pytest.approx(0.5)
    # without require_class the predicted labels change nothing
    assert as_dict(localization_map(book_videos(True), 3)) == as_dict(
        localization_map(book_videos(), 3)
    )


def test_video_iou_pools_pixels_over_ground_truth_frames() -> None:
    scores = localization_scores(book_videos(), num_classes=3)
    np.testing.assert_allclose(scores.video_iou, [0.75, 0.125, 1.0])
    np.testing.assert_allclose(scores.frame_iou, [1.0, 0.5, 0.25, 0.0, 1.0])


def test_perfect_prediction_gives_one_and_empty_prediction_zero() -> None:
    rng = np.random.default_rng(0)
    truth = [rng.random((3, 5, 6)) < 0.4 for _ in range(4)]
    truth = [np.concatenate([t, np.ones((1, 5, 6), dtype=bool)]) for t in truth]
    labels = [0, 1, 1, 3]
    perfect = localization_map([(c, t, t) for c, t in zip(labels, truth, strict=True)], 4)
    assert (perfect["value"] == 1.0).all()
    assert len(perfect) == 8
    empty = localization_map(
        [(c, np.zeros_like(t), t) for c, t in zip(labels, truth, strict=True)], 4
    )
    assert (empty["value"] == 0.0).all()


@pytest.mark.parametrize("threshold", [0.1, 0.2, 0.3, 0.5])
def test_partial_overlap_counts_exactly_from_its_iou(threshold: float) -> None:
    truth = np.ones((1, 1, 10), dtype=bool)  # 10 ground-truth pixels
    covered = round(threshold * 10)
    at = np.zeros_like(truth)
    at[..., :covered] = True  # IoU == threshold: counts
    below = np.zeros_like(truth)
    below[..., : covered - 1] = True  # IoU == threshold - 0.1: does not
    table = localization_map([(0, at, truth), (1, below, truth)], 2, thresholds=[threshold])
    assert as_dict(table) == {("f-mAP", threshold): 0.5, ("v-mAP", threshold): 0.5}


def test_half_overlap_at_every_threshold() -> None:
    truth = np.ones((2, 2, 2), dtype=bool)
    half = np.zeros_like(truth)
    half[:, 0] = True
    table = as_dict(localization_map([(0, half, truth)], 1, thresholds=[0.1, 0.2, 0.3, 0.5, 0.6]))
    for metric in ("f-mAP", "v-mAP"):
        assert [table[(metric, t)] for t in (0.1, 0.2, 0.3, 0.5, 0.6)] == [1, 1, 1, 1, 0]


def test_localization_accepts_a_generator() -> None:
    videos = (item for item in book_videos())
    assert len(localization_map(videos, 3)) == 8


@pytest.mark.parametrize(
    ("videos", "message"),
    [
        ([], "no videos"),
        ([(0, np.ones((2, 3, 3), bool), np.ones((2, 3, 4), bool))], "shape"),
        ([(0, np.ones((2, 3, 3)), np.ones((2, 3, 3), bool))], "boolean"),
        ([(0, np.ones((3, 3), bool), np.ones((3, 3), bool))], r"\[frame, H, W\]"),
        ([(5, np.ones((1, 3, 3), bool), np.ones((1, 3, 3), bool))], "outside"),
        ([(0, np.ones((1, 3, 3), bool))], "expected"),
        ([(0, np.ones((1, 3, 3), bool), np.zeros((1, 3, 3), bool))], "no.*ground-truth frame"),
    ],
)
def test_localization_rejects_bad_input(videos: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        localization_map(videos, 2)


def test_localization_rejects_bad_thresholds_and_missing_predicted_labels() -> None:
    with pytest.raises(ValueError, match="thresholds"):
        localization_map(book_videos(), 3, thresholds=[0.0])
    with pytest.raises(ValueError, match="empty"):
        localization_map(book_videos(), 3, thresholds=[])
    with pytest.raises(ValueError, match="predicted label"):
        localization_map(book_videos(), 3, require_class=True)


# --------------------------------------------------------------------------- masks to boxes


def test_mask_to_box_uses_last_pixel_plus_one() -> None:
    mask = np.zeros((4, 6), dtype=bool)
    mask[1:3, 2:5] = True
    assert mask_to_box(mask) == (2, 1, 5, 3)
    assert mask_to_box(np.zeros((4, 6), dtype=bool)) is None


def test_mask_to_box_largest_component() -> None:
    mask = np.zeros((6, 8), dtype=bool)
    mask[0, 0] = True  # a 1-pixel speck
    mask[2:5, 3:7] = True  # a 12-pixel blob
    mask[5, 7] = True  # touches the blob diagonally: 8-connected, part of it
    assert mask_to_box(mask) == (0, 0, 8, 6)
    assert mask_to_box(mask, largest_component=True) == (3, 2, 8, 6)


def test_mask_boxes_matches_per_frame_boxes() -> None:
    rng = np.random.default_rng(1)
    masks = rng.random((6, 9, 7)) < 0.15  # [frame, H, W]
    masks[2] = False
    for largest in (False, True):
        boxes = mask_boxes(masks, largest_component=largest)
        assert boxes.shape == (6, 4)
        assert np.isnan(boxes[2]).all()
        for frame in range(6):
            box = mask_to_box(masks[frame], largest_component=largest)
            if box is None:
                assert np.isnan(boxes[frame]).all()
            else:
                assert tuple(boxes[frame]) == box
                x1, y1, x2, y2 = box
                assert masks[frame, y1:y2, x1:x2].sum() > 0


def test_mask_boxes_rejects_non_boolean_masks() -> None:
    with pytest.raises(ValueError, match="boolean"):
        mask_boxes(np.ones((2, 3, 3), dtype=np.float32))


# --------------------------------------------------------------------------- frame-AP


def detections_table(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=DETECTION_COLUMNS)


def truth_table(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=GROUND_TRUTH_COLUMNS)


BOOK_TRUTH = [("v", f, 0, 0, 0, 10, 10) for f in range(3)]
BOOK_DETECTIONS = [
    ("v", 0, 0, 0.9, 0, 0, 10, 10),  # IoU 1: true positive
    ("v", 0, 0, 0.8, 1, 0, 11, 10),  # IoU 0.82 with an already matched box: false positive
    ("v", 1, 0, 0.7, 6, 0, 16, 10),  # IoU 0.25: false positive
    ("v", 2, 0, 0.6, 0, 0, 10, 8),  # IoU 0.8: true positive
]


def test_book_frame_ap_example_voc_and_act() -> None:
    truth = truth_table(BOOK_TRUTH)
    detections = detections_table(BOOK_DETECTIONS)
    voc = frame_ap(detections, truth)
    act = frame_ap(detections, truth, ap="act")
    assert voc.per_class == pytest.approx({0: 0.5})
    assert voc.mean == pytest.approx(0.5)
    assert act.per_class == pytest.approx({0: 17 / 36})
    voc_iou = box_iou(
        detections[["x1", "y1", "x2", "y2"]].to_numpy()[1:], np.array([[0, 0, 10, 10]] * 3)
    )
    np.testing.assert_allclose(voc_iou, [90 / 110, 40 / 160, 80 / 100])
    # ACT's +1 areas move the IoUs of ranks 2 to 4, not the outcomes
    plus_one = box_iou(
        detections[["x1", "y1", "x2", "y2"]].to_numpy()[1:],
        np.array([[0, 0, 10, 10]] * 3),
        plus_one=True,
    )
    np.testing.assert_allclose(plus_one, [110 / 132, 55 / 187, 99 / 121])
    assert np.round(plus_one, 2).tolist() == [0.83, 0.29, 0.82]
    # the order of the rows does not matter, only the scores
    shuffled = detections.iloc[[3, 1, 0, 2]]
    assert frame_ap(shuffled, truth, ap="act").mean == pytest.approx(17 / 36)


def test_average_precision_by_hand() -> None:
    hits = np.array([True, False, False, True])  # the book example's ranking
    assert average_precision(hits, 3, "voc") == pytest.approx(0.5)
    assert average_precision(hits, 3, "act") == pytest.approx(17 / 36)
    assert average_precision(np.array([True, True]), 2, "voc") == pytest.approx(1.0)
    assert average_precision(np.array([True, True]), 2, "act") == pytest.approx(1.0)
    assert average_precision(np.array([], dtype=bool), 2, "voc") == 0.0
    assert average_precision(np.array([], dtype=bool), 2, "act") == 0.0
    # precision 1/2 at full recall: the VOC envelope and ACT's trapezoid differ
    assert average_precision(np.array([False, True]), 1, "voc") == pytest.approx(0.5)
    assert average_precision(np.array([False, True]), 1, "act") == pytest.approx(0.25)


def test_duplicate_detection_is_a_false_positive() -> None:
    truth = truth_table([("v", 0, 0, 0, 0, 10, 10), ("v", 1, 0, 0, 0, 10, 10)])
    detections = detections_table(
        [
            ("v", 0, 0, 0.9, 0, 0, 10, 10),
            ("v", 0, 0, 0.8, 0, 0, 10, 10),  # the same box again
            ("v", 1, 0, 0.7, 0, 0, 10, 10),
        ]
    )
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: VOC 1/2 * 1 + 1/2 * 2/3
    assert frame_ap(detections, truth).mean == pytest.approx(5 / 6)
    # ACT: 1/2 * (1 + 1) / 2 + 0 + 1/2 * (1/2 + 2/3) / 2
    assert frame_ap(detections, truth, ap="act").mean == pytest.approx(0.5 + 7 / 24)


def test_detection_must_share_video_frame_and_label() -> None:
    truth = truth_table([("v", 0, 0, 0, 0, 10, 10)])
    for video, frame, label in (("w", 0, 0), ("v", 1, 0), ("v", 0, 1)):
        detections = detections_table([(video, frame, label, 0.9, 0, 0, 10, 10)])
        assert frame_ap(detections, truth).mean == 0.0


def test_perfect_and_empty_detections() -> None:
    truth = truth_table([("a", 0, 0, 0, 0, 5, 5), ("b", 3, 1, 2, 2, 8, 9)])
    perfect = truth.assign(score=1.0)[DETECTION_COLUMNS]
    for mode in ("voc", "act"):
        assert frame_ap(perfect, truth, ap=mode).per_class == {0: 1.0, 1: 1.0}
        empty = frame_ap(detections_table([]), truth, ap=mode)
        assert empty.per_class == {0: 0.0, 1: 0.0}
        assert empty.mean == 0.0


def test_class_without_ground_truth_is_left_out_of_the_mean() -> None:
    truth = truth_table([("v", 0, 0, 0, 0, 10, 10), ("v", 0, 2, 20, 20, 30, 30)])
    detections = detections_table(
        [
            ("v", 0, 0, 0.9, 0, 0, 10, 10),  # class 0: found
            ("v", 0, 1, 0.8, 0, 0, 10, 10),  # class 1 has no ground truth: ignored
        ]
    )
    result = frame_ap(detections, truth)
    assert result.per_class == {0: 1.0, 2: 0.0}  # class 2 has ground truth, no detection
    assert result.mean == pytest.approx(0.5)


def test_act_plus_one_areas_change_the_iou() -> None:
    big, half = np.array([[0, 0, 9, 9]]), np.array([[0, 0, 4, 9]])
    assert box_iou(big, half)[0] == pytest.approx(36 / 81)
    assert box_iou(big, half, plus_one=True)[0] == pytest.approx(0.5)
    truth = truth_table([("v", 0, 0, 0, 0, 9, 9)])
    detections = detections_table([("v", 0, 0, 0.5, 0, 0, 4, 9)])
    assert frame_ap(detections, truth, ap="voc").mean == 0.0
    assert frame_ap(detections, truth, ap="act").mean == 1.0


def test_box_iou_of_disjoint_and_degenerate_boxes() -> None:
    assert box_iou(np.array([[0, 0, 2, 2]]), np.array([[3, 3, 5, 5]]))[0] == 0.0
    assert box_iou(np.array([[1, 1, 1, 1]]), np.array([[1, 1, 1, 1]]))[0] == 0.0
    assert box_iou(np.array([[1, 1, 1, 1]]), np.array([[1, 1, 1, 1]]), plus_one=True)[0] == 1.0


@pytest.mark.parametrize(
    ("detection", "message"),
    [
        (("v", 0, 0, float("nan"), 0, 0, 10, 10), "score"),
        (("v", 0, 0, 0.5, 10, 0, 5, 10), "x2 < x1"),
        (("v", 0, 0, 0.5, 0, 10, 10, 5), "y2 < y1"),
        (("v", 0.5, 0, 0.5, 0, 0, 10, 10), "integers"),
    ],
)
def test_frame_ap_rejects_bad_detections(detection: tuple, message: str) -> None:
    truth = truth_table([("v", 0, 0, 0, 0, 10, 10)])
    with pytest.raises(ValueError, match=message):
        frame_ap(detections_table([detection]), truth)


def test_frame_ap_rejects_bad_arguments() -> None:
    truth = truth_table([("v", 0, 0, 0, 0, 10, 10)])
    detections = detections_table([("v", 0, 0, 0.5, 0, 0, 10, 10)])
    with pytest.raises(ValueError, match="empty"):
        frame_ap(detections, truth_table([]))
    with pytest.raises(ValueError, match="lacks the columns"):
        frame_ap(detections.drop(columns="score"), truth)
    with pytest.raises(ValueError, match="ap must be"):
        frame_ap(detections, truth, ap="coco")
    with pytest.raises(ValueError, match="thresholds"):
        frame_ap(detections, truth, iou_threshold=1.5)
    with pytest.raises(ValueError, match="x2 < x1"):
        frame_ap(detections, truth_table([("v", 0, 0, 10, 0, 0, 10)]))


# --------------------------------------------------------------------------- video-AP

SQUARE = [0.0, 0.0, 10.0, 10.0]


def test_tube_iou_by_hand() -> None:
    truth = GroundTruthTube("v", 0, 0, np.array([SQUARE] * 4))  # frames 0..3
    detection = DetectionTube(
        "v", 0, 0.9, 2, np.array([SQUARE, [0, 0, 10, 5], SQUARE, SQUARE])
    )  # frames 2..5: spatial IoU 1 and 1/2 on the common frames 2, 3
    # temporal IoU 2 / 6, mean spatial IoU 3 / 4
    assert tube_iou(detection, truth) == pytest.approx(0.25)
    assert tube_iou(truth, detection) == pytest.approx(0.25)
    late = DetectionTube("v", 0, 0.9, 4, np.array([SQUARE]))
    assert tube_iou(late, truth) == 0.0
    assert video_ap([detection], [truth], iou_threshold=0.2).mean == 1.0
    assert video_ap([detection], [truth], iou_threshold=0.3).mean == 0.0


def test_video_ap_duplicates_and_classes() -> None:
    truths = [
        GroundTruthTube("a", 0, 0, np.array([SQUARE] * 3)),
        GroundTruthTube("b", 0, 0, np.array([SQUARE] * 3)),
        GroundTruthTube("c", 1, 0, np.array([SQUARE] * 3)),
    ]
    detections = [
        DetectionTube("a", 0, 0.9, 0, np.array([SQUARE] * 3)),
        DetectionTube("a", 0, 0.8, 0, np.array([SQUARE] * 3)),  # duplicate: false positive
        DetectionTube("b", 0, 0.7, 0, np.array([SQUARE] * 3)),
        DetectionTube("c", 2, 0.9, 0, np.array([SQUARE] * 3)),  # class 2: no ground truth
    ]
    for mode, expected in (("voc", 5 / 6), ("act", 0.5 + 7 / 24)):
        result = video_ap(detections, truths, ap=mode)
        assert result.per_class == pytest.approx({0: expected, 1: 0.0})
        assert result.mean == pytest.approx(expected / 2)


def test_video_ap_rejects_bad_input() -> None:
    truth = GroundTruthTube("v", 0, 0, np.array([SQUARE]))
    with pytest.raises(ValueError, match="empty"):
        video_ap([], [])
    with pytest.raises(ValueError, match="score"):
        DetectionTube("v", 0, float("nan"), 0, np.array([SQUARE]))
    with pytest.raises(ValueError, match="x2 < x1"):
        DetectionTube("v", 0, 0.5, 0, np.array([[5, 0, 1, 10]]))
    with pytest.raises(ValueError, match="shape"):
        GroundTruthTube("v", 0, 0, np.zeros((0, 4)))
    with pytest.raises(ValueError, match="negative"):
        GroundTruthTube("v", 0, -1, np.array([SQUARE]))
    with pytest.raises(ValueError, match="DetectionTube"):
        video_ap([truth], [truth])


# --------------------------------------------------------------------------- ACT's matching rule


def _boxes(rows: list[tuple]) -> pd.DataFrame:
    columns = ["video", "frame", "label", "score", "x1", "y1", "x2", "y2"]
    return pd.DataFrame(rows, columns=columns[: len(rows[0])] if rows else columns)


def test_act_lets_a_second_detection_take_the_truth_the_first_left() -> None:
    # one frame, class 0: truths A = [0,0,10,10], B = [4,0,14,10]; the 0.8 detection's best truth
    # is A (IoU 0.76), taken by the 0.9 one; B (IoU 0.63) is still free
    truth = pd.DataFrame([("v", 0, 0, 0, 0, 10, 10), ("v", 0, 0, 4, 0, 14, 10)],
                         columns=["video", "frame", "label", "x1", "y1", "x2", "y2"])  # fmt: skip
    detections = _boxes([("v", 0, 0, 0.9, 0, 0, 10, 10), ("v", 0, 0, 0.8, 1.5, 0, 11.5, 10)])
    assert frame_ap(detections, truth, 0.5, ap="act").mean == pytest.approx(1.0)
    assert frame_ap(detections, truth, 0.5, ap="voc").mean == pytest.approx(0.5)
    tubes = [
        GroundTruthTube("v", 0, 0, np.array([[0, 0, 10, 10.0]])),
        GroundTruthTube("v", 0, 0, np.array([[4, 0, 14, 10.0]])),
    ]
    found = [
        DetectionTube("v", 0, 0.9, 0, np.array([[0, 0, 10, 10.0]])),
        DetectionTube("v", 0, 0.8, 0, np.array([[1.5, 0, 11.5, 10]])),
    ]
    assert video_ap(found, tubes, 0.5, ap="act").mean == pytest.approx(1.0)
    assert video_ap(found, tubes, 0.5, ap="voc").mean == pytest.approx(0.5)


def _act_by_deletion(detections: pd.DataFrame, truth: pd.DataFrame, threshold: float) -> float:
    """ACT's frame-AP loop, written out independently: a dict of the still-unmatched boxes per
    (video, frame), a box deleted once matched, AP by the trapezoid in float32."""
    aps = []
    for label in sorted(truth["label"].unique()):
        left: dict[tuple, list] = {}
        for row in truth[truth["label"] == label].itertuples():
            left.setdefault((row.video, row.frame), []).append((row.x1, row.y1, row.x2, row.y2))
        total = sum(len(v) for v in left.values())
        mine = detections[detections["label"] == label].sort_values(
            "score", ascending=False, kind="stable"
        )
        points, tp, fp = [(1.0, 0.0)], 0, 0
        for row in mine.itertuples():
            boxes = left.get((row.video, row.frame), [])
            ious = [
                float(
                    box_iou(
                        np.array([[row.x1, row.y1, row.x2, row.y2]]), np.array([b]), plus_one=True
                    )[0]
                )
                for b in boxes
            ]
            if ious and max(ious) >= threshold:
                del boxes[int(np.argmax(ious))]
                tp += 1
            else:
                fp += 1
            points.append((tp / (tp + fp), tp / total))
        pr = np.array(points, dtype=np.float32)
        aps.append(float(np.sum((pr[1:, 1] - pr[:-1, 1]) * (pr[1:, 0] + pr[:-1, 0]) * 0.5)))
    return float(np.mean(aps))


@pytest.mark.parametrize("seed", range(20))
def test_act_frame_ap_equals_acts_loop_on_crowded_random_frames(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth_rows, detection_rows = [], []
    for frame in range(6):
        for _ in range(rng.integers(1, 4)):  # several people of one class on one frame
            x, y = rng.uniform(0, 20, 2)
            truth_rows.append(("v", frame, int(rng.integers(0, 2)), x, y, x + 10, y + 10))
    for _, frame, label, x1, y1, x2, y2 in truth_rows:  # jittered duplicates compete for each box
        for _ in range(rng.integers(1, 4)):
            dx, dy = rng.normal(0, 2.5, 2)
            detection_rows.append(
                ("v", frame, label, float(rng.random()), x1 + dx, y1 + dy, x2 + dx, y2 + dy)
            )
    for _ in range(5):  # and a few detections anywhere
        x, y = rng.uniform(0, 20, 2)
        detection_rows.append(
            (
                "v",
                int(rng.integers(0, 6)),
                int(rng.integers(0, 2)),
                float(rng.random()),
                x,
                y,
                x + 10,
                y + 10,
            )
        )
    truth = pd.DataFrame(truth_rows, columns=["video", "frame", "label", "x1", "y1", "x2", "y2"])
    detections = _boxes(detection_rows)
    expected = _act_by_deletion(detections, truth, 0.3)
    assert frame_ap(detections, truth, 0.3, ap="act").mean == pytest.approx(expected, abs=1e-7)
