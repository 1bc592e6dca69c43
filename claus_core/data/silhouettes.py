"""Real J-HMDB-21 silhouettes at a small frame size, for the SynthJHMDB21 benchmark.

J-HMDB-21 (supplementary Section 5; Tables 4 and 7) is annotated with per-frame puppet masks
(240 x 320). SynthJHMDB21 keeps those real silhouettes and draws everything else: this module
resizes masks by exact area averaging (a soft coverage in ``[0, 1]``, thresholded at one half
for the ground truth), holds resized masks behind the ``MaskSequence`` protocol of
``claus_core.data.types``, and pastes textured silhouettes into a canvas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from claus_core.data.types import DataError, MaskSequence


def area_matrix(source: int, target: int) -> np.ndarray:  # [target, source] float32
    """Exact area-averaging weights from ``source`` pixels to ``target`` pixels along one axis.

    Row ``i`` holds the fraction of target pixel ``i`` covered by each source pixel; rows sum
    to one, so ``A @ x`` is the mean of ``x`` over each target pixel's footprint.
    """
    if source < 1 or target < 1:
        raise ValueError(f"sizes must be positive, got source={source}, target={target}")
    edges = np.arange(target + 1, dtype=np.float64) * (source / target)  # [target + 1]
    lo = np.maximum(edges[:-1, None], np.arange(source)[None, :])
    hi = np.minimum(edges[1:, None], np.arange(1, source + 1)[None, :])
    weights = np.clip(hi - lo, 0.0, None) * (target / source)  # [target, source]
    return weights.astype(np.float32)


def resize_coverage(masks: np.ndarray, height: int, width: int) -> np.ndarray:
    """Per-frame area coverage of ``masks`` (``[frame, H, W]``) on a ``height x width`` grid.

    Returns ``[frame, height, width]`` float32 in ``[0, 1]``.
    """
    if masks.ndim != 3:
        raise ValueError(f"masks must have shape [frame, H, W], got {masks.shape}")
    frames, source_height, source_width = masks.shape
    rows = area_matrix(source_height, height)  # [height, H]
    cols = area_matrix(source_width, width)  # [width, W]
    flat = masks.reshape(frames * source_height, source_width).astype(np.float32)
    narrow = (flat @ cols.T).reshape(frames, source_height, width)  # [frame, H, width]
    small = narrow.transpose(0, 2, 1).reshape(frames * width, source_height) @ rows.T
    resized = small.reshape(frames, width, height).transpose(0, 2, 1)  # [frame, height, width]
    return np.clip(np.ascontiguousarray(resized), 0.0, 1.0)


class ArrayMasks:
    """A ``MaskSequence`` over an in-memory ``[frame, H, W]`` bool array."""

    def __init__(self, masks: np.ndarray) -> None:
        masks = np.asarray(masks)
        if masks.ndim != 3:
            raise DataError(f"masks must have shape [frame, H, W], got {masks.shape}")
        self._masks = masks.astype(bool)  # [frame, H, W]
        self._masks.setflags(write=False)
        self.num_frames, self.height, self.width = (int(s) for s in self._masks.shape)

    def frame(self, index: int) -> np.ndarray:  # [H, W] bool
        return self._masks[index]

    def array(self) -> np.ndarray:  # [frame, H, W] bool
        return self._masks


class ResizedMasks:
    """Selected frames of another ``MaskSequence`` resized to ``height x width``, on demand.

    A pixel is foreground when at least half of its footprint is foreground in the source.
    The resized array is computed on first access and kept.
    """

    def __init__(
        self, source: MaskSequence, frames: Sequence[int], *, height: int, width: int
    ) -> None:
        self._source = source
        self._frames = np.asarray(frames, dtype=np.int64)  # [frame] source frame indices
        if len(self._frames) and (
            self._frames.min() < 0 or self._frames.max() >= source.num_frames
        ):
            raise DataError(
                f"resized masks: frames {self._frames.min()}..{self._frames.max()} outside the "
                f"source's {source.num_frames} frames"
            )
        self.num_frames, self.height, self.width = len(self._frames), int(height), int(width)
        self._coverage: np.ndarray | None = None  # [frame, height, width] float32

    def coverage(self) -> np.ndarray:  # [frame, height, width] float32 in [0, 1]
        """Soft area coverage of the silhouette (what the renderer composites)."""
        if self._coverage is None:
            full = np.asarray(self._source.array(), dtype=bool)[self._frames]  # [frame, H, W]
            self._coverage = resize_coverage(full, self.height, self.width)
            self._coverage.setflags(write=False)
        return self._coverage

    def frame(self, index: int) -> np.ndarray:  # [height, width] bool
        return self.coverage()[index] >= 0.5

    def array(self) -> np.ndarray:  # [frame, height, width] bool
        return self.coverage() >= 0.5


def mask_bounds(masks: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)`` (exclusive ends) of the union of ``[frame, H, W]`` masks, or None."""
    any_rows = np.flatnonzero(masks.any(axis=(0, 2)))
    any_cols = np.flatnonzero(masks.any(axis=(0, 1)))
    if len(any_rows) == 0:
        return None
    return int(any_cols[0]), int(any_rows[0]), int(any_cols[-1]) + 1, int(any_rows[-1]) + 1


def silhouette_clip(masks: np.ndarray, *, height: int, width: int) -> np.ndarray:
    """The silhouettes of ``masks`` cropped to their union box and resized to ``height x width``.

    Cropping to the union over all frames keeps the real motion of the person inside the crop.
    Returns ``[frame, height, width]`` float32 coverage; all zeros when the masks are empty.
    """
    bounds = mask_bounds(masks)
    if bounds is None:
        return np.zeros((len(masks), height, width), dtype=np.float32)
    x0, y0, x1, y1 = bounds
    return resize_coverage(masks[:, y0:y1, x0:x1], height, width)


def paste(
    canvas: np.ndarray, coverage: np.ndarray, top_left: np.ndarray, colour: np.ndarray
) -> np.ndarray:
    """Composite ``colour`` (``[h, w, 3]``) with ``coverage`` (``[h, w]``) into ``canvas``.

    ``top_left`` is ``(x, y)`` in canvas pixels (rounded); parts outside the canvas are cut.
    Works in place and returns the ``[H, W]`` coverage actually drawn.
    """
    height, width = canvas.shape[:2]
    h, w = coverage.shape
    x, y = (int(round(float(c))) for c in top_left)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    drawn = np.zeros((height, width), dtype=np.float32)
    if x1 <= x0 or y1 <= y0:
        return drawn
    alpha = coverage[y0 - y : y1 - y, x0 - x : x1 - x]
    patch = canvas[y0:y1, x0:x1]
    canvas[y0:y1, x0:x1] = patch + alpha[:, :, None] * (
        colour[y0 - y : y1 - y, x0 - x : x1 - x] - patch
    )
    drawn[y0:y1, x0:x1] = alpha
    return drawn
