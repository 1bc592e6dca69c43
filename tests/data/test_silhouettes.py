"""Mask resizing and silhouette pasting used by SynthJHMDB21 (claus_core.data.silhouettes)."""

from __future__ import annotations

import numpy as np
import pytest

from claus_core.data.silhouettes import (
    ArrayMasks,
    ResizedMasks,
    area_matrix,
    mask_bounds,
    paste,
    resize_coverage,
    silhouette_clip,
)
from claus_core.data.types import DataError


@pytest.mark.parametrize(("source", "target"), [(240, 64), (320, 64), (10, 3), (7, 7), (5, 8)])
def test_area_matrix_rows_average_their_footprint(source: int, target: int) -> None:
    weights = area_matrix(source, target)
    assert weights.shape == (target, source)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    # each source pixel contributes its full area once over all targets
    np.testing.assert_allclose(weights.sum(axis=0), target / source, rtol=1e-5)


def test_resize_coverage_is_the_area_fraction() -> None:
    masks = np.zeros((2, 8, 12), dtype=bool)
    masks[0, :4, :] = True  # top half
    masks[1, :, :3] = True  # left quarter
    small = resize_coverage(masks, 4, 4)
    assert small.shape == (2, 4, 4)
    np.testing.assert_allclose(small[0], np.repeat([[1.0], [1.0], [0.0], [0.0]], 4, axis=1))
    np.testing.assert_allclose(small[1][:, 0], 1.0)
    np.testing.assert_allclose(small[1][:, 1:], 0.0, atol=1e-6)
    np.testing.assert_allclose(small.mean(axis=(1, 2)), masks.mean(axis=(1, 2)), rtol=1e-5)


def test_array_masks_follow_the_protocol() -> None:
    data = np.zeros((3, 5, 6), dtype=np.uint8)
    data[1, 2, 3] = 7
    masks = ArrayMasks(data)
    assert (masks.num_frames, masks.height, masks.width) == (3, 5, 6)
    assert masks.frame(1).dtype == bool and masks.frame(1)[2, 3]
    assert masks.array().sum() == 1
    with pytest.raises(DataError, match="shape"):
        ArrayMasks(np.zeros((5, 6), dtype=bool))


def test_resized_masks_select_frames_and_threshold_at_half() -> None:
    full = np.zeros((4, 240, 320), dtype=bool)
    full[2, 0:120, 0:160] = True  # exactly the top-left quarter
    full[3, 0:60, 0:80] = True
    resized = ResizedMasks(ArrayMasks(full), [2, 3], height=32, width=32)
    assert (resized.num_frames, resized.height, resized.width) == (2, 32, 32)
    assert resized.frame(0)[:16, :16].all() and not resized.frame(0)[16:, :].any()
    assert resized.array().shape == (2, 32, 32)
    assert resized.array()[1].sum() == 64
    with pytest.raises(DataError, match="outside"):
        ResizedMasks(ArrayMasks(full), [0, 4], height=32, width=32)


def test_silhouette_clip_crops_to_the_union_box() -> None:
    masks = np.zeros((2, 50, 50), dtype=bool)
    masks[0, 10:20, 10:15] = True
    masks[1, 15:30, 12:20] = True
    assert mask_bounds(masks) == (10, 10, 20, 30)
    clip = silhouette_clip(masks, height=20, width=10)
    assert clip.shape == (2, 20, 10)
    assert clip[0, :10, :5].min() > 0.99 and clip[0, 10:, :].max() == 0
    assert mask_bounds(np.zeros((1, 4, 4), dtype=bool)) is None
    assert silhouette_clip(np.zeros((1, 4, 4), dtype=bool), height=3, width=2).max() == 0


def test_paste_cuts_at_the_canvas_border() -> None:
    canvas = np.zeros((10, 10, 3), dtype=np.float32)
    coverage = np.ones((4, 4), dtype=np.float32)
    colour = np.ones((4, 4, 3), dtype=np.float32)
    drawn = paste(canvas, coverage, np.array([8.0, -2.0]), colour)
    assert drawn.sum() == 4  # 2 columns x 2 rows remain inside
    assert canvas[0:2, 8:10].min() == 1 and canvas.sum() == 12
    assert paste(canvas, coverage, np.array([20.0, 20.0]), colour).sum() == 0
