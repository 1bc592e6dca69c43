"""The selection strategies of :data:`STRATEGIES`, ``strategy(context, budget, config, rng) ->
SelectionResult``: CLAUS (Algorithm 1) and the baselines of supplementary Tables 2 and 5, each
with what it needs (:class:`Strategy`: score kinds; clusters required, optional or unused);
:func:`initial_selection` draws round 0. A new strategy is one function and one entry here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import numpy as np

from claus_core.data.types import AnnotationState, VideoPool
from claus_core.selection.algorithm import (
    Budget,
    SelectionConfig,
    SelectionContext,
    SelectionResult,
    ranked_selection,
    shuffled,
)
from claus_core.selection.released import released_claus


def claus(
    context: SelectionContext, budget: Budget, config: SelectionConfig, rng: np.random.Generator
) -> SelectionResult:
    """CLAUS (Algorithm 1): uncertainty-ranked videos under the per-cluster limit; with
    ``config.variant == "released"``, the authors' released selection (``released.py``)."""
    if context.clusters is None:
        raise ValueError("strategy 'claus' needs cluster assignments (context.clusters is None)")
    if config.variant == "released":
        return released_claus(context, budget, config, rng)
    return ranked_selection(context, budget, config, rng, strategy="claus", use_clusters=True)


def sample(
    context: SelectionContext, budget: Budget, config: SelectionConfig, rng: np.random.Generator
) -> SelectionResult:
    """Table 2 "Sample": whole videos in CLAUS order (the cluster limit if there are clusters);
    a video is taken only if all its candidate frames fit."""
    clustered = {"use_clusters": context.clusters is not None, "whole": True}
    return ranked_selection(context, budget, config, rng, strategy="sample", **clustered)


def intra_sample(
    context: SelectionContext, budget: Budget, config: SelectionConfig, rng: np.random.Generator
) -> SelectionResult:
    """Table 2 "Intra-sample": more frames in the selected videos only (whatever
    ``config.increment``); with none selected yet, new videos like ``uncertainty``, noted."""
    selected = bool(context.state.videos)
    config = dataclasses.replace(config, increment="only_frame" if selected else "sample+frame")
    note = "intra_sample: no video selected yet, selected new videos like 'uncertainty'"
    notes = [] if selected else [note]
    return ranked_selection(context, budget, config, rng, strategy="intra_sample", notes=notes)


uncertainty = partial(ranked_selection, strategy="uncertainty")  # without clusters (Tables 3-5)
entropy = partial(ranked_selection, strategy="entropy", kind="entropy")  # Table 5 "Entropy"
random_strategy = partial(shuffled, strategy="random", frames="random")  # Table 5 "Random"
equidistant = partial(shuffled, strategy="equidistant", frames="equidistant")  # Table 5


def initial_selection(
    pool: VideoPool,
    budget: Budget,
    rng: np.random.Generator,
    *,
    frames: Literal["random", "equidistant"] = "random",
    config: SelectionConfig | None = None,  # default: SelectionConfig()
) -> SelectionResult:
    """Round 0: random videos with random or evenly spaced frames (A_t as ``config`` says)."""
    if frames not in ("random", "equidistant"):
        raise ValueError(f"frames must be 'random' or 'equidistant', got {frames!r}")
    context = SelectionContext(pool, AnnotationState.empty(), round_index=-1)  # selects round 0
    fresh = dataclasses.replace(config or SelectionConfig(), increment="sample+frame")
    return shuffled(context, budget, fresh, rng, strategy="initial", frames=frames)


@dataclass(frozen=True)
class Strategy:
    """A registry entry: the selection function and what it needs from the round before it. The
    loop scores the pool only for a strategy that reads scores, and keeps deep clusters only with
    ``train.cluster_loss`` (a config that turns it off under a strategy requiring them is refused)."""

    select: Callable[..., SelectionResult]
    scores: tuple[str, ...] = ()  # the score kinds it reads (SCORE_KINDS)
    clusters: Literal["required", "optional", "unused"] = "unused"
    # the strategy that ranks the same scores without clusters: what the loop replays on the
    # same pool to count the picks the clusters changed (None: no clusters, nothing to count)
    without_clusters: str | None = None

    def __post_init__(self) -> None:  # the loop assigns clusters while it scores the pool
        if self.clusters != "unused" and not self.scores:
            raise ValueError("a clustered strategy must read scores: both come from scoring")

    def __call__(self, *args: Any) -> SelectionResult:  # (context, budget, config, rng)
        return self.select(*args)


class _Registry(dict[str, Strategy]):
    """Strategy name -> :class:`Strategy`; an unknown name raises ValueError listing the known ones."""

    def __missing__(self, name: str) -> Strategy:
        raise ValueError(f"unknown selection strategy {name!r}; known: {sorted(self)}")


STRATEGIES = _Registry(
    claus=Strategy(
        claus, scores=("uncertainty",), clusters="required", without_clusters="uncertainty"
    ),
    uncertainty=Strategy(uncertainty, scores=("uncertainty",)),
    entropy=Strategy(entropy, scores=("entropy",)),
    random=Strategy(random_strategy),
    equidistant=Strategy(equidistant),
    sample=Strategy(
        sample, scores=("uncertainty",), clusters="optional", without_clusters="sample"
    ),
    intra_sample=Strategy(intra_sample, scores=("uncertainty",)),
)
