"""Clip sampling: coverage of sliding clips, training clips, clip tensors and targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from claus_core.data.clips import (
    clip_span,
    clip_targets,
    clip_tensor,
    is_padding,
    sample_clip,
    sliding_clips,
)


def test_sliding_clips_small_cases() -> None:
    np.testing.assert_array_equal(sliding_clips(10, 4), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 9, 9]])
    # skip 2: interleaved starts 0, 1 then 6, 7; indices past frame 9 become 9
    clips = sliding_clips(10, 3, skip=2)
    np.testing.assert_array_equal(clips, [[0, 2, 4], [1, 3, 5], [6, 8, 9], [7, 9, 9]])
    np.testing.assert_array_equal(
        is_padding(clips, skip=2),
        [[False, False, False], [False, False, False], [False, False, True], [False, False, True]],
    )
    np.testing.assert_array_equal(sliding_clips(3, 5), [[0, 1, 2, 2, 2]])


@settings(max_examples=150, deadline=None)
@given(
    num_frames=st.integers(1, 120),
    clip_length=st.integers(1, 9),
    skip=st.integers(1, 3),
    data=st.data(),
)
def test_sliding_clips_cover_every_frame(
    num_frames: int, clip_length: int, skip: int, data: st.DataObject
) -> None:
    stride = data.draw(st.none() | st.integers(1, clip_length * skip))
    clips = sliding_clips(num_frames, clip_length, skip=skip, stride=stride)
    assert clips.shape[1] == clip_length
    assert clips.min() >= 0 and clips.max() == num_frames - 1
    real = ~is_padding(clips, skip=skip)
    covered = np.bincount(clips[real], minlength=num_frames)
    assert (covered >= 1).all()
    if stride is None:
        assert (covered == 1).all()  # the default stride covers each frame exactly once
    # padding only at the end of a clip and only repeats the last frame
    assert (clips[~real] == num_frames - 1).all()
    assert (np.diff(real.astype(int), axis=1) <= 0).all()


def test_sliding_clips_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_frames"):
        sliding_clips(0, 8)
    with pytest.raises(ValueError, match="stride"):
        sliding_clips(20, 4, skip=2, stride=9)


@settings(max_examples=150, deadline=None)
@given(
    num_frames=st.integers(1, 80),
    clip_length=st.integers(1, 9),
    skips=st.lists(st.integers(1, 3), min_size=1, max_size=2, unique=True),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_sample_clip_contains_anchor_inside_video(
    num_frames: int, clip_length: int, skips: list[int], seed: int, data: st.DataObject
) -> None:
    anchors = data.draw(
        st.lists(st.integers(0, num_frames - 1), max_size=4, unique=True), label="anchors"
    )
    clip = sample_clip(
        num_frames, clip_length, np.random.default_rng(seed), skips=skips, anchor_frames=anchors
    )
    again = sample_clip(
        num_frames, clip_length, np.random.default_rng(seed), skips=skips, anchor_frames=anchors
    )
    np.testing.assert_array_equal(clip, again)
    assert clip.shape == (clip_length,)
    assert clip.min() >= 0 and clip.max() <= num_frames - 1
    if anchors:
        assert np.isin(clip, anchors).any()
    if num_frames >= clip_length:
        steps = set(np.diff(clip).tolist())
        assert len(steps) <= 1 and steps <= set(skips) | {1}
    else:
        np.testing.assert_array_equal(clip[:num_frames], np.arange(num_frames))


def test_sample_clip_draws_both_skip_rates_and_all_positions() -> None:
    rng = np.random.default_rng(0)
    clips = [sample_clip(100, 8, rng, anchor_frames=[50]) for _ in range(400)]
    steps = {int(c[1] - c[0]) for c in clips}
    assert steps == {1, 2}
    positions = {int(np.flatnonzero(c == 50)[0]) for c in clips}
    assert positions == set(range(8))
    assert clip_span(8, 2) == 15


def test_clip_tensor_layout_values_and_resize() -> None:
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, size=(6, 5, 7, 3), dtype=np.uint8)  # [frame, H, W, 3]
    clip = clip_tensor(frames, [4, 1, 1])
    assert clip.shape == (3, 3, 5, 7) and clip.dtype == torch.float32
    np.testing.assert_allclose(clip[:, 0].numpy(), frames[4].transpose(2, 0, 1) / 255.0, atol=1e-7)
    resized = clip_tensor(frames, [0, 1], size=(10, 14))
    assert resized.shape == (3, 2, 10, 14)
    assert 0.0 <= resized.min() and resized.max() <= 1.0
    flat = np.full((2, 5, 7, 3), 200, dtype=np.uint8)
    np.testing.assert_allclose(clip_tensor(flat, [0, 1], size=(3, 4)).numpy(), 200 / 255)
    with pytest.raises(ValueError, match=r"\[frame, H, W, 3\] uint8"):
        clip_tensor(frames.astype(np.float32), [0])


def test_clip_targets_nearest_resize() -> None:
    masks = np.zeros((3, 2, 2), dtype=bool)  # [frame, H, W]
    masks[1, 0, 1] = True
    weights = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    target, weight = clip_targets(masks, weights, [1, 2], size=(4, 4))
    assert target.shape == weight.shape == (2, 4, 4)
    expected_target = np.zeros((4, 4), dtype=np.float32)
    expected_target[0:2, 2:4] = 1.0
    np.testing.assert_array_equal(target[0].numpy(), expected_target)
    np.testing.assert_array_equal(
        weight[1].numpy(), np.kron(weights[2], np.ones((2, 2), dtype=np.float32))
    )
    same_target, same_weight = clip_targets(masks, weights, [1], size=(2, 2))
    np.testing.assert_array_equal(same_target[0].numpy(), masks[1].astype(np.float32))
    np.testing.assert_array_equal(same_weight[0].numpy(), weights[1])
