"""Selections recorded on fixed random cases: the selection code must reproduce them exactly.

:func:`build_cases` draws, from one fixed numpy seed, random pools (video lengths, GT tube
spans, videos without a box), uncertainty / entropy score tables (as dicts or
:class:`~claus_core.score_table.ScoreTable`, with ties, negative scores under
``mode="subtract"``), cluster ids, annotation states with frames already annotated, budgets and
:class:`~claus_core.selection.SelectionConfig` options, for every strategy of
:data:`~claus_core.selection.STRATEGIES` and :func:`~claus_core.selection.initial_selection`,
plus direct :func:`~claus_core.selection.pick_frames` calls. Each case's result (the next
state, the cost, the records column by column, the notes; or the error type and message) is
compared, as JSON text, with ``tests/data/selections_recorded.json``.

The recording was made with the selection code before its rewrite into a plain Algorithm 1
(``claus_core/selection.py``, 1,413 lines). Re-record (only when a change of behaviour is
intended) with ``python tests/test_selection_recorded.py``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from claus_core.cost import CostModel
from claus_core.data.types import AnnotationState, Tube, VideoPool, VideoRecord
from claus_core.score_table import ScoreTable
from claus_core.selection import (
    STRATEGIES,
    Budget,
    SelectionConfig,
    SelectionContext,
    SelectionResult,
    initial_selection,
    pick_frames,
)

RECORDED = Path(__file__).parent / "data" / "selections_recorded.json"
SEED = 20240611
STRATEGY_NAMES = (
    "claus",
    "uncertainty",
    "entropy",
    "random",
    "equidistant",
    "sample",
    "intra_sample",
    "initial_random",
    "initial_equidistant",
)
CASES_PER_STRATEGY = 6
PICK_CASES = 10


# --------------------------------------------------------------------------- the cases


def _pool(rng: np.random.Generator, num_videos: int, max_length: int) -> VideoPool:
    videos = []
    for index in range(num_videos):
        length = int(rng.integers(1, max_length + 1))
        tubes = []
        for _ in range(int(rng.choice([0, 1, 1, 1, 2, 3]))):
            start = int(rng.integers(0, length))
            end = int(rng.integers(start + 1, length + 1))
            tubes.append(Tube(0, start, end, np.zeros((end - start, 4), dtype=np.float32)))
        videos.append(VideoRecord(f"v{index:03d}", 0, length, 320, 240, tuple(tubes)))
    return VideoPool("recorded", "train", ("a",), tuple(videos))


def _scores(rng: np.random.Generator, pool: VideoPool, style: str) -> np.ndarray:
    """One ``[frame]`` array per video, all videos back to back."""
    total = sum(v.num_frames for v in pool.videos)
    if style == "ties":
        return rng.integers(0, 3, total) / 2.0
    if style == "negative":
        return rng.normal(0.0, 1.0, total)
    return rng.random(total) * float(rng.choice([1.0, 3.0]))


def _score_mapping(
    rng: np.random.Generator, pool: VideoPool, flat: np.ndarray, form: str
) -> dict[str, np.ndarray] | ScoreTable:
    offsets = np.cumsum([0] + [v.num_frames for v in pool.videos])
    arrays = {v.name: flat[offsets[i] : offsets[i + 1]] for i, v in enumerate(pool.videos)}
    if form == "table":
        return ScoreTable.from_arrays(arrays)
    if form == "shuffled_table":  # another order, plus a video the pool does not have
        names = list(rng.permutation(list(arrays)))
        return ScoreTable.from_arrays(
            [("other", np.full(3, 9.0)), *((n, arrays[n]) for n in names)]
        )
    return arrays


def _state(rng: np.random.Generator, pool: VideoPool, empty_share: float) -> AnnotationState:
    if rng.random() < empty_share:
        return AnnotationState.empty()
    count = int(rng.integers(1, max(2, len(pool) // 2 + 1)))
    names = [pool.videos[i].name for i in rng.permutation(len(pool))[:count]]
    frames = {}
    for name in names:
        record = pool[name]
        boxed = np.flatnonzero(record.boxes_per_frame() > 0)
        choices = boxed if len(boxed) and rng.random() < 0.8 else np.arange(record.num_frames)
        take = int(rng.integers(1, min(4, len(choices)) + 1))
        frames[name] = tuple(sorted(rng.choice(choices, take, replace=False).tolist()))
    return AnnotationState(int(rng.integers(0, 4)), tuple(names), frames)


def _config(rng: np.random.Generator) -> SelectionConfig:
    def pick(*options: Any) -> Any:
        return options[int(rng.integers(len(options)))]

    return SelectionConfig(
        window=pick(0, 1, 2, 4, 4, 6),
        sigma=pick(8 / 3, 8 / 3, 1.0, 0.5, 4.0),
        mode=pick("multiply", "subtract"),
        cluster_limit=pick(0.0, 0.2, 0.34, 0.54, 0.54, 1.0),
        quota=pick("fraction", "fraction", "proportional"),
        on_saturation=pick("relax", "relax", "stop"),
        frames_per_video=pick("fraction", "fraction", "budget"),
        frames_per_video_fraction=pick(0.05, 0.1, 0.25, 0.5, 1.0),
        video_score=pick("sum", "mean", "raw_sum"),
        increment=pick("sample+frame", "sample+frame", "sample+frame", "only_frame"),
        only_frames_with_boxes=pick(True, True, False),
        cost_model=CostModel(per_box=pick(1, 1, 2), per_video=pick(0, 0, 3)),
    )


def _budget(rng: np.random.Generator, pool: VideoPool) -> Budget:
    videos = int(rng.choice([1, 2, 3, 5, 8, 8, len(pool)])) if rng.random() > 0.05 else 0
    cost = int(rng.choice([5, 12, 30, 80, 80, 400, 100_000])) if rng.random() > 0.05 else 0
    return Budget(videos, cost)


# Per strategy, what its cases force on top of the random draws (one entry per case). "busy":
# a pool of 40 videos and a budget of several videos, so that cluster limits bind; "clusters":
# None drops the cluster ids; "negative": negative scores (an error under mode="multiply");
# "refine": some videos already selected; "empty_state": none; "missing_cluster": a video
# without a cluster id; "tight": a frame budget of a few whole videos; "zero_videos": B_v = 0.
SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "claus": [
        {"busy": True, "cluster_limit": 0.2, "on_saturation": "relax", "quota": "fraction"},
        {"busy": True, "cluster_limit": 0.1, "on_saturation": "stop", "quota": "fraction"},
        {"busy": True, "quota": "proportional", "on_saturation": "relax"},
        {"busy": True, "quota": "proportional", "on_saturation": "stop", "video_score": "mean"},
        {"busy": True, "increment": "only_frame", "refine": True},
        {"clusters": None},
    ],
    "uncertainty": [{"busy": True}, {"mode": "multiply", "negative": True}, {}, {}, {}, {}],
    "entropy": [{"busy": True, "mode": "subtract", "negative": True}, {}, {}, {}, {}, {}],
    "sample": [
        {"busy": True, "cluster_limit": 0.2, "on_saturation": "relax", "quota": "fraction"},
        {"busy": True, "quota": "proportional", "on_saturation": "stop"},
        {"busy": True, "clusters": None},
        {"busy": True, "tight": True, "on_saturation": "relax"},
        {"tight": True, "cost_model": CostModel(per_box=1, per_video=2)},
        {"busy": True, "missing_cluster": True},
    ],
    "random": [{}, {"frames_per_video": "budget", "zero_videos": True}, {}, {}, {}, {}],
    "intra_sample": [
        {"busy": True, "refine": True},
        {"busy": True, "empty_state": True},
        {},
        {},
        {},
        {},
    ],
}
CONFIG_FIELDS = {field.name for field in dataclasses.fields(SelectionConfig)}


def build_cases() -> list[dict[str, Any]]:
    """Every case: ``{"id", "describe", "run"}``; ``run()`` returns the case's JSON summary."""
    rng = np.random.default_rng(SEED)
    cases = []
    for index in range(CASES_PER_STRATEGY * len(STRATEGY_NAMES)):
        strategy = STRATEGY_NAMES[index % len(STRATEGY_NAMES)]
        scenario = SCENARIOS.get(strategy, [{}] * CASES_PER_STRATEGY)[index // len(STRATEGY_NAMES)]
        busy = scenario.get("busy", False)
        size = 150 if index < 2 else 40 if busy else int(rng.choice([1, 4, 10, 16, 30, 40]))
        pool = _pool(rng, size, 250 if index < 2 else int(rng.choice([8, 30, 80])))
        config = _config(rng)
        changes = {name: value for name, value in scenario.items() if name in CONFIG_FIELDS}
        if busy:
            changes.setdefault("increment", "sample+frame")
        config = dataclasses.replace(config, **changes)
        negative = rng.random() < (0.6 if config.mode == "subtract" else 0.06)
        style = "negative" if negative or scenario.get("negative") else "plain"
        style = "ties" if rng.random() < 0.25 and not scenario.get("negative") else style
        form = str(rng.choice(["dict", "table", "shuffled_table"]))
        scores = {
            kind: _score_mapping(rng, pool, _scores(rng, pool, style), form)
            for kind in ("uncertainty", "entropy")
        }
        num_clusters = int(rng.integers(2, 5)) if busy else int(rng.integers(1, 5))
        clusters: dict[str, int] | None = {
            v.name: int(rng.integers(num_clusters)) for v in pool.videos
        }
        if rng.random() < 0.1 or ("clusters" in scenario and scenario["clusters"] is None):
            clusters = None
        elif scenario.get("missing_cluster"):
            del clusters[pool.videos[int(rng.integers(len(pool)))].name]
        state = _state(rng, pool, 0.0 if scenario.get("refine") else 0.4)
        if scenario.get("empty_state"):
            state = AnnotationState.empty()
        round_index = int(rng.integers(4, 9)) if rng.random() < 0.2 else None
        budget = _budget(rng, pool)
        if busy:
            budget = Budget(int(rng.choice([8, 12, 40])), int(rng.choice([60, 150, 400])))
        if scenario.get("zero_videos"):
            budget = Budget(0, budget.frame_cost)
        if scenario.get("tight"):  # whole videos that only just fit, or not
            budget = Budget(int(rng.choice([3, 8])), int(rng.choice([15, 25, 40])))
        seed = int(rng.integers(2**31))
        describe = {
            "strategy": strategy,
            "videos": len(pool),
            "frames": sum(v.num_frames for v in pool.videos),
            "scores": f"{style} {form}",
            "clusters": None if clusters is None else num_clusters,
            "state": [state.round, len(state.videos), state.num_frames()],
            "round_index": round_index,
            "budget": [budget.videos, budget.frame_cost],
            "config": _describe_config(config),
            "seed": seed,
        }

        def run(
            strategy: str = strategy,
            context: tuple = (pool, state, scores, clusters, round_index),
            budget: Budget = budget,
            config: SelectionConfig = config,
            seed: int = seed,
        ) -> dict[str, Any]:
            rng = np.random.default_rng(seed)
            if strategy.startswith("initial_"):
                frames = strategy.removeprefix("initial_")
                return summary(
                    initial_selection(context[0], budget, rng, frames=frames, config=config)
                )
            selection = SelectionContext(*context)
            return summary(STRATEGIES[strategy](selection, budget, config, rng))

        cases.append({"id": f"{index:02d}-{strategy}", "describe": describe, "run": run})
    for index in range(PICK_CASES):
        length = int(rng.integers(0, 60))
        mode = "subtract" if index % 2 else "multiply"
        values = rng.normal(0, 1, length) if mode == "subtract" else rng.random(length)
        if index % 3 == 0:
            values = np.round(values * 2) / 2  # ties
        annotated = sorted(set(rng.integers(0, max(length, 1), int(rng.integers(0, 5))).tolist()))
        annotated = annotated if length else []
        options = {
            "k": int(rng.integers(0, 15)),
            "window": int(rng.integers(0, 6)),
            "sigma": float(rng.choice([8 / 3, 1.0, 0.7])),
            "mode": mode,
            "annotated": annotated,
        }

        def run_picks(values: np.ndarray = values, options: dict = options) -> dict[str, Any]:
            picks = pick_frames(values, **options)
            return {
                "frames": list(picks.frames),
                "pick_scores": list(picks.pick_scores),
                "raw_scores": list(picks.raw_scores),
                "video_score": {r: picks.video_score(r) for r in ("sum", "mean", "raw_sum")},
            }

        describe = {"strategy": "pick_frames", "frames": length, **options}
        cases.append({"id": f"pick-{index:02d}", "describe": describe, "run": run_picks})
    return cases


def _describe_config(config: SelectionConfig) -> dict[str, Any]:
    """The config's fields as recorded; ``variant`` (added after the recording, always "paper"
    here: the released selection has its own hand cases) is left out."""
    fields = dataclasses.asdict(config)
    fields["cost_model"] = [config.cost_model.per_box, config.cost_model.per_video]
    assert fields.pop("variant") == "paper"
    return fields


def summary(result: SelectionResult) -> dict[str, Any]:
    """What a selection returns, as plain JSON values."""
    state = result.state
    return {
        "state": {
            "round": state.round,
            "videos": list(state.videos),
            "frames": {name: list(state.frames[name]) for name in state.videos},
        },
        "cost": result.cost,
        "notes": list(result.notes),
        "columns": {name: list(values) for name, values in result.columns.items()},
    }


def outcome(case: dict[str, Any]) -> dict[str, Any]:
    """The case's summary, or the error it raises."""
    try:
        return {"result": case["run"]()}
    except ValueError as err:  # DataError is a ValueError
        return {"error": type(err).__name__, "message": str(err)}


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def record() -> None:
    """Write every case's outcome to :data:`RECORDED`, one case per line."""
    lines = [
        _text({"id": case["id"], "describe": case["describe"], **outcome(case)})
        for case in build_cases()
    ]
    RECORDED.write_text("[\n" + ",\n".join(lines) + "\n]\n")


# --------------------------------------------------------------------------- the test


@pytest.fixture(scope="module")
def recorded() -> dict[str, dict[str, Any]]:
    return {case["id"]: case for case in json.loads(RECORDED.read_text())}


def test_the_cases_cover_every_strategy_and_option(recorded: dict[str, dict[str, Any]]) -> None:
    strategies = {case["describe"]["strategy"] for case in recorded.values()}
    assert set(STRATEGIES) | {"initial_random", "initial_equidistant", "pick_frames"} <= strategies
    configs = [
        case["describe"]["config"] for case in recorded.values() if "config" in case["describe"]
    ]
    for name, values in {
        "mode": {"multiply", "subtract"},
        "quota": {"fraction", "proportional"},
        "on_saturation": {"relax", "stop"},
        "frames_per_video": {"fraction", "budget"},
        "video_score": {"sum", "mean", "raw_sum"},
        "increment": {"sample+frame", "only_frame"},
        "only_frames_with_boxes": {True, False},
    }.items():
        assert {config[name] for config in configs} == values, name
    text = "\n".join(_text(case) for case in recorded.values())
    for phrase in (
        "cluster limit relaxed: every cluster with candidates was saturated",
        "saturated (on_saturation='stop')",
        "only_frame increment: the cluster limit does not apply",
        "intra_sample: no video selected yet",
        "more frames in a selected video",
        "whole video",
        "evenly spaced frame",
        "the video budget is spent",
        "too little budget left for any frame",
        "every candidate video was considered",
        "this round's quota",
        "needs cluster assignments",
        "negative score",
        "budget.videos is 0",
        "no cluster assignment for video",
    ):
        assert phrase in text, phrase
    ok = [case for case in recorded.values() if "result" in case and "columns" in case["result"]]
    assert sum(1 for case in ok if case["result"]["columns"]["frame"]) >= 30


def test_selections_equal_the_recorded_ones(recorded: dict[str, dict[str, Any]]) -> None:
    cases = build_cases()
    assert [case["id"] for case in cases] == list(recorded)
    for case in cases:
        expected = recorded[case["id"]]
        assert _text(case["describe"]) == _text(expected["describe"]), case["id"]
        got = outcome(case)
        assert set(got) == set(expected) - {"id", "describe"}, (case["id"], got)
        for key, value in got.items():
            if key == "result":
                for part, content in value.items():
                    assert _text(content) == _text(expected[key][part]), (case["id"], part)
            else:
                assert _text(value) == _text(expected[key]), (case["id"], key)


if __name__ == "__main__":
    record()
