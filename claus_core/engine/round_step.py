"""One selection step in memory: score the pool, fit the clusters, select (Algorithm 1).

The study (:class:`claus_core.engine.experiment.Experiment`) and a labeling project
(:mod:`claus_core.labeling.rounds`) both select through :func:`select_step`, so the step exists
once; each persists what it returns in its own files::

    trained model --score(pool names)--> per video: [frame] uncertainty / entropy, [clip, D] latents
        --fit (clustered runs): k-means on the training videos' clip latents (Section 7.2);
          every pool video's cluster: the one most of its clips fall in
        --STRATEGIES[strategy](context, budget, selection config, generator)--> SelectionResult
        --clustered: the same ranking without clusters, to count the picks the clusters changed
    --> RoundSelection (plain data; nothing is written here)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from claus_core.clustering import ClusterConfig, DeepClusters, fit_clusters, occupancy
from claus_core.data.types import AnnotationState, FrameSource, VideoPool
from claus_core.score_table import ScoreTable
from claus_core.selection import (
    SCORE_KINDS,
    STRATEGIES,
    Budget,
    SelectionConfig,
    SelectionContext,
    SelectionResult,
)
from claus_core.uncertainty import ScoringConfig, score_pool

Scored = dict[
    str, dict[str, np.ndarray]
]  # video -> "uncertainty" / "entropy" [frame], "clip_latents" [clip, D]


@dataclass
class RoundSelection:
    """What one step produced. ``clusters``: fitted after this round's training, with every pool
    video's cluster as ``members`` (the next round trains with them), or None; ``assignments``:
    the clusters the selection read; ``facts``: what the clusters did (``metrics.json``
    ``clusters``: K, re-seeds, occupancy, picks they changed); ``seconds`` per stage."""

    result: SelectionResult
    scored: Scored
    clusters: DeepClusters | None = None
    assignments: dict[str, int] | None = None
    facts: dict[str, Any] | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def score_arrays(self) -> dict[str, np.ndarray]:
        """``"<kind>/<video>"`` -> ``[frame]`` scores: the contents of ``scores.npz``."""
        return {
            f"{kind}/{name}": per[kind]
            for kind in SCORE_KINDS
            for name, per in self.scored.items()
            if kind in per
        }


def _fit(
    pool: VideoPool,
    training: Mapping[str, np.ndarray],
    scored: Scored,
    cluster: ClusterConfig,
    round_index: int,
) -> tuple[DeepClusters, dict[str, int], dict[str, Any]]:
    """k-means on the training videos' clip latents, every pool video's cluster, how they fill."""
    clusters, fit = fit_clusters(training, cluster, round_index=round_index)
    assigned = clusters.assign_videos(
        {n: scored[n]["clip_latents"] for n in pool.names if n in scored}
    )
    clusters.members = {**clusters.members, **assigned}
    facts = {
        "k": clusters.k,
        "reseeds": fit.reseeds,
        "pool": occupancy(assigned, clusters.k),
        "training": occupancy([clusters.members[n] for n in training], clusters.k),
    }
    return clusters, assigned, facts


def _picks_changed(
    strategy: str,
    context: SelectionContext,
    result: SelectionResult,
    budget: Budget,
    selection: SelectionConfig,
    rng_key: Sequence[int],
) -> dict[str, Any]:
    """How many new videos the clusters changed: beside the ranking the registry names as the
    same without clusters, on the same scored pool, budget and generator (issue 24)."""
    plain_name = STRATEGIES[strategy].without_clusters
    if (
        plain_name is None
        or selection.variant == "released"
        or selection.increment != "sample+frame"
    ):
        return {}  # released: it differs from uncertainty in more; only_frame: no limit
    plain = STRATEGIES[plain_name](
        replace(context, clusters=None), budget, selection, np.random.default_rng(rng_key)
    )
    new = set(result.state.videos) - set(context.state.videos)
    return {"new_videos": len(new), "without_clusters": plain_name,
            "changed_by_clusters": len(new - set(plain.state.videos))}  # fmt: skip


def pool_scorer(
    model: Any,
    source: FrameSource,
    *,
    config: ScoringConfig,
    seed: int,
    round_index: int,
    progress: bool,
) -> Callable[[Sequence[str]], Scored]:
    """``score(names)`` for :func:`select_step`: :func:`claus_core.uncertainty.score_pool` of the
    trained ``model`` on ``source``, in one process."""
    return lambda names: score_pool(
        model, source, names, config=config, seed=seed, round_index=round_index, progress=progress
    )


def select_step(
    *,
    pool: VideoPool,
    state: AnnotationState,
    strategy: str,
    budget: Budget,
    selection: SelectionConfig,
    score: Callable[[Sequence[str]], Scored],
    cluster: ClusterConfig | None,
    round_index: int,
    rng_key: Sequence[int],
    training_latents: Callable[[], Mapping[str, np.ndarray]] | None = None,
) -> RoundSelection:
    """Select the next annotations of ``pool`` after ``state`` (the step of round ``round_index``).

    ``score(names)``: the trained model's scores of those videos (``score_pool``, or its sharded
    form, :func:`pool_scorer`). ``cluster``: fit clusters with this config when the strategy
    scores (None: no clusters); they are fitted on ``training_latents()`` (``[clip, D]`` per
    training video, for training videos outside the pool) or, when None, on the scored clip
    latents of ``state.videos``. ``rng_key`` seeds the strategy's generator.
    """
    needs = STRATEGIES[strategy]
    seconds: dict[str, float] = {}
    scored: Scored = {}
    scores: dict[str, ScoreTable] = {}
    clusters = assignments = facts = None
    if needs.scores:
        t0 = time.perf_counter()
        scored = score(pool.names)
        seconds["score"] = time.perf_counter() - t0
        for kind in SCORE_KINDS:
            rows = [(n, scored[n][kind]) for n in pool.names if kind in scored.get(n, {})]
            scores[kind] = ScoreTable.from_arrays(rows, what=f"{kind!r} scores")
        if cluster is not None:
            t0 = time.perf_counter()
            if training_latents is None:
                training = {n: scored[n]["clip_latents"] for n in state.videos}
            else:
                training = training_latents()
            clusters, pool_clusters, facts = _fit(pool, training, scored, cluster, round_index)
            seconds["cluster"] = time.perf_counter() - t0
            if needs.clusters != "unused":
                assignments = pool_clusters
    t0 = time.perf_counter()
    context = SelectionContext(
        pool, state, scores=scores, clusters=assignments, round_index=round_index
    )
    result = STRATEGIES[strategy](context, budget, selection, np.random.default_rng(rng_key))
    seconds["select"] = time.perf_counter() - t0
    if facts is not None and assignments is not None:
        facts |= _picks_changed(strategy, context, result, budget, selection, rng_key)
    return RoundSelection(result, scored, clusters, assignments, facts, seconds)
