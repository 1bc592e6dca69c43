"""Pseudo-labels and STeW weights as the authors' released code computes them, written anew.

The book's default follows the paper (Section 6: :func:`claus_core.losses.pseudo_label_masks`,
:func:`claus_core.losses.stew_weights`). ``LossConfig.released_code()`` trains with what
``aayushjr/HybridCLAUS`` d3d7fd9 ``ucf101_dataloader.py`` does instead:

Pseudo-labels (``load_video``, l.268-310), per tube, from its annotated frames ``a_0 < a_1 < ...``
(``ef`` is the tube's last frame, ``end - 1`` here)::

    one annotated frame     its box on [sf, ef)                        (l.291-292)
    several                 the first box on [sf, a_0)                 (l.294)
                            between a_i and a_{i+1}: the corners np.linspace(box_i, box_i+1,
                            a_{i+1} - a_i) cast to int32 on a_i, a_i + 1, ..., a_{i+1} - 1, so the
                            next key box arrives one frame early and corners are truncated
                            (l.296-305); neighbours (a_{i+1} = a_i + 1): box_i on a_i (l.307-308)
                            the last box on [a_last, ef)               (l.309-310)

so the tube's last frame is never painted, even when it is annotated. Boxes are painted as
``mask[f, y:y+h, x:x+w]`` of integer pixels (the released boxes are integers; here they are
truncated).

STeW weights of one clip (``__getitem__``, l.140-221): clip positions ``j`` with frames
``span[j]`` and skip ``vskip``; a position is *annotated* when ``span[j]`` is an annotated frame,
or, at skip 2, ``span[j] + 1`` is (l.167-173, l.204-210). Annotated frames are those of ONE tube
drawn at random per clip (the first one with annotated frames if it has none, l.255-264). Then::

    temporal[j] = max over annotated positions k of G(j - k),  G(d) = exp(-d^2 / (2 (4/3)^2))
                  for |d| <= 4, else 0: sigma in clip positions (l.146-189)
    spatial[j]  = 1 on an annotated position (l.213); else the mean pseudo-label of positions
                  [min(j-2, 0) : max(j+3, depth)] (the whole clip for j >= 2, positions 6-7 and
                  7 for j = 0, 1), with 0 replaced by 1 (l.201-217)
    weight[j]   = min(temporal[j] * spatial[j], 1)                     (l.220-221)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from claus_core.data.types import VideoRecord

SIGMA_POSITIONS = 4 / 3  # ucf101_dataloader.py l.146
REACH_POSITIONS = 4  # the 9-wide Gaussian, l.147


def _paint(mask: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:  # [H, W] bool
    mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = True


def _box(tube_boxes: np.ndarray, tube_start: int, frame: int) -> tuple[int, int, int, int]:
    x, y, w, h = (int(v) for v in tube_boxes[frame - tube_start])  # [4] x, y, w, h
    return x, y, w, h


def released_pseudo_label_masks(
    video: VideoRecord, annotated_frames: Sequence[int] | np.ndarray
) -> np.ndarray:  # [frame, H, W] bool
    """The released pseudo-labels of ``video`` from its ``annotated_frames`` (module docstring)."""
    annotated = sorted({int(f) for f in annotated_frames})
    masks = np.zeros((video.num_frames, video.height, video.width), dtype=bool)  # [frame, H, W]
    for tube in video.tubes:
        sf, ef = tube.start, tube.end - 1
        keys = [f for f in annotated if sf <= f <= ef]  # ann[4]: the tube's annotated frames
        if not keys:
            continue
        boxes = [_box(tube.boxes, sf, f) for f in keys]  # [key] x, y, w, h
        x, y, w, h = boxes[0]
        if len(keys) == 1:
            for f in range(sf, ef):
                _paint(masks[f], x, y, x + w, y + h)
            continue
        for f in range(sf, keys[0]):
            _paint(masks[f], x, y, x + w, y + h)
        for i in range(len(keys) - 1):
            gap = keys[i + 1] - keys[i]
            if gap > 1:
                (xa, ya, wa, ha), (xb, yb, wb, hb) = boxes[i], boxes[i + 1]
                corners = np.linspace([xa, ya, xa + wa, ya + ha], [xb, yb, xb + wb, yb + hb], gap)
                for j, (x1, y1, x2, y2) in enumerate(corners.astype(np.int32)):
                    _paint(masks[keys[i] + j], int(x1), int(y1), int(x2), int(y2))
            else:
                x, y, w, h = boxes[i]
                _paint(masks[keys[i]], x, y, x + w, y + h)
        x, y, w, h = boxes[-1]
        for f in range(keys[-1], ef):
            _paint(masks[f], x, y, x + w, y + h)
    return masks


def released_tube_frames(
    video: VideoRecord, annotated_frames: Sequence[int], rng: np.random.Generator
) -> list[int]:
    """The annotated frames of one tube drawn at random (l.255-264): those in its ``[sf, ef]``;
    if it has none, those of the first tube that has some."""
    per_tube = [
        [int(f) for f in annotated_frames if t.start <= f <= t.end - 1] for t in video.tubes
    ]
    drawn = int(rng.integers(len(per_tube))) if len(per_tube) > 1 else 0
    if per_tube[drawn]:
        return per_tube[drawn]
    return next((frames for frames in per_tube if frames), [])


def released_clip_weights(
    clip_masks: np.ndarray, span: Sequence[int], annotated: Sequence[int], skip: int
) -> np.ndarray:  # [T, H, W] float32
    """The released STeW weights of one clip (module docstring). ``clip_masks``: the clip's
    pseudo-labels ``[T, H, W]`` (0/1); ``span``: its frames; ``annotated``: one tube's."""
    masks = np.asarray(clip_masks, dtype=np.float64)
    depth = len(span)
    marked = set(int(f) for f in annotated)
    valid = [int(f) in marked or (skip == 2 and int(f) + 1 in marked) for f in span]  # [T]
    temporal = np.zeros(depth)
    for k in np.flatnonzero(valid):
        for j in range(max(0, k - REACH_POSITIONS), min(depth, k + REACH_POSITIONS + 1)):
            g = np.exp(-((j - k) ** 2) / (2 * SIGMA_POSITIONS**2))
            temporal[j] = max(temporal[j], g)
    weights = np.empty_like(masks)  # [T, H, W]
    for j in range(depth):
        if valid[j]:
            spatial = np.full(masks.shape[1:], temporal[j])
        else:
            spatial = masks[min(j - 2, 0) : max(j + 3, depth)].mean(axis=0)  # the released bounds
            spatial[spatial == 0] = 1.0
        weights[j] = np.minimum(temporal[j] * spatial, 1.0)
    return weights.astype(np.float32)
