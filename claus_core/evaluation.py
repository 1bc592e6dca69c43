"""Evaluation driver: run a detector over a test split and score it under both protocols.

Every active-learning round the paper evaluates its detector on the test split and reports
f-mAP and v-mAP at IoU 0.1, 0.2, 0.3 and 0.5 (supplementary Tables 2-5 and 8-10, the protocol
of VideoCapsuleNet, its reference [4]); :mod:`claus_core.metrics` defines those and ACT's
frame-AP / video-AP, which this driver also reports so that the detector can be set beside
box detectors. Per video:

1. the video is cut into clips by :func:`claus_core.data.clips.sliding_clips` (``clip_length``
   frames every ``skip`` frames, a clip every ``stride`` frames; every frame is covered);
2. the detector runs on batches of clips (``model.eval()``, ``torch.no_grad()``): per-frame
   foreground probabilities ``sigmoid(mask_logits)``, resized back to the video's grid when the
   model works at another size, and the clip's class scores; a frame covered by several clips
   gets their mean (end-of-video padding positions are left out);
3. the video label is the argmax of the mean clip class scores, the predicted mask is
   ``foreground >= mask_threshold``, the ground truth ``claus_core.data.raster.video_masks``;
4. for the detection protocol each frame with foreground gives one box
   (:func:`claus_core.metrics.mask_boxes`) labelled with the video label and scored with that
   frame's class score; each video gives one tube from its first to its last frame with
   foreground (boxes linearly interpolated over frames without foreground) scored with the
   video's class score. The ground truth is the video's GT tubes. With ``ap="act"`` every box
   is written in ACT's inclusive convention (``x2 - 1``, ``y2 - 1``), so that ACT's ``+1`` areas
   count pixels exactly.

The masks are reduced to per-frame pixel counts as each video finishes, so memory holds one
video at a time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.special import expit
from torch import nn
from tqdm import tqdm

from claus_core.data.clips import clip_tensor, is_padding, sliding_clips
from claus_core.data.raster import video_masks
from claus_core.data.types import DataError, FrameSource, VideoPool, VideoRecord
from claus_core.metrics import (
    AP_MODES,
    BOX_COLUMNS,
    DEFAULT_THRESHOLDS,
    DETECTION_COLUMNS,
    GROUND_TRUTH_COLUMNS,
    APMode,
    APResult,
    DetectionTube,
    GroundTruthTube,
    check_thresholds,
    frame_ap,
    localization_scores,
    mask_boxes,
    mean_over_classes,
    video_ap,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationConfig:
    """How the detector is run over a split and how its output is scored."""

    clip_length: int = 8  # frames per clip (8 for both presets of the detector)
    skip: int = 1  # a clip takes every skip-th frame
    stride: int | None = None  # frames between clip starts; None: clip_length * skip
    batch_size: int = 8  # clips per forward pass
    mask_threshold: float = 0.5  # foreground probability at which a pixel is predicted
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS  # IoU thresholds of f-mAP / v-mAP
    require_class: bool = False  # count a frame / video only when its label is right
    input_size: tuple[int, int] | None = None  # (H, W) the model wants; None: the video's
    largest_component: bool = False  # box of the largest component instead of all foreground
    ap_iou_threshold: float = 0.5  # IoU threshold of frame-AP and video-AP
    ap: APMode = "voc"  # "voc" (all-point interpolated) or "act" (ACT's trapezoidal)

    def __post_init__(self) -> None:
        for name in ("clip_length", "skip", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"EvaluationConfig.{name} must be a positive integer, got {value!r}"
                )
        if self.stride is not None:
            limit = self.clip_length * self.skip
            if isinstance(self.stride, bool) or not isinstance(self.stride, int):
                raise ValueError(f"EvaluationConfig.stride must be an integer, got {self.stride!r}")
            if not 1 <= self.stride <= limit:
                raise ValueError(
                    f"EvaluationConfig.stride must be in [1, clip_length * skip = {limit}] so that "
                    f"every frame is covered, got {self.stride}"
                )
        if not 0.0 < self.mask_threshold < 1.0:
            raise ValueError(
                f"EvaluationConfig.mask_threshold must be in (0, 1), got {self.mask_threshold}"
            )
        object.__setattr__(self, "thresholds", check_thresholds(self.thresholds))
        object.__setattr__(self, "ap_iou_threshold", check_thresholds([self.ap_iou_threshold])[0])
        if self.ap not in AP_MODES:
            raise ValueError(f"EvaluationConfig.ap must be one of {AP_MODES}, got {self.ap!r}")
        if self.input_size is not None:
            size = tuple(int(v) for v in self.input_size)
            if len(size) != 2 or min(size) < 1:
                raise ValueError(
                    f"EvaluationConfig.input_size must be (H, W) or None, got {self.input_size!r}"
                )
            object.__setattr__(self, "input_size", size)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (tuples become lists)."""
        out = asdict(self)
        out["thresholds"] = list(self.thresholds)
        out["input_size"] = None if self.input_size is None else list(self.input_size)
        return out


@dataclass(frozen=True, eq=False)
class VideoPrediction:
    """A detector's output on one whole video, stitched from its clips."""

    foreground: np.ndarray  # [frame, H, W] float32 foreground probability
    frame_scores: np.ndarray  # [frame, class] float32: mean class scores of the covering clips
    class_scores: np.ndarray  # [class] float32: mean over the video's clips

    @property
    def label(self) -> int:
        """The predicted class of the video: argmax of the mean clip class scores."""
        return int(np.argmax(self.class_scores))


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Scores of one detector on one split (see the module docstring for the steps)."""

    table: pd.DataFrame  # metric ("f-mAP", "v-mAP"), threshold, value
    per_class: pd.DataFrame  # metric, threshold, class, class_name, value
    videos: pd.DataFrame  # video, label, predicted_label, score, iou (NaN without GT frames)
    frame_ap: APResult  # frame-AP at config.ap_iou_threshold
    video_ap: APResult  # video-AP at config.ap_iou_threshold
    seconds: float  # wall time of the whole evaluation, model included
    config: EvaluationConfig

    def to_json(self) -> str:
        """The result as JSON (NaN IoUs become null)."""
        videos = self.videos.astype({"iou": object})
        videos["iou"] = [None if pd.isna(v) else float(v) for v in self.videos["iou"]]
        payload = {
            "config": self.config.to_dict(),
            "table": self.table.to_dict(orient="records"),
            "per_class": self.per_class.to_dict(orient="records"),
            "videos": videos.to_dict(orient="records"),
            "frame_ap": _ap_to_dict(self.frame_ap),
            "video_ap": _ap_to_dict(self.video_ap),
            "seconds": self.seconds,
        }
        return json.dumps(payload, indent=1)

    @classmethod
    def from_json(cls, text: str, *, source: str = "evaluation result") -> EvaluationResult:
        """Inverse of :meth:`to_json`; ``source`` names the file in error messages."""
        try:
            payload = json.loads(text)
            config = dict(payload["config"])
            config["thresholds"] = tuple(config["thresholds"])
            videos = pd.DataFrame(
                payload["videos"], columns=["video", "label", "predicted_label", "score", "iou"]
            )
            return cls(
                table=pd.DataFrame(payload["table"], columns=["metric", "threshold", "value"]),
                per_class=pd.DataFrame(
                    payload["per_class"],
                    columns=["metric", "threshold", "class", "class_name", "value"],
                ),
                videos=videos.astype({"iou": np.float64}),
                frame_ap=_ap_from_dict(payload["frame_ap"]),
                video_ap=_ap_from_dict(payload["video_ap"]),
                seconds=float(payload["seconds"]),
                config=EvaluationConfig(**config),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise DataError(f"{source}: not a valid evaluation result ({err})") from err


def _ap_to_dict(result: APResult) -> dict[str, Any]:
    return {"per_class": {str(k): v for k, v in result.per_class.items()}, "mean": result.mean}


def _ap_from_dict(data: dict[str, Any]) -> APResult:
    per_class = {int(k): float(v) for k, v in data["per_class"].items()}
    return APResult(per_class=per_class, mean=float(data["mean"]))


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """``model.eval()`` and ``torch.no_grad()`` inside; the model's previous mode after.

    Never held across a generator's ``yield``: a generator left unfinished would restore the
    grad mode and the model's mode whenever it is collected, long after its caller moved on.
    """
    was_training = model.training
    if was_training:
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            model.train(True)


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def predict_video(
    model: nn.Module, frames: np.ndarray, *, config: EvaluationConfig, name: str = "video"
) -> VideoPrediction:
    """Run ``model`` over all clips of one ``[frame, H, W, 3]`` uint8 video and stitch them.

    ``model(clips)`` takes ``[B, 3, T, H, W]`` float32 in [0, 1] and returns an object with
    ``mask_logits`` ``[B, T, h, w]`` and ``class_scores`` ``[B, class]`` in [0, 1]. ``name``
    names the video in error messages.
    """
    ((_, prediction),) = predict_videos(model, [(name, frames)], config=config)
    return prediction


@dataclass(eq=False)
class _Stitching:
    """One video's clips and the sums its batches add up (see :func:`predict_videos`)."""

    name: str
    frames: np.ndarray  # [frame, H, W, 3] uint8
    clips: np.ndarray  # [clip, T] frame indices
    keep: np.ndarray  # [clip, T] bool: not end-of-video padding
    foreground: np.ndarray  # [frame, H, W] float32 sum over the covering clips
    score_sum: np.ndarray | None = None  # [frame, class]
    clip_scores: np.ndarray | None = None  # [clip, class]
    done: int = 0  # clips run so far

    def add(self, rows: slice, logits: np.ndarray, scores: np.ndarray) -> None:
        """The outputs of this video's clips ``rows``: logits [B, T, H, W], scores [B, class]."""
        batch, kept = self.clips[rows], self.keep[rows]  # [B, T]
        _add_rows(self.foreground, batch[kept], expit(logits[kept]))
        if self.score_sum is None:
            self.score_sum = np.zeros((len(self.foreground), scores.shape[1]))
            self.clip_scores = np.zeros((len(self.clips), scores.shape[1]))
        per_position = np.broadcast_to(scores[:, None], (*batch.shape, scores.shape[1]))
        _add_rows(self.score_sum, batch[kept], per_position[kept])
        self.clip_scores[rows] = scores
        self.done = rows.stop

    def result(self) -> VideoPrediction:
        assert self.score_sum is not None and self.clip_scores is not None
        coverage = np.bincount(self.clips[self.keep], minlength=len(self.foreground))  # [frame]
        self.foreground /= coverage[:, None, None]  # the sum becomes the mean over the clips
        return VideoPrediction(
            foreground=self.foreground,
            frame_scores=(self.score_sum / coverage[:, None]).astype(np.float32),
            class_scores=self.clip_scores.mean(axis=0).astype(np.float32),
        )


def predict_videos(
    model: nn.Module, videos: Iterable[tuple[str, np.ndarray]], *, config: EvaluationConfig
) -> Iterator[tuple[str, VideoPrediction]]:
    """:func:`predict_video` of each ``(name, frames)``, in order, with clips batched across
    videos: every forward pass takes ``config.batch_size`` clips, from as many consecutive
    videos as it needs (a short video's few clips would otherwise make small batches, which a
    CPU runs less efficiently per clip). A video is yielded once its last clip has run, so
    memory holds only the videos of the current batch. The outputs are those of one video at a
    time up to float rounding: in eval mode no layer mixes the clips of a batch.
    """
    device = _model_device(model)
    pending: list[_Stitching] = []  # videos with clips not yet run, or not yet yielded
    stream = iter(videos)
    exhausted = False
    while True:
        while not exhausted and sum(len(v.clips) - v.done for v in pending) < config.batch_size:
            try:
                name, frames = next(stream)
            except StopIteration:
                exhausted = True
                break
            pending.append(_stitching(name, frames, config))
        if not pending:
            return
        parts = []  # (video, its clip rows) in this batch
        room = config.batch_size
        for video in pending:
            take = min(room, len(video.clips) - video.done)
            if take:
                parts.append((video, slice(video.done, video.done + take)))
                room -= take
        inputs = torch.cat(
            [_clip_batch(v.frames, v.clips[rows], config.input_size) for v, rows in parts]
        )  # [B, 3, T, h, w]
        with _eval_mode(model):  # never across the yield below
            output = model(inputs.to(device))
        first = 0
        for video, rows in parts:
            count = rows.stop - rows.start
            logits, scores = _checked_output(
                _rows_of(output, first, count), (count, config.clip_length),
                video.foreground.shape[1:], video.name,
            )  # fmt: skip
            video.add(rows, logits, scores)
            first += count
        while pending and pending[0].done == len(pending[0].clips):
            finished = pending.pop(0)
            yield finished.name, finished.result()


def _stitching(name: str, frames: np.ndarray, config: EvaluationConfig) -> _Stitching:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise DataError(
            f"{name}: frames must be a non-empty [frame, H, W, 3] uint8 array, got shape "
            f"{frames.shape} dtype {frames.dtype}"
        )
    num_frames, height, width = frames.shape[:3]
    clips = sliding_clips(num_frames, config.clip_length, skip=config.skip, stride=config.stride)
    return _Stitching(
        name=name,
        frames=frames,
        clips=clips,
        keep=~is_padding(clips, skip=config.skip),
        foreground=np.zeros((num_frames, height, width), dtype=np.float32),
    )


def _clip_batch(
    frames: np.ndarray, clips: np.ndarray, size: tuple[int, int] | None
) -> torch.Tensor:  # [B, 3, T, h, w]
    inputs = clip_tensor(frames, clips.ravel(), size)  # [3, B * T, h, w]
    return inputs.unflatten(1, clips.shape).transpose(0, 1).contiguous()


@dataclass(frozen=True)
class _Rows:
    """Rows ``first .. first + count`` of a detector output (mask logits and class scores)."""

    mask_logits: torch.Tensor
    class_scores: torch.Tensor


def _rows_of(output: object, first: int, count: int) -> object:
    if not hasattr(output, "mask_logits") or not hasattr(output, "class_scores"):
        return output  # _checked_output names what is missing
    return _Rows(
        output.mask_logits[first : first + count], output.class_scores[first : first + count]
    )


def _add_rows(target: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """``target[index] += values`` along axis 0, summing the rows of repeated indices."""
    if len(np.unique(index)) == len(index):  # no frame twice (clips do not overlap)
        target[index] += values
        return
    order = np.argsort(index, kind="stable")
    rows, starts = np.unique(index[order], return_index=True)
    target[rows] += np.add.reduceat(values[order], starts, axis=0)


def _checked_output(
    output: object, clip_shape: tuple[int, ...], frame_size: tuple[int, int], name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Mask logits ``[B, T, H, W]`` in the video's grid and class scores ``[B, class]``."""
    batch, length = clip_shape
    if not hasattr(output, "mask_logits") or not hasattr(output, "class_scores"):
        raise ValueError(
            f"{name}: the model must return an object with mask_logits and class_scores, "
            f"got {type(output).__name__}"
        )
    logits = output.mask_logits.detach().float().cpu()  # [B, T, h, w]
    scores = output.class_scores.detach().double().cpu().numpy()  # [B, class]
    if logits.ndim != 4 or tuple(logits.shape[:2]) != (batch, length):
        raise ValueError(
            f"{name}: mask_logits must be [{batch}, {length}, H, W], got {tuple(logits.shape)}"
        )
    if scores.ndim != 2 or scores.shape[0] != batch:
        raise ValueError(f"{name}: class_scores must be [{batch}, class], got {scores.shape}")
    if tuple(logits.shape[-2:]) != frame_size:
        logits = F.interpolate(logits, size=frame_size, mode="bilinear", align_corners=False)
    logits_array = logits.numpy()
    if not np.isfinite(scores).all() or not np.isfinite(logits_array).all():
        raise ValueError(f"{name}: the model returned NaN or infinite mask logits or class scores")
    return logits_array, scores


def ground_truth_boxes(videos: Sequence[VideoRecord]) -> pd.DataFrame:
    """GT boxes of ``videos`` as :func:`claus_core.metrics.frame_ap` wants them.

    Columns video, frame, label, x1, y1, x2, y2 with ``x1 = x``, ``x2 = x + w`` (likewise y).
    """
    parts = [
        (video.name, tube.label, np.arange(tube.start, tube.end), tube.boxes)
        for video in videos
        for tube in video.tubes
    ]
    if not parts:
        return pd.DataFrame({c: [] for c in GROUND_TRUTH_COLUMNS})
    lengths = [len(frames) for _, _, frames, _ in parts]
    boxes = _xywh_to_xyxy(np.concatenate([b for *_, b in parts]))  # [box, 4]
    table = pd.DataFrame(
        {
            "video": np.repeat([p[0] for p in parts], lengths),
            "frame": np.concatenate([p[2] for p in parts]),
            "label": np.repeat([p[1] for p in parts], lengths).astype(np.int64),
        }
    )
    table[BOX_COLUMNS] = boxes
    return table


def ground_truth_tubes(videos: Sequence[VideoRecord]) -> list[GroundTruthTube]:
    """GT tubes of ``videos`` as :func:`claus_core.metrics.video_ap` wants them."""
    return [
        GroundTruthTube(video.name, tube.label, tube.start, _xywh_to_xyxy(tube.boxes))
        for video in videos
        for tube in video.tubes
    ]


def _xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:  # [box, 4] -> [box, 4] float64
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def _act_convention(boxes: np.ndarray) -> np.ndarray:  # [box, 4] -> [box, 4]
    """``x2 - 1``, ``y2 - 1`` (never below ``x1``, ``y1``): ACT's last-pixel-inside boxes."""
    out = np.array(boxes, dtype=np.float64)
    out[:, 2:] = np.maximum(out[:, 2:] - 1.0, out[:, :2])
    return out


def _detection_tube(name: str, label: int, score: float, boxes: np.ndarray) -> DetectionTube | None:
    """One tube over the frames with a box (``boxes``: ``[frame, 4]``, NaN rows: none)."""
    present = np.flatnonzero(~np.isnan(boxes[:, 0]))  # [frame with a box]
    if not len(present):
        return None
    frames = np.arange(present[0], present[-1] + 1)  # [tube frame]
    filled = np.stack(
        [np.interp(frames, present, boxes[present, k]) for k in range(4)], axis=1
    )  # [tube frame, 4]
    return DetectionTube(name, label, score, int(present[0]), filled)


def _selected_videos(pool: VideoPool, names: Sequence[str] | None) -> tuple[VideoRecord, ...]:
    if names is None:
        videos = pool.videos
    else:
        if isinstance(names, str):
            raise ValueError("names must be a sequence of video names, not one string")
        videos = tuple(pool[name] for name in names)
    if not videos:
        raise ValueError(f"{pool.dataset}/{pool.split}: no videos to evaluate")
    return videos


@dataclass(frozen=True, eq=False)
class VideoDetections:
    """What the detector found in one test video: its predicted class and score, the box it
    derives from the predicted mask on each frame that has one, and the tube of those boxes."""

    video: str
    label: int  # the ground-truth class
    predicted_label: int
    score: float  # the predicted class's score
    frames: np.ndarray  # [box] int: frames with a predicted box
    frame_scores: np.ndarray  # [box] float64: the predicted class's score on that frame
    boxes: np.ndarray  # [box, 4] x1, y1, x2, y2
    tube: DetectionTube | None  # None when no frame has a box


def _video_frames(
    source: FrameSource, videos: Sequence[VideoRecord], progress: bool
) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, frames)`` of each video, checked against the pool's record."""
    for video in tqdm(videos, desc="evaluate", unit="video", disable=not progress):
        frames = source.frames(video.name)  # [frame, H, W, 3] uint8
        expected = (video.num_frames, video.height, video.width, 3)
        if frames.shape != expected:
            raise DataError(
                f"{video.name}: the frame source gave {frames.shape}, the pool says {expected}"
            )
        yield video.name, frames


def detect_video(
    video: VideoRecord, prediction: VideoPrediction, *, config: EvaluationConfig, num_classes: int
) -> tuple[VideoDetections, np.ndarray, np.ndarray]:
    """One video's detections from its prediction, the predicted mask and the ground-truth mask
    ([frame, H, W] bool)."""
    if prediction.class_scores.shape[0] != num_classes:
        raise ValueError(
            f"{video.name}: the model scores {prediction.class_scores.shape[0]} classes, "
            f"the pool has {num_classes}"
        )
    label = prediction.label
    predicted_mask = prediction.foreground >= config.mask_threshold  # [frame, H, W]
    truth = video_masks(video)  # [frame, H, W] bool
    if truth.shape != predicted_mask.shape:
        raise DataError(
            f"{video.name}: ground-truth masks {truth.shape} do not match the frames {predicted_mask.shape}"
        )
    boxes = mask_boxes(
        predicted_mask, largest_component=config.largest_component
    )  # [frame, 4], NaN: none
    present = np.flatnonzero(~np.isnan(boxes[:, 0]))  # [box]
    score = float(prediction.class_scores[label])
    detections = VideoDetections(
        video=video.name, label=video.label, predicted_label=label, score=score, frames=present,
        frame_scores=prediction.frame_scores[present, label].astype(np.float64), boxes=boxes[present],
        tube=_detection_tube(video.name, label, score, boxes),
    )  # fmt: skip
    return detections, predicted_mask, truth


def evaluate_detector(
    model: nn.Module,
    source: FrameSource,
    *,
    config: EvaluationConfig,
    names: Sequence[str] | None = None,
    progress: bool = True,
) -> EvaluationResult:
    """Evaluate ``model`` on the videos ``names`` of ``source.pool`` (default: all of them).

    Returns f-mAP / v-mAP per threshold (``table``) and per class, each video's predicted label,
    score and IoU, frame-AP and video-AP of the mask-derived boxes, and the wall time. The masks
    of one video at a time stream into :func:`localization_scores`; what else each video gave
    is kept as its :class:`VideoDetections`.
    """
    started = time.perf_counter()
    pool = source.pool
    videos = _selected_videos(pool, names)
    found: list[VideoDetections] = []  # [video], filled as the masks stream through

    def masks() -> Iterator[tuple[int, np.ndarray, np.ndarray, int]]:
        predictions = predict_videos(model, _video_frames(source, videos, progress), config=config)
        for video, (_, prediction) in zip(videos, predictions, strict=True):
            detections, predicted_mask, truth = detect_video(
                video, prediction, config=config, num_classes=pool.num_classes
            )
            found.append(detections)
            yield video.label, predicted_mask, truth, detections.predicted_label

    with _eval_mode(model):
        scores = localization_scores(masks(), pool.num_classes)
    per_class = scores.per_class(config.thresholds, require_class=config.require_class)
    table = mean_over_classes(per_class)
    per_class.insert(3, "class_name", [pool.classes[c] for c in per_class["class"]])
    video_table = pd.DataFrame(
        [
            {
                "video": d.video,
                "label": d.label,
                "predicted_label": d.predicted_label,
                "score": d.score,
            }
            for d in found
        ]
    )
    video_table["iou"] = scores.video_iou
    frame_result, video_result = _detection_scores(videos, found, config)
    seconds = time.perf_counter() - started
    logger.info(
        "evaluated %d videos of %s/%s in %.1f s", len(videos), pool.dataset, pool.split, seconds
    )
    return EvaluationResult(
        table=table,
        per_class=per_class,
        videos=video_table,
        frame_ap=frame_result,
        video_ap=video_result,
        seconds=seconds,
        config=config,
    )


def _detection_scores(
    videos: Sequence[VideoRecord], found: Sequence[VideoDetections], config: EvaluationConfig
) -> tuple[APResult, APResult]:
    """Frame-AP and video-AP of the mask-derived boxes and tubes against the GT tubes."""
    lengths = [len(d.frames) for d in found]
    detections = pd.DataFrame(
        {
            "video": np.repeat([d.video for d in found], lengths),
            "frame": np.concatenate([d.frames for d in found]).astype(np.int64),
            "label": np.repeat([d.predicted_label for d in found], lengths).astype(np.int64),
            "score": np.concatenate([d.frame_scores for d in found]),
        }
    )
    detection_boxes = np.concatenate([d.boxes for d in found]).reshape(-1, 4)
    tubes = [d.tube for d in found if d.tube is not None]
    truth = ground_truth_boxes(videos)
    truth_tubes = ground_truth_tubes(videos)
    if config.ap == "act":
        detection_boxes = _act_convention(detection_boxes)
        truth[BOX_COLUMNS] = _act_convention(truth[BOX_COLUMNS].to_numpy(dtype=np.float64))
        tubes = [
            DetectionTube(t.video, t.label, t.score, t.start, _act_convention(t.boxes))
            for t in tubes
        ]
        truth_tubes = [
            GroundTruthTube(t.video, t.label, t.start, _act_convention(t.boxes))
            for t in truth_tubes
        ]
    detections[BOX_COLUMNS] = detection_boxes
    frame_result = frame_ap(
        detections[DETECTION_COLUMNS], truth, iou_threshold=config.ap_iou_threshold, ap=config.ap
    )
    video_result = video_ap(tubes, truth_tubes, iou_threshold=config.ap_iou_threshold, ap=config.ap)
    return frame_result, video_result
