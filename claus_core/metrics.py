"""Evaluation metrics: the paper's f-mAP / v-mAP and the ACT detector's frame-AP / video-AP.

**Localization protocol (f-mAP, v-mAP).** The paper reports every result (supplementary
Tables 2-5 and 8-10: "v-mAP / f-mAP @ mIoU 0.1, 0.2, 0.3, 0.5") under the protocol of
VideoCapsuleNet (Duarte, Rawat & Shah, *VideoCapsuleNet: A Simplified Network for Action
Detection*, NeurIPS 2018; the paper's reference [4]). It compares pixel masks, not boxes:

- frame IoU: on every frame with ground truth, ``|pred & gt| / |pred | gt|``; frames without
  ground truth are not scored (a prediction there costs nothing);
- video IoU: the sum of a video's frame intersections over the sum of its frame unions, both
  over its ground-truth frames;
- f-AP(c, t): the share of class-``c`` ground-truth frames whose IoU is ``>= t``; v-AP(c, t) the
  share of class-``c`` videos whose video IoU is ``>= t``. With ``require_class=True`` a frame or
  video counts only when its predicted video label is also right;
- f-mAP(t), v-mAP(t): the means of f-AP(c, t), v-AP(c, t) over the classes with ground truth.

**Detection protocol (frame-AP, video-AP).** The rest of the field reports average precision
as computed by the ACT detector (Kalogeiton, Weinzaepfel, Ferrari & Schmid, *Action Tubelet
Detector for Spatio-Temporal Action Localization*, ICCV 2017) and its successors. Per class,
detections are taken in descending score (ties keep their input order), and each is matched
against the ground-truth boxes (frame-AP) or tubes (video-AP) of its class in the same video (and
frame). Two protocols, chosen by ``ap=``:

- ``"voc"`` (PASCAL VOC): a detection meets the ground truth of highest IoU; it is a true
  positive when that IoU is ``>= iou_threshold`` and that ground truth is not matched yet,
  otherwise a false positive (a duplicate detection is a false positive). AP is the all-point
  interpolated area (precision made monotone non-increasing, summed over the recall steps); box
  area ``(x2 - x1) * (y2 - y1)``, boxes cover ``[x1, x2)``.
- ``"act"`` (the ACT scripts, ``ACT.py``'s ``frameAP`` / ``videoAP``): a matched ground truth is
  removed, and a detection meets the ground truth of highest IoU *among those still unmatched*
  (the first of them on a tie); true positive when that IoU is ``>= iou_threshold``. So when two
  ground-truth boxes of one class overlap on a frame, a second detection can take the one the
  first left. AP is the trapezoidal area under the raw precision-recall curve from (recall 0,
  precision 1), with precision and recall held in float32 as ACT stores them; ACT's ``+1``
  pixel box areas ``(x2 - x1 + 1) * (y2 - y1 + 1)`` and intersections (``x2`` is the last column
  inside the box). ACT sorts detections with numpy's default (unstable) sort, so among detections
  of exactly equal score its order, and so its AP, can differ from the input order kept here.
  ACT also averages over every label; the mean here is over the classes with ground truth
  (the same on UCF-101-24 and J-HMDB-21, whose test splits hold every class).

Tube IoU (video-AP) = temporal IoU x mean spatial IoU over the temporal intersection (ACT's
``iou3dt``). Tubes are contiguous: :class:`DetectionTube` / :class:`GroundTruthTube` hold one box
per frame over ``[start, start + len(boxes))``.

**Masks to boxes.** :func:`mask_to_box` / :func:`mask_boxes` give the box of a predicted mask so
that a mask detector can be scored by the detection protocol: the bounding box of all foreground
pixels, or of the largest 8-connected component. Pixel convention (``claus_core.data.raster``):
``x1`` is the first foreground column and ``x2`` the last one + 1 (rows likewise).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import ndimage

DEFAULT_THRESHOLDS = (0.1, 0.2, 0.3, 0.5)
LOCALIZATION_METRICS = ("f-mAP", "v-mAP")
APMode = Literal["voc", "act"]
AP_MODES = ("voc", "act")
BOX_COLUMNS = ["x1", "y1", "x2", "y2"]
DETECTION_COLUMNS = ["video", "frame", "label", "score", *BOX_COLUMNS]
GROUND_TRUTH_COLUMNS = ["video", "frame", "label", *BOX_COLUMNS]


# --------------------------------------------------------------------------- f-mAP / v-mAP


@dataclass(frozen=True, eq=False)
class LocalizationScores:
    """Mask IoUs of every ground-truth frame and every video, ready for f-mAP / v-mAP.

    Videos keep the order they were given in; ``video_iou`` is NaN for a video without any
    ground-truth frame (such a video is not scored). A predicted label of -1 means "not given".
    """

    num_classes: int
    frame_iou: np.ndarray  # [gt frame] float64
    frame_label: np.ndarray  # [gt frame] int64
    frame_predicted: np.ndarray  # [gt frame] int64, -1 where no predicted label was given
    video_iou: np.ndarray  # [video] float64, NaN without ground truth
    video_label: np.ndarray  # [video] int64
    video_predicted: np.ndarray  # [video] int64, -1 where no predicted label was given

    def per_class(
        self, thresholds: Sequence[float] = DEFAULT_THRESHOLDS, *, require_class: bool = False
    ) -> pd.DataFrame:
        """f-AP and v-AP of every class with ground truth: columns metric, threshold, class, value.

        ``metric`` is ``"f-mAP"`` or ``"v-mAP"`` (the table the row averages into); classes
        without ground truth have no row.
        """
        thresholds = check_thresholds(thresholds)
        scored = ~np.isnan(self.video_iou)  # [video]
        if require_class and np.any(self.video_predicted[scored] < 0):
            missing = int(np.flatnonzero(scored & (self.video_predicted < 0))[0])
            raise ValueError(
                f"require_class=True needs a predicted label for every video; video #{missing} "
                "has none"
            )
        levels = [
            ("f-mAP", self.frame_iou, self.frame_label, self.frame_predicted),
            (
                "v-mAP",
                self.video_iou[scored],
                self.video_label[scored],
                self.video_predicted[scored],
            ),
        ]
        rows: list[pd.DataFrame] = []
        for metric, iou, label, predicted in levels:
            totals = np.bincount(label, minlength=self.num_classes)  # [class]
            classes = np.flatnonzero(totals)  # classes with ground truth
            correct = predicted == label if require_class else np.ones(len(label), dtype=bool)
            for threshold in thresholds:
                hits = (iou >= threshold) & correct  # [gt frame or video]
                counts = np.bincount(label, weights=hits, minlength=self.num_classes)  # [class]
                rows.append(
                    pd.DataFrame(
                        {
                            "metric": metric,
                            "threshold": threshold,
                            "class": classes,
                            "value": counts[classes] / totals[classes],
                        }
                    )
                )
        return pd.concat(rows, ignore_index=True)

    def table(
        self, thresholds: Sequence[float] = DEFAULT_THRESHOLDS, *, require_class: bool = False
    ) -> pd.DataFrame:
        """f-mAP and v-mAP per threshold: columns metric, threshold, value."""
        return mean_over_classes(self.per_class(thresholds, require_class=require_class))


def mean_over_classes(per_class: pd.DataFrame) -> pd.DataFrame:
    """The tidy (metric, threshold, value) table of a per-class table: the mean over classes."""
    table = per_class.groupby(["metric", "threshold"], sort=False)["value"].mean()
    return table.reset_index()


def localization_scores(videos: Iterable[Sequence], num_classes: int) -> LocalizationScores:
    """Mask IoUs of ``videos``: items ``(label, pred_mask, gt_mask[, predicted_label])``.

    ``pred_mask`` and ``gt_mask`` are boolean ``[frame, H, W]`` arrays of one video (same
    shape); ``label`` is the video's class and ``predicted_label`` the detector's. The masks are
    reduced to per-frame pixel counts at once (vectorized over frames), so ``videos`` may be a
    generator that never holds more than one video.
    """
    num_classes = _check_num_classes(num_classes)
    frame_iou: list[np.ndarray] = []
    frame_label: list[np.ndarray] = []
    frame_predicted: list[np.ndarray] = []
    video_iou: list[float] = []
    video_label: list[int] = []
    video_predicted: list[int] = []
    for index, item in enumerate(videos):
        label, pred, gt, predicted = _unpack_video(item, index, num_classes)
        gt_area = np.count_nonzero(gt, axis=(1, 2))  # [frame]
        intersection = np.count_nonzero(pred & gt, axis=(1, 2))  # [frame]
        union = np.count_nonzero(pred, axis=(1, 2)) + gt_area - intersection  # [frame]
        has_gt = gt_area > 0  # [frame]
        frame_iou.append(intersection[has_gt] / union[has_gt])
        frame_label.append(np.full(int(has_gt.sum()), label, dtype=np.int64))
        frame_predicted.append(np.full(int(has_gt.sum()), predicted, dtype=np.int64))
        total_union = int(union[has_gt].sum())
        video_iou.append(int(intersection[has_gt].sum()) / total_union if total_union else np.nan)
        video_label.append(label)
        video_predicted.append(predicted)
    if not video_label:
        raise ValueError("localization metrics: no videos given")
    scores = LocalizationScores(
        num_classes=num_classes,
        frame_iou=np.concatenate(frame_iou),
        frame_label=np.concatenate(frame_label),
        frame_predicted=np.concatenate(frame_predicted),
        video_iou=np.array(video_iou, dtype=np.float64),
        video_label=np.array(video_label, dtype=np.int64),
        video_predicted=np.array(video_predicted, dtype=np.int64),
    )
    if len(scores.frame_iou) == 0:
        raise ValueError(
            f"localization metrics: none of the {len(video_label)} videos has a ground-truth "
            "frame; nothing to evaluate"
        )
    return scores


def localization_map(
    videos: Iterable[Sequence],
    num_classes: int,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    require_class: bool = False,
) -> pd.DataFrame:
    """f-mAP and v-mAP (VideoCapsuleNet protocol): tidy columns metric, threshold, value.

    ``videos`` yields ``(label, pred_mask, gt_mask)`` or ``(label, pred_mask, gt_mask,
    predicted_label)`` per video (boolean ``[frame, H, W]`` masks). See the module docstring for
    the definitions; ``value`` is in [0, 1].
    """
    thresholds = check_thresholds(thresholds)
    scores = localization_scores(videos, num_classes)
    return scores.table(thresholds, require_class=require_class)


def localization_map_per_class(
    videos: Iterable[Sequence],
    num_classes: int,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    require_class: bool = False,
) -> pd.DataFrame:
    """The per-class terms of :func:`localization_map`: columns metric, threshold, class, value."""
    thresholds = check_thresholds(thresholds)
    scores = localization_scores(videos, num_classes)
    return scores.per_class(thresholds, require_class=require_class)


def _unpack_video(item: Sequence, index: int, num_classes: int) -> tuple:
    if len(item) not in (3, 4):
        raise ValueError(
            f"video #{index}: expected (label, pred_mask, gt_mask[, predicted_label]), "
            f"got {len(item)} items"
        )
    label = _check_label(item[0], num_classes, f"video #{index}: label")
    predicted = -1
    if len(item) == 4:
        predicted = _check_label(item[3], num_classes, f"video #{index}: predicted label")
    pred = np.asarray(item[1])
    gt = np.asarray(item[2])
    for name, mask in (("pred_mask", pred), ("gt_mask", gt)):
        if mask.dtype != np.bool_:
            raise ValueError(
                f"video #{index}: {name} must be boolean (threshold probabilities first), "
                f"got dtype {mask.dtype}"
            )
        if mask.ndim != 3:
            raise ValueError(f"video #{index}: {name} must be [frame, H, W], got {mask.shape}")
    if pred.shape != gt.shape:
        raise ValueError(
            f"video #{index}: pred_mask shape {pred.shape} != gt_mask shape {gt.shape}"
        )
    return label, pred, gt, predicted


def _check_label(value: object, num_classes: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{what} must be an integer class index, got {value!r}")
    if not 0 <= int(value) < num_classes:
        raise ValueError(f"{what} {int(value)} is outside [0, {num_classes})")
    return int(value)


def _check_num_classes(num_classes: int) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes}")
    return int(num_classes)


def check_thresholds(thresholds: Sequence[float]) -> tuple[float, ...]:
    """``thresholds`` as a tuple of floats; ValueError unless non-empty and each in (0, 1]."""
    values = tuple(float(t) for t in thresholds)
    if not values:
        raise ValueError("thresholds must not be empty")
    bad = [t for t in values if not 0.0 < t <= 1.0]
    if bad:
        raise ValueError(f"IoU thresholds must lie in (0, 1], got {bad}")
    return values


# --------------------------------------------------------------------------- masks to boxes


def mask_boxes(masks: np.ndarray, *, largest_component: bool = False) -> np.ndarray:
    """Boxes ``(x1, y1, x2, y2)`` of ``[frame, H, W]`` boolean masks: ``[frame, 4]`` float64.

    The bounding box of each frame's foreground pixels (``x2`` = last column + 1, ``y2`` = last
    row + 1), or with ``largest_component=True`` of its largest 8-connected component (ties go to
    the component met first in raster order). Rows of frames without foreground are NaN.
    """
    masks = np.asarray(masks)
    if masks.dtype != np.bool_ or masks.ndim != 3:
        raise ValueError(
            f"masks must be a boolean [frame, H, W] array, got dtype {masks.dtype} and shape "
            f"{masks.shape}"
        )
    if largest_component:
        masks = _largest_components(masks)
    boxes = np.full((masks.shape[0], 4), np.nan)  # [frame, 4]
    columns = masks.any(axis=1)  # [frame, W]
    rows = masks.any(axis=2)  # [frame, H]
    present = columns.any(axis=1)  # [frame]
    width, height = masks.shape[2], masks.shape[1]
    boxes[present, 0] = np.argmax(columns[present], axis=1)
    boxes[present, 1] = np.argmax(rows[present], axis=1)
    boxes[present, 2] = width - np.argmax(columns[present, ::-1], axis=1)
    boxes[present, 3] = height - np.argmax(rows[present, ::-1], axis=1)
    return boxes


def _largest_components(masks: np.ndarray) -> np.ndarray:  # [frame, H, W] -> [frame, H, W]
    """Each frame's largest 8-connected foreground component (ties: the one labelled first)."""
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # 8-connected within a frame, never across frames
    labels, count = ndimage.label(masks, structure=structure)  # [frame, H, W]
    if count == 0:
        return masks
    flat = labels.ravel()  # [frame * H * W]
    sizes = np.bincount(flat, minlength=count + 1)  # [label]; label 0 is the background
    pixel_frame = np.repeat(np.arange(len(masks), dtype=np.float64), labels[0].size)
    # every pixel of a component lies on one frame: the mean frame of its pixels is that frame
    frame_sum = np.bincount(flat, weights=pixel_frame, minlength=count + 1)  # [label]
    frame_of = np.rint(frame_sum[1:] / sizes[1:]).astype(np.int64)  # [component]
    components = np.arange(1, count + 1)  # [component] labels
    order = np.lexsort((components, -sizes[1:], frame_of))  # by frame, then size descending
    first = order[np.unique(frame_of[order], return_index=True)[1]]  # the largest of each frame
    chosen = np.full(len(masks), -1, dtype=np.int64)  # [frame]: its largest label, -1 if none
    chosen[frame_of[first]] = components[first]
    return labels == chosen[:, None, None]


def mask_to_box(
    mask: np.ndarray, *, largest_component: bool = False
) -> tuple[int, int, int, int] | None:
    """Box ``(x1, y1, x2, y2)`` of one ``[H, W]`` boolean mask, or None when it is empty.

    ``x2`` is the last foreground column + 1 and ``y2`` the last row + 1; see :func:`mask_boxes`.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be [H, W], got shape {mask.shape}")
    box = mask_boxes(mask[None], largest_component=largest_component)[0]  # [4]
    if np.isnan(box[0]):
        return None
    x1, y1, x2, y2 = (int(v) for v in box)
    return x1, y1, x2, y2


# --------------------------------------------------------------------------- frame-AP / video-AP


@dataclass(frozen=True)
class APResult:
    """Average precision of every class with ground truth, and their mean."""

    per_class: dict[int, float]
    mean: float


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray, *, plus_one: bool = False) -> np.ndarray:
    """Row-wise IoU of two ``[n, 4]`` arrays of ``(x1, y1, x2, y2)`` boxes: ``[n]``.

    ``plus_one=True`` uses ACT's inclusive convention (width ``x2 - x1 + 1``).
    """
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)  # [n, 4]
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)  # [n, 4]
    if a.shape != b.shape:
        raise ValueError(f"box_iou: {a.shape[0]} boxes against {b.shape[0]}")
    one = 1.0 if plus_one else 0.0
    width = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + one  # [n]
    height = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + one  # [n]
    intersection = np.clip(width, 0, None) * np.clip(height, 0, None)  # [n]
    area_a = (a[:, 2] - a[:, 0] + one) * (a[:, 3] - a[:, 1] + one)  # [n]
    area_b = (b[:, 2] - b[:, 0] + one) * (b[:, 3] - b[:, 1] + one)  # [n]
    union = area_a + area_b - intersection  # [n]
    return np.divide(intersection, union, out=np.zeros_like(union), where=union > 0)


def frame_ap(
    detections: pd.DataFrame,
    ground_truth: pd.DataFrame,
    iou_threshold: float = 0.5,
    ap: APMode = "voc",
) -> APResult:
    """Frame-AP (ACT protocol) per class and its mean over the classes with ground truth.

    ``detections``: columns video, frame, label, score, x1, y1, x2, y2 (one row per box);
    ``ground_truth``: columns video, frame, label, x1, y1, x2, y2. Detections of classes without
    ground truth are ignored; a class with ground truth but no detection has AP 0.
    """
    iou_threshold = _check_ap_arguments(iou_threshold, ap)
    detections = _check_box_table(detections, DETECTION_COLUMNS, "detections")
    ground_truth = _check_box_table(ground_truth, GROUND_TRUTH_COLUMNS, "ground_truth")
    if ground_truth.empty:
        raise ValueError("frame_ap: ground_truth is empty; there is nothing to detect")
    keys = ["video", "frame", "label"]
    detections = detections.assign(detection=np.arange(len(detections)))
    ground_truth = ground_truth.assign(truth=np.arange(len(ground_truth)))
    pairs = detections[[*keys, "detection", *BOX_COLUMNS]].merge(
        ground_truth[[*keys, "truth", *BOX_COLUMNS]], on=keys, suffixes=("", "_gt")
    )
    pair_iou = box_iou(
        pairs[BOX_COLUMNS].to_numpy(dtype=np.float64),
        pairs[[f"{c}_gt" for c in BOX_COLUMNS]].to_numpy(dtype=np.float64),
        plus_one=ap == "act",
    )  # [pair]
    pair_detection, pair_truth = pairs["detection"].to_numpy(), pairs["truth"].to_numpy()
    labels = detections["label"].to_numpy(dtype=np.int64)
    scores = detections["score"].to_numpy(dtype=np.float64)
    truth_labels = ground_truth["label"].to_numpy(dtype=np.int64)
    if ap == "act":
        order = np.lexsort((pair_truth, pair_detection))  # per detection, its truths in table order
        candidates = _candidates_per_detection(
            len(detections), pair_detection[order], pair_truth[order], pair_iou[order]
        )
        return _act_average_precision(labels, scores, candidates, truth_labels, iou_threshold)
    best_truth, best_iou = _best_match(len(detections), pair_detection, pair_truth, pair_iou)
    return _average_precision_per_class(
        labels, scores, best_truth, best_iou, truth_labels, iou_threshold, ap
    )


@dataclass(frozen=True, eq=False)
class GroundTruthTube:
    """One ground-truth actor tube: ``boxes[i]`` is ``(x1, y1, x2, y2)`` on frame ``start + i``."""

    video: str
    label: int
    start: int
    boxes: np.ndarray  # [frame, 4] float64

    def __post_init__(self) -> None:
        object.__setattr__(self, "boxes", _check_tube(self, "ground-truth tube"))

    @property
    def end(self) -> int:
        """One past the last frame (tubes cover ``[start, end)``)."""
        return self.start + len(self.boxes)


@dataclass(frozen=True, eq=False)
class DetectionTube:
    """One scored detected tube: ``boxes[i]`` is ``(x1, y1, x2, y2)`` on frame ``start + i``."""

    video: str
    label: int
    score: float
    start: int
    boxes: np.ndarray  # [frame, 4] float64

    def __post_init__(self) -> None:
        if not np.isfinite(self.score):
            raise ValueError(f"detected tube in {self.video}: score is {self.score}")
        object.__setattr__(self, "boxes", _check_tube(self, "detected tube"))

    @property
    def end(self) -> int:
        """One past the last frame (tubes cover ``[start, end)``)."""
        return self.start + len(self.boxes)


def tube_iou(
    tube_a: DetectionTube | GroundTruthTube,
    tube_b: DetectionTube | GroundTruthTube,
    *,
    plus_one: bool = False,
) -> float:
    """Temporal IoU x mean spatial box IoU over the frames both tubes cover (ACT's ``iou3dt``)."""
    first = max(tube_a.start, tube_b.start)
    stop = min(tube_a.end, tube_b.end)
    if stop <= first:
        return 0.0
    temporal = (stop - first) / (max(tube_a.end, tube_b.end) - min(tube_a.start, tube_b.start))
    spatial = box_iou(
        tube_a.boxes[first - tube_a.start : stop - tube_a.start],
        tube_b.boxes[first - tube_b.start : stop - tube_b.start],
        plus_one=plus_one,
    )  # [common frame]
    return float(temporal * spatial.mean())


def video_ap(
    tube_detections: Sequence[DetectionTube],
    ground_truth_tubes: Sequence[GroundTruthTube],
    iou_threshold: float = 0.5,
    ap: APMode = "voc",
) -> APResult:
    """Video-AP (ACT protocol) per class and its mean over the classes with ground truth."""
    iou_threshold = _check_ap_arguments(iou_threshold, ap)
    detections = list(tube_detections)
    truths = list(ground_truth_tubes)
    for what, items, kind in (
        ("tube_detections", detections, DetectionTube),
        ("ground_truth_tubes", truths, GroundTruthTube),
    ):
        wrong = [type(t).__name__ for t in items if not isinstance(t, kind)]
        if wrong:
            raise ValueError(f"video_ap: {what} must hold {kind.__name__}s, got {wrong[0]}")
    if not truths:
        raise ValueError("video_ap: ground_truth_tubes is empty; there is nothing to detect")
    by_key: dict[tuple[str, int], list[int]] = {}
    for index, truth in enumerate(truths):
        by_key.setdefault((truth.video, truth.label), []).append(index)
    candidates = []  # [detection] (truth indices in input order, their tube IoUs)
    for detection in detections:
        same = by_key.get((detection.video, detection.label), [])
        ious = [tube_iou(detection, truths[c], plus_one=ap == "act") for c in same]
        candidates.append((np.array(same, dtype=np.int64), np.array(ious, dtype=np.float64)))
    labels = np.array([d.label for d in detections], dtype=np.int64)
    scores = np.array([d.score for d in detections], dtype=np.float64)
    truth_labels = np.array([t.label for t in truths], dtype=np.int64)
    if ap == "act":
        return _act_average_precision(labels, scores, candidates, truth_labels, iou_threshold)
    best_truth = np.full(len(detections), -1, dtype=np.int64)  # [detection]
    best_iou = np.zeros(len(detections))  # [detection]
    for index, (same, ious) in enumerate(candidates):
        if len(ious):
            best = int(np.argmax(ious))
            best_truth[index], best_iou[index] = same[best], ious[best]
    return _average_precision_per_class(
        labels, scores, best_truth, best_iou, truth_labels, iou_threshold, ap
    )


def average_precision(true_positive: np.ndarray, num_ground_truth: int, ap: APMode) -> float:
    """AP of detections already sorted by descending score (``true_positive``: ``[det]`` bool)."""
    if num_ground_truth < 1:
        raise ValueError("average_precision needs at least one ground-truth instance")
    if ap not in AP_MODES:
        raise ValueError(f"ap must be one of {AP_MODES}, got {ap!r}")
    true_positive = np.asarray(true_positive, dtype=bool)
    tp = np.cumsum(true_positive)  # [det]
    fp = np.cumsum(~true_positive)  # [det]
    precision = tp / np.maximum(tp + fp, 1)  # [det]
    recall = tp / num_ground_truth  # [det]
    if ap == "act":  # ACT keeps its curve in float32 and starts it at (0, 1)
        precision = np.concatenate([[1.0], precision]).astype(np.float32)
        recall = np.concatenate([[0.0], recall]).astype(np.float32)
        return float(np.sum((recall[1:] - recall[:-1]) * (precision[1:] + precision[:-1]) * 0.5))
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # monotone envelope
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def _best_match(
    num_detections: int, pair_detection: np.ndarray, pair_truth: np.ndarray, pair_iou: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per detection, its ground truth of highest IoU (first on ties); -1 and 0 when none."""
    best_truth = np.full(num_detections, -1, dtype=np.int64)  # [detection]
    best_iou = np.zeros(num_detections)  # [detection]
    if len(pair_iou):
        order = np.lexsort((pair_truth, -pair_iou, pair_detection))
        first = np.unique(pair_detection[order], return_index=True)[1]
        chosen = order[first]
        best_truth[pair_detection[chosen]] = pair_truth[chosen]
        best_iou[pair_detection[chosen]] = pair_iou[chosen]
    return best_truth, best_iou


def _candidates_per_detection(
    num_detections: int, pair_detection: np.ndarray, pair_truth: np.ndarray, pair_iou: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per detection, the ground truths it may meet and their IoUs (pairs sorted by detection)."""
    starts = np.searchsorted(pair_detection, np.arange(num_detections + 1))  # [detection + 1]
    return [(pair_truth[a:b], pair_iou[a:b]) for a, b in zip(starts[:-1], starts[1:], strict=True)]


def _by_descending_score(labels: np.ndarray, scores: np.ndarray, label: int) -> np.ndarray:
    """The detections of class ``label`` in descending score (ties keep their input order)."""
    mine = np.flatnonzero(labels == label)  # [class detection]
    return mine[np.argsort(-scores[mine], kind="stable")]


def _act_average_precision(
    labels: np.ndarray,  # [detection] int
    scores: np.ndarray,  # [detection] float
    candidates: Sequence[tuple[np.ndarray, np.ndarray]],  # [detection] (truths, IoUs)
    truth_labels: np.ndarray,  # [ground truth] int
    iou_threshold: float,
) -> APResult:
    """ACT's matching: in descending score, each detection meets the best still-unmatched truth."""
    per_class: dict[int, float] = {}
    for label in np.unique(truth_labels):
        mine = _by_descending_score(labels, scores, label)
        matched: set[int] = set()
        true_positive = np.zeros(len(mine), dtype=bool)  # [class detection]
        for rank, detection in enumerate(mine.tolist()):
            truths, ious = candidates[detection]
            free = [k for k, truth in enumerate(truths.tolist()) if truth not in matched]
            if free:
                best = free[int(np.argmax(ious[free]))]  # the first of the best on a tie
                if ious[best] >= iou_threshold:
                    true_positive[rank] = True
                    matched.add(int(truths[best]))
        per_class[int(label)] = average_precision(
            true_positive, int(np.sum(truth_labels == label)), "act"
        )
    return APResult(per_class=per_class, mean=float(np.mean(list(per_class.values()))))


def _average_precision_per_class(
    labels: np.ndarray,  # [detection] int
    scores: np.ndarray,  # [detection] float
    best_truth: np.ndarray,  # [detection] int, -1 without a candidate
    best_iou: np.ndarray,  # [detection] float
    truth_labels: np.ndarray,  # [ground truth] int
    iou_threshold: float,
    ap: APMode,
) -> APResult:
    per_class: dict[int, float] = {}
    for label in np.unique(truth_labels):
        mine = _by_descending_score(labels, scores, label)
        candidate = np.flatnonzero((best_truth[mine] >= 0) & (best_iou[mine] >= iou_threshold))
        # a ground truth is claimed by the first (highest-scored) detection that reaches it
        claimed_first = np.unique(best_truth[mine[candidate]], return_index=True)[1]
        true_positive = np.zeros(len(mine), dtype=bool)  # [class detection]
        true_positive[candidate[claimed_first]] = True
        per_class[int(label)] = average_precision(
            true_positive, int(np.sum(truth_labels == label)), ap
        )
    return APResult(per_class=per_class, mean=float(np.mean(list(per_class.values()))))


def _check_ap_arguments(iou_threshold: float, ap: str) -> float:
    if ap not in AP_MODES:
        raise ValueError(f"ap must be one of {AP_MODES}, got {ap!r}")
    return check_thresholds([iou_threshold])[0]


def _check_box_table(table: pd.DataFrame, columns: list[str], what: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{what} must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} lacks the columns {missing} (needs {columns})")
    table = table[columns].reset_index(drop=True)
    numeric = [c for c in columns if c != "video"]
    for column in numeric:
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise ValueError(
                f"{what}: column {column!r} is NaN, infinite or not a number in {len(bad)} rows "
                f"(first: row {bad[0]}, value {table[column].iloc[bad[0]]!r})"
            )
        if column in ("frame", "label") and np.any(values != np.round(values)):
            raise ValueError(f"{what}: column {column!r} must hold integers")
    for low, high in (("x1", "x2"), ("y1", "y2")):
        reversed_rows = np.flatnonzero(table[high].to_numpy(float) < table[low].to_numpy(float))
        if len(reversed_rows):
            row = reversed_rows[0]
            raise ValueError(
                f"{what}: {high} < {low} in {len(reversed_rows)} rows (first: row {row}, "
                f"{low}={table[low].iloc[row]}, {high}={table[high].iloc[row]})"
            )
    return table.astype({"frame": np.int64, "label": np.int64})


def _check_tube(tube: DetectionTube | GroundTruthTube, what: str) -> np.ndarray:
    boxes = np.asarray(tube.boxes, dtype=np.float64)
    where = f"{what} in {tube.video}"
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise ValueError(f"{where}: boxes must have shape [frame >= 1, 4], got {boxes.shape}")
    if not np.all(np.isfinite(boxes)):
        raise ValueError(f"{where}: boxes hold NaN or infinite values")
    if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
        raise ValueError(f"{where}: a box has x2 < x1 or y2 < y1")
    if isinstance(tube.start, bool) or not isinstance(tube.start, int | np.integer):
        raise ValueError(f"{where}: start must be an integer frame, got {tube.start!r}")
    if tube.start < 0:
        raise ValueError(f"{where}: start {tube.start} is negative")
    if isinstance(tube.label, bool) or not isinstance(tube.label, int | np.integer):
        raise ValueError(f"{where}: label must be an integer class, got {tube.label!r}")
    boxes.setflags(write=False)
    return boxes
