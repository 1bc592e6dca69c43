"""Checks shared by the annotation loaders: a tube's frame span and its boxes against the frame.

Every loader (UCF-101-24 ``pyannot.pkl`` / shipped ``.npz``, ACT ``*-GT.pkl``) turns raw tubes
into :class:`~claus_core.data.types.Tube` through :func:`checked_tube`, so the same bad input gets
the same error naming the video and the problem (the datasets of supplementary Section 5.1):

- a tube with ``end <= start``, a negative start, an end beyond the video's frame count, or a
  box count that differs from ``end - start`` raises DataError;
- a box with non-positive width or height, or lying wholly outside the frame, raises DataError;
- a box that sticks out of the frame is **clipped to the frame** and a
  :class:`BoxOutsideFrameWarning` (a ``UserWarning``) is issued once per tube, naming the video,
  the tube and how many boxes were clipped. Clipping keeps the annotated region that is visible;
  the warning makes the edit explicit (use ``warnings.simplefilter("error",
  BoxOutsideFrameWarning)`` to refuse such files instead).
"""

from __future__ import annotations

import warnings

import numpy as np

from claus_core.data.types import DataError, Tube


class BoxOutsideFrameWarning(UserWarning):
    """A GT box extended beyond the frame and was clipped to it."""


def check_span(
    video: str, tube_index: int, start: int, end: int, num_boxes: int, num_frames: int
) -> None:
    """Raise DataError unless ``[start, end)`` is a non-empty span inside the video with one box
    per frame."""
    where = f"{video}: tube {tube_index}"
    if end <= start:
        raise DataError(f"{where} ends before it starts (end {end} <= start {start})")
    if start < 0:
        raise DataError(f"{where} starts at negative frame {start}")
    if end > num_frames:
        raise DataError(
            f"{where} covers frames [{start}, {end}) beyond the video's {num_frames} frames"
        )
    if num_boxes != end - start:
        raise DataError(
            f"{where} covers {end - start} frames [{start}, {end}) but has {num_boxes} boxes"
        )


def clip_boxes(
    boxes: np.ndarray, width: int, height: int, *, video: str, tube_index: int
) -> np.ndarray:  # [frame, 4] float64 x, y, w, h inside the frame
    """``boxes`` ([frame, 4] x, y, w, h) clipped to ``width x height``, warning if any moved."""
    boxes = np.asarray(boxes, dtype=np.float64)  # [frame, 4]
    where = f"{video}: tube {tube_index}"
    if not np.isfinite(boxes).all():
        raise DataError(f"{where} has non-finite box coordinates")
    if (boxes[:, 2:] <= 0).any():
        frame = int(np.flatnonzero((boxes[:, 2:] <= 0).any(axis=1))[0])
        raise DataError(f"{where} has a box of non-positive size at tube frame {frame}")
    right = boxes[:, 0] + boxes[:, 2]  # [frame]
    bottom = boxes[:, 1] + boxes[:, 3]  # [frame]
    outside = (boxes[:, 0] < 0) | (boxes[:, 1] < 0) | (right > width) | (bottom > height)
    if not outside.any():
        return boxes
    x0 = np.clip(boxes[:, 0], 0, width)  # [frame]
    y0 = np.clip(boxes[:, 1], 0, height)
    x1 = np.clip(right, 0, width)
    y1 = np.clip(bottom, 0, height)
    empty = ((x1 - x0) <= 0) | ((y1 - y0) <= 0)  # [frame]
    if empty.any():
        frame = int(np.flatnonzero(empty)[0])
        raise DataError(
            f"{where}: the box at tube frame {frame} lies wholly outside the {width}x{height} frame"
        )
    warnings.warn(
        f"{where}: {int(outside.sum())} boxes extend outside the {width}x{height} frame; "
        "clipped to it",
        BoxOutsideFrameWarning,
        stacklevel=3,
    )
    clipped = boxes.copy()  # [frame, 4]
    clipped[outside] = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)[outside]
    return clipped


def checked_tube(
    video: str,
    tube_index: int,
    *,
    label: int,
    start: int,
    end: int,
    boxes: np.ndarray,  # [end - start, 4] x, y, w, h
    num_frames: int,
    width: int,
    height: int,
) -> Tube:
    """A validated Tube of ``video`` (see the module docstring for what is checked)."""
    boxes = np.asarray(boxes)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise DataError(
            f"{video}: tube {tube_index} boxes must have shape [frames, 4], got {boxes.shape}"
        )
    check_span(video, tube_index, start, end, len(boxes), num_frames)
    return Tube(
        label, start, end, clip_boxes(boxes, width, height, video=video, tube_index=tube_index)
    )
