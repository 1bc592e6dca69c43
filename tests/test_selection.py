"""Tests of claus_core.selection: Algorithm 1 (greedy damped frame picking, video scores, the
cluster-limited budget loop) and every baseline strategy of Tables 2, 5 and 8."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claus_core.cost import CostModel, annotation_cost
from claus_core.data.types import AnnotationState, DataError, Tube, VideoPool, VideoRecord
from claus_core.score_table import ScoreTable
from claus_core.selection import (
    RECORD_COLUMNS,
    STRATEGIES,
    Budget,
    SelectionConfig,
    SelectionContext,
    SelectionResult,
    claus,
    initial_selection,
    intra_sample,
    pick_frames,
    sample,
    suppression_weights,
    uncertainty,
)

G1 = math.exp(-0.5)  # g(1) with sigma = 1


def select_frames(scores, k: int, **options) -> list[int]:
    """The frames pick_frames picks, in pick order."""
    return list(pick_frames(scores, k, **options).frames)


# --------------------------------------------------------------------------- helpers


def video(name: str, num_frames: int, *tubes: tuple[int, int], label: int = 0) -> VideoRecord:
    """A synthetic video; tubes given as [start, end), boxes are irrelevant here."""
    spans = tubes or ((0, num_frames),)
    built = tuple(Tube(label, s, e, np.zeros((e - s, 4), dtype=np.float32)) for s, e in spans)
    return VideoRecord(name, label, num_frames, 320, 240, built)


def pool_of(*videos: VideoRecord) -> VideoPool:
    return VideoPool("toy", "train", ("a", "b"), tuple(videos))


def naive_picks(
    scores: list[float],
    k: int,
    window: int,
    sigma: float,
    mode: str,
    annotated: list[int],
) -> tuple[list[int], list[float]]:
    """select_frames written as the plainest loop over frames (the test oracle)."""
    values = [float(x) for x in scores]
    weights = [math.exp(-(d * d) / (2.0 * sigma * sigma)) for d in range(window + 1)]
    blocked = [False] * len(values)

    def damp(centre: int) -> None:
        for j in range(max(0, centre - window), min(len(values), centre + window + 1)):
            if j != centre:
                d = abs(j - centre)
                if mode == "multiply":
                    values[j] = values[j] * (1.0 - weights[d])
                else:
                    values[j] = values[j] - weights[d]

    marks = sorted(set(annotated))
    for frame in marks:
        blocked[frame] = True
    for frame in marks:
        damp(frame)
    picks, picked_values = [], []
    for _ in range(min(k, len(values) - len(marks))):
        best = -1
        for j in range(len(values)):
            if not blocked[j] and (best < 0 or values[j] > values[best]):
                best = j
        picks.append(best)
        picked_values.append(values[best])
        blocked[best] = True
        damp(best)
    return picks, picked_values


def uniform_scores(pool: VideoPool, value: float = 1.0) -> dict[str, dict[str, np.ndarray]]:
    table = {v.name: np.full(v.num_frames, value) for v in pool.videos}
    return {"uncertainty": table, "entropy": table}


def chosen(result) -> list[tuple[str, int]]:
    return [(r["video"], r["frame"]) for r in result.records]


# --------------------------------------------------------------------------- select_frames


def test_multiply_mode_hand_computed() -> None:
    scores = [0.5, 1.0, 0.9, 0.2, 0.8]
    # pick 1; s0 = 0.5 (1 - g1) = 0.197, s2 = 0.9 (1 - g1) = 0.354; pick 4 (0.8);
    # s3 = 0.2 (1 - g1) = 0.079; then 2, 0, 3
    assert select_frames(scores, 5, window=1, sigma=1.0) == [1, 4, 2, 0, 3]
    assert select_frames(scores, 5, window=0, sigma=1.0) == [1, 2, 4, 0, 3]
    assert select_frames(scores, 2, window=1, sigma=1.0) == [1, 4]


def test_multiply_and_subtract_differ_by_hand() -> None:
    scores = [1.0, 0.8, 0.3]
    # multiply: s1 = 0.8 (1 - g1) = 0.3148 > 0.3; subtract: s1 = 0.8 - g1 = 0.1935 < 0.3
    assert select_frames(scores, 3, window=1, sigma=1.0, mode="multiply") == [0, 1, 2]
    assert select_frames(scores, 3, window=1, sigma=1.0, mode="subtract") == [0, 2, 1]
    picks = pick_frames(scores, 3, window=1, sigma=1.0, mode="multiply")
    # frame 2 is a neighbour of the second pick: damped once before it is picked
    assert picks.pick_scores == (1.0, 0.8 * (1.0 - G1), 0.3 * (1.0 - G1))
    assert picks.raw_scores == (1.0, 0.8, 0.3)
    total = 1.0 + 0.8 * (1.0 - G1) + 0.3 * (1.0 - G1)
    assert picks.video_score("sum") == total
    assert picks.video_score("mean") == total / 3
    assert picks.video_score("raw_sum") == 1.0 + 0.8 + 0.3
    subtracted = pick_frames(scores, 3, window=1, sigma=1.0, mode="subtract")
    assert subtracted.pick_scores == (1.0, 0.3, 0.8 - G1 - G1)


def test_default_window_and_sigma_are_the_papers() -> None:
    weights = suppression_weights(4, 8 / 3)
    assert weights[0] == 1.0
    assert weights[4] == pytest.approx(math.exp(-16 / (2 * (8 / 3) ** 2)))
    scores = np.zeros(20)
    scores[10], scores[14], scores[15] = 1.0, 0.9, 0.5
    # frame 14 (d = 4) keeps 0.9 (1 - g(4)) = 0.61 > 0.5: picked second, then 15
    assert select_frames(scores, 3) == [10, 14, 15]
    assert select_frames(scores, 3, window=4, sigma=8 / 3) == [10, 14, 15]


def test_ties_go_to_the_lowest_index() -> None:
    assert select_frames([1.0] * 5, 5, window=0) == [0, 1, 2, 3, 4]
    # 0, then 2 (1 is damped), then 4; 1 and 3 are damped twice alike: 1 first
    assert select_frames([1.0] * 5, 5, window=1, sigma=1.0) == [0, 2, 4, 1, 3]


def test_annotated_frames_damp_and_are_never_picked() -> None:
    scores = [0.9, 1.0, 0.8, 0.7]
    # frame 1 is annotated: s0 = 0.354, s2 = 0.315; pick 3, damping s2 again; then 0, 2
    assert select_frames(scores, 10, window=1, sigma=1.0, annotated=[1]) == [3, 0, 2]
    assert select_frames(scores, 10, annotated=[0, 1, 2, 3]) == []


def test_k_larger_than_the_video_and_k_zero() -> None:
    assert sorted(select_frames([0.3, 0.1, 0.2], 100)) == [0, 1, 2]
    assert select_frames([0.3, 0.1, 0.2], 0) == []
    assert select_frames([], 4) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scores": [0.1, math.nan], "k": 1}, "NaN"),
        ({"scores": [math.nan, math.nan], "k": 1}, "every score is NaN"),
        ({"scores": [0.1, math.inf], "k": 1}, "infinite"),
        ({"scores": [0.1, -0.2], "k": 1}, "negative"),
        ({"scores": [0.1, 0.2], "k": -1}, "k must be"),
        ({"scores": [0.1, 0.2], "k": 1, "annotated": [2]}, "annotated frames"),
        ({"scores": [0.1, 0.2], "k": 1, "window": -1}, "window"),
        ({"scores": [0.1, 0.2], "k": 1, "sigma": 0.0}, "sigma"),
        ({"scores": [0.1, 0.2], "k": 1, "mode": "divide"}, "mode"),
        ({"scores": [[0.1, 0.2]], "k": 1}, "1-d"),
    ],
)
def test_select_frames_rejects_bad_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        select_frames(**kwargs)


def test_subtract_mode_accepts_negative_scores() -> None:
    assert select_frames([-1.0, -3.0, 0.5], 3, mode="subtract", window=1, sigma=1.0) == [2, 0, 1]


@st.composite
def frame_problems(draw: st.DrawFn) -> tuple:
    mode = draw(st.sampled_from(["multiply", "subtract"]))
    low = 0.0 if mode == "multiply" else -5.0
    num_frames = draw(st.integers(0, 40))
    scores = draw(st.lists(st.floats(low, 5.0, width=64), min_size=num_frames, max_size=num_frames))
    annotated = draw(st.lists(st.integers(0, max(num_frames - 1, 0)), max_size=6))
    annotated = annotated if num_frames else []
    k = draw(st.integers(0, 45))
    window = draw(st.integers(0, 5))
    sigma = draw(st.floats(0.3, 6.0))
    return scores, k, window, sigma, mode, annotated


@settings(max_examples=60, deadline=None)
@given(frame_problems())
def test_select_frames_matches_the_plain_loop(problem: tuple) -> None:
    scores, k, window, sigma, mode, annotated = problem
    picks = pick_frames(scores, k, window=window, sigma=sigma, mode=mode, annotated=annotated)
    expected_frames, expected_values = naive_picks(scores, k, window, sigma, mode, annotated)
    assert list(picks.frames) == expected_frames
    assert list(picks.pick_scores) == expected_values
    assert len(set(picks.frames)) == len(picks.frames)
    assert not set(picks.frames) & set(annotated)
    assert len(picks.frames) == min(k, len(scores) - len(set(annotated)))


# --------------------------------------------------------------------------- budget, config


@pytest.mark.parametrize(("videos", "cost"), [(-1, 10), (3, -5), (1.5, 10), (True, 10)])
def test_budget_rejects_bad_values(videos: object, cost: object) -> None:
    with pytest.raises(ValueError, match="Budget"):
        Budget(videos, cost)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": -1},
        {"sigma": -2.0},
        {"mode": "nope"},
        {"cluster_limit": 1.5},
        {"frames_per_video_fraction": 0.0},
        {"quota": "equal"},
        {"increment": "frame"},
        {"video_score": "max"},
        {"cost_model": CostModel(per_box=-1)},
    ],
)
def test_config_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        SelectionConfig(**kwargs)


# --------------------------------------------------------------------------- strategies, exact


def four_video_pool() -> VideoPool:
    return pool_of(video("a", 10), video("b", 10), video("c", 10), video("d", 10))


def graded_scores(pool: VideoPool, levels: dict[str, float]) -> dict[str, dict[str, np.ndarray]]:
    table = {v.name: np.linspace(levels[v.name], levels[v.name] / 2, v.num_frames) for v in pool}
    return {"uncertainty": table, "entropy": table}


def test_uncertainty_takes_videos_by_score_with_their_greedy_frames() -> None:
    pool = four_video_pool()
    scores = graded_scores(pool, {"a": 1.0, "b": 4.0, "c": 3.0, "d": 2.0})
    context = SelectionContext(pool, AnnotationState.empty(), scores)
    config = SelectionConfig(frames_per_video_fraction=0.2)  # A_t = 2 of 10 frames
    result = uncertainty(context, Budget(2, 100), config, np.random.default_rng(0))
    assert result.state.videos == ("b", "c")
    assert result.state.round == 1
    expected_b = select_frames(scores["uncertainty"]["b"], 2)
    assert [f for v, f in chosen(result) if v == "b"] == expected_b
    assert result.cost == 4 == annotation_cost(pool, result.state)
    assert result.records[0]["video_rank"] == 0
    assert (
        result.records[0]["video_score"] == pick_frames(scores["uncertainty"]["b"], 2).video_score()
    )
    assert "left unspent" in result.notes[0]


def test_budget_mode_takes_b_f_over_b_v_frames_per_video() -> None:
    pool = four_video_pool()
    context = SelectionContext(pool, AnnotationState.empty(), uniform_scores(pool))
    config = SelectionConfig(frames_per_video="budget", window=0)
    result = uncertainty(context, Budget(2, 9), config, np.random.default_rng(0))
    # round(9 / 2) = 4 (numpy rounds half to even, like the released code)
    assert result.state.frames == {"a": (0, 1, 2, 3), "b": (0, 1, 2, 3)}
    assert result.cost == 8


def test_equal_video_scores_keep_pool_order() -> None:
    pool = four_video_pool()
    context = SelectionContext(pool, AnnotationState.empty(), uniform_scores(pool))
    result = uncertainty(context, Budget(3, 100), SelectionConfig(), np.random.default_rng(0))
    assert result.state.videos == ("a", "b", "c")


def clustered_context(**state: tuple[int, ...]) -> SelectionContext:
    pool = pool_of(*(video(n, 10) for n in "abcdef"))
    scores = graded_scores(pool, {"a": 6.0, "b": 5.0, "c": 4.0, "d": 3.0, "e": 2.0, "f": 1.0})
    clusters = {"a": 0, "b": 0, "c": 0, "d": 1, "e": 1, "f": 1}
    previous = AnnotationState(1, tuple(state), state) if state else AnnotationState.empty()
    return SelectionContext(pool, previous, scores, clusters)


def test_claus_skips_saturated_clusters() -> None:
    context = clustered_context()
    config = SelectionConfig(cluster_limit=0.5)  # floor(0.5 * 3) = 1 video per cluster
    rng = np.random.default_rng(0)
    assert claus(context, Budget(2, 100), config, rng).state.videos == ("a", "d")
    assert uncertainty(context, Budget(2, 100), config, rng).state.videos == ("a", "b")
    result = claus(context, Budget(2, 100), config, rng)
    assert {r["cluster"] for r in result.records} == {0, 1}
    assert "cluster 1 at 0/1" in [r for r in result.records if r["video"] == "d"][0]["reason"]


def test_claus_counts_videos_of_earlier_rounds() -> None:
    context = clustered_context(a=(0,))
    config = SelectionConfig(cluster_limit=0.5)
    result = claus(context, Budget(1, 100), config, np.random.default_rng(0))
    assert result.state.videos == ("a", "d")  # cluster 0 is full with 'a' from round 1
    assert result.state.frames["a"] == (0,)


def test_claus_relaxes_or_stops_when_every_cluster_is_saturated() -> None:
    context = clustered_context()
    rng = np.random.default_rng(0)
    relaxed = claus(context, Budget(4, 100), SelectionConfig(cluster_limit=0.5), rng)
    assert relaxed.state.videos == ("a", "d", "b", "c")
    assert any("relaxed" in note for note in relaxed.notes)
    assert all("relaxed" in r["reason"] for r in relaxed.records if r["video"] in "bc")
    stopped = claus(
        context, Budget(4, 100), SelectionConfig(cluster_limit=0.5, on_saturation="stop"), rng
    )
    assert stopped.state.videos == ("a", "d")
    assert any("saturated" in note for note in stopped.notes)


def test_claus_proportional_quota() -> None:
    pool = pool_of(*(video(n, 10) for n in "abcdef"))
    scores = graded_scores(pool, {"a": 6.0, "b": 5.0, "c": 4.0, "d": 3.0, "e": 2.0, "f": 1.0})
    clusters = {"a": 0, "b": 0, "c": 0, "d": 0, "e": 1, "f": 1}  # sizes 4 and 2
    context = SelectionContext(pool, AnnotationState.empty(), scores, clusters)
    config = SelectionConfig(quota="proportional", on_saturation="stop")
    result = claus(context, Budget(3, 100), config, np.random.default_rng(0))
    assert result.state.videos == ("a", "b", "e")  # quotas 2 and 1


def test_claus_needs_clusters_for_every_video() -> None:
    pool = four_video_pool()
    rng = np.random.default_rng(0)
    no_clusters = SelectionContext(pool, AnnotationState.empty(), uniform_scores(pool))
    with pytest.raises(ValueError, match="cluster"):
        claus(no_clusters, Budget(1, 10), SelectionConfig(), rng)
    partial = SelectionContext(pool, AnnotationState.empty(), uniform_scores(pool), {"a": 0})
    with pytest.raises(DataError, match="'b'"):
        claus(partial, Budget(1, 10), SelectionConfig(), rng)


def test_a_frame_that_would_overshoot_is_skipped_for_a_cheaper_one() -> None:
    pool = pool_of(video("a", 10, (0, 10), (0, 5)))  # frames 0-4 cost 2, frames 5-9 cost 1
    scores = {"uncertainty": {"a": np.array([9, 0, 8, 0, 7, 3, 0, 0, 0, 0], dtype=float)}}
    context = SelectionContext(pool, AnnotationState.empty(), scores)
    config = SelectionConfig(frames_per_video_fraction=0.5, window=0)
    result = uncertainty(context, Budget(1, 3), config, np.random.default_rng(0))
    assert chosen(result) == [("a", 0), ("a", 5)]
    assert [r["cost"] for r in result.records] == [2, 1]
    assert result.cost == 3 == annotation_cost(pool, result.state)


def test_per_video_cost_counts_against_the_frame_budget() -> None:
    pool = four_video_pool()
    context = SelectionContext(pool, AnnotationState.empty(), uniform_scores(pool))
    config = SelectionConfig(frames_per_video_fraction=0.2, cost_model=CostModel(per_video=5))
    rng = np.random.default_rng(0)
    # each video: 5 to open + 2 frames of 1 box
    result = uncertainty(context, Budget(4, 14), config, rng)
    assert result.state.frames == {"a": (0, 5), "b": (0, 5)}
    result = uncertainty(context, Budget(4, 13), config, rng)
    assert result.state.frames == {"a": (0, 5), "b": (0,)}  # b's second frame would overshoot
    result = uncertainty(context, Budget(4, 11), config, rng)
    assert result.state.frames == {"a": (0, 5)}  # 4 left: not even the opening cost of b
    assert result.cost == annotation_cost(pool, result.state, config.cost_model) == 7


def test_only_frames_with_boxes_are_candidates() -> None:
    pool = pool_of(video("a", 20, (5, 10)))
    scores = {"uncertainty": {"a": np.arange(20, dtype=float)}}  # highest outside the tube
    context = SelectionContext(pool, AnnotationState.empty(), scores)
    config = SelectionConfig(frames_per_video_fraction=1.0)
    result = uncertainty(context, Budget(1, 100), config, np.random.default_rng(0))
    assert sorted(f for _, f in chosen(result)) == [5, 6, 7, 8, 9]
    free = SelectionConfig(frames_per_video_fraction=0.1, only_frames_with_boxes=False)
    result = uncertainty(context, Budget(1, 100), free, np.random.default_rng(0))
    assert chosen(result) == [("a", 19), ("a", 14)]  # no box there: cost 0
    assert result.cost == 0


def test_sample_annotates_whole_videos_that_fit() -> None:
    pool = pool_of(video("a", 30), video("b", 10), video("c", 8))
    scores = graded_scores(pool, {"a": 3.0, "b": 2.0, "c": 1.0})
    context = SelectionContext(pool, AnnotationState.empty(), scores)
    result = sample(context, Budget(3, 20), SelectionConfig(), np.random.default_rng(0))
    assert result.state.videos == ("b", "c")  # 'a' (30 boxes) does not fit, 'b' then 'c' do
    assert result.state.frames["b"] == tuple(range(10))
    assert result.cost == 18


def test_intra_sample_adds_frames_to_selected_videos_only() -> None:
    pool = four_video_pool()
    state = AnnotationState(2, ("c", "a"), {"a": (0, 5), "c": (3,)})
    context = SelectionContext(pool, state, uniform_scores(pool))
    config = SelectionConfig(frames_per_video_fraction=0.3)
    result = intra_sample(context, Budget(4, 100), config, np.random.default_rng(0))
    assert result.state.videos == ("c", "a")
    assert result.state.round == 3
    for name, frame in chosen(result):
        assert frame not in state.frames[name]
    assert result.cost == annotation_cost(pool, result.state) - annotation_cost(pool, state) == 6
    assert all("more frames in a selected video" in r["reason"] for r in result.records)


def test_intra_sample_without_selected_videos_selects_like_uncertainty() -> None:
    pool = four_video_pool()
    context = SelectionContext(pool, AnnotationState.empty(), uniform_scores(pool))
    rng = np.random.default_rng(0)
    result = intra_sample(context, Budget(2, 100), SelectionConfig(), rng)
    assert chosen(result) == chosen(uncertainty(context, Budget(2, 100), SelectionConfig(), rng))
    assert any("no video selected yet" in note for note in result.notes)


def test_only_frame_increment_adds_no_video() -> None:
    context = clustered_context(a=(0,), d=(9,))
    config = SelectionConfig(increment="only_frame", frames_per_video_fraction=0.2)
    for name in ("claus", "uncertainty", "entropy", "random", "equidistant"):
        result = STRATEGIES[name](context, Budget(5, 100), config, np.random.default_rng(0))
        assert result.state.videos == ("a", "d"), name
        assert result.state.num_frames() == 2 + 4, name


def test_equidistant_frames_are_evenly_spaced() -> None:
    pool = pool_of(video("a", 10), video("b", 40, (10, 30)))
    context = SelectionContext(pool, AnnotationState.empty())
    config = SelectionConfig(frames_per_video_fraction=0.2)
    result = STRATEGIES["equidistant"](context, Budget(2, 100), config, np.random.default_rng(3))
    assert result.state.frames["a"] == (2, 7)
    assert result.state.frames["b"] == (12, 17, 22, 27)  # 4 of the 20 boxed frames 10..29


def test_initial_selection_is_round_zero_and_reproducible() -> None:
    pool = pool_of(*(video(n, 20) for n in "abcdefgh"))
    config = SelectionConfig(frames_per_video_fraction=0.1)
    first = initial_selection(pool, Budget(3, 100), np.random.default_rng(7), config=config)
    again = initial_selection(pool, Budget(3, 100), np.random.default_rng(7), config=config)
    assert first.state.round == 0
    assert len(first.state.videos) == 3
    assert first.records == again.records
    even = initial_selection(
        pool, Budget(3, 100), np.random.default_rng(7), frames="equidistant", config=config
    )
    assert all(frames == (5, 15) for frames in even.state.frames.values())
    with pytest.raises(ValueError, match="frames"):
        initial_selection(pool, Budget(3, 100), np.random.default_rng(7), frames="dense")  # type: ignore[arg-type]


def test_budget_larger_than_the_pool_takes_everything_and_says_so() -> None:
    pool = pool_of(video("a", 10), video("b", 6))
    context = SelectionContext(pool, AnnotationState.empty(), uniform_scores(pool))
    result = sample(context, Budget(10, 10_000), SelectionConfig(), np.random.default_rng(0))
    assert result.state.frames == {"a": tuple(range(10)), "b": tuple(range(6))}
    assert any("left unspent: 9984 of 10000" in note for note in result.notes)
    nothing_left = SelectionContext(pool, result.state, uniform_scores(pool))
    again = uncertainty(nothing_left, Budget(2, 50), SelectionConfig(), np.random.default_rng(0))
    assert again.records == () and again.cost == 0
    assert again.state.frames == result.state.frames


def test_zero_budget_selects_nothing() -> None:
    context = clustered_context()
    for name, strategy in STRATEGIES.items():
        result = strategy(context, Budget(0, 0), SelectionConfig(), np.random.default_rng(0))
        assert result.records == () and result.state.videos == (), name


def test_records_as_a_dataframe() -> None:
    context = clustered_context()
    result = claus(context, Budget(2, 100), SelectionConfig(), np.random.default_rng(0))
    frame = result.to_dataframe()
    assert tuple(frame.columns) == RECORD_COLUMNS
    assert len(frame) == len(result.records) == result.state.num_frames()
    assert frame["cost"].sum() == result.cost
    empty = claus(context, Budget(0, 0), SelectionConfig(), np.random.default_rng(0))
    assert tuple(empty.to_dataframe().columns) == RECORD_COLUMNS


def test_records_columns_and_dicts_agree() -> None:
    context = clustered_context()
    result = claus(context, Budget(2, 100), SelectionConfig(), np.random.default_rng(0))
    assert tuple(result.columns) == RECORD_COLUMNS
    for name, values in result.columns.items():
        assert [record[name] for record in result.records] == list(values)
    assert result.to_dataframe()["frame"].tolist() == list(result.columns["frame"])
    with pytest.raises(ValueError, match="columns must be"):
        SelectionResult(result.state, {"video": ()}, 0)
    uneven = dict(result.columns, frame=result.columns["frame"][:-1])
    with pytest.raises(ValueError, match="different lengths"):
        SelectionResult(result.state, uneven, result.cost)


# --------------------------------------------------------------------------- errors


def test_empty_pool_is_an_error() -> None:
    empty = VideoPool("toy", "train", ("a",), ())
    with pytest.raises(ValueError, match="no video"):
        SelectionContext(empty, AnnotationState.empty())
    with pytest.raises(ValueError, match="no video"):
        initial_selection(empty, Budget(1, 10), np.random.default_rng(0))


def test_bad_scores_name_the_video() -> None:
    pool = four_video_pool()
    rng = np.random.default_rng(0)
    for broken, message in [
        (np.full(10, math.nan), "'c'.*every score is NaN"),
        (np.array([0.1] * 9 + [math.nan]), "'c'.*NaN score at frames \\[9\\]"),
        (np.array([0.1] * 9 + [-1.0]), "'c'.*negative"),
        (np.zeros(7), "'c'.*shape \\(7,\\)"),
        (np.zeros((10, 1)), "'c'"),
    ]:
        scores = uniform_scores(pool)
        scores["uncertainty"] = {**scores["uncertainty"], "c": broken}
        context = SelectionContext(pool, AnnotationState.empty(), scores)
        with pytest.raises(DataError, match=message):
            uncertainty(context, Budget(1, 10), SelectionConfig(), rng)
    missing = {"uncertainty": {"a": np.zeros(10)}}
    with pytest.raises(DataError, match="no 'uncertainty' scores for video 'b'"):
        uncertainty(
            SelectionContext(pool, AnnotationState.empty(), missing),
            Budget(1, 10),
            SelectionConfig(),
            rng,
        )
    with pytest.raises(ValueError, match="needs 'entropy' scores"):
        STRATEGIES["entropy"](
            SelectionContext(pool, AnnotationState.empty(), missing),
            Budget(1, 10),
            SelectionConfig(),
            rng,
        )


def test_bad_score_tables_name_the_video() -> None:
    pool = four_video_pool()
    rng = np.random.default_rng(0)
    arrays = dict(uniform_scores(pool)["uncertainty"])

    def select(table: ScoreTable, state: AnnotationState | None = None) -> SelectionResult:
        context = SelectionContext(pool, state or AnnotationState.empty(), {"uncertainty": table})
        return uncertainty(context, Budget(1, 10), SelectionConfig(), rng)

    without_c = ScoreTable.from_arrays({n: a for n, a in arrays.items() if n != "c"})
    with pytest.raises(DataError, match="no 'uncertainty' scores for video 'c'"):
        select(without_c)
    with pytest.raises(DataError, match="'c' have shape \\(7,\\), expected \\(10,\\)"):
        select(ScoreTable.from_arrays({**arrays, "c": np.zeros(7)}))
    negative_c = ScoreTable.from_arrays({**arrays, "c": np.array([0.1] * 9 + [-1.0])})
    with pytest.raises(DataError, match="'c'.*negative score at frames \\[9\\]"):
        select(negative_c)
    # a video that is no candidate any more (already selected) is not checked
    state = AnnotationState(1, ("c",), {"c": (0,)})
    assert select(negative_c, state).state.videos[1:] == ("a",)
    with pytest.raises(DataError, match="'c'.*NaN score at frames \\[9\\]"):
        ScoreTable.from_arrays({**arrays, "c": np.array([0.1] * 9 + [math.nan])})


def test_unknown_strategy_lists_the_known_names() -> None:
    with pytest.raises(ValueError, match="known: .*'claus'.*'intra_sample'"):
        STRATEGIES["oracle"]
    with pytest.raises(ValueError, match="unknown selection strategy 'oracle'"):
        STRATEGIES["oracle"]
    assert set(STRATEGIES) == {"claus", "uncertainty", "entropy", "random", "equidistant", "sample", "intra_sample"}  # fmt: skip


def test_budget_mode_needs_videos() -> None:
    pool = four_video_pool()
    context = SelectionContext(pool, AnnotationState.empty(), uniform_scores(pool))
    with pytest.raises(ValueError, match="budget.videos is 0"):
        uncertainty(
            context,
            Budget(0, 10),
            SelectionConfig(frames_per_video="budget"),
            np.random.default_rng(0),
        )


def test_selection_does_not_import_torch() -> None:
    code = "import sys, claus_core.selection; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --------------------------------------------------------------------------- properties


@st.composite
def selection_problems(draw: st.DrawFn) -> tuple:
    videos = []
    for index in range(draw(st.integers(1, 8))):
        length = draw(st.integers(1, 40))
        tubes = []
        for _ in range(draw(st.integers(1, 2))):
            start = draw(st.integers(0, length - 1))
            tubes.append((start, draw(st.integers(start + 1, length))))
        videos.append(video(f"v{index}", length, *tubes))
    pool = pool_of(*videos)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    scores = {
        kind: {v.name: rng.random(v.num_frames) * 3 for v in pool.videos}
        for kind in ("uncertainty", "entropy")
    }
    clusters = {v.name: int(rng.integers(0, 3)) for v in pool.videos}
    state_frames = {}
    for v in pool.videos:
        if draw(st.booleans()):
            boxed = np.flatnonzero(v.boxes_per_frame() > 0)
            count = draw(st.integers(1, len(boxed)))
            state_frames[v.name] = tuple(sorted(rng.choice(boxed, count, replace=False).tolist()))
    state = AnnotationState(3, tuple(state_frames), state_frames)
    config = SelectionConfig(
        mode=draw(st.sampled_from(["multiply", "subtract"])),
        window=draw(st.integers(0, 4)),
        cluster_limit=draw(st.sampled_from([0.2, 0.54, 1.0])),
        quota=draw(st.sampled_from(["fraction", "proportional"])),
        on_saturation=draw(st.sampled_from(["relax", "stop"])),
        frames_per_video=draw(st.sampled_from(["fraction", "budget"])),
        frames_per_video_fraction=draw(st.sampled_from([0.05, 0.3, 1.0])),
        video_score=draw(st.sampled_from(["sum", "mean", "raw_sum"])),
        increment=draw(st.sampled_from(["sample+frame", "only_frame"])),
        only_frames_with_boxes=draw(st.booleans()),
        cost_model=CostModel(per_video=draw(st.sampled_from([0, 2]))),
    )
    budget = Budget(draw(st.integers(1, 5)), draw(st.integers(0, 60)))
    name = draw(st.sampled_from(sorted(STRATEGIES)))
    return SelectionContext(pool, state, scores, clusters), budget, config, name, seed


@settings(max_examples=150, deadline=None)
@given(selection_problems())
def test_selection_invariants(problem: tuple) -> None:
    context, budget, config, name, seed = problem
    pool, before = context.pool, context.state
    result = STRATEGIES[name](context, budget, config, np.random.default_rng(seed))
    after = result.state
    after.validate(pool)
    assert after.round == before.round + 1
    # budget never exceeded; the ledger agrees with claus_core.cost
    spent = annotation_cost(pool, after, config.cost_model) - annotation_cost(
        pool, before, config.cost_model
    )
    assert result.cost == spent <= budget.frame_cost
    new_videos = [v for v in after.videos if v not in before.videos]
    assert len(new_videos) <= budget.videos
    assert after.videos[: len(before.videos)] == before.videos
    # previous annotations kept, no frame twice, annotated frames never reselected
    picked = chosen(result)
    assert len(set(picked)) == len(picked)
    for video_name, frame in picked:
        assert frame not in before.frames.get(video_name, ())
        if config.only_frames_with_boxes:
            assert pool[video_name].boxes_per_frame()[frame] > 0
    for video_name, frames in before.frames.items():
        assert set(frames) <= set(after.frames[video_name])
    assert after.num_frames() == before.num_frames() + len(picked)
    if config.increment == "only_frame" and name != "intra_sample":
        assert not new_videos
    if name == "intra_sample" and before.videos:
        assert not new_videos
    # cluster limits honoured when they may not be relaxed
    if name == "claus" and config.on_saturation == "stop" and config.increment == "sample+frame":
        members = {c: sum(1 for v in pool.names if context.clusters[v] == c) for c in range(3)}
        for cluster, size in members.items():
            new_in_cluster = sum(1 for v in new_videos if context.clusters[v] == cluster)
            if config.quota == "fraction":
                old = sum(1 for v in before.videos if context.clusters[v] == cluster)
                assert old + new_in_cluster <= max(math.floor(config.cluster_limit * size), old)
            else:
                assert new_in_cluster <= math.ceil(budget.videos * size / len(pool))
    # same seed, same result
    again = STRATEGIES[name](context, budget, config, np.random.default_rng(seed))
    assert again.records == result.records and again.state == result.state
    # the same scores as ScoreTables, in reverse order and with an unrelated video: same result
    tables = {
        kind: ScoreTable.from_arrays([("other", np.full(3, 9.0)), *reversed(per.items())])
        for kind, per in context.scores.items()
    }
    from_tables = STRATEGIES[name](
        dataclasses.replace(context, scores=tables), budget, config, np.random.default_rng(seed)
    )
    assert from_tables.records == result.records and from_tables.state == result.state


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(2, 300), min_size=1, max_size=12),
    st.integers(0, 2**16),
    st.sampled_from(["multiply", "subtract"]),
    st.sampled_from(["sum", "mean", "raw_sum"]),
    st.booleans(),
)
def test_pool_selection_matches_one_video_picking(
    lengths: list[int], seed: int, mode: str, reduce: str, refine: bool
) -> None:
    """All videos at once (rows of many lengths) == pick_frames video by video; with ``refine``,
    more frames in already selected videos, whose annotated frames damp their neighbours."""
    pool = pool_of(*(video(f"v{i}", n) for i, n in enumerate(lengths)))
    rng = np.random.default_rng(seed)
    table = {v.name: rng.random(v.num_frames) for v in pool.videos}
    annotated = {v.name: () for v in pool.videos}
    state = AnnotationState.empty()
    if refine:
        for v in pool.videos:
            marks = rng.choice(v.num_frames, v.num_frames // 2, replace=False)
            annotated[v.name] = tuple(sorted(marks.tolist()))
        state = AnnotationState(1, tuple(annotated), annotated)
    config = SelectionConfig(
        mode=mode,
        video_score=reduce,
        frames_per_video_fraction=0.1,
        increment="only_frame" if refine else "sample+frame",
        only_frames_with_boxes=False,
    )
    context = SelectionContext(pool, state, {"uncertainty": table})
    result = uncertainty(context, Budget(len(pool), 10_000), config, rng)
    expected = {}
    for v in pool.videos:
        k = min(max(1, int(np.round(0.1 * v.num_frames))), v.num_frames - len(annotated[v.name]))
        expected[v.name] = pick_frames(table[v.name], k, mode=mode, annotated=annotated[v.name])
    ranking = sorted(pool.names, key=lambda n: -expected[n].video_score(reduce))  # stable
    assert list(dict.fromkeys(record["video"] for record in result.records)) == ranking
    for record in result.records:
        picks = expected[record["video"]]
        assert record["frame"] == picks.frames[record["pick"]]
        assert record["pick_score"] == picks.pick_scores[record["pick"]]
        assert record["video_score"] == picks.video_score(reduce)
    assert len(result.records) == sum(len(p.frames) for p in expected.values())


# --------------------------------------------------------------------------- what strategies need


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_runs_on_exactly_what_it_declares(name: str) -> None:
    entry = STRATEGIES[name]
    pool = pool_of(*(video(f"c/v{i}", 12, label=i % 2) for i in range(6)))
    state = AnnotationState(0, ("c/v0",), {"c/v0": (3,)})
    rng = np.random.default_rng(0)
    scores = {
        kind: {v.name: rng.random(v.num_frames) for v in pool.videos} for kind in entry.scores
    }
    clusters = (
        {v.name: i % 2 for i, v in enumerate(pool.videos)} if entry.clusters == "required" else None
    )
    context = SelectionContext(pool, state, scores=scores, clusters=clusters)
    result = entry(
        context, Budget(videos=2, frame_cost=30), SelectionConfig(), np.random.default_rng(1)
    )
    assert result.cost > 0
    assert set(entry.scores) <= {"uncertainty", "entropy"}
    if entry.clusters == "required":  # and without them it says so
        with pytest.raises(ValueError, match="cluster"):
            entry(dataclasses.replace(context, clusters=None), Budget(videos=2, frame_cost=30), SelectionConfig(),
                  np.random.default_rng(1))  # fmt: skip


def test_a_strategy_that_uses_clusters_without_scores_cannot_be_declared() -> None:
    from claus_core.selection import Strategy

    with pytest.raises(ValueError, match="clustered strategy must read scores"):
        Strategy(claus, clusters="required")
