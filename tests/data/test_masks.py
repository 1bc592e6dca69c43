"""Tests of the run-length mask store (claus_core.data.masks)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from claus_core.data.masks import (
    MAX_RUN,
    RunLengthMasks,
    decode_runs,
    encode_runs,
    mask_boxes,
    pack_runs,
    unpack_runs,
)
from claus_core.data.types import DataError

mask_arrays = st.tuples(st.integers(0, 4), st.integers(1, 9), st.integers(1, 9)).flatmap(
    lambda shape: arrays(np.bool_, shape)
)


@settings(max_examples=150, deadline=None)
@given(mask_arrays)
def test_round_trip_property(masks: np.ndarray) -> None:
    store = RunLengthMasks.encode(masks)
    assert (store.num_frames, store.height, store.width) == masks.shape
    decoded = store.array()
    assert decoded.dtype == np.bool_ and decoded.shape == masks.shape
    assert np.array_equal(decoded, masks)
    for index in range(len(masks)):
        assert np.array_equal(store.frame(index), masks[index])
        first, last = store.run_offsets[index : index + 2]
        assert store.runs[first:last][1::2].sum() == masks[index].sum()  # odd runs: foreground
    assert np.array_equal(unpack_runs(pack_runs(store.runs)), store.runs)


@settings(max_examples=100, deadline=None)
@given(mask_arrays.filter(lambda m: len(m) > 0 and m.any(axis=(1, 2)).all()))
def test_mask_boxes_property(masks: np.ndarray) -> None:
    boxes = mask_boxes(masks)
    for mask, (x, y, w, h) in zip(masks, boxes, strict=True):
        inside = np.zeros_like(mask)
        inside[y : y + h, x : x + w] = True
        assert not (mask & ~inside).any()  # the box holds every foreground pixel
        assert mask[y].any() and mask[y + h - 1].any()  # and is tight
        assert mask[:, x].any() and mask[:, x + w - 1].any()


def test_layout_is_column_major_background_first() -> None:
    mask = np.array([[[0, 1], [1, 1]]], dtype=bool)  # columns: (0, 1), (1, 1)
    runs, offsets = encode_runs(mask)
    assert runs.tolist() == [1, 3] and offsets.tolist() == [0, 2]
    starts_foreground = np.array([[[1, 0], [0, 0]], [[0, 0], [0, 1]]], dtype=bool)
    runs, offsets = encode_runs(starts_foreground)
    assert runs.tolist() == [0, 1, 3, 3, 1] and offsets.tolist() == [0, 3, 5]
    assert runs.dtype == np.uint16


def test_long_runs_are_split_by_zero_length_runs() -> None:
    height, width = 300, 300  # 90,000 pixels > 65,535
    masks = np.zeros((3, height, width), dtype=bool)
    masks[1, 0, 0] = True
    masks[2] = True
    store = RunLengthMasks.encode(masks)
    assert store.runs.max() <= MAX_RUN
    assert store.runs.tolist() == [
        MAX_RUN, 0, 90_000 - MAX_RUN,  # all background
        0, 1, MAX_RUN, 0, 90_000 - 1 - MAX_RUN,  # one foreground pixel first
        0, MAX_RUN, 0, 90_000 - MAX_RUN,  # all foreground
    ]  # fmt: skip
    assert store.run_offsets.tolist() == [0, 3, 8, 12]
    assert np.array_equal(store.array(), masks)
    exact = np.zeros((1, 2, MAX_RUN), dtype=bool)  # two runs of exactly MAX_RUN
    assert RunLengthMasks.encode(exact).runs.tolist() == [MAX_RUN, 0, MAX_RUN]


def test_frame_indexing_and_immutability() -> None:
    masks = np.zeros((2, 3, 4), dtype=bool)
    masks[1, 2, 3] = True
    store = RunLengthMasks.encode(masks)
    assert np.array_equal(store.frame(-1), masks[1])
    with pytest.raises(IndexError, match="frame 2 out of range"):
        store.frame(2)
    assert not store.runs.flags.writeable and not store.run_offsets.flags.writeable
    empty = RunLengthMasks.encode(np.zeros((0, 3, 4), dtype=bool))
    assert empty.num_frames == 0 and empty.array().shape == (0, 3, 4)


def test_decode_runs_matches_the_store() -> None:
    masks = np.random.default_rng(3).random((5, 6, 7)) < 0.3
    runs, offsets = encode_runs(masks)
    assert np.array_equal(decode_runs(runs, offsets, height=6, width=7), masks)


@pytest.mark.parametrize(
    ("runs", "offsets", "message"),
    [
        ([1, 3], [0, 2], None),
        ([1, 2], [0, 2], "cover"),
        ([1, 3, 4], [0, 2], "offsets"),
        ([4, 4], [0, 2, 1, 2], "offsets"),
        ([-1, 5], [0, 2], "non-negative"),
        ([1.0, 3.0], [0, 2], "integers"),
        ([70_000, 0], [0, 2], "uint16"),
    ],
)
def test_constructor_checks_runs(runs: list[float], offsets: list[int], message: str) -> None:
    if message is None:
        RunLengthMasks(2, 2, np.array(runs), np.array(offsets))
        return
    with pytest.raises(DataError, match=message):
        RunLengthMasks(2, 2, np.array(runs), np.array(offsets))


def test_bad_sizes_and_planes() -> None:
    with pytest.raises(DataError, match="size must be positive"):
        RunLengthMasks(0, 2, np.array([0]), np.array([0, 1]))
    with pytest.raises(ValueError, match="frame, H, W"):
        encode_runs(np.zeros((2, 3), dtype=bool))
    with pytest.raises(ValueError, match="frame, H, W"):
        encode_runs(np.zeros((2, 0, 3), dtype=bool))
    with pytest.raises(ValueError, match="65535"):
        pack_runs(np.array([70_000]))
    with pytest.raises(DataError, match="byte planes"):
        unpack_runs(np.zeros((3, 4), dtype=np.uint8))
    planes = pack_runs(np.array([0, 255, 256, MAX_RUN]))
    assert planes.tolist() == [[0, 255, 0, 255], [0, 0, 1, 255]]


def test_mask_boxes_convention_and_empty_frames() -> None:
    masks = np.zeros((2, 5, 6), dtype=bool)
    masks[0, 1:4, 2:6] = True  # rows 1..3, columns 2..5
    masks[1, 4, 0] = True
    assert mask_boxes(masks).tolist() == [[2, 1, 4, 3], [0, 4, 1, 1]]
    masks[1] = False
    with pytest.raises(ValueError, match=r"frame\(s\) \[1\] have no foreground"):
        mask_boxes(masks)
