"""Box-to-mask rasterization: GT boxes become the binary foreground maps the detector learns.

Pixel convention (shared with ``claus_core.data.types``): a box ``(x, y, w, h)`` covers the
pixel columns ``round(x) .. round(x + w) - 1`` and rows ``round(y) .. round(y + h) - 1``,
clipped to the frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from claus_core.data.types import VideoRecord


def box_mask(box: Sequence[float] | np.ndarray, height: int, width: int) -> np.ndarray:
    """One box as a ``[H, W]`` bool mask."""
    mask = np.zeros((height, width), dtype=bool)
    paint_box(mask, box)
    return mask


def paint_box(mask: np.ndarray, box: Sequence[float] | np.ndarray) -> None:
    """Set the pixels of ``box`` to True in the ``[H, W]`` mask, in place."""
    x, y, w, h = (float(v) for v in box)
    height, width = mask.shape
    x0, x1 = np.clip([round(x), round(x + w)], 0, width)
    y0, y1 = np.clip([round(y), round(y + h)], 0, height)
    mask[y0:y1, x0:x1] = True


def video_masks(video: VideoRecord, frames: Sequence[int] | None = None) -> np.ndarray:
    """GT foreground of ``video`` on ``frames`` (default: all).

    The union of its tubes' boxes, or its pixel masks where the dataset has them (J-HMDB-21
    puppet masks, ``video.masks``). Returns ``[len(frames), H, W]`` bool in the video's own
    ``height x width`` grid.
    """
    frame_list = list(range(video.num_frames)) if frames is None else [int(f) for f in frames]
    if video.masks is not None:
        return (
            np.stack([video.masks.frame(f) for f in frame_list])
            if frame_list
            else np.zeros((0, video.height, video.width), dtype=bool)
        )
    out = np.zeros((len(frame_list), video.height, video.width), dtype=bool)  # [frame, H, W]
    for i, f in enumerate(frame_list):
        for tube in video.tubes:
            box = tube.box_at(f)
            if box is not None:
                paint_box(out[i], box)
    return out
