"""The released pseudo-labels and STeW weights (``LossConfig.released_code()``,
``claus_core/losses_released.py``): one hand case per item of issue 18, each derived by reading
``aayushjr/HybridCLAUS`` d3d7fd9 ``ucf101_dataloader.py`` (line numbers in the comments), beside
what the paper's version (the default, ``claus_core.losses``) does on the same input.

The released Gaussian is in clip positions: ``G(d) = exp(-d^2 / (2 (4/3)^2)) = exp(-9 d^2 / 32)``,
G(1) = 0.75484, G(2) = 0.32465.
"""

from __future__ import annotations

import numpy as np
import pytest

from claus_core.data.types import Tube, VideoRecord
from claus_core.losses import LossConfig, pseudo_label_masks, stew_weights
from claus_core.losses_released import (
    released_clip_weights,
    released_pseudo_label_masks,
    released_tube_frames,
)

G1, G2 = float(np.exp(-9 / 32)), float(np.exp(-36 / 32))


def one_tube(start: int, end: int, boxes: dict[int, tuple[int, int, int, int]]) -> VideoRecord:
    """A 24 x 16 video of 20 frames with one tube; ``boxes`` on some frames, (0, 0, 2, 2) elsewhere."""
    rows = np.array([boxes.get(f, (0, 0, 2, 2)) for f in range(start, end)], dtype=np.float32)
    return VideoRecord("v", 0, 20, 24, 16, (Tube(0, start, end, rows),))


def columns(mask: np.ndarray) -> tuple[int, int]:  # [H, W] bool -> first and last+1 column
    painted = np.flatnonzero(mask.any(axis=0))
    return int(painted[0]), int(painted[-1]) + 1


def test_interpolation_reaches_the_next_key_box_one_frame_early_with_truncated_corners() -> None:
    # keys 2 (x 0..4) and 6 (x 8..12): np.linspace(pt1, pt2, 6 - 2 = 4) (l.302) gives x1 =
    # 0, 8/3, 16/3, 8 -> int32 0, 2, 5, 8 on frames 2, 3, 4, 5: frame 5 already has the key box
    # of frame 6, and 8/3 is truncated to 2 (rounding would give 3)
    video = one_tube(0, 20, {2: (0, 0, 4, 4), 6: (8, 0, 4, 4)})
    masks = released_pseudo_label_masks(video, [2, 6])
    assert [columns(masks[f]) for f in (2, 3, 4, 5, 6)] == [
        (0, 4),
        (2, 6),
        (5, 9),
        (8, 12),
        (8, 12),
    ]
    paper = pseudo_label_masks(video, [2, 6])  # linear in x, y, w, h: frame 5 at x 6..10
    assert columns(paper[5]) == (6, 10)


def test_the_tubes_last_frame_is_never_painted_even_when_annotated() -> None:
    # tube [0, 20): ef = 19; the last slice [a_last:ef] = [19:19] is empty (l.309-310), and one
    # annotated frame paints [sf:ef] = [0:19] (l.292)
    video = one_tube(0, 20, {5: (4, 4, 4, 4), 19: (10, 4, 4, 4)})
    assert not released_pseudo_label_masks(video, [5, 19])[19].any()
    assert not released_pseudo_label_masks(video, [19])[19].any()
    assert released_pseudo_label_masks(video, [19])[0].any()  # held back to sf
    assert pseudo_label_masks(video, [5, 19])[19].any()  # the paper: the GT box there


def test_the_gaussian_is_in_clip_positions_so_sigma_depends_on_the_skip() -> None:
    # l.146-189: sigma = 4/3 positions. Annotated frame 0, weight 2 frames away: at skip 2 that
    # is 1 position (G(1)); at skip 1, 2 positions (G(2))
    blank = np.zeros((8, 2, 2))
    at_skip2 = released_clip_weights(blank, np.arange(0, 16, 2), [0], skip=2)
    at_skip1 = released_clip_weights(blank, np.arange(8), [0], skip=1)
    assert at_skip2[1, 0, 0] == pytest.approx(G1) and at_skip1[2, 0, 0] == pytest.approx(G2)
    paper = stew_weights(np.zeros((16, 2, 2), bool), np.eye(16, dtype=bool)[0])
    assert paper[2, 0, 0] == pytest.approx(np.exp(-4 / (2 * (8 / 3) ** 2)))  # frames, any skip


def test_only_annotated_frames_inside_the_clip_count() -> None:
    # annotated frame 8 just after the clip [0..7]: no position is annotated, every weight 0
    weights = released_clip_weights(np.zeros((8, 2, 2)), np.arange(8), [8], skip=1)
    assert not weights.any()
    paper = stew_weights(np.zeros((9, 2, 2), bool), np.eye(9, dtype=bool)[8])
    assert paper[7, 0, 0] > 0.9  # the paper: one frame from an annotated frame


def test_at_skip_2_a_position_counts_as_annotated_when_the_next_frame_is() -> None:
    # span 0, 2, ..., 14 and annotated frame 3: position 1 (frame 2) counts, 2 + 1 = 3 (l.169)
    weights = released_clip_weights(np.zeros((8, 2, 2)), np.arange(0, 16, 2), [3], skip=2)
    assert weights[1, 0, 0] == 1.0 and weights[0, 0, 0] == pytest.approx(G1)
    at_skip1 = released_clip_weights(np.zeros((8, 2, 2)), np.arange(2, 10), [3], skip=1)
    assert at_skip1[0, 0, 0] == pytest.approx(G1)  # skip 1: only frame 3 itself, position 1


def test_the_spatial_window_wraps_for_the_first_two_positions() -> None:
    # annotated position 2 only; a pixel foreground on positions 6 and 7 (l.201-217): at j = 0
    # the slice [min(-2, 0):max(3, 8)] = [-2:8] is positions 6-7 (mean 1), at j = 1 [-1:8] is
    # position 7 (mean 1), at j = 3 [0:8] the whole clip (mean 2/8); times G(|j - 2|)
    masks = np.zeros((8, 1, 1))
    masks[6:8] = 1.0
    weights = released_clip_weights(masks, np.arange(8), [2], skip=1)
    assert weights[:4, 0, 0] == pytest.approx([G2 * 1.0, G1 * 1.0, 1.0, G1 * 0.25])


def test_annotated_frames_come_from_one_tube_drawn_at_random() -> None:
    # l.255-264: tube 0 [0, 10) holds frame 5, tube 1 [10, 20) frame 15; a clip sees one of them
    boxes = np.ones((10, 4), dtype=np.float32)
    video = VideoRecord("v", 0, 20, 8, 8, (Tube(0, 0, 10, boxes), Tube(0, 10, 20, boxes)))
    drawn = {
        tuple(released_tube_frames(video, [5, 15], np.random.default_rng(s))) for s in range(40)
    }
    assert drawn == {(5,), (15,)}
    # a tube without annotated frames falls back to the first one that has some
    assert {
        tuple(released_tube_frames(video, [5], np.random.default_rng(s))) for s in range(40)
    } == {(5,)}


def test_released_code_is_the_released_stew_and_not_the_default() -> None:
    assert LossConfig.released_code().released and not LossConfig().released
    with pytest.raises(ValueError, match="released=True is the released code's STeW"):
        LossConfig(variant="frame", released=True)
