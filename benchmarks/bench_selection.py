"""Benchmark: one CLAUS selection step over the UCF-101-24 train pool, against a 0.5 s target.

Runs ``claus_core.selection.claus`` (supplementary Algorithm 1, written as a plain per-video
loop) over a pool shaped like UCF-101-24 split-1 train (2,284 videos with their real frame counts
and GT tube extents) with random per-frame uncertainty scores and random cluster ids, in four
settings, and prints its median CPU and wall time and their ratio to the target (0.5 s: a round
spends seconds to minutes training, so selection only has to stay well below that). Each setting
is also run through :func:`reference_claus`, the same algorithm written independently as plain
Python loops over frames and lists, and the two must select IDENTICAL videos and frames in the
same order (the fixed small cases of ``tests/test_selection_recorded.py`` check every other
option). The machine may be shared, so CPU time is the number to trust. No timed assertion.

Pool source, first that works: ``claus_core.data.ucf101_24.load_ucf101_24(split="train")``;
else the ``num_frames`` / tube extents of the shipped
``claus_core/assets/ucf101_24/annotations.npz``; else a synthetic draw (documented in
:func:`synthetic_geometry`). The source used is printed.

Run: ``python benchmarks/bench_selection.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import gc
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np

from claus_core.data.types import AnnotationState, Tube, VideoPool, VideoRecord
from claus_core.score_table import ScoreTable
from claus_core.selection import (
    Budget,
    SelectionConfig,
    SelectionContext,
    claus,
    suppression_weights,
)

SEED = 2023
NUM_CLUSTERS = 5
UCF_TRAIN_VIDEOS = 2284
TARGET_SECONDS = 0.5  # one selection step over the UCF-101-24 train pool, CPU time
T = TypeVar("T")


# --------------------------------------------------------------------------- the pool


def _pool_from_geometry(
    names: list[str], num_frames: list[int], spans: list[list[tuple[int, int]]]
) -> VideoPool:
    records = []
    for name, frames, tubes in zip(names, num_frames, spans, strict=True):
        built = tuple(
            Tube(0, start, end, np.zeros((end - start, 4), dtype=np.float32))
            for start, end in tubes
        )
        records.append(VideoRecord(name, 0, frames, 320, 240, built))
    return VideoPool("ucf101_24_shape", "train", ("action",), tuple(records))


def synthetic_geometry(rng: np.random.Generator) -> VideoPool:
    """Last resort: 2,284 videos, lengths log-normal around UCF-101-24 train's (median ~164,
    clipped to [32, 641] frames), one tube covering a uniform 60-100 % stretch of each video."""
    lengths = np.clip(np.round(rng.lognormal(math.log(164), 0.45, UCF_TRAIN_VIDEOS)), 32, 641)
    names, frames, spans = [], [], []
    for index, length in enumerate(lengths.astype(int).tolist()):
        covered = max(1, int(length * rng.uniform(0.6, 1.0)))
        start = int(rng.integers(0, length - covered + 1))
        names.append(f"synthetic/v_{index:04d}")
        frames.append(length)
        spans.append([(start, start + covered)])
    return _pool_from_geometry(names, frames, spans)


def load_pool(rng: np.random.Generator) -> tuple[VideoPool, str]:
    """The UCF-101-24 train pool (or its shape) and a line saying where it came from."""
    try:
        from claus_core.data.ucf101_24 import load_ucf101_24
    except ImportError:
        load_ucf101_24 = None
    if load_ucf101_24 is not None:
        pool = load_ucf101_24(split="train")
        return pool, "claus_core.data.ucf101_24.load_ucf101_24(split='train')"
    archive = Path(__file__).resolve().parents[1] / "claus_core/assets/ucf101_24/annotations.npz"
    if archive.exists():
        with np.load(archive, allow_pickle=False) as npz:
            train = np.flatnonzero(~npz["is_test"].astype(bool))
            offsets = npz["tube_offsets"].astype(np.int64)
            starts, ends = npz["tube_starts"], npz["tube_ends"]
            names = [str(npz["video_names"][i]) for i in train]
            frames = [int(npz["num_frames"][i]) for i in train]
            spans = [
                [(int(starts[t]), int(ends[t])) for t in range(offsets[i], offsets[i + 1])]
                for i in train
            ]
        return _pool_from_geometry(names, frames, spans), f"{archive} (num_frames, tube extents)"
    return synthetic_geometry(rng), "synthetic draw (see synthetic_geometry)"


# --------------------------------------------------------------------------- the reference


def reference_claus(
    pool: VideoPool,
    state: AnnotationState,
    scores: Mapping[str, np.ndarray],
    clusters: Mapping[str, int],
    budget: Budget,
    config: SelectionConfig,
) -> list[tuple[str, int]]:
    """CLAUS selection (fraction quota, relaxed on saturation) as plain per-frame Python loops.

    Same rules as ``claus_core.selection.claus`` with ``increment="sample+frame"``; returns the
    chosen (video, frame) pairs in selection order.
    """
    supported = (
        config.quota == "fraction"
        and config.on_saturation == "relax"
        and config.increment == "sample+frame"
        and config.only_frames_with_boxes
        and config.video_score in ("sum", "mean")
    )
    if not supported:
        raise ValueError(f"reference_claus does not implement {config}")
    weights = suppression_weights(config.window, config.sigma).tolist()
    per_box, per_video = config.cost_model.per_box, config.cost_model.per_video
    selected = set(state.videos)
    entries = []  # (score, pool order, name, picks, costs)
    for order, video in enumerate(pool.videos):
        if video.name in selected:
            continue
        values = scores[video.name].tolist()
        for value in values:
            if value != value or value in (math.inf, -math.inf):
                raise ValueError(f"bad score in {video.name}")
            if config.mode == "multiply" and value < 0:
                raise ValueError(f"negative score in {video.name}")
        boxes = [0] * video.num_frames
        for tube in video.tubes:
            for frame in range(tube.start, tube.end):
                boxes[frame] += 1
        allowed = [(b > 0) if config.only_frames_with_boxes else True for b in boxes]
        base = sum(1 for a in allowed if a)
        if base == 0:
            continue
        if config.frames_per_video == "budget":
            wanted = max(1, int(np.round(budget.frame_cost / budget.videos)))
        else:
            wanted = max(1, int(np.round(config.frames_per_video_fraction * base)))
        k = min(wanted, base)
        picks, total = [], 0.0
        for _ in range(k):
            best, best_value = -1, -math.inf
            for frame in range(video.num_frames):
                if allowed[frame] and values[frame] > best_value:
                    best, best_value = frame, values[frame]
            picks.append(best)
            total += best_value
            allowed[best] = False
            for frame in range(best - config.window, best + config.window + 1):
                if frame == best or not 0 <= frame < video.num_frames:
                    continue
                distance = abs(frame - best)
                if config.mode == "multiply":
                    values[frame] = values[frame] * (1.0 - weights[distance])
                else:
                    values[frame] = values[frame] - weights[distance]
        if config.video_score == "mean":
            total = total / k
        entries.append((total, order, video.name, picks, [per_box * boxes[f] for f in picks]))
    entries.sort(key=lambda entry: (-entry[0], entry[1]))

    members: dict[int, int] = {}
    for video in pool.videos:
        members[clusters[video.name]] = members.get(clusters[video.name], 0) + 1
    limit = {c: math.floor(config.cluster_limit * n) for c, n in members.items()}
    count = dict.fromkeys(members, 0)
    for name in state.videos:
        count[clusters[name]] += 1
    cheapest = per_video + per_box  # every candidate frame carries at least one box
    chosen: list[tuple[str, int]] = []
    taken_videos, spent = 0, 0
    held_back = []

    def exhausted() -> bool:
        return taken_videos >= budget.videos or budget.frame_cost - spent < cheapest

    def offer(name: str, picks: list[int], costs: list[int]) -> bool:
        nonlocal taken_videos, spent
        room = budget.frame_cost - spent - per_video
        fits = []
        for frame, cost in zip(picks, costs, strict=True):
            if cost <= room:
                fits.append(frame)
                room -= cost
        if not fits:
            return False
        taken_videos += 1
        spent = budget.frame_cost - room
        chosen.extend((name, frame) for frame in fits)
        return True

    for _, _, name, picks, costs in entries:
        if exhausted():
            break
        cluster = clusters[name]
        if count[cluster] >= limit[cluster]:
            held_back.append((name, picks, costs))
            continue
        if offer(name, picks, costs):
            count[cluster] += 1
    for name, picks, costs in held_back:
        if exhausted():
            break
        offer(name, picks, costs)
    return chosen


# --------------------------------------------------------------------------- timing


def timed(function: Callable[[], T], repeats: int) -> tuple[T, float, float]:
    """``function()``'s last result and its median (wall, CPU) seconds over ``repeats`` calls,
    CPU time being ``time.process_time``. Like timeit, the garbage collector is off inside each
    timing, after collecting what earlier calls left."""
    walls, cpus = [], []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            wall, cpu = time.perf_counter(), time.process_time()
            result = function()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        finally:
            gc.enable()
    return result, float(np.median(walls)), float(np.median(cpus))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs of each (median)")
    args = parser.parse_args()
    rng = np.random.default_rng(SEED)
    pool, source = load_pool(rng)
    frames = np.array([v.num_frames for v in pool.videos])
    print(
        f"pool: {len(pool)} videos, {frames.sum()} frames (mean {frames.mean():.1f}, "
        f"max {frames.max()}) from {source}"
    )
    scores = {v.name: rng.random(v.num_frames) for v in pool.videos}  # [frame] per video
    table = ScoreTable.from_arrays(scores, what="'uncertainty' scores")
    table_cpu = timed(lambda: ScoreTable.from_arrays(scores), args.repeats)[2]
    print(
        f"scores: one ScoreTable in pool order, as the active-learning loop builds after scoring "
        f"(building it from the {len(scores)} arrays takes {table_cpu * 1e3:.2f} ms CPU, once "
        "per round, outside the timings below)"
    )
    clusters = {v.name: int(rng.integers(NUM_CLUSTERS)) for v in pool.videos}
    budget = Budget(videos=round(0.05 * len(pool)), frame_cost=1000)
    first = SelectionContext(pool, AnnotationState.empty(), {"uncertainty": table}, clusters)
    later = SelectionContext(
        pool, claus(first, budget, SelectionConfig(), rng).state, {"uncertainty": table}, clusters
    )
    print(
        f"budget: {budget.videos} videos, {budget.frame_cost} cost units; {NUM_CLUSTERS} random "
        f"clusters; median of {args.repeats} runs of each"
    )
    settings = [
        ("paper: multiply, A_t = 5 % of frames, sum", first, SelectionConfig()),
        (
            "subtract, A_t = B_f / B_v, mean (three of the released code's choices)",
            first,
            SelectionConfig(mode="subtract", frames_per_video="budget", video_score="mean"),
        ),
        ("paper settings, round 2 (round 1 selected)", later, SelectionConfig()),
        (
            "cluster limit 0.01, relaxed once every cluster is full",
            first,
            SelectionConfig(cluster_limit=0.01, video_score="mean"),
        ),
    ]
    times = []
    for label, context, config in settings:
        result, wall, cpu = timed(
            lambda x=context, c=config: claus(x, budget, c, rng), args.repeats
        )
        expected, _, reference_cpu = timed(
            lambda x=context, c=config: reference_claus(pool, x.state, scores, clusters, budget, c),
            max(1, args.repeats // 3),
        )
        got = [(r["video"], r["frame"]) for r in result.records]
        assert got == expected, f"{label}: selections differ from the plain-loop reference"
        times.append(cpu)
        print(
            f"{label}: {len({name for name, _ in got})} videos, {len(got)} frames, cost "
            f"{result.cost}, identical selections\n  claus_core.selection.claus {cpu * 1e3:.1f} ms "
            f"CPU / {wall * 1e3:.1f} ms wall, {cpu / TARGET_SECONDS:.2f} of the target; "
            f"reference_claus (per-frame Python loops) {reference_cpu * 1e3:.1f} ms CPU"
        )
    print(
        f"target: one selection over the {len(pool)}-video pool in at most {TARGET_SECONDS} s; "
        f"measured {min(times):.3f} to {max(times):.3f} s CPU, {max(times) / TARGET_SECONDS:.2f} "
        f"of the target at most: {'met' if max(times) <= TARGET_SECONDS else 'NOT met'} in this run"
    )


if __name__ == "__main__":
    main()
