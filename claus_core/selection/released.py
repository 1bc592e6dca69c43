"""The authors' released selection (``aayushjr/HybridCLAUS`` at d3d7fd9), written anew here.

The book's default is the paper's Algorithm 1 (:mod:`claus_core.selection.algorithm`). This is
what the released ``ucf101_CLAUS.py`` does instead (``SelectionConfig.released_code()``), each
step with the lines it comes from::

    per unselected video   s[f] = u[f] - g(distance to its nearest annotated frame),   H8
                           an annotated frame -10 (l.563-581; g(d) = exp(-d^2 / 2 (8/3)^2))
                           candidates: [sf, ef) of the video's FIRST tube; -1000 elsewhere  H2
                           A = max(1, round(5 % of the frames with a box)) greedy picks  H1
                           (l.583-606); video score = their mean when picked (l.249)
    videos by descending score, ties: the later one first (l.262)                       H6
    take a video while its cluster had <= int(0.54 m) videos BEFORE it (l.327)          H3
    stop at B_v videos; when every cluster is full, stop (no relaxation, l.320-348)
    frames: round(B_f / B_v) picks again per taken video (l.391, l.403),                 H1
            no max(1, .): 0 picks when B_f < B_v / 2 (refused here)                     H7
            no cap on the cost of the round                                              H4
            picks outside every tube's [sf, ef] are dropped (l.410)

Conventions: ``ef`` in the released annotation tuples is a tube's *last* frame (its loops run
to ``ef + 1`` with one box per frame, ``ucf101_CLAUS.py`` l.161-163), so a tube
``[start, end)`` here has ``sf = start``, ``ef = end - 1``; the candidate slice ``[sf:ef]``
leaves out the tube's last frame. A greedy pick is the highest score (``np.argsort(s)[::-1][0]``,
l.32 and l.600): on ties the released code's order is numpy's unstable sort's, so only
tie-free inputs are reproduced exactly (here: the highest index, what a stable sort gives).
A pick sets its frame to -100, then subtracts ``g(|j - pick|)`` from the frames ``j`` within
4 of it, itself included (l.603-606). When a video has fewer candidate frames than picks, the
released code picks a frame again (``[0.5, 0.2]`` and 3 picks give ``[0, 1, 1]``); such a frame
is annotated once here, and the notes say so.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from claus_core.data.types import DataError, VideoRecord
from claus_core.selection.algorithm import (
    RECORD_COLUMNS,
    SIGMA,
    Budget,
    SelectionConfig,
    SelectionContext,
    SelectionResult,
    candidate_scores,
    candidates,
)

REACH = 4  # frames either side a pick damps (the released 9-wide mask, l.26 and l.596)
ANNOTATED_SCORE = -10.0  # l.565
OUTSIDE_SCORE = -1000.0  # l.591
PICKED_SCORE = -100.0  # l.34, l.603
FRAME_SHARE = 0.05  # select_percent, l.504: the first picks are 5 % of the frames with a box


def damping() -> np.ndarray:  # [2 * REACH + 1] g(d) for d = -REACH .. REACH
    d = np.arange(-REACH, REACH + 1, dtype=np.float64)
    return np.exp(-(d**2) / (2 * SIGMA**2))  # norm.pdf(d, 0, 8/3) / norm.pdf(0, 0, 8/3)


def frame_scores(uncertainty: np.ndarray, annotated: np.ndarray) -> np.ndarray:  # [frame]
    """``u - g(distance to the nearest annotated frame)`` (0 without any), -10 on annotated ones."""
    frames = np.arange(len(uncertainty))
    if annotated.size:
        distance = np.abs(frames[:, None] - annotated[None, :]).min(axis=1)
    else:
        distance = np.zeros(len(frames))
    scores = np.asarray(uncertainty, dtype=np.float64) - np.exp(-(distance**2) / (2 * SIGMA**2))
    scores[annotated] = ANNOTATED_SCORE
    return scores


def first_tube_candidates(video: VideoRecord, scores: np.ndarray) -> np.ndarray:  # [frame]
    """``scores`` on ``[sf, ef)`` of the first tube (``ef`` its last frame), -1000 elsewhere."""
    masked = np.full(len(scores), OUTSIDE_SCORE)
    if video.tubes:
        first = video.tubes[0]
        masked[first.start : first.end - 1] = scores[first.start : first.end - 1]
    return masked


def picks(scores: np.ndarray, k: int) -> tuple[list[int], float]:
    """``k`` greedy picks of the released ``select_frames`` (l.24-39, l.599-606) and the sum of
    their scores when picked. A frame can be picked again once the others score lower."""
    x = np.array(scores, dtype=np.float64)
    mask, n = damping(), len(x)
    chosen, total = [], 0.0
    for _ in range(k):
        best = int(np.flatnonzero(x == x.max())[-1])
        chosen.append(best)
        total += float(x[best])
        x[best] = PICKED_SCORE
        low, high = max(best - REACH, 0), min(best + REACH + 1, n)
        x[low:high] -= mask[REACH - (best - low) : REACH + (high - best)]
    return chosen, total


def released_claus(
    context: SelectionContext,
    budget: Budget,
    config: SelectionConfig,
    rng: np.random.Generator,  # unused: every choice follows the scores
) -> SelectionResult:
    """The released selection step (module docstring) on ``context``'s uncertainty scores."""
    if context.clusters is None:
        raise ValueError("the released selection needs cluster assignments (context.clusters)")
    if budget.videos == 0:
        raise ValueError("the released selection divides B_f by B_v: budget.videos is 0")
    per_video = int(np.round(budget.frame_cost / budget.videos))  # l.391
    if per_video == 0:
        raise ValueError(
            f"the released code annotates round(B_f / B_v) = round({budget.frame_cost} / "
            f"{budget.videos}) = 0 frames per video (ucf101_CLAUS.py l.391): it would select "
            "videos with no frame; give B_f >= B_v / 2"
        )
    pool, state, round_index = context.pool, context.state, context.round_index + 1
    cands = candidates(context, SelectionConfig(only_frames_with_boxes=False), new=True)
    raw = candidate_scores(context, "uncertainty", cands, "claus", "subtract")
    masked, video_scores = [], []
    for cand, u in zip(cands, raw, strict=True):
        scores = first_tube_candidates(cand.video, frame_scores(u, cand.annotated))
        share = int(np.round(cand.video.annotated_frames().sum() * FRAME_SHARE))
        first_picks, total = picks(scores, max(1, share))  # l.583-606
        masked.append(scores)
        video_scores.append(total / len(first_picks))  # l.249
    clusters = {name: int(c) for name, c in context.clusters.items()}
    members = Counter(clusters[name] for name in pool.names)  # l.284-287
    count = Counter(clusters[name] for name in state.videos)  # l.290-298
    order = np.argsort(np.array(video_scores), kind="stable")[::-1]  # l.262; ties: later first
    frames: dict[str, list[int]] = {}
    records, notes, cost = [], [], 0
    for rank, i in enumerate(order.tolist()):
        if len(frames) >= budget.videos:  # l.347
            break
        video, c = cands[i].video, clusters[cands[i].video.name]
        if count[c] > int(config.cluster_limit * members[c]):  # l.327: checked before counting
            continue
        count[c] += 1
        chosen, _ = picks(masked[i], per_video)  # l.398-403
        inside = [f for f in chosen if any(t.start <= f <= t.end - 1 for t in video.tubes)]
        if len(set(inside)) < len(inside):
            notes.append(
                f"{video.name}: a frame picked twice (fewer candidates than picks); annotated once"
            )
        if not inside:
            raise DataError(
                f"{video.name}: none of the released code's {per_video} picks lies in a tube "
                "(it would be selected with no annotated frame, ucf101_CLAUS.py l.410)"
            )
        kept = list(dict.fromkeys(inside))
        frames[video.name] = kept
        boxes = video.boxes_per_frame()  # [frame]
        for position, f in enumerate(kept):
            frame_cost = int(boxes[f]) * config.cost_model.per_box
            cost += frame_cost
            records.append({
                "strategy": "claus", "round": round_index, "video": video.name, "frame": int(f),
                "cluster": c, "video_rank": rank, "video_score": video_scores[i], "pick": position,
                "frame_score": float(masked[i][f]), "pick_score": math.nan, "cost": frame_cost,
                "reason": f"released code: uncertainty rank {rank}, cluster {c} at "
                f"{count[c] - 1}/{int(config.cluster_limit * members[c])} before it",
            })  # fmt: skip
        cost += config.cost_model.per_video
    if len(frames) < budget.videos:
        notes.append(
            f"{len(frames)} of {budget.videos} videos: every candidate was considered (the released "
            "code stops when the clusters are full)"
        )
    if cost > budget.frame_cost:
        notes.append(
            f"cost {cost} exceeds B_f = {budget.frame_cost} (the released code has no cap)"
        )
    columns = {name: tuple(r[name] for r in records) for name in RECORD_COLUMNS}
    return SelectionResult(state.merged(frames, round=round_index), columns, cost, tuple(notes))
