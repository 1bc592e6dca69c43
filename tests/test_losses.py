"""Pseudo-labels, STeW weights, the three localization variants, spread and cluster losses."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from claus_core.data.raster import box_mask
from claus_core.data.types import DataError, Tube, VideoRecord
from claus_core.losses import (
    LossConfig,
    cluster_loss,
    distance_to_annotated,
    interpolate_boxes,
    localization_loss,
    localization_targets,
    pseudo_label_masks,
    spatial_consistency,
    spread_loss,
    spread_margin,
    stew_weights,
    weighted_bce,
    weighted_dice,
)


def _video(tubes: tuple[Tube, ...], *, num_frames: int = 10, width: int = 16, height: int = 12):
    return VideoRecord("Cls/v_test", 0, num_frames, width, height, tubes)


@dataclass
class _Masks:
    """A MaskSequence over a fixed array."""

    masks: np.ndarray  # [frame, H, W] bool

    @property
    def num_frames(self) -> int:
        return self.masks.shape[0]

    @property
    def height(self) -> int:
        return self.masks.shape[1]

    @property
    def width(self) -> int:
        return self.masks.shape[2]

    def frame(self, index: int) -> np.ndarray:
        return self.masks[index]

    def array(self) -> np.ndarray:
        return self.masks


# --- pseudo-labels ------------------------------------------------------------------------


def test_interpolate_boxes_hand_computed() -> None:
    boxes = np.zeros((6, 4), dtype=np.float32)  # tube over frames [2, 8)
    boxes[1] = (0, 0, 4, 4)  # frame 3
    boxes[4] = (6, 3, 4, 10)  # frame 6
    moving = Tube(label=0, start=2, end=8, boxes=boxes)
    unlabeled = Tube(label=0, start=8, end=10, boxes=np.ones((2, 4), dtype=np.float32))
    video = _video((moving, unlabeled))
    first, second = interpolate_boxes(video, [6, 3, 0])
    expected = np.array(
        [
            (0, 0, 4, 4),  # frame 2: held before the first annotated frame
            (0, 0, 4, 4),  # frame 3: annotated
            (2, 1, 4, 6),  # frame 4: 1/3 of the way
            (4, 2, 4, 8),  # frame 5: 2/3 of the way
            (6, 3, 4, 10),  # frame 6: annotated
            (6, 3, 4, 10),  # frame 7: held after the last annotated frame
        ],
        dtype=np.float32,
    )
    np.testing.assert_allclose(first, expected, atol=1e-6)
    assert second is None  # no annotated frame inside [8, 10)


def test_pseudo_label_masks_rasterize_interpolation_and_keep_ground_truth() -> None:
    boxes = np.tile(np.array([[1, 1, 3, 3]], dtype=np.float32), (6, 1))
    boxes[2] = (9, 5, 2, 2)  # GT on frame 4 (not annotated) differs from the interpolation
    boxes[4] = (5, 5, 3, 3)  # frame 6 annotated
    video = _video((Tube(0, 2, 8, boxes),))
    masks = pseudo_label_masks(video, [3, 6])
    assert masks.shape == (10, 12, 16) and masks.dtype == bool
    assert not masks[:2].any() and not masks[8:].any()  # outside the tube: background
    np.testing.assert_array_equal(masks[3], box_mask((1, 1, 3, 3), 12, 16))
    np.testing.assert_array_equal(masks[6], box_mask((5, 5, 3, 3), 12, 16))
    # frame 4: one third between (1, 1, 3, 3) and (5, 5, 3, 3), not the unseen GT box
    np.testing.assert_array_equal(masks[4], box_mask((1 + 4 / 3, 1 + 4 / 3, 3, 3), 12, 16))
    with pytest.raises(DataError, match="Cls/v_test"):
        pseudo_label_masks(video, [10])


def test_pseudo_labels_from_pixel_masks() -> None:
    pixel = np.zeros((5, 8, 8), dtype=bool)  # [frame, H, W]
    pixel[0, 1:3, 1:4] = True  # bbox (1, 1, 3, 2)
    pixel[0, 2, 1] = False  # not a box: the annotated frame keeps the real mask
    pixel[4, 5:7, 3:6] = True  # bbox (3, 5, 3, 2)
    boxes = np.zeros((5, 4), dtype=np.float32)  # tube boxes are not used with masks
    video = VideoRecord("Cls/v_masks", 0, 5, 8, 8, (Tube(0, 0, 5, boxes),), masks=_Masks(pixel))
    (interpolated,) = interpolate_boxes(video, [0, 4])
    np.testing.assert_allclose(interpolated[2], (2, 3, 3, 2))
    masks = pseudo_label_masks(video, [0, 4])
    np.testing.assert_array_equal(masks[0], pixel[0])
    np.testing.assert_array_equal(masks[2], box_mask((2, 3, 3, 2), 8, 8))


# --- STeW weights -------------------------------------------------------------------------


def _static_box_masks(num_frames: int = 12) -> np.ndarray:  # [frame, H, W] bool
    return np.repeat(box_mask((2, 2, 4, 3), 8, 10)[None], num_frames, axis=0)


def test_stew_weight_is_one_on_annotated_frames_and_in_unit_interval() -> None:
    rng = np.random.default_rng(0)
    masks = rng.random((9, 6, 7)) < 0.4
    annotated = np.zeros(9, dtype=bool)
    annotated[[2, 7]] = True
    weights = stew_weights(masks, annotated)
    assert weights.dtype == np.float32 and weights.shape == masks.shape
    assert (weights[annotated] == 1.0).all()
    assert weights.min() >= 0.0 and weights.max() <= 1.0
    agreement = stew_weights(masks, annotated, consistency="agreement")
    assert (agreement[annotated] == 1.0).all()
    assert agreement.min() >= 0.0 and agreement.max() <= 1.0


def test_stew_weight_non_increasing_with_distance_for_static_box() -> None:
    masks = _static_box_masks()
    annotated = np.zeros(12, dtype=bool)
    annotated[0] = True
    weights = stew_weights(masks, annotated, sigma=2.0)
    assert (np.diff(weights, axis=0) <= 0).all()
    expected = np.exp(-(np.arange(12) ** 2) / 8.0)  # consistency 1 everywhere: pure Gaussian
    np.testing.assert_allclose(weights[:, 3, 3], expected, rtol=1e-6)
    np.testing.assert_allclose(weights[:, 0, 0], expected, rtol=1e-6)
    np.testing.assert_array_equal(distance_to_annotated(annotated), np.arange(12))


def test_stew_weight_lower_on_moving_edge_than_inside_or_outside() -> None:
    # a box 8 px wide moving right by 1 px per frame; frame 4 annotated
    masks = np.zeros((9, 1, 20), dtype=bool)
    for frame in range(9):
        masks[frame, 0, frame : frame + 8] = True
    annotated = np.zeros(9, dtype=bool)
    annotated[4] = True
    for consistency in ("foreground_fraction", "agreement"):
        weights = stew_weights(masks, annotated, window=4, consistency=consistency)
        inside, edge, outside = weights[5, 0, 8], weights[5, 0, 5], weights[5, 0, 19]
        temporal = math.exp(-1 / (2 * (8 / 3) ** 2))
        assert inside == pytest.approx(temporal)  # foreground on frames 1..8
        assert outside == pytest.approx(temporal)  # never foreground
        assert edge < inside and edge < outside
    # foreground on 5 of the window's 8 frames (1..8)
    consistency = spatial_consistency(masks, window=4)
    assert consistency[5, 0, 5] == pytest.approx(5 / 8)


def test_stew_consistency_uses_a_local_window() -> None:
    masks = _static_box_masks(20)
    changed = masks.copy()
    changed[19] = False  # far from frame 5: outside its window of 4
    annotated = np.zeros(20, dtype=bool)
    annotated[0] = True
    np.testing.assert_array_equal(
        stew_weights(masks, annotated)[:15], stew_weights(changed, annotated)[:15]
    )
    assert not np.array_equal(stew_weights(masks, annotated), stew_weights(changed, annotated))


def test_stew_without_annotated_frame_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least one frame must be annotated"):
        stew_weights(_static_box_masks(4), np.zeros(4, dtype=bool))
    with pytest.raises(ValueError, match=r"annotated must be \[frame\]"):
        stew_weights(_static_box_masks(4), np.ones(3, dtype=bool))


# --- localization targets and loss --------------------------------------------------------


def _moving_video() -> VideoRecord:
    boxes = np.array([(1 + f, 2, 5, 4) for f in range(10)], dtype=np.float32)
    return _video((Tube(0, 0, 10, boxes),))


def test_localization_targets_variants() -> None:
    video = _moving_video()
    annotated = [1, 8]
    stew_masks, stew = localization_targets(video, annotated, LossConfig(variant="stew"))
    interp_masks, interp = localization_targets(video, annotated, LossConfig(variant="interpolate"))
    frame_masks, frame = localization_targets(video, annotated, LossConfig(variant="frame"))
    np.testing.assert_array_equal(stew_masks, interp_masks)
    is_annotated = np.isin(np.arange(10), annotated)
    np.testing.assert_array_equal(stew, stew_weights(stew_masks, is_annotated))
    assert (interp == 1.0).all()
    assert (frame[is_annotated] == 1.0).all() and (frame[~is_annotated] == 0.0).all()
    assert not frame_masks[~is_annotated].any()
    np.testing.assert_array_equal(frame_masks[is_annotated], stew_masks[is_annotated])
    with pytest.raises(ValueError, match="no annotated frame"):
        localization_targets(video, [], LossConfig())


def test_frame_variant_ignores_unannotated_frames() -> None:
    video = _moving_video()
    masks, weights = localization_targets(video, [2, 6], LossConfig(variant="frame"))
    target = torch.from_numpy(masks.astype(np.float32))
    weight = torch.from_numpy(weights)
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(target.shape, generator=generator)
    changed = logits.clone()
    unannotated = torch.ones(10, dtype=torch.bool)
    unannotated[[2, 6]] = False
    changed[unannotated] = torch.randn(changed[unannotated].shape, generator=generator) * 5
    config = LossConfig(variant="frame")
    assert localization_loss(logits, target, weight, config) == localization_loss(
        changed, target, weight, config
    )
    changed[2, 0, 0] += 1.0  # an annotated frame does count
    assert localization_loss(logits, target, weight, config) != localization_loss(
        changed, target, weight, config
    )


def test_bce_and_dice_hand_computed() -> None:
    logits = torch.tensor([0.0, math.log(3.0)])  # p = 0.5, 0.75
    target = torch.tensor([1.0, 0.0])
    ones = torch.ones(2)
    # BCE: -log 0.5 and -log(1 - 0.75), averaged over the two pixels
    assert weighted_bce(logits, target, ones).item() == pytest.approx(1.5 * math.log(2.0))
    half = torch.tensor([1.0, 0.0])
    assert weighted_bce(logits, target, half).item() == pytest.approx(math.log(2.0) / 2)
    # dice: 1 - (2 * 0.5 + 1) / (1.25 + 1 + 1)
    assert weighted_dice(logits, target, ones).item() == pytest.approx(1 - 2 / 3.25)
    # weight 0 on the second pixel: 1 - (2 * 0.5 + 1) / (0.5 + 1 + 1)
    assert weighted_dice(logits, target, half).item() == pytest.approx(1 - 2 / 2.5)
    config = LossConfig(bce_weight=2.0, dice_weight=0.5)
    expected = 2.0 * 1.5 * math.log(2.0) + 0.5 * (1 - 2 / 3.25)
    assert localization_loss(logits, target, ones, config).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="one shape"):
        weighted_bce(logits, target, torch.ones(3))


def test_spread_loss_hand_computed_and_margin_schedule() -> None:
    scores = torch.tensor([[0.9, 0.5, 0.1], [0.3, 0.2, 0.25]])
    labels = torch.tensor([0, 2])
    # clip 0: (0.5 - 0.4)^2 + 0; clip 1: (0.5 + 0.05)^2 + (0.5 - 0.05)^2
    expected = (0.01 + (0.3025 + 0.2025)) / 2
    assert spread_loss(scores, labels, 0.5).item() == pytest.approx(expected)
    config = LossConfig()
    assert spread_margin(0.0, config) == pytest.approx(0.2)
    assert spread_margin(0.5, config) == pytest.approx(0.55)
    assert spread_margin(2.0, config) == pytest.approx(0.9)


def test_cluster_loss_hand_computed() -> None:
    latent = torch.tensor([[1.0, 2.0], [0.0, 0.0]], requires_grad=True)
    centroids = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    loss = cluster_loss(latent, centroids, torch.tensor([0, 1]), beta=0.1)
    assert loss.item() == pytest.approx(0.1 / 2 * (5.0 + 2.0) / 2)
    loss.backward()
    # d/dz of beta/2 * ||z - mu||^2 / B = beta * (z - mu) / B
    np.testing.assert_allclose(latent.grad.numpy(), 0.1 * np.array([[1, 2], [-1, -1]]) / 2)


def test_loss_config_rejects_unknown_variant() -> None:
    with pytest.raises(ValueError, match="variant"):
        LossConfig(variant="boxes")  # type: ignore[arg-type]
