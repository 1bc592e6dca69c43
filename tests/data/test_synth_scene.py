"""Procedural drawing primitives of the synthetic benchmarks (claus_core.data.synth_scene)."""

from __future__ import annotations

import numpy as np
import pytest

from claus_core.data.synth_scene import (
    ACTOR_TEXTURES,
    SHAPES,
    ActorStyle,
    background_canvas,
    camera_offsets,
    draw_actor,
    pattern,
    plan_distractor_path,
    stable_seed,
)


def test_stable_seed_is_a_fixed_sha256_value() -> None:
    # fixed across processes (Python's str hash is salted per process; this is not)
    assert stable_seed(0, "synth_ucf24", "Biking/v_Biking_g01_c01") == 3395568675963812910
    assert stable_seed(1, "synth_ucf24", "Biking/v_Biking_g01_c01") != stable_seed(
        0, "synth_ucf24", "Biking/v_Biking_g01_c01"
    )
    assert 0 <= stable_seed("x") < 2**63


def test_background_is_deterministic_and_in_range() -> None:
    a = background_canvas(np.random.default_rng(3), 40, 48)
    b = background_canvas(np.random.default_rng(3), 40, 48)
    assert a.shape == (40, 48, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert a.std() > 0.02  # textured, not flat


def test_camera_offsets_static_centred_moving_within_margin() -> None:
    static = camera_offsets(np.random.default_rng(0), 20, 6, moving=False)
    np.testing.assert_array_equal(static, np.full((20, 2), 6.0))
    moving = camera_offsets(np.random.default_rng(0), 40, 6, moving=True)
    assert moving.min() >= 0 and moving.max() <= 12
    assert np.ptp(moving, axis=0).min() > 4  # pans over most of the margin on both axes


@pytest.mark.parametrize("kind", ACTOR_TEXTURES)
def test_textures_are_two_tone(kind: str) -> None:
    dy, dx = np.mgrid[-8:8, -8:8].astype(np.float32)
    tone = pattern(kind, dx, dy, period=4.0, angle=0.1, phase=0.3)
    assert set(np.unique(tone)) == {0.0, 1.0}


def test_unknown_texture_and_shape_raise() -> None:
    grid = np.zeros((2, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="unknown texture"):
        pattern("plaid", grid, grid, period=3.0, angle=0.0, phase=0.0)
    style = ActorStyle("blob", "dots", "pulse", np.zeros(3), np.ones(3), 3.0, 0.0, 1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="unknown shape"):
        draw_actor(np.zeros((16, 16, 3), np.float32), np.array([2, 2, 8, 8]), style, 0)


@pytest.mark.parametrize("shape", SHAPES)
def test_actor_stays_inside_its_box(shape: str) -> None:
    canvas = np.zeros((32, 32, 3), dtype=np.float32)
    style = ActorStyle(shape, "checker", "sway", np.zeros(3), np.ones(3), 3.0, 0.0, 1.0, 0.0, 1.0)
    coverage = draw_actor(canvas, np.array([8.0, 6.0, 10.0, 16.0]), style, t=2)
    inside = np.zeros((32, 32), dtype=bool)
    inside[6:22, 8:18] = True
    assert coverage[inside].sum() > 0.4 * inside.sum()
    assert coverage[~inside].max() == 0


def test_pulse_changes_the_outline_over_time() -> None:
    style = ActorStyle("box", "dots", "pulse", np.zeros(3), np.ones(3), 3.0, 0.0, 1.0, 0.0, 0.0)
    areas = [
        draw_actor(np.zeros((32, 32, 3), np.float32), np.array([4, 4, 20, 20]), style, t).sum()
        for t in range(6)
    ]
    assert max(areas) > 1.3 * min(areas)


def test_distractor_path_avoids_gt_boxes_or_hides() -> None:
    rng = np.random.default_rng(0)
    forbidden = [np.array([[10.0, 10.0, 12.0, 12.0]], dtype=np.float32)] * 30
    boxes, visible = plan_distractor_path(
        rng,
        size=(5.0, 6.0),
        num_frames=30,
        canvas_size=40,
        offsets=np.zeros((30, 2), np.float32),
        forbidden=forbidden,
    )
    assert boxes.shape == (30, 4) and visible.dtype == bool
    for box, shown in zip(boxes, visible, strict=True):
        x, y, w, h = box
        overlaps = x < 23 and 9 < x + w and y < 23 and 9 < y + h
        assert not (shown and overlaps)
    assert visible.any()
    with pytest.raises(ValueError, match="tries"):
        plan_distractor_path(
            rng,
            size=(5.0, 6.0),
            num_frames=3,
            canvas_size=40,
            offsets=np.zeros((3, 2), np.float32),
            forbidden=forbidden[:3],
            tries=0,
        )
