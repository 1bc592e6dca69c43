"""The released selection (``SelectionConfig.released_code()``, ``selection/released.py``): one
hand case per behaviour H1-H8 of issue 18, each expected output derived by reading
``aayushjr/HybridCLAUS`` d3d7fd9 ``ucf101_CLAUS.py`` (the line numbers in the comments), and
each beside what the paper's Algorithm 1 (the default) does on the same input.

Damping ``g(d) = exp(-d^2 / (2 (8/3)^2)) = exp(-9 d^2 / 128)``: g(1) = 0.93210, g(2) = 0.75484,
g(3) = 0.53110, g(4) = 0.32465. Scores carry a small gradient ``0.001 f`` so that no two are tied.
"""

from __future__ import annotations

import numpy as np
import pytest

from claus_core.data.types import AnnotationState, Tube, VideoPool, VideoRecord
from claus_core.selection import STRATEGIES, Budget, SelectionConfig, SelectionContext
from claus_core.selection.released import damping, frame_scores, picks

RELEASED = SelectionConfig.released_code()
G = {d: float(np.exp(-9 * d * d / 128)) for d in range(5)}


def video(name: str, num_frames: int, *spans: tuple[int, int]) -> VideoRecord:
    tubes = tuple(Tube(0, s, e, np.ones((e - s, 4), dtype=np.float32)) for s, e in spans)
    return VideoRecord(name, 0, num_frames, 320, 240, tubes)


def ramp(num_frames: int, **peaks: float) -> np.ndarray:  # [frame] 0.001 f, with peaks "f10"=0.9
    u = 0.001 * np.arange(num_frames)
    for key, value in peaks.items():
        u[int(key[1:])] = value
    return u


def select(videos, scores, budget, config=RELEASED, clusters=None, state=None):
    pool = VideoPool("toy", "train", ("a",), tuple(videos))
    clusters = clusters or {v.name: 0 for v in videos}
    context = SelectionContext(
        pool, state or AnnotationState.empty(), scores={"uncertainty": scores}, clusters=clusters
    )
    return STRATEGIES["claus"](context, budget, config, np.random.default_rng(0))


def test_damping_is_the_released_normalized_gaussian() -> None:
    # l.26: norm.pdf(np.arange(9) - 4, 0, 8/3) / norm.pdf(0, 0, 8/3)
    assert damping() == pytest.approx([G[4], G[3], G[2], G[1], 1.0, G[1], G[2], G[3], G[4]])


def test_a_pick_is_set_to_minus_100_then_damped_with_its_neighbours() -> None:
    # l.601-606: pick 2 (0.9); x[2] = -100 - g(0); x[j] -= g(|j - 2|) for j in 0..6
    chosen, total = picks(np.array([0.1, 0.2, 0.9, 0.3, 0.0, 0.05, 0.01, 0.02]), 2)
    # after the first pick: x[3] = 0.3 - g(1) = -0.632, x[7] = 0.02 (out of reach) is the best
    assert chosen == [2, 7] and total == pytest.approx(0.9 + 0.02)


def test_fewer_candidates_than_picks_picks_a_frame_again() -> None:
    # [0.5, 0.2], 3 picks: 0; then x = [-101, 0.2 - g(1)] -> 1; then x = [-101 - g(1), -101]:
    # frame 1 again (issue 18)
    assert picks(np.array([0.5, 0.2]), 3)[0] == [0, 1, 1]


def test_h1_ranking_picks_and_annotated_frames_are_two_different_counts() -> None:
    # 40 frames, one tube [0, 40): 40 frames with a box, A = max(1, round(0.05 * 40)) = 2 first
    # picks (l.583-586): 10 (0.9 - 1) and 30 (0.8 - 1), video score their mean -0.15 (l.249);
    # then round(B_f / B_v) = round(3 / 1) = 3 picks again (l.391): 10, 30 and the best frame
    # out of their reach: 38 (0.038 - 1; frame 39 is the tube's last, never a candidate)
    u = ramp(40, f10=0.9, f30=0.8)
    result = select([video("v", 40, (0, 40))], {"v": u}, Budget(videos=1, frame_cost=3))
    assert result.state.frames["v"] == (10, 30, 38)
    assert result.records[0]["video_score"] == pytest.approx(((0.9 - 1) + (0.8 - 1)) / 2)
    paper = select([video("v", 40, (0, 40))], {"v": u}, Budget(1, 3), config=SelectionConfig())
    assert paper.state.frames["v"] == (10, 30)  # Algorithm 1: A_t = 2 for both


def test_h2_candidates_are_the_first_tube_without_its_last_frame() -> None:
    # tubes [0, 20) and [20, 40): candidates are [sf, ef) = [0, 19) of the first (l.589-592),
    # so neither frame 19 (the best of the first tube) nor 30 (the best of all) is picked
    u = ramp(40, f19=0.95, f30=0.99, f5=0.5)
    result = select([video("v", 40, (0, 20), (20, 40))], {"v": u}, Budget(1, 1))
    assert result.state.frames["v"] == (5,)
    paper = select(
        [video("v", 40, (0, 20), (20, 40))], {"v": u}, Budget(1, 1), config=SelectionConfig()
    )
    assert paper.state.frames["v"] == (30,)


def test_h3_the_cluster_limit_is_checked_before_counting() -> None:
    # two clusters of 2 videos: int(0.54 * 2) = 1, and the check `count <= 1` (l.327) passes at
    # counts 0 and 1, so a and b of cluster 0 are both taken; Algorithm 1 allows
    # floor(0.54 * 2) = 1 per cluster: a, then c of cluster 1
    videos = [video(n, 20, (0, 20)) for n in "abcd"]
    scores = {n: ramp(20, f5=0.9 - 0.2 * k) for k, n in enumerate("abcd")}
    clusters = {"a": 0, "b": 0, "c": 1, "d": 1}
    result = select(videos, scores, Budget(2, 2), clusters=clusters)
    assert list(result.state.videos) == ["a", "b"]
    paper = select(videos, scores, Budget(2, 2), config=SelectionConfig(), clusters=clusters)
    assert list(paper.state.videos) == ["a", "c"]


def test_saturated_clusters_stop_the_released_selection() -> None:
    # one cluster of 3: int(0.54 * 3) = 1, so counts 0 and 1 pass and the third is refused;
    # the loop then runs out of videos (l.320-348): 2 of 3; Algorithm 1 relaxes the limit
    videos = [video(n, 20, (0, 20)) for n in "abc"]
    scores = {n: ramp(20, f5=0.9 - 0.1 * k) for k, n in enumerate("abc")}
    result = select(videos, scores, Budget(3, 3))
    assert list(result.state.videos) == ["a", "b"]
    assert any("every candidate was considered" in note for note in result.notes)
    assert len(select(videos, scores, Budget(3, 3), config=SelectionConfig()).state.videos) == 3


def test_h4_there_is_no_frame_budget_cap() -> None:
    # two tubes over every frame: 2 boxes per frame; B_f = 3, B_v = 1: 3 frames (l.391) cost 6
    u = ramp(40, f10=0.9, f30=0.8)
    result = select([video("v", 40, (0, 40), (0, 40))], {"v": u}, Budget(1, 3))
    assert result.state.frames["v"] == (10, 30, 38) and result.cost == 6
    assert any("exceeds B_f = 3" in note for note in result.notes)
    paper = select(
        [video("v", 40, (0, 40), (0, 40))], {"v": u}, Budget(1, 3), config=SelectionConfig()
    )
    assert paper.cost <= 3


def test_h6_of_tied_videos_the_later_one_is_taken() -> None:
    # equal video scores: np.argsort(...)[::-1] (l.262) puts the later video first
    videos = [video("first", 20, (0, 20)), video("second", 20, (0, 20))]
    scores = {"first": ramp(20, f5=0.9), "second": ramp(20, f5=0.9)}
    clusters = {"first": 0, "second": 1}
    assert select(videos, scores, Budget(1, 1), clusters=clusters).state.videos == ("second",)
    paper = select(videos, scores, Budget(1, 1), config=SelectionConfig(), clusters=clusters)
    assert paper.state.videos == ("first",)


def test_h7_fewer_frames_than_half_the_videos_is_refused() -> None:
    # int(np.round(1 / 3)) = 0 frames per video (l.391): the released code would select 3
    # videos with no frame
    videos = [video(n, 20, (0, 20)) for n in "abc"]
    with pytest.raises(ValueError, match=r"round\(1 / 3\) = 0 frames per video"):
        select(videos, {n: ramp(20) for n in "abc"}, Budget(3, 1))


def test_h8_frame_scores_subtract_the_distance_gaussian_and_mark_annotated_frames() -> None:
    # l.563-581: s = u - g(distance to the nearest annotated frame), annotated frames -10;
    # with no annotated frame the distance is 0 (l.576): s = u - 1 everywhere
    u = np.full(10, 0.5)
    s = frame_scores(u, np.array([2, 9]))
    assert s[2] == s[9] == -10.0
    assert s[0] == pytest.approx(0.5 - G[2]) and s[5] == pytest.approx(0.5 - G[3])
    assert s[6] == pytest.approx(0.5 - G[3])  # 3 from 9, 4 from 2
    assert frame_scores(u, np.array([], dtype=np.int64)) == pytest.approx(u - 1.0)


def test_h8_videos_selected_before_are_never_candidates() -> None:
    # debug() skips every video of the previous rounds (l.324), whatever its frame scores
    videos = [video("old", 20, (0, 20)), video("new", 20, (0, 20))]
    state = AnnotationState(0, ("old",), {"old": (3,)})
    scores = {"old": ramp(20, f10=0.99), "new": ramp(20, f5=0.1)}
    result = select(videos, scores, Budget(1, 1), clusters={"old": 0, "new": 1}, state=state)
    assert result.state.frames["old"] == (3,) and result.state.frames["new"] == (5,)


def test_released_code_is_not_the_default() -> None:
    assert SelectionConfig().variant == "paper" and RELEASED.variant == "released"
