"""Algorithm 1 of the supplementary (CLAUS), plainly: greedy frame picks with Gaussian damping in
each video (lines 7-13), then videos by descending score under the budgets B_v / B_f (Section 5)
and the cluster limit (lines 14-26, Section 7.2; Section 4.1 runs it with and without).

- Picks: the highest-scoring frame ``i`` (ties: lowest index); each ``j`` with ``1 <= |j - i|
  <= window`` is damped by ``g(d) = exp(-d^2 / (2 sigma^2))``: ``s[j] *= 1 - g(d)`` (the paper)
  or ``s[j] -= g(d)`` (the released code). Frames annotated earlier damp first, never picked.
- Video score: the ``A_t`` picks' scores when picked, summed in pick order (or their mean, or
  their undamped scores summed). Videos by descending score (ties: pool order) take their picks
  while at most B_v new videos and B_f cost units (``claus_core.cost``) are spent: a frame that
  would overshoot is skipped, a video with no frame that fits is not taken. A cluster's videos
  (all rounds) are at most ``floor(cluster_limit * members)`` (or, this round's, its share of
  B_v); once every cluster with videos to come is full, the rest follow in order (or none).

Scores must be finite (and >= 0 under ``"multiply"``); otherwise DataError names the video.
"""

import functools
import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_type_hints

import numpy as np
import pandas as pd

from claus_core.cost import CostModel
from claus_core.damping import SIGMA, WINDOW
from claus_core.data.types import AnnotationState, DataError, VideoPool, VideoRecord
from claus_core.score_table import ScoreTable, check_scores

logger = logging.getLogger("claus_core.selection")  # the name the run logs have always shown
SCORE_KINDS = ("uncertainty", "entropy")
RECORD_COLUMNS = tuple(  # SelectionResult.columns: one entry per chosen frame
    "strategy round video frame cluster video_rank video_score pick frame_score pick_score cost "
    "reason".split()
)


@dataclass(frozen=True)
class Budget:
    """One round's budget: ``videos`` new videos (B_v) and ``frame_cost`` cost units (B_f)."""

    videos: int
    frame_cost: int

    def __post_init__(self) -> None:
        for name in ("videos", "frame_cost"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"Budget.{name} must be an integer, got {value!r}")
            if value < 0:
                raise ValueError(f"Budget.{name} must be >= 0, got {value}")
            object.__setattr__(self, name, int(value))


@dataclass(frozen=True)
class SelectionConfig:
    """Options of Algorithm 1 (see the module docstring)."""

    window: int = WINDOW  # W: frames on each side damped by a pick
    sigma: float = SIGMA  # width of the Gaussian damping g(d)
    mode: Literal["multiply", "subtract"] = "multiply"  # paper / released code (module docstring)
    cluster_limit: float = 0.54  # quota="fraction": a cluster's share of its members, all rounds
    quota: Literal["fraction", "proportional"] = "fraction"  # or this round's share of B_v
    on_saturation: Literal["relax", "stop"] = "relax"  # when every cluster with videos is full
    frames_per_video: Literal["fraction", "budget"] = "fraction"  # A_t; "budget": B_f / B_v
    frames_per_video_fraction: float = 0.05  # A_t's share of a video's candidate frames (~5 %)
    video_score: Literal["sum", "mean", "raw_sum"] = "sum"  # "mean": released code; "raw_sum":
    # the picked frames' undamped scores; "sum" and "mean": their scores when picked
    increment: Literal["sample+frame", "only_frame"] = "sample+frame"  # Table 8; "only_frame":
    # more frames in the selected videos only (no B_v, no cluster limit)
    only_frames_with_boxes: bool = True  # candidate frames carry a GT box (the released code
    # takes [sf, ef) of the video's first tube only, ucf101_CLAUS.py l.589-592)
    cost_model: CostModel = field(default_factory=CostModel)
    # "released": the authors' released selection instead (selection/released.py); added later,
    # so hash-neutral at its default
    variant: Literal["paper", "released"] = field(default="paper", metadata={"added": True})

    @classmethod
    def released_code(cls) -> "SelectionConfig":
        """The released code's selection (``claus_core.selection.released``), for ``claus``."""
        return cls(variant="released", mode="subtract", video_score="mean", on_saturation="stop")

    def __post_init__(self) -> None:
        window, sigma, share = self.window, self.sigma, self.frames_per_video_fraction
        if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 0:
            raise ValueError(f"window must be a non-negative integer, got {window!r}")
        finite = isinstance(sigma, int | float | np.floating) and math.isfinite(sigma)
        if not (finite and sigma > 0):
            raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
        if self.mode not in ("multiply", "subtract"):
            raise ValueError(f"mode must be 'multiply' or 'subtract', got {self.mode!r}")
        if not 0.0 <= self.cluster_limit <= 1.0:
            raise ValueError(f"cluster_limit must be in [0, 1], got {self.cluster_limit}")
        if not 0.0 < share <= 1.0:
            raise ValueError(f"frames_per_video_fraction must be in (0, 1], got {share}")
        names = (
            "quota",
            "on_saturation",
            "frames_per_video",
            "video_score",
            "increment",
            "variant",
        )
        for name in names:
            allowed = get_args(get_type_hints(SelectionConfig)[name])  # the Literal's values
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.cost_model.per_box < 0 or self.cost_model.per_video < 0:
            raise ValueError(f"cost model costs must be >= 0, got {self.cost_model}")


@dataclass(frozen=True)
class SelectionContext:
    """What a step sees; ``scores[kind][video]``: ``[frame]`` scores (best a ``ScoreTable``) of
    every video it may pick; ``clusters[video]``: of every pool video (or None)."""

    pool: VideoPool
    state: AnnotationState
    scores: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)
    clusters: Mapping[str, int] | None = None
    round_index: int | None = None  # it selects round_index + 1; default: state.round

    def __post_init__(self) -> None:
        if len(self.pool) == 0:
            raise ValueError(f"{self.pool.dataset}/{self.pool.split}: the pool has no video")
        self.state.validate(self.pool)
        if self.round_index is None:
            object.__setattr__(self, "round_index", self.state.round)


@dataclass(frozen=True)
class SelectionResult:
    """The next state, the records (``columns``: one entry per chosen frame, in the order
    chosen), the cost the step added and ``notes`` on what it could not do."""

    state: AnnotationState
    columns: Mapping[str, tuple[Any, ...]]
    cost: int
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if tuple(self.columns) != RECORD_COLUMNS:
            raise ValueError(f"columns must be {RECORD_COLUMNS}, got {tuple(self.columns)}")
        if len({len(values) for values in self.columns.values()}) > 1:
            raise ValueError("record columns have different lengths")

    @functools.cached_property
    def records(self) -> tuple[dict[str, Any], ...]:
        """One dict per chosen frame, keys :data:`RECORD_COLUMNS`."""
        rows = zip(*self.columns.values(), strict=True)
        return tuple(dict(zip(RECORD_COLUMNS, row, strict=True)) for row in rows)

    def to_dataframe(self) -> pd.DataFrame:
        """The records as a DataFrame with columns :data:`RECORD_COLUMNS`."""
        frame = pd.DataFrame({name: list(values) for name, values in self.columns.items()})
        return frame.astype({"cluster": "Int64", "frame": "int64", "cost": "int64"})


def suppression_weights(window: int, sigma: float) -> np.ndarray:  # [window + 1] float64
    """``g(d) = exp(-d^2 / (2 sigma^2))`` for ``d = 0 .. window`` (``g(0) = 1``)."""
    SelectionConfig(window=window, sigma=sigma)  # checks them
    return np.array([math.exp(-(d * d) / (2.0 * sigma * sigma)) for d in range(window + 1)])


@dataclass(frozen=True)
class FramePicks:
    """The greedy picks of one video: frames in pick order and their scores."""

    frames: tuple[int, ...]
    pick_scores: tuple[float, ...]  # score of each frame when it was picked (damped)
    raw_scores: tuple[float, ...]  # the frame's undamped score

    def video_score(self, reduce: Literal["sum", "mean", "raw_sum"] = "sum") -> float:
        """Algorithm 1 line 13: a sequential sum in pick order (``"mean"``: over the picks)."""
        total = 0.0
        for value in self.raw_scores if reduce == "raw_sum" else self.pick_scores:
            total += value
        return total / len(self.frames) if reduce == "mean" and self.frames else total


def greedy_picks(
    scores: np.ndarray, pickable: np.ndarray, annotated: np.ndarray, k: int, config: SelectionConfig
) -> FramePicks:
    """Lines 7-12 on one video: ``k`` picks among the ``pickable`` frames (``[frame]`` bool) of
    ``scores`` (``[frame]``, unchecked), once the ``annotated`` frames (ascending) damped theirs."""
    window, multiply = config.window, config.mode == "multiply"
    g = suppression_weights(window, config.sigma)  # [W + 1] g(d)
    values = np.where(pickable, scores, -np.inf)  # [frame] the current scores

    def damp(centre: int) -> None:  # the frames j around centre, then centre itself
        for j in range(max(0, centre - window), min(len(values), centre + window + 1)):
            d = abs(j - centre)
            if d > 0:
                values[j] = values[j] * (1.0 - g[d]) if multiply else values[j] - g[d]
        values[centre] = -np.inf

    for frame in annotated.tolist():
        damp(frame)
    frames, picked = [], []
    for _ in range(k):
        frames.append(int(np.argmax(values)))  # ties: the lowest index
        picked.append(float(values[frames[-1]]))
        damp(frames[-1])
    return FramePicks(tuple(frames), tuple(picked), tuple(scores[frames].tolist()))


def pick_frames(
    scores: Sequence[float] | np.ndarray,  # [frame]
    k: int,
    *,
    window: int = WINDOW,
    sigma: float = SIGMA,
    mode: Literal["multiply", "subtract"] = "multiply",
    annotated: Sequence[int] | np.ndarray = (),
) -> FramePicks:
    """At most ``k`` frames, none of ``annotated``, picked greedily (lines 7-12), with their
    scores; NaN or infinite scores (negative under ``"multiply"``) raise ValueError."""
    config = SelectionConfig(window=window, sigma=sigma, mode=mode)  # checks them
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    array = np.asarray(scores, dtype=np.float64)  # [frame]
    if array.ndim != 1:
        raise ValueError(f"scores must be a 1-d array of per-frame scores, got shape {array.shape}")
    check_scores(array, mode, "scores")
    marks = np.unique(np.asarray(annotated, dtype=np.int64))  # [annotated] ascending
    outside = marks[(marks < 0) | (marks >= len(array))].tolist()
    if outside:
        raise ValueError(f"annotated frames must lie in [0, {len(array)}), got {outside}")
    pickable = np.ones(len(array), dtype=bool)  # [frame]
    pickable[marks] = False
    return greedy_picks(array, pickable, marks, min(int(k), len(array) - len(marks)), config)


@dataclass(frozen=True)
class Candidate:
    """A video this step may choose frames of."""

    video: VideoRecord
    cluster: int | None  # context.clusters[video], if it has one
    boxes: np.ndarray  # [frame] GT boxes on each frame
    allowed: np.ndarray  # [frame] bool: a candidate frame, not annotated yet
    annotated: np.ndarray  # [annotated] frames annotated in earlier rounds, ascending
    base: int  # candidate frames, annotated ones included: what A_t is a share of
    available: int  # frames allowed


def candidates(context: SelectionContext, config: SelectionConfig, new: bool) -> list[Candidate]:
    """In pool order: the videos not selected yet (``new``) or the selected ones."""
    found, frames, clusters = [], context.state.frames, context.clusters or {}
    for video in context.pool.videos:
        if (video.name in frames) != new:
            cluster = int(clusters[video.name]) if video.name in clusters else None
            boxes = video.boxes_per_frame()  # [frame]
            allowed = boxes > 0 if config.only_frames_with_boxes else np.ones(len(boxes), bool)
            base = int(allowed.sum())
            marks = np.array(frames.get(video.name, ()), dtype=np.int64)  # [annotated]
            allowed[marks] = False
            found.append(Candidate(video, cluster, boxes, allowed, marks, base, int(allowed.sum())))
    return found


def frames_wanted(cands: list[Candidate], budget: Budget, config: SelectionConfig) -> list[int]:
    """A_t of every candidate, at most its available frames."""
    if config.frames_per_video == "fraction":
        share = config.frames_per_video_fraction
        return [min(max(1, int(np.round(share * c.base))), c.available) for c in cands]
    if budget.videos == 0:
        raise ValueError("frames_per_video='budget' divides B_f by B_v: budget.videos is 0")
    per_video = max(1, int(np.round(budget.frame_cost / budget.videos)))
    return [min(per_video, c.available) for c in cands]


def candidate_scores(
    context: SelectionContext, kind: str, cands: list[Candidate], strategy: str, mode: str
) -> list[np.ndarray]:
    """The ``kind`` scores (``[frame]``) of every candidate, checked (DataError names a video)."""
    if kind not in context.scores:
        known = sorted(context.scores)
        raise ValueError(f"strategy {strategy!r} needs {kind!r} scores; the context has {known}")
    given, names = context.scores[kind], [c.video.name for c in cands]
    missing = [name for name in names if name not in given]
    if missing:
        raise DataError(f"no {kind!r} scores for video {missing[0]!r}")
    # the table checks that every score is finite
    table = ScoreTable.from_arrays([(n, given[n]) for n in names], what=f"{kind!r} scores")
    for name, cand in zip(names, cands, strict=True):
        if len(table[name]) != cand.video.num_frames:
            shapes = f"({len(table[name])},), expected ({cand.video.num_frames},)"
            raise DataError(f"{kind!r} scores of video {name!r} have shape {shapes}")
    for name in names:
        check_scores(table[name], mode, f"{kind!r} scores of video {name!r}", DataError)
    return [table[name] for name in names]


class Ledger:
    """Spends one round's budget, video by video (lines 20-25), with one record per frame."""

    def __init__(self, name: str, round: int, budget: Budget, config: SelectionConfig, new: bool):
        self.strategy, self.round, self.budget, self.new = name, round, budget, new
        self.per_box = config.cost_model.per_box
        self.open_cost = config.cost_model.per_video if new else 0
        # the least that taking anything costs: a candidate frame with a box costs >= per_box
        self.cheapest = self.open_cost + (self.per_box if config.only_frames_with_boxes else 0)
        self.new_videos = self.spent = 0
        self.frames: dict[str, list[int]] = {}  # video -> frames chosen, in the order chosen
        self.records: list[dict] = []  # one per chosen frame, keys RECORD_COLUMNS

    def exhausted(self) -> bool:
        videos_full = self.new and self.new_videos >= self.budget.videos
        return videos_full or self.budget.frame_cost - self.spent < self.cheapest

    def take(self, cand: Candidate, frames: np.ndarray, record: dict, whole: bool = False) -> int:
        """Annotate those ``frames`` (``[pick]``, preference order) of ``cand`` that fit (``whole``:
        all or none), ``record`` in each record; returns how many. Not once exhausted."""
        nan = [math.nan] * len(frames)  # frame_score, pick_score: [pick]
        record = {"video_score": math.nan, "frame_score": nan, "pick_score": nan} | record
        costs = (cand.boxes[frames] * self.per_box).tolist()  # [pick]
        room = self.budget.frame_cost - self.spent - self.open_cost
        keep = []  # positions in frames of those taken
        if not whole or sum(costs) <= room:
            for position, cost in enumerate(costs):
                if cost <= room:
                    keep.append(position)
                    room -= cost
        if keep:
            self.new_videos += int(self.new)
            self.spent += self.open_cost + sum(costs[p] for p in keep)
            self.frames.setdefault(cand.video.name, []).extend(int(frames[p]) for p in keep)
        for p in keep:
            row = {"frame": int(frames[p]), "pick": p, "cost": costs[p], "video": cand.video.name}
            row |= {name: record[name][p] for name in ("frame_score", "pick_score")}
            self.records.append(record | row | {"strategy": self.strategy, "round": self.round})
        return len(keep)

    def result(self, state: AnnotationState, notes: list[str]) -> SelectionResult:
        remaining = self.budget.frame_cost - self.spent
        videos_left = self.budget.videos - self.new_videos if self.new else 0
        if remaining > 0 or videos_left > 0:
            if self.new and videos_left == 0:
                why = "the video budget is spent"
            elif remaining < self.cheapest:
                why = "too little budget left for any frame"
            else:
                why = "every candidate video was considered"
            unspent = f"left unspent: {remaining} of {self.budget.frame_cost} cost units"
            videos = f", {videos_left} of {self.budget.videos} videos" if self.new else ""
            notes.append(f"{unspent}{videos} ({why})")
        for note in notes:
            logger.info("%s round %d: %s", self.strategy, self.round, note)
        columns = {name: tuple(r[name] for r in self.records) for name in RECORD_COLUMNS}
        next_state = state.merged(self.frames, round=self.round)
        return SelectionResult(next_state, columns, self.spent, tuple(notes))


def cluster_limits(context: SelectionContext, budget: Budget, config: SelectionConfig) -> tuple:
    """Lines 18-19 (Section 7.2): per cluster, how many videos it may have and has so far."""
    clusters, names = context.clusters or {}, context.pool.names
    missing = [name for name in names if name not in clusters]
    if missing:
        raise DataError(f"no cluster assignment for video {missing[0]!r} ({len(missing)} missing)")
    members = Counter(int(clusters[name]) for name in names)
    count = dict.fromkeys(members, 0)
    if config.quota == "proportional":  # this round's new videos, by largest remainders
        shares = {c: budget.videos * n / len(names) for c, n in members.items()}
        limit = {c: math.floor(share) for c, share in shares.items()}
        leftover = budget.videos - sum(limit.values())
        for c in sorted(shares, key=lambda c: (limit[c] - shares[c], c))[:leftover]:
            limit[c] += 1
        return limit, count
    for name in context.state.videos:  # all rounds together
        count[int(clusters[name])] += 1
    return {c: math.floor(config.cluster_limit * n) for c, n in members.items()}, count


def ranked_selection(
    context: SelectionContext,
    budget: Budget,
    config: SelectionConfig,
    rng: np.random.Generator,  # unused: every choice follows the scores
    *,
    strategy: str,
    kind: str = "uncertainty",  # the scores that rank the videos
    use_clusters: bool = False,
    whole: bool = False,  # annotate every candidate frame of a video taken
    notes: Sequence[str] = (),
) -> SelectionResult:
    """Algorithm 1, for every score-ranked strategy."""
    notes, new = list(notes), config.increment == "sample+frame"
    cands = candidates(context, config, new)
    ledger = Ledger(strategy, context.round_index + 1, budget, config, new)
    if not any(c.available for c in cands):
        return ledger.result(context.state, notes)
    ks = frames_wanted(cands, budget, config)  # [candidate] A_t
    scores = candidate_scores(context, kind, cands, strategy, config.mode)  # [candidate][frame]
    picks = {  # lines 7-12
        i: greedy_picks(scores[i], c.allowed, c.annotated, ks[i], config)
        for i, c in enumerate(cands)
        if ks[i] > 0
    }
    video_score = {i: p.video_score(config.video_score) for i, p in picks.items()}  # line 13
    order = sorted(picks, key=lambda i: -video_score[i])  # line 14; stable: ties in pool order
    limit, count = cluster_limits(context, budget, config) if use_clusters and new else ({}, {})
    if use_clusters and not new:
        notes.append("only_frame increment: the cluster limit does not apply to selected videos")
    verb = "new video" if new else "more frames in a selected video"
    scope = "this round's quota" if config.quota == "proportional" else "limit"

    def offer(rank: int, i: int, relaxed: bool = False) -> int:  # lines 20-25
        c = cands[i].cluster
        frames = np.flatnonzero(cands[i].allowed) if whole else np.array(picks[i].frames)
        reason = f"{kind} rank {rank}, {verb}"
        if limit:
            why = f"cluster {c} at {count[c]}/{limit[c]} ({scope})"
            saturated = "cluster limit relaxed: every cluster with candidates is saturated"
            reason += f"; {saturated} ({why})" if relaxed else f"; {why}"
        reason += "; whole video" if whole else f"; frame picked greedily (A_t = {ks[i]})"
        record = {"cluster": c, "video_rank": rank, "video_score": video_score[i], "reason": reason}
        record["frame_score"] = scores[i][frames].tolist()
        if not whole:
            record["pick_score"] = picks[i].pick_scores
        return ledger.take(cands[i], frames, record, whole)

    waiting = Counter(cands[i].cluster for i in order)  # videos still to come, per cluster
    held_back, queue = [], enumerate(order)  # held back: (rank, candidate) of full clusters
    for rank, i in queue:
        if ledger.exhausted():
            break
        c = cands[i].cluster
        waiting[c] -= 1
        if limit and count[c] >= limit[c]:  # lines 18-19
            held_back.append((rank, i))
        elif offer(rank, i) and limit:
            count[c] += 1
        if limit and all(n == 0 or count[d] >= limit[d] for d, n in waiting.items()):
            break  # every cluster with videos to come is full
    rest = held_back + list(queue)
    if not limit or not rest or ledger.exhausted():
        return ledger.result(context.state, notes)
    if config.on_saturation == "stop":
        notes.append("every cluster with candidates is saturated (on_saturation='stop')")
        return ledger.result(context.state, notes)
    relaxed = 0
    for rank, i in rest:
        if not ledger.exhausted() and offer(rank, i, relaxed=True):
            count[cands[i].cluster] += 1
            relaxed += 1
    saturated = "cluster limit relaxed: every cluster with candidates was saturated"
    notes.append(f"{saturated}; {relaxed} videos taken beyond it")
    return ledger.result(context.state, notes)


def shuffled(
    context: SelectionContext,
    budget: Budget,
    config: SelectionConfig,
    rng: np.random.Generator,
    *,
    strategy: str,
    frames: str,  # "random" or "equidistant": floor((i + 0.5) * n / A_t) of n candidate frames
) -> SelectionResult:
    """Random videos with random or evenly spaced frames, while the budget lasts."""
    new = config.increment == "sample+frame"
    cands = candidates(context, config, new)
    ledger = Ledger(strategy, context.round_index + 1, budget, config, new)
    ks = frames_wanted(cands, budget, config)  # [candidate] A_t
    order = rng.permutation(np.flatnonzero(np.array(ks, dtype=np.int64) > 0))
    verb = "new video" if new else "more frames in a selected video"
    for draw, i in enumerate(order.tolist()):
        if ledger.exhausted():
            break
        eligible = np.flatnonzero(cands[i].allowed)  # [eligible] ascending
        if frames == "random":
            chosen, how = rng.permutation(eligible)[: ks[i]], "random frame"
        else:
            chosen = eligible[((np.arange(ks[i]) + 0.5) * len(eligible) / ks[i]).astype(np.int64)]
            how = f"evenly spaced frame ({ks[i]} over {len(eligible)} candidate frames)"
        record = {"cluster": cands[i].cluster, "video_rank": draw}
        ledger.take(cands[i], chosen, record | {"reason": f"random {verb} (draw {draw}); {how}"})
    return ledger.result(context.state, [])
