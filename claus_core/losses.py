"""Training targets and losses: pseudo-labels, STeW weights, localization, spread and cluster loss.

Supplementary Section 6 (and Figure 5, Table 10): only a few frames of a selected video carry
ground truth. The other frames of each tube get *pseudo-labels*, boxes linearly interpolated
between the annotated frames, and the localization loss weighs every pixel by how far the
pseudo-label can be trusted:

- ``stew`` (the paper's STeW loss): a temporal Gaussian of the distance to the nearest annotated
  frame times a spatial consistency of the pseudo-label masks over neighbouring frames
  (:func:`stew_weights`);
- ``interpolate``: unit weight on every pseudo-label;
- ``frame``: annotated frames only (weight 0 on every other frame).

The localization loss is a weighted binary cross-entropy plus a weighted dice loss on the
detector's foreground logits. The class capsules get the spread loss of VideoCapsuleNet
(Duarte et al. 2018, from matrix capsules with EM routing), and the latent features the cluster
loss of DCN (Yang et al. 2017), ``beta / 2 * ||z - mu_c||^2`` (supplementary Section 7.2).

Where this module departs from the authors' released code (``aayushjr/HybridCLAUS``), the
docstring of the function says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from claus_core.damping import SIGMA, WINDOW
from claus_core.data.raster import paint_box, video_masks
from claus_core.data.types import DataError, VideoRecord

LossVariant = Literal["stew", "interpolate", "frame"]
Consistency = Literal["foreground_fraction", "agreement"]

# The released code's Gaussian and consistency window in video frames (sigma 8/3, 4 frames either
# side): the same constants as the frame selection of Algorithm 1, line 10 (claus_core.damping).
STEW_SIGMA = SIGMA
STEW_WINDOW = WINDOW


@dataclass(frozen=True)
class LossConfig:
    """The training loss: which localization variant (Table 10) and its constants.

    ``sigma`` and ``window`` are the STeW constants in video frames (see :func:`stew_weights`);
    ``margin_min`` / ``margin_max`` the spread-loss margin schedule of VideoCapsuleNet;
    ``margin_schedule=False`` keeps the margin at ``margin_min`` for the whole round, as the
    released code effectively does (see :func:`spread_margin`).
    """

    variant: LossVariant = "stew"
    sigma: float = STEW_SIGMA
    window: int = STEW_WINDOW
    consistency: Consistency = "foreground_fraction"
    bce_weight: float = 1.0
    dice_weight: float = 1.0
    dice_smooth: float = 1.0
    margin_min: float = 0.2
    margin_max: float = 0.9
    margin_schedule: bool = True
    # pseudo-labels and STeW weights as the released code computes them (losses_released.py;
    # the weights per clip, in training.train_round); added later, so hash-neutral at its default
    released: bool = field(default=False, metadata={"added": True})

    @classmethod
    def released_code(cls) -> LossConfig:
        """STeW with the released code's pseudo-labels and weights (``losses_released``)."""
        return cls(released=True)

    def __post_init__(self) -> None:
        if self.released and self.variant != "stew":
            raise ValueError(
                f"released=True is the released code's STeW; variant is {self.variant!r}"
            )
        if self.variant not in ("stew", "interpolate", "frame"):
            raise ValueError(
                f"variant must be 'stew', 'interpolate' or 'frame', got {self.variant!r}"
            )
        if self.consistency not in ("foreground_fraction", "agreement"):
            raise ValueError(
                f"consistency must be 'foreground_fraction' or 'agreement', got {self.consistency!r}"
            )
        if not self.sigma > 0:
            raise ValueError(f"sigma must be positive, got {self.sigma}")
        if self.window < 0:
            raise ValueError(f"window must be >= 0, got {self.window}")
        if not 0 <= self.margin_min <= self.margin_max:
            raise ValueError(
                f"need 0 <= margin_min <= margin_max, got {self.margin_min}, {self.margin_max}"
            )


# --- pseudo-labels ------------------------------------------------------------------------


def _annotated_array(
    video: VideoRecord, annotated_frames: Sequence[int] | np.ndarray
) -> np.ndarray:
    frames = np.unique(np.asarray(annotated_frames, dtype=np.int64))  # [annotated] sorted
    if frames.size and (frames[0] < 0 or frames[-1] >= video.num_frames):
        raise DataError(
            f"{video.name}: annotated frames must lie in [0, {video.num_frames}), "
            f"got {frames[0]}..{frames[-1]}"
        )
    return frames


def _mask_box(mask: np.ndarray) -> np.ndarray | None:  # [4] x, y, w, h or None
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return np.array(
        [cols[0], rows[0], cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1], dtype=np.float32
    )


def interpolate_boxes(
    video: VideoRecord, annotated_frames: Sequence[int] | np.ndarray
) -> tuple[np.ndarray | None, ...]:  # per tube: [tube frames, 4] float32 or None
    """Pseudo-label boxes of every tube on every frame of the tube, from the annotated frames.

    For each tube, the boxes on the annotated frames inside its ``[start, end)`` are the key
    boxes; every other frame of the tube gets the linear interpolation of the two key boxes
    around it (``x, y, w, h`` each, which is the same as interpolating the corners), and the
    first (last) key box is held constant before the first (after the last) annotated frame.
    A tube with no annotated frame inside its ``[start, end)`` gets ``None``: it has no
    pseudo-label, so its frames carry only the other tubes' pseudo-labels (background where
    this actor is), as in the authors' released code; STeW's temporal weight discounts such
    frames by their distance to the nearest annotated frame.

    Videos with pixel masks (J-HMDB-21, ``video.masks``) take their key boxes from the masks'
    bounding boxes; this assumes one actor per video (J-HMDB-21 has one), so a masked video
    with several tubes raises DataError. An annotated frame whose mask is empty is no key frame.
    """
    annotated = _annotated_array(video, annotated_frames)
    if video.masks is not None and len(video.tubes) > 1:
        raise DataError(
            f"{video.name}: has pixel masks and {len(video.tubes)} tubes; mask bounding boxes "
            "can only stand for one actor"
        )
    result: list[np.ndarray | None] = []
    for tube in video.tubes:
        keys = annotated[(annotated >= tube.start) & (annotated < tube.end)]  # [key]
        if video.masks is not None:
            mask_boxes = [_mask_box(video.masks.frame(int(f))) for f in keys]
            present = np.array([box is not None for box in mask_boxes], dtype=bool)
            keys = keys[present]
            key_boxes = np.array([box for box in mask_boxes if box is not None], dtype=np.float32)
        else:
            key_boxes = tube.boxes[keys - tube.start]  # [key, 4]
        if keys.size == 0:
            result.append(None)
            continue
        frames = np.arange(tube.start, tube.end)  # [tube frames]
        boxes = np.stack(
            [np.interp(frames, keys, key_boxes[:, c]) for c in range(4)], axis=1
        ).astype(np.float32)  # [tube frames, 4]
        result.append(boxes)
    return tuple(result)


def pseudo_label_masks(
    video: VideoRecord, annotated_frames: Sequence[int] | np.ndarray
) -> np.ndarray:  # [frame, H, W] bool
    """Foreground pseudo-labels of every frame of ``video`` in its own ``height x width`` grid.

    Unannotated frames: the union of the tubes' interpolated boxes (:func:`interpolate_boxes`),
    rasterized with :mod:`claus_core.data.raster` conventions. Annotated frames: the real
    ground truth (:func:`claus_core.data.raster.video_masks`: the GT boxes, or the real pixel
    mask for videos with masks such as J-HMDB-21).
    """
    annotated = _annotated_array(video, annotated_frames)
    masks = np.zeros((video.num_frames, video.height, video.width), dtype=bool)  # [frame, H, W]
    for tube, boxes in zip(video.tubes, interpolate_boxes(video, annotated), strict=True):
        if boxes is None:
            continue
        for frame, box in zip(tube.frames(), boxes, strict=True):
            paint_box(masks[frame], box)
    if annotated.size:
        truth = video_masks(video, annotated)  # [annotated, H, W]
        if truth.shape[1:] != masks.shape[1:]:
            raise DataError(
                f"{video.name}: ground-truth masks are {truth.shape[1]}x{truth.shape[2]}, "
                f"the video is {video.height}x{video.width}"
            )
        masks[annotated] = truth
    return masks


# --- STeW weights -------------------------------------------------------------------------


def distance_to_annotated(annotated: np.ndarray) -> np.ndarray:  # [frame] int64
    """Distance in frames from every frame to the nearest annotated frame (``annotated`` [frame] bool)."""
    annotated = np.asarray(annotated, dtype=bool)
    keys = np.flatnonzero(annotated)  # [key]
    if keys.size == 0:
        raise ValueError(
            f"no annotated frame among {annotated.size} frames: distances to annotated frames "
            "(and STeW weights) need at least one"
        )
    frames = np.arange(annotated.size)  # [frame]
    after = np.searchsorted(keys, frames)  # index of the first key >= frame
    left = keys[np.clip(after - 1, 0, keys.size - 1)]
    right = keys[np.clip(after, 0, keys.size - 1)]
    return np.minimum(np.abs(frames - left), np.abs(frames - right))


def temporal_weights(annotated: np.ndarray, *, sigma: float = STEW_SIGMA) -> np.ndarray:
    """``exp(-d^2 / (2 sigma^2))`` of each frame's distance ``d`` to the nearest annotated frame.

    Returns ``[frame]`` float32, exactly 1 on annotated frames.
    """
    distance = distance_to_annotated(annotated).astype(np.float64)  # [frame]
    return np.exp(-(distance**2) / (2.0 * sigma**2)).astype(np.float32)


def spatial_consistency(
    pseudo_masks: np.ndarray,
    *,
    window: int = STEW_WINDOW,
    consistency: Consistency = "foreground_fraction",
) -> np.ndarray:  # [frame, H, W] float32 in [0, 1]
    """How consistent each pixel's pseudo-label is over the frames ``j - window .. j + window``.

    ``frac`` is the fraction of the window's frames (clipped to the video) on which the pixel
    is foreground.

    - ``"foreground_fraction"`` (the released code's formula, which Figure 5 shows): ``frac``,
      and 1 where the pixel is never foreground in the window. A pixel that stays foreground
      or stays background gets 1; pixels swept by a moving edge get the fraction of time they
      are covered, so the background a moving actor passes through gets a low weight
      ("most actor neighbouring region is almost zero weight", Section 6.1).
    - ``"agreement"``: the fraction of the window on which the pixel has the same label as on
      frame ``j`` (``frac`` on foreground, ``1 - frac`` on background).

    The released code meant a local window (``j-2 .. j+2`` clip frames) but its bounds,
    ``min(j - 2, 0)`` and ``max(j + 3, depth)`` (``ucf101_dataloader.py`` l.201-202, used at
    l.215), give the slice ``[0:8]`` for positions ``j >= 2``, the whole clip, and a negative
    start for ``j = 0, 1``, which Python wraps: ``[-2:8]`` and ``[-1:8]`` select only positions
    6-7 and 7. This implements the local window. Vectorized with a cumulative sum over frames.
    """
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    masks = np.asarray(pseudo_masks, dtype=bool)
    num_frames = masks.shape[0]
    count_type = np.uint16 if num_frames < 2**16 else np.int64
    # cumulative foreground counts, padded with `window` copies of the first (0) and last
    # value so that every window's count is a difference of two slices
    counts = np.zeros((num_frames + 1 + 2 * window, *masks.shape[1:]), dtype=count_type)
    np.cumsum(masks, axis=0, dtype=count_type, out=counts[window + 1 : window + 1 + num_frames])
    counts[window + 1 + num_frames :] = counts[window + num_frames]
    fraction = np.subtract(  # [frame, H, W] foreground frames in each window
        counts[2 * window + 1 :], counts[:num_frames], dtype=np.float32
    )
    frames = np.arange(num_frames)
    window_sizes = np.minimum(frames + window + 1, num_frames) - np.maximum(frames - window, 0)
    fraction /= window_sizes.astype(np.float32)[:, None, None]
    if consistency == "foreground_fraction":
        fraction[fraction == 0] = 1.0
        return fraction
    if consistency == "agreement":
        return np.where(masks, fraction, 1.0 - fraction).astype(np.float32)
    raise ValueError(
        f"consistency must be 'foreground_fraction' or 'agreement', got {consistency!r}"
    )


def stew_weights(
    pseudo_masks: np.ndarray,
    annotated: np.ndarray,
    *,
    sigma: float = STEW_SIGMA,
    window: int = STEW_WINDOW,
    consistency: Consistency = "foreground_fraction",
) -> np.ndarray:  # [frame, H, W] float32 in [0, 1]
    """STeW loss weights of a video's pseudo-labels (Section 6, Figure 5).

    ``pseudo_masks`` is ``[frame, H, W]`` bool, ``annotated`` ``[frame]`` bool. The weight of a
    pixel is :func:`temporal_weights` (a Gaussian of the distance to the nearest annotated frame)
    times :func:`spatial_consistency` over the frames ``j - window .. j + window``; on annotated
    frames it is exactly 1 everywhere.

    Constants (in video frames): ``sigma = 8/3`` and ``window = 4`` are the released code's
    ``sigma = 4/3`` and ``j-2 .. j+2`` in clip positions at its default skip rate 2. The
    released code also zeroes the Gaussian beyond 4 clip positions (8 frames), where it is
    already below ``exp(-4.5) = 0.011``; it is not truncated here. The released code's window
    bounds select the whole clip for clip positions 2-7 and only positions 6-7 (7) for position
    0 (1), where a local window was evidently meant; this implements the local window (see
    :func:`spatial_consistency`).
    """
    masks = np.asarray(pseudo_masks)
    annotated = np.asarray(annotated)
    if masks.ndim != 3:
        raise ValueError(f"pseudo_masks must be [frame, H, W], got shape {masks.shape}")
    if annotated.shape != (masks.shape[0],):
        raise ValueError(
            f"annotated must be [frame] with {masks.shape[0]} frames, got shape {annotated.shape}"
        )
    annotated = annotated.astype(bool)
    if not annotated.any():
        raise ValueError(
            f"stew_weights: 'annotated' marks none of the {annotated.size} frames; STeW weights "
            "are relative to annotated frames, so at least one frame must be annotated"
        )
    weights = spatial_consistency(masks, window=window, consistency=consistency)
    weights *= temporal_weights(annotated, sigma=sigma)[:, None, None]
    weights[annotated] = 1.0
    return weights


def localization_targets(
    video: VideoRecord, annotated_frames: Sequence[int] | np.ndarray, config: LossConfig
) -> tuple[np.ndarray, np.ndarray]:  # [frame, H, W] bool, [frame, H, W] float32
    """Per-frame target masks and loss weights of ``video`` for one loss variant (Table 10).

    - ``stew``: pseudo-labels (:func:`pseudo_label_masks`) weighted by :func:`stew_weights`;
    - ``interpolate``: pseudo-labels, weight 1 everywhere;
    - ``frame``: ground truth on the annotated frames with weight 1; no target (False) and
      weight 0 on every other frame.

    A video with no annotated frame raises ValueError: every variant needs ground truth.
    """
    annotated = _annotated_array(video, annotated_frames)
    if annotated.size == 0:
        raise ValueError(f"{video.name}: no annotated frame, so no localization target")
    is_annotated = np.zeros(video.num_frames, dtype=bool)  # [frame]
    is_annotated[annotated] = True
    if config.variant == "frame":
        masks = np.zeros((video.num_frames, video.height, video.width), dtype=bool)
        masks[annotated] = video_masks(video, annotated)
        weights = np.zeros(masks.shape, dtype=np.float32)
        weights[annotated] = 1.0
        return masks, weights
    masks = pseudo_label_masks(video, annotated)
    if config.variant == "interpolate":
        return masks, np.ones(masks.shape, dtype=np.float32)
    weights = stew_weights(
        masks,
        is_annotated,
        sigma=config.sigma,
        window=config.window,
        consistency=config.consistency,
    )
    return masks, weights


# --- losses (torch) -----------------------------------------------------------------------


def _check_same_shape(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> None:
    if logits.shape != target.shape or logits.shape != weights.shape:
        raise ValueError(
            f"logits, target and weights must have one shape, got {tuple(logits.shape)}, "
            f"{tuple(target.shape)} and {tuple(weights.shape)}"
        )


def weighted_bce(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum(w * BCE(logit, t)) / number of pixels`` over the whole batch.

    Normalized by the pixel count, not by the sum of the weights: the weights are absolute
    confidences, and dividing by their sum would undo STeW's down-weighting of clips far from
    any annotated frame. With unit weights this is the plain mean BCE of the released code
    (which instead multiplies the logits by the weights, a form that does not weigh the loss).
    """
    _check_same_shape(logits, target, weights)
    per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (weights * per_pixel).sum() / max(logits.numel(), 1)


def weighted_dice(
    logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, *, smooth: float = 1.0
) -> torch.Tensor:
    """``1 - (2 sum(w p t) + smooth) / (sum(w p) + sum(w t) + smooth)`` over the whole batch.

    ``p = sigmoid(logit)``; ``smooth = 1`` as in the released code's dice loss, which pools the
    whole batch into one score; pixels of weight 0 do not count.
    """
    _check_same_shape(logits, target, weights)
    probs = torch.sigmoid(logits)
    intersection = (weights * probs * target).sum()
    total = (weights * probs).sum() + (weights * target).sum()
    return 1.0 - (2.0 * intersection + smooth) / (total + smooth)


def localization_loss(
    mask_logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, config: LossConfig
) -> torch.Tensor:
    """Weighted BCE + dice on the foreground logits (any shape, e.g. ``[B, T, H, W]``)."""
    bce = weighted_bce(mask_logits, target, weights)
    dice = weighted_dice(mask_logits, target, weights, smooth=config.dice_smooth)
    return config.bce_weight * bce + config.dice_weight * dice


def spread_margin(progress: float, config: LossConfig) -> float:
    """The spread-loss margin after a fraction ``progress`` in [0, 1] of training.

    Grows linearly from ``margin_min`` (0.2) to ``margin_max`` (0.9), as in matrix capsules with
    EM routing and VideoCapsuleNet. The released code defines this schedule (0.7 / 40 per
    epoch) but never advances it, so it trains at the constant margin 0.2 (``progress = 0``).
    """
    fraction = min(max(float(progress), 0.0), 1.0)
    return config.margin_min + (config.margin_max - config.margin_min) * fraction


def spread_loss(class_scores: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Spread loss of the class capsule activations, mean over the batch.

    ``class_scores`` is ``[B, N]`` in [0, 1], ``labels`` ``[B]`` int. Per clip,
    ``sum over i != target of max(0, margin - (a_target - a_i))^2`` (VideoCapsuleNet, which
    takes it from matrix capsules with EM routing; the released code uses the same loss).
    """
    if class_scores.ndim != 2 or labels.shape != class_scores.shape[:1]:
        raise ValueError(
            f"class_scores must be [B, N] and labels [B], got {tuple(class_scores.shape)} and "
            f"{tuple(labels.shape)}"
        )
    labels = labels.long()
    target_scores = class_scores.gather(1, labels[:, None])  # [B, 1]
    per_class = F.relu(margin - (target_scores - class_scores)) ** 2  # [B, N]
    others = torch.ones_like(per_class).scatter_(1, labels[:, None], 0.0)
    return (per_class * others).sum(dim=1).mean()


def cluster_loss(
    latent: torch.Tensor, centroids: torch.Tensor, assignments: torch.Tensor, *, beta: float
) -> torch.Tensor:
    """DCN cluster loss ``beta / 2 * ||z - mu_c||^2``, mean over the batch (Section 7.2).

    ``latent`` is ``[B, D]``, ``centroids`` ``[K, D]`` (treated as constants), ``assignments``
    ``[B]`` cluster indices. The released code sums over the batch instead of averaging
    (with ``beta = 1e-6``, batch size 6).
    """
    if latent.ndim != 2 or centroids.ndim != 2 or latent.shape[1] != centroids.shape[1]:
        raise ValueError(
            f"latent must be [B, D] and centroids [K, D], got {tuple(latent.shape)} and "
            f"{tuple(centroids.shape)}"
        )
    if assignments.shape != latent.shape[:1]:
        raise ValueError(f"assignments must be [B], got {tuple(assignments.shape)}")
    centres = centroids.detach().to(latent.dtype)[assignments.long()]  # [B, D]
    return 0.5 * beta * ((latent - centres) ** 2).sum(dim=1).mean()
