"""Clip sampling shared by training, pool scoring and evaluation (supplementary Section 7.1).

The detector sees clips of ``clip_length`` frames (8 at the paper preset) taken every ``skip``
frames of a video; Section 7.1 trains with skip rates 1 and 2. A clip is a row of frame
indices; the pixels and the per-frame targets of those frames are gathered by
:func:`clip_tensor` and :func:`clip_targets`, so every consumer samples frames the same way.

- :func:`sliding_clips` covers every frame of a video at least once (scoring, evaluation);
- :func:`sample_clip` draws one training clip with a numpy Generator, optionally around an
  annotated frame, as the authors' data loader does (it centres clips on a random annotated
  frame so that each clip carries real ground truth).

Clips that run past the last frame are padded by repeating the last frame index;
:func:`is_padding` marks those positions so that their predictions can be left out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

TRAINING_SKIPS = (1, 2)  # Section 7.1: "varying skip rate of 1 and 2"


def clip_span(clip_length: int, skip: int) -> int:
    """Number of video frames from the first to the last frame of one clip, both included."""
    return (clip_length - 1) * skip + 1


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def sliding_clips(
    num_frames: int, clip_length: int, *, skip: int = 1, stride: int | None = None
) -> np.ndarray:  # [clip, clip_length] int64
    """Frame indices of clips that cover every frame of a video at least once.

    Clips start every ``stride`` frames (default ``clip_length * skip``: no overlap); with
    ``skip > 1`` each start ``b`` is followed by the starts ``b + 1 .. b + skip - 1`` so that
    the frames a clip skips are covered by its interleaved neighbours. Any ``stride`` from 1 to
    ``clip_length * skip`` covers every frame; frames covered by several clips (``stride``
    smaller than the default) can be averaged by the caller. Indices past the last frame are
    replaced by the last frame index (padding, see :func:`is_padding`).
    """
    _check_positive(num_frames=num_frames, clip_length=clip_length, skip=skip)
    stride = clip_length * skip if stride is None else stride
    _check_positive(stride=stride)
    if stride > clip_length * skip:
        raise ValueError(
            f"stride {stride} leaves frames uncovered: at most clip_length * skip = "
            f"{clip_length * skip}"
        )
    block_starts = np.arange(0, num_frames, stride)  # [block]
    starts = (block_starts[:, None] + np.arange(skip)[None, :]).ravel()  # [block * skip]
    starts = np.unique(starts[starts < num_frames])  # [clip]
    indices = starts[:, None] + skip * np.arange(clip_length)[None, :]  # [clip, clip_length]
    return np.minimum(indices, num_frames - 1).astype(np.int64)


def is_padding(indices: np.ndarray, *, skip: int = 1) -> np.ndarray:  # [..., clip_length] bool
    """True at the positions of clips of skip rate ``skip`` that are end-of-video padding.

    A real position follows the previous one by exactly ``skip`` frames; padding (the last
    frame index repeated, or clipped to it) breaks that step.
    """
    indices = np.asarray(indices)
    padding = np.zeros(indices.shape, dtype=bool)
    padding[..., 1:] = (indices[..., 1:] - indices[..., :-1]) != skip
    return padding


def sample_clip(
    num_frames: int,
    clip_length: int,
    rng: np.random.Generator,
    *,
    skips: Sequence[int] = TRAINING_SKIPS,
    anchor_frames: Sequence[int] | np.ndarray | None = None,
) -> np.ndarray:  # [clip_length] int64
    """Frame indices of one training clip drawn with ``rng``.

    The skip rate is drawn uniformly from ``skips``. With ``anchor_frames`` (e.g. the annotated
    frames of the video) one of them is drawn uniformly and the clip contains it at a uniformly
    drawn position, inside the video; otherwise the start is uniform over the video. When the
    drawn skip rate does not fit (the video is shorter than the clip's span, or no position puts
    the anchor on a sampled frame inside the video) the clip falls back to skip 1; a video
    shorter than ``clip_length`` is padded by repeating its last frame.
    """
    _check_positive(num_frames=num_frames, clip_length=clip_length)
    skips = [int(s) for s in skips]
    if not skips:
        raise ValueError("skips must name at least one skip rate")
    _check_positive(**{f"skips[{i}]": s for i, s in enumerate(skips)})
    skip = skips[int(rng.integers(len(skips)))]
    anchor = None
    if anchor_frames is not None and len(anchor_frames) > 0:
        anchors = np.asarray(anchor_frames, dtype=np.int64)  # [anchor]
        if anchors.min() < 0 or anchors.max() >= num_frames:
            raise ValueError(
                f"anchor frames must lie in [0, {num_frames}), got {anchors.min()}..{anchors.max()}"
            )
        anchor = int(anchors[rng.integers(len(anchors))])
    if num_frames < clip_length:
        return np.minimum(np.arange(clip_length), num_frames - 1).astype(np.int64)
    start = _draw_start(num_frames, clip_length, skip, anchor, rng)
    if start is None:
        skip = 1
        start = _draw_start(num_frames, clip_length, skip, anchor, rng)
    assert start is not None  # skip 1 always fits a video of at least clip_length frames
    return start + skip * np.arange(clip_length, dtype=np.int64)


def _draw_start(
    num_frames: int, clip_length: int, skip: int, anchor: int | None, rng: np.random.Generator
) -> int | None:
    """A uniform valid start for this skip rate, or None when none exists."""
    last_start = num_frames - clip_span(clip_length, skip)  # the clip must end inside the video
    if last_start < 0:
        return None
    if anchor is None:
        return int(rng.integers(last_start + 1))
    # the anchor sits at position k: start = anchor - skip * k, 0 <= start <= last_start
    k_low = max(0, -((last_start - anchor) // skip))  # ceil((anchor - last_start) / skip)
    k_high = min(clip_length - 1, anchor // skip)
    if k_low > k_high:
        return None
    return anchor - skip * int(rng.integers(k_low, k_high + 1))


def _resize_needed(height: int, width: int, size: tuple[int, int] | None) -> bool:
    return size is not None and (int(size[0]), int(size[1])) != (height, width)


def clip_tensor(
    frames: np.ndarray, indices: np.ndarray | Sequence[int], size: tuple[int, int] | None = None
) -> torch.Tensor:  # [3, T, H, W] float32 in [0, 1]
    """The frames ``indices`` of a ``[frame, H, W, 3]`` uint8 video as a detector input clip.

    ``size = (H, W)`` resizes with bilinear (antialiased) interpolation, only when it differs
    from the frames' own size.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(
            f"frames must be a [frame, H, W, 3] uint8 array, got shape {frames.shape} "
            f"dtype {frames.dtype}"
        )
    index = np.asarray(indices, dtype=np.int64)  # [T]
    clip = torch.from_numpy(np.ascontiguousarray(frames[index]))  # [T, H, W, 3] uint8
    clip = clip.permute(0, 3, 1, 2)  # [T, 3, H, W] uint8, channels-last in memory
    if _resize_needed(frames.shape[1], frames.shape[2], size):
        # resizing the uint8 frames (torch's fast channels-last path) before converting them
        # costs a tenth of resizing float frames; the result is rounded to 1/255
        clip = F.interpolate(
            clip, size=tuple(size), mode="bilinear", align_corners=False, antialias=True
        )
    return clip.permute(1, 0, 2, 3).to(torch.float32).div_(255.0).contiguous()  # [3, T, H, W]


def clip_targets(
    masks: np.ndarray,
    weights: np.ndarray,
    indices: np.ndarray | Sequence[int],
    size: tuple[int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:  # [T, H, W] float32 each
    """Per-frame target masks and loss weights of the same frames as :func:`clip_tensor`.

    ``masks`` is ``[frame, H, W]`` bool and ``weights`` ``[frame, H, W]`` float32 (as returned
    by :func:`claus_core.losses.localization_targets`); both are resized with nearest-neighbour
    interpolation to ``size`` when it differs. Returns the target as 0/1 float32 and the weights.
    """
    if masks.ndim != 3 or masks.shape != weights.shape:
        raise ValueError(
            f"masks and weights must both be [frame, H, W], got {masks.shape} and {weights.shape}"
        )
    index = np.asarray(indices, dtype=np.int64)  # [T]
    target = torch.from_numpy(np.ascontiguousarray(masks[index], dtype=np.float32))  # [T, H, W]
    weight = torch.from_numpy(np.ascontiguousarray(weights[index], dtype=np.float32))
    if _resize_needed(masks.shape[1], masks.shape[2], size):
        both = torch.stack([target, weight])  # [2, T, H, W]
        both = F.interpolate(both, size=tuple(size), mode="nearest-exact")
        target, weight = both[0].contiguous(), both[1].contiguous()
    return target, weight
