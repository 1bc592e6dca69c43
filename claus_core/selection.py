"""Hybrid video + frame selection: Algorithm 1 of the supplementary and every baseline strategy.

Implements supplementary Algorithm 1 (CLAUS: clustering-aware uncertainty scoring), Section 4.1
(hybrid selection with and without clusters, Tables 3-4), Section 4.2 and Table 5 (the entropy,
uncertainty, equidistant and random baselines), Section 4.4 and Table 2 (sample, intra-sample and
hybrid selection), Section 5 (budgets B_v / B_f; Table 8: sample+frame vs only-frame increment)
and Section 7.2 (the per-cluster limit that stops oversampling one cluster).

Everything here works on plain data (a :class:`~claus_core.data.types.VideoPool`, an
:class:`~claus_core.data.types.AnnotationState`, per-video per-frame score arrays, per-video
cluster ids, a :class:`Budget`, a ``numpy.random.Generator``); it knows nothing about torch.

Readings of the algorithm (each is a documented choice):

- **Frame picking** (lines 7-12, :func:`select_frames`): repeatedly take the frame with the
  highest current score, then damp every frame ``j`` with ``1 <= |j - i| <= window`` by
  ``g(d) = exp(-d^2 / (2 sigma^2))``: ``s[j] *= 1 - g(d)`` (``mode="multiply"``, the paper's
  form, for non-negative scores) or ``s[j] -= g(d)`` (``mode="subtract"``, the authors' released
  code). Already annotated frames are never picked and damp their neighbours the same way,
  in ascending frame order, before the first pick. Ties go to the lowest frame index.
- **Video score** (line 13): ``U_sorted`` collects each picked frame's score *at the moment it
  is picked* (it carries the damping of earlier picks, not the damping its own pick triggers);
  the video score is their sum in pick order (``video_score="sum"``, Algorithm 1), their mean
  (``"mean"``, how the released code ranks videos) or the sum of the picked frames' undamped
  scores (``"raw_sum"``). With ``A_t`` a share of the video's frames, the sum favours long
  videos; the mean does not.
- **Frames per video** ``A_t``: ``frames_per_video="fraction"`` takes
  ``max(1, round(fraction * candidate frames))`` (the paper: ~5 % of a selected video's frames;
  ``round`` is numpy's, half to even, like the released code); ``"budget"`` takes
  ``max(1, round(B_f / B_v))`` for every video (the released code's annotation step). The same
  ``A_t`` frames score the video and are annotated when it is selected (line 23).
- **Candidate frames**: with ``only_frames_with_boxes=True`` (default) only frames carrying at
  least one GT box can be picked, like the released code, which masks frames outside the GT
  tube; under the box cost model a frame without a box would otherwise be free.
- **Budget loop** (lines 15-26): videos are taken in descending video score (ties: pool
  order). Both budgets are hard limits: at most ``B_v`` new videos, and the annotation cost added
  this round (``claus_core.cost``: boxes on the new frames, plus ``CostModel.per_video`` for each
  new video) never exceeds ``B_f``. A frame whose cost would overshoot ``B_f`` is not taken;
  later picks of the same video that still fit are. A video with no frame that fits is not
  selected. The loop stops when ``B_v`` videos are taken, when no frame can fit any more, or
  when candidates run out; a budget larger than what remains is not an error: everything that
  fits is taken and ``SelectionResult.notes`` says how much budget was left unspent.
- **Cluster limit** (lines 18-19, Section 7.2): ``quota="fraction"`` (default): a cluster's
  selected videos, all rounds together, may not exceed ``floor(cluster_limit * members)``,
  members counted over the whole pool (0.54 in the released code, which compares with ``<=``
  before counting and so admits one video more than this rule); ``quota="proportional"``: this
  round's new videos per cluster may not exceed the cluster's share of ``B_v``, apportioned by
  cluster size with largest remainders. Videos of a saturated cluster are skipped. When every
  cluster that still has candidates is saturated and budget remains, ``on_saturation="relax"``
  (default) takes the remaining videos in score order regardless of the limit (their records
  say so and a note is added); ``"stop"`` leaves the budget unspent.
- **Increment** (Table 8): ``increment="sample+frame"`` (default) selects new videos only, with
  their frames; ``"only_frame"`` adds frames to already selected videos only (no new video, so
  ``B_v`` and the cluster limit do not apply).

Scores must be finite for every frame of every candidate video (and ``>= 0`` under
``mode="multiply"``); otherwise :class:`~claus_core.data.types.DataError` names the video.
They arrive best as one :class:`~claus_core.score_table.ScoreTable` per kind (all videos back
to back, checked when built), which selection reads without copying. The
greedy picking runs for all candidate videos at once (rows grouped by length in padded
matrices, one ``argmax`` per group and pick step), with results identical to the one-video
loop; a video's picks are computed only when its rank is needed (:class:`_RankedRows`: an
upper bound on its score, from its largest score or from its first picks, must first fall
below the scores already ranked), so the ranking is exactly the full one.

Strategies (:data:`STRATEGIES`, one signature ``strategy(context, budget, config, rng)``,
score -> reduce -> rank): ``claus``; ``uncertainty`` (CLAUS without clusters); ``entropy`` (the
same on entropy scores); ``random`` (random videos, random frames); ``equidistant`` (random
videos, frames ``floor((i + 0.5) * n / A_t)`` of the ``n`` candidate frames); ``sample`` (Table 2 "Sample": whole videos fully annotated, in
CLAUS order, cluster limit applied when clusters are given; a video is taken only if all its
candidate frames fit the budget, otherwise the next one is tried); ``intra_sample`` (Table 2
"Intra-sample": new frames only inside already selected videos, uncertainty order; with no
selected video yet, e.g. round 0 without :func:`initial_selection`, there is nothing to refine
and it selects like ``uncertainty``, with a note). :func:`initial_selection` draws round 0:
random videos with random or equidistant frames.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from claus_core.cost import CostModel
from claus_core.data.types import AnnotationState, DataError, VideoPool, VideoRecord
from claus_core.score_table import ScoreTable, check_finite

logger = logging.getLogger(__name__)

SuppressionMode = Literal["multiply", "subtract"]
SCORE_KINDS = ("uncertainty", "entropy")
RECORD_COLUMNS = (
    "strategy",
    "round",
    "video",
    "frame",
    "cluster",
    "video_rank",
    "video_score",
    "pick",
    "frame_score",
    "pick_score",
    "cost",
    "reason",
)
_BUCKET_GROWTH = 1.35  # rows whose lengths differ by less than this share one padded matrix
_FINISH_GROWTH = 4.0  # the same for the few rows finished together: fewer matrices per step
_MEAN_FIRST_STEPS = 5  # picks every row takes before bounding its mean video score
_FIRST_CHUNK = 64  # rows finished at once when ranks are needed (doubles each time)
_LAYOUT_CACHE_SIZE = 4  # candidate-set layouts kept per pool


# --------------------------------------------------------------------------- public data types


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
    """Options of the selection step (see the module docstring for each reading)."""

    window: int = 4  # W: frames on each side damped by a pick
    sigma: float = 8 / 3  # width of the Gaussian damping g(d)
    mode: SuppressionMode = "multiply"  # "multiply": paper; "subtract": released code
    cluster_limit: float = 0.54  # max share of a cluster's members selected (quota="fraction")
    quota: Literal["fraction", "proportional"] = "fraction"
    on_saturation: Literal["relax", "stop"] = "relax"
    frames_per_video: Literal["fraction", "budget"] = "fraction"
    frames_per_video_fraction: float = 0.05  # A_t as a share of a video's candidate frames
    video_score: Literal["sum", "mean", "raw_sum"] = "sum"
    increment: Literal["sample+frame", "only_frame"] = "sample+frame"
    only_frames_with_boxes: bool = True
    cost_model: CostModel = field(default_factory=CostModel)

    def __post_init__(self) -> None:
        _check_window_sigma_mode(self.window, self.sigma, self.mode)
        if not 0.0 <= self.cluster_limit <= 1.0:
            raise ValueError(f"cluster_limit must be in [0, 1], got {self.cluster_limit}")
        if not 0.0 < self.frames_per_video_fraction <= 1.0:
            raise ValueError(
                f"frames_per_video_fraction must be in (0, 1], got {self.frames_per_video_fraction}"
            )
        choices = {
            "quota": ("fraction", "proportional"),
            "on_saturation": ("relax", "stop"),
            "frames_per_video": ("fraction", "budget"),
            "video_score": ("sum", "mean", "raw_sum"),
            "increment": ("sample+frame", "only_frame"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.cost_model.per_box < 0 or self.cost_model.per_video < 0:
            raise ValueError(f"cost model costs must be >= 0, got {self.cost_model}")


@dataclass(frozen=True)
class SelectionContext:
    """What one selection step sees.

    ``scores[kind][video]`` is a ``[frame]`` array (kinds: ``"uncertainty"``, ``"entropy"``) for
    every video a strategy may pick from. ``scores[kind]`` is best a
    :class:`~claus_core.score_table.ScoreTable` (what the active-learning loop passes: selection
    reads it in place); any other mapping of per-video arrays is copied into one first.
    ``clusters[video]`` the cluster id of every pool video
    (``None`` without clustering); ``round_index`` defaults to ``state.round`` and the selected
    state is ``round_index + 1``.
    """

    pool: VideoPool
    state: AnnotationState
    scores: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)
    clusters: Mapping[str, int] | None = None
    round_index: int | None = None

    def __post_init__(self) -> None:
        if len(self.pool) == 0:
            raise ValueError(f"{self.pool.dataset}/{self.pool.split}: the pool has no video")
        self.state.validate(self.pool)
        if self.round_index is None:
            object.__setattr__(self, "round_index", self.state.round)


@dataclass(frozen=True)
class SelectionResult:
    """The next annotation state and one record per chosen (video, frame).

    ``columns`` holds the records column by column (:data:`RECORD_COLUMNS`, one entry per
    chosen frame, in the order chosen); ``records`` gives the same as one dict per frame and
    :meth:`to_dataframe` as a DataFrame. ``cost`` is the annotation cost this step added;
    ``notes`` says what the step could not do (budget left unspent, a relaxed cluster limit, a
    fallback).
    """

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
        return tuple(
            dict(zip(RECORD_COLUMNS, row, strict=True))
            for row in zip(*self.columns.values(), strict=True)
        )

    def to_dataframe(self) -> pd.DataFrame:
        """The records as a DataFrame with columns :data:`RECORD_COLUMNS`."""
        frame = pd.DataFrame({name: list(values) for name, values in self.columns.items()})
        return frame.astype({"cluster": "Int64", "frame": "int64", "cost": "int64"})


Strategy = Callable[
    [SelectionContext, Budget, SelectionConfig, np.random.Generator], SelectionResult
]


# --------------------------------------------------------------------------- frame picking


def suppression_weights(window: int, sigma: float) -> np.ndarray:  # [window + 1] float64
    """``g(d) = exp(-d^2 / (2 sigma^2))`` for ``d = 0 .. window`` (``g(0) = 1``)."""
    _check_window_sigma_mode(window, sigma, "multiply")
    return np.array([math.exp(-(d * d) / (2.0 * sigma * sigma)) for d in range(window + 1)])


@dataclass(frozen=True)
class FramePicks:
    """The greedy picks of one video: frames in pick order and their scores."""

    frames: tuple[int, ...]
    pick_scores: tuple[float, ...]  # score of each frame when it was picked (damped)
    raw_scores: tuple[float, ...]  # the frame's undamped score

    def video_score(self, reduce: Literal["sum", "mean", "raw_sum"] = "sum") -> float:
        """The video score of Algorithm 1 line 13 (sequential sum in pick order)."""
        if reduce not in ("sum", "mean", "raw_sum"):
            raise ValueError(f"reduce must be 'sum', 'mean' or 'raw_sum', got {reduce!r}")
        values = self.raw_scores if reduce == "raw_sum" else self.pick_scores
        total = 0.0
        for value in values:
            total += value
        return total / len(values) if reduce == "mean" and values else total


def pick_frames(
    scores: Sequence[float] | np.ndarray,  # [frame]
    k: int,
    *,
    window: int = 4,
    sigma: float = 8 / 3,
    mode: SuppressionMode = "multiply",
    annotated: Sequence[int] | np.ndarray = (),
) -> FramePicks:
    """Algorithm 1 lines 7-12 on one video, with the scores of the picks.

    Same rules as :func:`select_frames`; ``FramePicks.video_score`` gives line 13.
    """
    _check_window_sigma_mode(window, sigma, mode)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    values = np.asarray(scores, dtype=np.float64)  # [frame]
    if values.ndim != 1:
        raise ValueError(
            f"scores must be a 1-d array of per-frame scores, got shape {values.shape}"
        )
    _check_scores(values, mode, "scores")
    marks = np.unique(np.asarray(annotated, dtype=np.int64))  # [annotated] ascending
    outside = marks[(marks < 0) | (marks >= len(values))]
    if outside.size:
        raise ValueError(f"annotated frames must lie in [0, {len(values)}), got {outside.tolist()}")
    count = min(int(k), len(values) - len(marks))
    layout = _Layout.build(
        np.array([len(values)]),
        np.array([count]),
        window,
        None,
        starts=np.zeros(1, np.int64),
        sentinel=-1,
    )
    cells = layout.fill(np.append(values, -np.inf))  # [cell]
    rows = np.zeros(len(marks), dtype=np.int64)
    _damp_annotated(cells, layout.row_start, rows, marks, window, sigma, mode)
    picks = np.full((1, count), -1, dtype=np.int64)
    pick_values = np.full((1, count), np.nan)
    _greedy(cells, layout.groups, (window, sigma, mode), picks, pick_values)
    frames = picks[0]
    return FramePicks(
        tuple(frames.tolist()),
        tuple(pick_values[0, :count].tolist()),
        tuple(values[frames].tolist()),
    )


def select_frames(
    scores: Sequence[float] | np.ndarray,  # [frame]
    k: int,
    *,
    window: int = 4,
    sigma: float = 8 / 3,
    mode: SuppressionMode = "multiply",
    annotated: Sequence[int] | np.ndarray = (),
) -> list[int]:
    """Frame indices chosen greedily with Gaussian damping (Algorithm 1 lines 7-12), pick order.

    Repeatedly picks the highest-scoring frame not yet picked (ties: lowest index), then for
    every ``j`` with ``1 <= |j - i| <= window`` sets ``s[j] *= 1 - g(|j - i|)``
    (``mode="multiply"``, the paper; scores must be >= 0) or ``s[j] -= g(|j - i|)``
    (``mode="subtract"``, the released code), ``g(d) = exp(-d^2 / (2 sigma^2))``. Frames in
    ``annotated`` are never picked and damp their neighbours the same way, in ascending order,
    before the first pick. Returns at most ``min(k, frames not annotated)`` indices.
    NaN or infinite scores raise ValueError.
    """
    picks = pick_frames(scores, k, window=window, sigma=sigma, mode=mode, annotated=annotated)
    return list(picks.frames)


def _check_window_sigma_mode(window: int, sigma: float, mode: str) -> None:
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 0:
        raise ValueError(f"window must be a non-negative integer, got {window!r}")
    if not (isinstance(sigma, int | float | np.floating) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
    if mode not in ("multiply", "subtract"):
        raise ValueError(f"mode must be 'multiply' or 'subtract', got {mode!r}")


def _check_scores(
    values: np.ndarray, mode: str, what: str, error: type[ValueError] = ValueError
) -> None:
    """Raise ``error`` on NaN / infinite scores, or negative ones under ``mode="multiply"``."""
    check_finite(values, what, error)
    if mode == "multiply" and values.size and values.min() < 0:
        raise error(
            f"{what}: negative score at frames {np.flatnonzero(values < 0)[:5].tolist()}; "
            "mode='multiply' needs scores >= 0 (use mode='subtract')"
        )


@dataclass(frozen=True)
class _Group:
    """One padded ``[member, width]`` block of a :class:`_Layout`."""

    rows: np.ndarray  # [member] row ids, sorted by picks wanted, descending
    ks: np.ndarray  # [member] picks wanted, descending
    width: int  # cells per member: the group's longest row plus ``window`` cells on each side
    first: int  # cell where the block starts

    def matrix(self, cells: np.ndarray) -> np.ndarray:  # [member, width] a view of ``cells``
        return cells[self.first : self.first + len(self.rows) * self.width].reshape(-1, self.width)


@dataclass(frozen=True)
class _Layout:
    """Many score rows in padded blocks, for the greedy picking of all videos at once.

    Rows are grouped by length (a group's lengths differ by less than a factor ``growth``); a
    group is one ``[member, width]`` block of the cell array, each row with ``window`` cells of
    -inf on both sides, so a damping window never leaves its row. Inside a group rows are
    sorted by their number of picks, descending, so the rows still picking are always a prefix.
    Every row sees exactly the operations, in the same order, that a one-row loop would apply:
    the grouping never changes a result. ``gather`` lays the rows out in one ``np.take`` from
    a flat score array (:attr:`ScoreTable.padded`) where row ``r`` starts at ``starts[r]`` and
    index ``sentinel`` reads -inf (padding and blocked frames read that).
    """

    groups: tuple[_Group, ...]
    row_start: np.ndarray  # [row] cell of each row's frame 0
    group_of: np.ndarray  # [row] index of the row's group
    gather: np.ndarray  # [cell] position in the flat scores
    window: int

    @classmethod
    def build(
        cls,
        lengths: np.ndarray,  # [row]
        ks: np.ndarray,  # [row] picks wanted
        window: int,
        blocked: np.ndarray | None,  # [row frame] rows back to back; True: never picked or damps
        *,
        starts: np.ndarray,  # [row] where each row starts in the flat scores
        sentinel: int,  # where the flat scores hold -inf
        growth: float = _BUCKET_GROWTH,
    ) -> _Layout:
        by_length = np.argsort(lengths, kind="stable")
        sorted_lengths = lengths[by_length]
        groups = []
        row_start = np.empty(len(lengths), dtype=np.int64)
        group_of = np.empty(len(lengths), dtype=np.int64)
        begin, size = 0, 0
        while begin < len(lengths):
            limit = sorted_lengths[begin] * growth
            end = max(int(np.searchsorted(sorted_lengths, limit, "right")), begin + 1)
            members = by_length[begin:end]
            members = members[np.argsort(-ks[members], kind="stable")]
            width = int(sorted_lengths[end - 1]) + 2 * window
            row_start[members] = size + window + np.arange(len(members)) * width
            group_of[members] = len(groups)
            groups.append(_Group(members, ks[members], width, size))
            size += len(members) * width
            begin = end
        row_first = np.cumsum(lengths) - lengths  # [row] first frame in rows back to back
        total = int(lengths.sum())
        frame = np.arange(total) - np.repeat(row_first, lengths)  # [row frame] in its row
        frame_cells = np.repeat(row_start, lengths) + frame  # [row frame]
        sources = np.repeat(starts, lengths) + frame  # [row frame]
        if blocked is not None:
            sources[blocked] = sentinel
        gather = np.full(size, sentinel, dtype=np.int64)
        gather[frame_cells] = sources
        for array in (row_start, group_of, gather):
            array.setflags(write=False)
        return cls(tuple(groups), row_start, group_of, gather, window)

    def fill(self, flat: np.ndarray) -> np.ndarray:  # [cell] float64, a fresh array
        """The cells from ``flat`` (the scores the layout was built for)."""
        return np.take(flat, self.gather)

    def extract(
        self, cells: np.ndarray, rows: np.ndarray, ks: np.ndarray
    ) -> tuple[np.ndarray, tuple[_Group, ...]]:  # [cell] a copy, its groups
        """A copy of ``rows`` (each with its padding, in its current state) in fresh blocks of
        the same widths, sorted by ``ks[row]`` descending inside each block."""
        rows = rows[np.lexsort((-ks[rows], self.group_of[rows]))]
        bounds = np.searchsorted(self.group_of[rows], np.arange(len(self.groups) + 1), "left")
        pieces, groups, size = [], [], 0
        for group, begin, end in zip(self.groups, bounds[:-1], bounds[1:], strict=True):
            if begin == end:
                continue
            members = rows[begin:end]
            segments = self.row_start[members] - self.window  # [member]
            pieces.append((segments[:, None] + np.arange(group.width)).ravel())
            groups.append(_Group(members, ks[members], group.width, size))
            size += len(members) * group.width
        index = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        return cells[index], tuple(groups)


def _damper(
    cells: np.ndarray, window: int, sigma: float, mode: str
) -> Callable[[np.ndarray], np.ndarray]:
    """``damp(centres)``: damp the ``window`` cells on each side of each centre (one centre per
    row at most), set the centres to -inf, and return the centres' values from before."""
    weights = suppression_weights(window, sigma)[np.abs(np.arange(-window, window + 1))]
    windows = sliding_window_view(cells, 2 * window + 1, writeable=True)
    multiply = mode == "multiply"
    factors = 1.0 - weights if multiply else weights  # [2W + 1]
    factors[window] = 1.0 if multiply else 0.0  # the centre is set to -inf instead

    def damp(centres: np.ndarray) -> np.ndarray:  # [centre]
        starts = centres - window
        block = windows[starts]  # [centre, 2W + 1] a copy
        centre_values = block[:, window].copy()
        if multiply:
            block *= factors
        else:
            block -= factors
        block[:, window] = -np.inf
        windows[starts] = block
        return centre_values

    return damp


def _damp_annotated(
    cells: np.ndarray,
    row_start: np.ndarray,  # [row]
    rows: np.ndarray,  # [annotated] sorted
    frames: np.ndarray,  # [annotated] ascending inside each row
    window: int,
    sigma: float,
    mode: str,
) -> None:
    """Annotated frames: never picked; they damp their neighbours, in ascending order, before
    the first pick."""
    centres = row_start[rows] + frames  # [annotated]
    cells[centres] = -np.inf
    if window == 0 or len(rows) == 0:
        return
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows, "left")  # order in its row
    damp = _damper(cells, window, sigma, mode)
    for step in range(int(rank.max()) + 1):
        damp(centres[rank == step])


def _greedy(
    cells: np.ndarray,
    groups: Sequence[_Group],
    damping: tuple[int, float, str],  # (window, sigma, mode)
    picks: np.ndarray,  # [row, kmax] int64, written: frame of each pick
    pick_values: np.ndarray,  # [row, kmax] float64, written: its score when picked
    *,
    first_step: int = 0,
    stop_step: int | None = None,
) -> None:
    """Pick steps ``first_step .. stop_step - 1`` of every member of ``groups`` (a member picks
    while ``step < ks``); its cells must hold that many finite values. One ``argmax`` per group
    and one damping call for all rows per step."""
    last = max((int(group.ks[0]) for group in groups if len(group.rows)), default=0)
    last = last if stop_step is None else min(last, stop_step)
    if last <= first_step:
        return
    window = damping[0]
    damp = _damper(cells, *damping)
    steps = np.arange(first_step, last)
    blocks = [
        (
            group.matrix(cells),
            np.searchsorted(-group.ks, -steps, "left").tolist(),  # [step] members still picking
            group.rows,
            group.first + window + np.arange(len(group.rows)) * group.width,  # [member] frame 0
        )
        for group in groups
        if len(group.rows)
    ]
    for index, step in enumerate(steps.tolist()):
        columns, rows, starts = [], [], []
        for matrix, active, members, row_start in blocks:
            count = active[index]
            if count:
                columns.append(matrix[:count].argmax(axis=1))  # ties: lowest
                rows.append(members[:count])
                starts.append(row_start[:count])
        if len(columns) == 1:
            column, row, start = columns[0], rows[0], starts[0]
        else:
            column, row, start = (
                np.concatenate(columns),
                np.concatenate(rows),
                np.concatenate(starts),
            )
        frame = column - window
        pick_values[row, step] = damp(start + frame)
        picks[row, step] = frame


# --------------------------------------------------------------------------- pool geometry


@dataclass(frozen=True)
class _PoolGeometry:
    """Per-frame GT box counts of a whole pool, computed once per pool (pools are immutable)."""

    names: tuple[str, ...]  # [video]
    offsets: np.ndarray  # [video + 1] video v owns frames [offsets[v], offsets[v + 1])
    boxes: np.ndarray  # [frame] GT boxes on each frame, videos back to back
    boxed_frames: np.ndarray  # [video] frames with at least one box

    def video_boxes(self, video: int) -> np.ndarray:  # [frame]
        return self.boxes[self.offsets[video] : self.offsets[video + 1]]


_GEOMETRY: weakref.WeakKeyDictionary[VideoPool, _PoolGeometry] = weakref.WeakKeyDictionary()


def _geometry(pool: VideoPool) -> _PoolGeometry:
    cached = _GEOMETRY.get(pool)
    if cached is not None:
        return cached
    lengths = np.fromiter((v.num_frames for v in pool.videos), dtype=np.int64, count=len(pool))
    offsets = np.zeros(len(pool) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    spans = [
        (o + t.start, o + t.end)
        for o, v in zip(offsets[:-1].tolist(), pool.videos, strict=True)
        for t in v.tubes
    ]
    span_array = np.array(spans, dtype=np.int64).reshape(-1, 2)  # [tube, 2]
    steps = np.bincount(span_array[:, 0], minlength=total + 1) - np.bincount(
        span_array[:, 1], minlength=total + 1
    )
    boxes = np.cumsum(steps)[:total]  # [frame]
    boxed = np.concatenate([[0], np.cumsum(boxes > 0)])
    geometry = _PoolGeometry(
        tuple(pool.names), offsets, boxes, boxed[offsets[1:]] - boxed[offsets[:-1]]
    )
    for array in (geometry.offsets, geometry.boxes, geometry.boxed_frames):
        array.setflags(write=False)
    _GEOMETRY[pool] = geometry
    return geometry


# --------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class _Candidates:
    """The videos one step may choose from (rows, in pool order) and their frames."""

    pool: VideoPool
    geometry: _PoolGeometry
    new: bool  # True: videos not selected yet (sample+frame); False: selected ones (only_frame)
    only_boxed: bool  # only frames with a GT box may be chosen
    videos: np.ndarray  # [row] pool index of each candidate video
    lengths: np.ndarray  # [row] frames of each candidate video
    annotated_rows: np.ndarray  # [a] annotated frames of candidate rows, by row then frame
    annotated_frames: np.ndarray  # [a]
    base_frames: np.ndarray  # [row] candidate frames, annotated ones included (for A_t)
    available: np.ndarray  # [row] frames that may be chosen now

    def record(self, row: int) -> VideoRecord:
        return self.pool.videos[int(self.videos[row])]

    def frame_boxes(self, row: int) -> np.ndarray:  # [frame] GT boxes on each frame
        return self.geometry.video_boxes(int(self.videos[row]))

    def eligible_frames(self, row: int) -> np.ndarray:  # [eligible] ascending
        boxes = self.frame_boxes(row)
        allowed = boxes > 0 if self.only_boxed else np.ones(len(boxes), dtype=bool)
        allowed[self.annotated_frames[self.annotated_rows == row]] = False
        return np.flatnonzero(allowed)

    def blocked_frames(self, rows: np.ndarray) -> np.ndarray | None:  # [frame] or None
        """Which frames of ``rows`` (back to back, in that order) may never be picked: those
        without a box; None when every frame may be."""
        if not self.only_boxed:
            return None
        videos, lengths = self.videos[rows], self.lengths[rows]  # [row]
        shift = self.geometry.offsets[videos] - np.cumsum(lengths) + lengths  # [row]
        frames = np.repeat(shift, lengths) + np.arange(int(lengths.sum()))  # [frame] in the pool
        return self.geometry.boxes[frames] == 0


def _candidates(
    pool: VideoPool, state: AnnotationState, config: SelectionConfig, *, new: bool
) -> _Candidates:
    geometry = _geometry(pool)
    selected = np.fromiter(
        (pool.index(name) for name in state.videos), dtype=np.int64, count=len(state.videos)
    )
    if new:
        keep = np.ones(len(pool), dtype=bool)
        keep[selected] = False
        videos = np.flatnonzero(keep)
    else:
        videos = np.sort(selected)
    only_boxed = config.only_frames_with_boxes
    lengths = np.diff(geometry.offsets)[videos]
    base = geometry.boxed_frames[videos] if only_boxed else lengths
    rows, frames = [], []
    if not new:
        for row, video in enumerate(videos.tolist()):
            marked = state.frames[pool.videos[video].name]
            rows.append(np.full(len(marked), row, dtype=np.int64))
            frames.append(np.asarray(marked, dtype=np.int64))
    annotated_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    annotated_frames = np.concatenate(frames) if frames else np.zeros(0, dtype=np.int64)
    counted = geometry.boxes[geometry.offsets[videos[annotated_rows]] + annotated_frames] > 0
    if not only_boxed:
        counted[:] = True
    spent = np.bincount(annotated_rows[counted], minlength=len(videos))
    return _Candidates(
        pool,
        geometry,
        new,
        only_boxed,
        videos,
        lengths,
        annotated_rows,
        annotated_frames,
        base,
        base - spent,
    )


def _frames_per_video(cands: _Candidates, budget: Budget, config: SelectionConfig) -> np.ndarray:
    """A_t of every candidate video, capped at its available frames."""
    if config.frames_per_video == "budget":
        if budget.videos == 0:
            raise ValueError("frames_per_video='budget' divides B_f by B_v: budget.videos is 0")
        per_video = max(1, int(np.round(budget.frame_cost / budget.videos)))
        wanted = np.full(len(cands.videos), per_video, dtype=np.int64)
    else:
        wanted = np.maximum(1, np.round(config.frames_per_video_fraction * cands.base_frames))
    return np.minimum(wanted.astype(np.int64), cands.available)


def _score_source(
    context: SelectionContext, kind: str, cands: _Candidates, strategy: str, mode: str
) -> tuple[ScoreTable, np.ndarray]:  # the scores, [row] each row's video in them
    """The ``kind`` scores of every candidate video, checked (DataError naming a bad video).

    A :class:`ScoreTable` is read in place; any other mapping of per-video arrays is first
    copied into one (candidate videos only).
    """
    if kind not in context.scores:
        raise ValueError(
            f"strategy {strategy!r} needs {kind!r} scores; the context has {sorted(context.scores)}"
        )
    table = context.scores[kind]
    every_name = cands.geometry.names
    if isinstance(table, ScoreTable):
        rows = table.positions(every_name)[cands.videos]  # [row] table row, -1: missing
    else:
        names = list(map(every_name.__getitem__, cands.videos.tolist()))
        missing = [name for name in names if name not in table]
        if missing:
            raise DataError(f"no {kind!r} scores for video {missing[0]!r}")
        arrays = zip(names, map(table.__getitem__, names), strict=True)
        table = ScoreTable.from_arrays(arrays, what=f"{kind!r} scores")
        rows = np.arange(len(names), dtype=np.int64)
    if (rows < 0).any():
        name = every_name[int(cands.videos[np.flatnonzero(rows < 0)[0]])]
        raise DataError(f"no {kind!r} scores for video {name!r}")
    lengths = np.diff(table.offsets)[rows]  # [row]
    if not np.array_equal(lengths, cands.lengths):
        wrong = int(np.flatnonzero(lengths != cands.lengths)[0])
        raise DataError(
            f"{kind!r} scores of video {every_name[int(cands.videos[wrong])]!r} have shape "
            f"({int(lengths[wrong])},), expected ({int(cands.lengths[wrong])},)"
        )
    if mode == "multiply" and table.lowest < 0:
        negative = np.flatnonzero(table.video_min()[rows] < 0)  # [row]
        if len(negative):
            row, video = int(negative[0]), int(rows[negative[0]])
            values = table.values[table.offsets[video] : table.offsets[video + 1]]
            what = f"{kind!r} scores of video {every_name[int(cands.videos[row])]!r}"
            _check_scores(values, mode, what, DataError)
    return table, rows


_LAYOUTS: weakref.WeakKeyDictionary[VideoPool, dict[tuple, _Layout]] = weakref.WeakKeyDictionary()


def _layout(
    cands: _Candidates, ks: np.ndarray, window: int, starts: np.ndarray, sentinel: int
) -> _Layout:
    """The layout of the candidate rows, cached per pool for the last few candidate sets."""
    key = (
        window,
        cands.only_boxed,
        cands.videos.tobytes(),
        ks.tobytes(),
        starts.tobytes(),
        sentinel,
    )
    cache = _LAYOUTS.setdefault(cands.pool, {})
    if key in cache:
        return cache[key]
    blocked = cands.blocked_frames(np.arange(len(cands.videos)))
    layout = _Layout.build(cands.lengths, ks, window, blocked, starts=starts, sentinel=sentinel)
    while len(cache) >= _LAYOUT_CACHE_SIZE:
        del cache[next(iter(cache))]
    cache[key] = layout
    return layout


# --------------------------------------------------------------------------- budget spending


class _Ledger:
    """Spends one round's budget, video by video (internal, mutable)."""

    def __init__(
        self,
        strategy: str,
        round_index: int,
        budget: Budget,
        cands: _Candidates,
        config: SelectionConfig,
    ) -> None:
        self.strategy, self.round, self.budget, self.cands = strategy, round_index, budget, cands
        self.per_box = config.cost_model.per_box
        self.open_cost = config.cost_model.per_video if cands.new else 0
        self.new_videos = 0
        self.spent = 0
        self.frames: dict[str, list[int]] = {}
        self.columns: dict[str, list[Any]] = {name: [] for name in RECORD_COLUMNS}
        # a lower bound on the cost of taking anything: a frame with a box costs >= per_box
        self.cheapest = self.open_cost + (self.per_box if cands.only_boxed else 0)

    @property
    def remaining(self) -> int:
        return self.budget.frame_cost - self.spent

    def exhausted(self) -> bool:
        videos_full = self.cands.new and self.new_videos >= self.budget.videos
        return videos_full or self.remaining < self.cheapest

    def take(
        self,
        row: int,
        frames: np.ndarray,  # [pick] frame indices in preference order
        *,
        whole: bool = False,
        cluster: int | None = None,
        video_rank: int,
        video_score: float = math.nan,
        frame_scores: np.ndarray | None = None,  # [pick] undamped
        pick_scores: np.ndarray | None = None,  # [pick] when picked
        reason: str,
    ) -> int:
        """Annotate the frames of candidate ``row`` that fit; return how many were taken."""
        if self.exhausted():
            return 0
        costs = (self.cands.frame_boxes(row)[frames] * self.per_box).tolist()
        room = self.remaining - self.open_cost
        frame_list = frames.tolist()
        total = sum(costs)
        if total <= room:
            chosen = None  # all of them
        elif whole:
            return 0
        else:
            chosen = []
            for position, cost in enumerate(costs):
                if cost <= room:
                    chosen.append(position)
                    room -= cost
            if not chosen:
                return 0
            total = sum(costs[position] for position in chosen)
        count = len(costs) if chosen is None else len(chosen)
        self.new_videos += self.cands.new
        self.spent += self.open_cost + total
        name = self.cands.record(row).name
        frame_values = [math.nan] * len(costs) if frame_scores is None else frame_scores.tolist()
        pick_values = [math.nan] * len(costs) if pick_scores is None else pick_scores.tolist()
        positions = list(range(count)) if chosen is None else chosen
        if chosen is not None:
            frame_list, costs = [frame_list[i] for i in chosen], [costs[i] for i in chosen]
            frame_values = [frame_values[i] for i in chosen]
            pick_values = [pick_values[i] for i in chosen]
        self.frames.setdefault(name, []).extend(frame_list)
        columns = self.columns
        for column, value in (
            ("strategy", self.strategy),
            ("round", self.round),
            ("video", name),
            ("cluster", cluster),
            ("video_rank", video_rank),
            ("video_score", video_score),
            ("reason", reason),
        ):
            columns[column] += [value] * count
        columns["frame"] += frame_list
        columns["pick"] += positions
        columns["frame_score"] += frame_values
        columns["pick_score"] += pick_values
        columns["cost"] += costs
        return count

    def result(self, state: AnnotationState, notes: list[str]) -> SelectionResult:
        videos_left = self.budget.videos - self.new_videos if self.cands.new else 0
        if self.remaining > 0 or videos_left > 0:
            if self.cands.new and videos_left == 0:
                why = "the video budget is spent"
            elif self.remaining < self.cheapest:
                why = "too little budget left for any frame"
            else:
                why = "every candidate video was considered"
            unspent = f"left unspent: {self.remaining} of {self.budget.frame_cost} cost units"
            if self.cands.new:
                unspent += f", {videos_left} of {self.budget.videos} videos"
            notes.append(f"{unspent} ({why})")
        for note in notes:
            logger.info("%s round %d: %s", self.strategy, self.round, note)
        next_state = state.merged(self.frames, round=self.round)
        columns = {name: tuple(values) for name, values in self.columns.items()}
        return SelectionResult(next_state, columns, self.spent, tuple(notes))


# --------------------------------------------------------------------------- cluster limits


class _ClusterLimit:
    """Which cluster may still receive a video (Algorithm 1 lines 18-19, Section 7.2)."""

    def __init__(
        self,
        clusters: Mapping[str, int],
        context: SelectionContext,
        budget: Budget,
        config: SelectionConfig,
    ) -> None:
        names = _geometry(context.pool).names
        try:
            ids = np.array(list(map(clusters.__getitem__, names)), dtype=np.int64)
        except KeyError:
            missing = [name for name in names if name not in clusters]
            raise DataError(
                f"no cluster assignment for video {missing[0]!r} ({len(missing)} missing)"
            ) from None
        cluster_ids, sizes = np.unique(ids, return_counts=True)
        members = dict(zip(cluster_ids.tolist(), sizes.tolist(), strict=True))
        self.ids = ids  # [video] cluster of each pool video
        self.proportional = config.quota == "proportional"
        if self.proportional:
            self.limit = _apportion(budget.videos, members)
            self.count = dict.fromkeys(members, 0)
        else:
            self.limit = {c: math.floor(config.cluster_limit * n) for c, n in members.items()}
            self.count = dict.fromkeys(members, 0)
            for name in context.state.videos:
                self.count[int(clusters[name])] += 1

    def allows(self, cluster: int) -> bool:
        return self.count[cluster] < self.limit[cluster]

    def describe(self, cluster: int) -> str:
        scope = "this round's quota" if self.proportional else "limit"
        return f"cluster {cluster} at {self.count[cluster]}/{self.limit[cluster]} ({scope})"

    def saturated(self, waiting: Mapping[int, int]) -> bool:
        """True when every cluster with a video still ``waiting`` has reached its limit."""
        return all(n == 0 or not self.allows(c) for c, n in waiting.items())


def _apportion(total: int, sizes: Mapping[int, int]) -> dict[int, int]:
    """Split ``total`` over clusters in proportion to ``sizes`` (largest remainders)."""
    whole = sum(sizes.values())
    shares = {c: total * n / whole for c, n in sizes.items()}
    quota = {c: math.floor(s) for c, s in shares.items()}
    leftover = total - sum(quota.values())
    for c in sorted(shares, key=lambda c: (-(shares[c] - quota[c]), c))[:leftover]:
        quota[c] += 1
    return quota


# --------------------------------------------------------------------------- strategies


def _next_round(context: SelectionContext) -> int:
    current = context.state.round if context.round_index is None else context.round_index
    return current + 1


def _cluster_of(context: SelectionContext, name: str) -> int | None:
    if context.clusters is None or name not in context.clusters:
        return None
    return int(context.clusters[name])


class _RankedRows:
    """Candidate rows (those with a pick) in descending video score, ties in pool order, with
    the greedy picks of a row finished only when its rank is reached.

    Damping only lowers scores, so each pick scores at most the one before, and at most the
    row's largest candidate score. An upper bound on each row's video score therefore comes
    cheap: with ``video_score="sum"``, ``A_t`` times that largest score (no pick needed: rows
    are laid out and picked only when they are finished); with ``"mean"``, every row first takes
    ``_MEAN_FIRST_STEPS`` picks with all the others, and its partial sum plus the last pick's
    value for each pick still to come, over ``A_t``; with ``"raw_sum"`` every row is finished at
    once. ``tol`` covers rounding. Rows are then finished in chunks, highest bound first, and a
    finished row is released once its score beats the bound of every unfinished row. The order
    released is exactly the stable ``argsort(-score)`` of the full computation; rows never
    reached are never picked.
    """

    def __init__(
        self,
        table: ScoreTable,
        table_rows: np.ndarray,  # [row] each row's video in the table
        cands: _Candidates,
        ks: np.ndarray,  # [row] picks wanted
        config: SelectionConfig,
    ) -> None:
        self.flat = table.padded  # [frame + 1] the scores, then -inf
        self.starts = table.offsets[table_rows]  # [row] where each row starts in the scores
        self.cands, self.ks, self.config = cands, ks, config
        kmax = int(ks.max()) if len(ks) else 0
        # [row, kmax] frames and their scores when picked; a row's first ks[row] entries are
        # written when it is finished (sum: only rows finished are ever read)
        self.picks = np.empty((len(ks), kmax), dtype=np.int64)
        self.pick_values = np.empty((len(ks), kmax))
        if config.video_score != "sum":
            self.picks.fill(-1)
            self.pick_values.fill(np.nan)
        self.scores = np.full(len(ks), np.nan)  # [row] video score, once finished
        self.damping = (config.window, config.sigma, config.mode)
        self.cells: np.ndarray | None = None  # [cell] every row laid out ("mean", "raw_sum")
        if config.video_score == "sum":
            self.first_steps = 0
            finished = np.zeros(0, dtype=np.int64)
            waiting = np.flatnonzero(ks > 0)  # [w]
            # the largest score of each row, blocked frames included: a looser bound, still one
            largest_left = table.video_max[table_rows[waiting]]  # [w]
            bound = ks[waiting] * largest_left
        else:
            first_steps = kmax if config.video_score == "raw_sum" else _MEAN_FIRST_STEPS
            self.first_steps = first_steps = max(1, min(first_steps, kmax))
            self.layout = _layout(cands, ks, config.window, self.starts, len(self.flat) - 1)
            self.cells = self._laid_out(self.layout, None)
            _greedy(
                self.cells,
                self.layout.groups,
                self.damping,
                self.picks,
                self.pick_values,
                stop_step=first_steps,
            )
            finished = np.flatnonzero((ks > 0) & (ks <= first_steps))
            self.scores[finished] = self._video_scores(finished)
            waiting = np.flatnonzero(ks > first_steps)  # [w]
            partial = np.cumsum(self.pick_values[waiting, :first_steps], axis=1)[:, -1]
            last = self.pick_values[waiting, first_steps - 1]
            bound = (partial + (ks[waiting] - first_steps) * last) / ks[waiting]
        # a frame is damped at most 2 * window times, by g(d) <= 1 each (mode="subtract")
        scale = table.largest + (2 * config.window if config.mode == "subtract" else 0)
        tol = 1e-12 * (kmax + 1) * scale
        order = np.argsort(-bound, kind="stable")
        self.queue, self.bounds = waiting[order], bound[order] + tol  # [w] highest bound first
        self.queued = 0  # queue[:queued] is finished
        self.chunk = _FIRST_CHUNK
        self.pending_rows, self.pending_scores = finished, self.scores[finished]
        self.ready: list[int] = []
        self.position = 0

    def _laid_out(self, layout: _Layout, rows: np.ndarray | None) -> np.ndarray:  # [cell]
        """The cells of ``layout`` (a layout of ``rows``; None: of every row, in order) from
        the scores, the annotated frames of those rows already damped."""
        if rows is None:
            rows = np.arange(len(self.ks))
        cells = layout.fill(self.flat)
        cands = self.cands
        if len(cands.annotated_rows):
            position = np.full(len(self.ks), -1, dtype=np.int64)  # [row] its place in rows
            position[rows] = np.arange(len(rows))
            annotated = position[cands.annotated_rows]  # [a]
            keep = annotated >= 0
            order = np.lexsort((cands.annotated_frames[keep], annotated[keep]))
            _damp_annotated(
                cells,
                layout.row_start,
                annotated[keep][order],
                cands.annotated_frames[keep][order],
                *self.damping,
            )
        return cells

    def _video_scores(self, rows: np.ndarray) -> np.ndarray:  # [rows]
        """Algorithm 1 line 13 for finished rows: sequential sum in pick order, or the mean."""
        ks = self.ks[rows]
        if self.config.video_score == "raw_sum":
            frames = self.picks[rows]  # [rows, kmax]
            cells = self.starts[rows][:, None] + np.maximum(frames, 0)
            taken = np.where(frames >= 0, self.flat[cells], np.nan)
        else:
            taken = self.pick_values[rows]
        totals = np.cumsum(taken, axis=1)[np.arange(len(rows)), ks - 1]
        return totals / ks if self.config.video_score == "mean" else totals

    def _finish(self, rows: np.ndarray) -> None:
        """The remaining picks of ``rows``: on a copy of their cells, or (``"sum"``) on the
        cells of a layout of those rows alone."""
        if self.cells is not None:
            cells, groups = self.layout.extract(self.cells, rows, self.ks)
            _greedy(
                cells,
                groups,
                self.damping,
                self.picks,
                self.pick_values,
                first_step=self.first_steps,
            )
        else:
            layout = _Layout.build(
                self.cands.lengths[rows],
                self.ks[rows],
                self.config.window,
                self.cands.blocked_frames(rows),
                starts=self.starts[rows],
                sentinel=len(self.flat) - 1,
                growth=_FINISH_GROWTH,
            )
            picks = np.full((len(rows), self.picks.shape[1]), -1, dtype=np.int64)
            pick_values = np.full(picks.shape, np.nan)
            _greedy(self._laid_out(layout, rows), layout.groups, self.damping, picks, pick_values)
            self.picks[rows], self.pick_values[rows] = picks, pick_values
        self.scores[rows] = self._video_scores(rows)

    def _refill(self) -> bool:
        """Release the next rows whose rank is certain; False when every row is released."""
        while True:
            unfinished = self.queued < len(self.queue)
            bound = self.bounds[self.queued] if unfinished else -np.inf
            sure = self.pending_scores > bound
            if sure.any():
                rows, scores = self.pending_rows[sure], self.pending_scores[sure]
                self.ready = rows[np.lexsort((rows, -scores))].tolist()
                self.position = 0
                self.pending_rows = self.pending_rows[~sure]
                self.pending_scores = self.pending_scores[~sure]
                return True
            if not unfinished:
                return False
            rows = self.queue[self.queued : self.queued + self.chunk]
            self.queued += len(rows)
            self.chunk *= 2
            self._finish(rows)
            self.pending_rows = np.concatenate([self.pending_rows, rows])
            self.pending_scores = np.concatenate([self.pending_scores, self.scores[rows]])

    def __iter__(self) -> _RankedRows:
        return self

    def __next__(self) -> int:
        if self.position == len(self.ready) and not self._refill():
            raise StopIteration
        self.position += 1
        return self.ready[self.position - 1]

    def has_more(self) -> bool:
        return self.position < len(self.ready) or self._refill()


def _ranked(
    context: SelectionContext,
    budget: Budget,
    config: SelectionConfig,
    *,
    strategy: str,
    kind: str,
    use_clusters: bool,
    whole: bool = False,
    increment: str | None = None,
    notes: Sequence[str] = (),
) -> SelectionResult:
    """Score -> reduce -> rank: the uncertainty-ordered strategies (claus, uncertainty, ...)."""
    notes = list(notes)
    new = (increment or config.increment) == "sample+frame"
    cands = _candidates(context.pool, context.state, config, new=new)
    ledger = _Ledger(strategy, _next_round(context), budget, cands, config)
    if not (cands.available > 0).any():
        return ledger.result(context.state, notes)
    ks = _frames_per_video(cands, budget, config)  # [row]
    table, table_rows = _score_source(context, kind, cands, strategy, config.mode)
    ranked = _RankedRows(table, table_rows, cands, ks, config)

    clusters = context.clusters if use_clusters and new else None
    limit = None if clusters is None else _ClusterLimit(clusters, context, budget, config)
    if use_clusters and not new:
        notes.append("only_frame increment: the cluster limit does not apply to selected videos")
    verb = "new video" if new else "more frames in a selected video"

    def offer(rank: int, row: int, reason: str) -> int:
        if whole:
            frames = cands.eligible_frames(row)
            pick_scores = None
            reason = f"{reason}; whole video"
        else:
            frames = ranked.picks[row, : ks[row]]
            pick_scores = ranked.pick_values[row, : ks[row]]
            reason = f"{reason}; frame picked greedily (A_t = {int(ks[row])})"
        return ledger.take(
            row,
            frames,
            whole=whole,
            cluster=_cluster_of(context, cands.record(row).name),
            video_rank=rank,
            video_score=float(ranked.scores[row]),
            frame_scores=table.values[ranked.starts[row] + frames],
            pick_scores=pick_scores,
            reason=reason,
        )

    stream = enumerate(ranked)
    if limit is None:
        for rank, row in stream:
            if ledger.exhausted():
                break
            offer(rank, row, f"{kind} rank {rank}, {verb}")
        return ledger.result(context.state, notes)

    row_cluster = limit.ids[cands.videos].tolist()  # [row]
    waiting_ids, waiting_counts = np.unique(limit.ids[cands.videos[ks > 0]], return_counts=True)
    waiting = dict(zip(waiting_ids.tolist(), waiting_counts.tolist(), strict=True))  # to come
    held_back: list[tuple[int, int, int]] = []  # (rank, row, cluster)
    for rank, row in stream:
        if ledger.exhausted():
            break
        cluster = row_cluster[row]
        waiting[cluster] -= 1
        if not limit.allows(cluster):
            held_back.append((rank, row, cluster))
        elif offer(rank, row, f"{kind} rank {rank}, {verb}; {limit.describe(cluster)}"):
            limit.count[cluster] += 1
        if limit.saturated(waiting):
            break  # every row still to come would be held back, in rank order
    if (held_back or ranked.has_more()) and not ledger.exhausted():
        if config.on_saturation == "stop":
            notes.append("every cluster with candidates is saturated (on_saturation='stop')")
        else:
            relaxed = 0
            rest = ((rank, row, row_cluster[row]) for rank, row in stream)
            for rank, row, cluster in itertools.chain(held_back, rest):
                if ledger.exhausted():
                    break
                reason = (
                    f"{kind} rank {rank}, {verb}; cluster limit relaxed: every cluster with "
                    f"candidates is saturated ({limit.describe(cluster)})"
                )
                if offer(rank, row, reason):
                    limit.count[cluster] += 1
                    relaxed += 1
            notes.append(
                "cluster limit relaxed: every cluster with candidates was saturated; "
                f"{relaxed} videos taken beyond it"
            )
    return ledger.result(context.state, notes)


def _shuffled(
    context: SelectionContext,
    budget: Budget,
    config: SelectionConfig,
    rng: np.random.Generator,
    *,
    strategy: str,
    frames: Literal["random", "equidistant"],
    next_round: int,
) -> SelectionResult:
    """Random videos with random or evenly spaced frames (random, equidistant, round 0)."""
    new = config.increment == "sample+frame"
    cands = _candidates(context.pool, context.state, config, new=new)
    ledger = _Ledger(strategy, next_round, budget, cands, config)
    ks = _frames_per_video(cands, budget, config)  # [row]
    verb = "new video" if new else "more frames in a selected video"
    for draw, row in enumerate(rng.permutation(np.flatnonzero(ks > 0)).tolist()):
        if ledger.exhausted():
            break
        eligible = cands.eligible_frames(row)  # ascending
        count = int(ks[row])
        if frames == "random":
            chosen = rng.permutation(eligible)[:count]
            how = "random frame"
        else:
            spots = ((np.arange(count) + 0.5) * len(eligible) / count).astype(np.int64)
            chosen = eligible[spots]
            how = f"evenly spaced frame ({count} over {len(eligible)} candidate frames)"
        ledger.take(
            row,
            chosen,
            cluster=_cluster_of(context, cands.record(row).name),
            video_rank=draw,
            reason=f"random {verb} (draw {draw}); {how}",
        )
    return ledger.result(context.state, [])


def claus(
    context: SelectionContext, budget: Budget, config: SelectionConfig, rng: np.random.Generator
) -> SelectionResult:
    """CLAUS (Algorithm 1): uncertainty-ranked videos under the per-cluster limit."""
    if context.clusters is None:
        raise ValueError("strategy 'claus' needs cluster assignments (context.clusters is None)")
    return _ranked(context, budget, config, strategy="claus", kind="uncertainty", use_clusters=True)


def uncertainty(
    context: SelectionContext, budget: Budget, config: SelectionConfig, rng: np.random.Generator
) -> SelectionResult:
    """CLAUS without clusters (Tables 3-5 "without cluster" / "Uncertainty")."""
    return _ranked(
        context, budget, config, strategy="uncertainty", kind="uncertainty", use_clusters=False
    )


def entropy(
    context: SelectionContext, budget: Budget, config: SelectionConfig, rng: np.random.Generator
) -> SelectionResult:
    """The same ranking on per-frame entropy scores (Table 5 "Entropy")."""
    return _ranked(context, budget, config, strategy="entropy", kind="entropy", use_clusters=False)


def random_strategy(
    context: SelectionContext, budget: Budget, config: SelectionConfig, rng: np.random.Generator
) -> SelectionResult:
    """Random videos, random frames (Table 5 "Random")."""
    return _shuffled(
        context,
        budget,
        config,
        rng,
        strategy="random",
        frames="random",
        next_round=_next_round(context),
    )


def equidistant(
    context: SelectionContext, budget: Budget, config: SelectionConfig, rng: np.random.Generator
) -> SelectionResult:
    """Random videos, evenly spaced frames among their candidate frames (Table 5)."""
    return _shuffled(
        context,
        budget,
        config,
        rng,
        strategy="equidistant",
        frames="equidistant",
        next_round=_next_round(context),
    )


def sample(
    context: SelectionContext, budget: Budget, config: SelectionConfig, rng: np.random.Generator
) -> SelectionResult:
    """Table 2 "Sample": whole videos fully annotated, in CLAUS order, until the budget."""
    return _ranked(
        context,
        budget,
        config,
        strategy="sample",
        kind="uncertainty",
        use_clusters=context.clusters is not None,
        whole=True,
    )


def intra_sample(
    context: SelectionContext, budget: Budget, config: SelectionConfig, rng: np.random.Generator
) -> SelectionResult:
    """Table 2 "Intra-sample": new frames only inside already selected videos.

    Ignores ``config.increment`` (always only-frame). With no selected video yet it selects like
    ``uncertainty`` (new videos, both budgets) and says so in the notes.
    """
    if not context.state.videos:
        note = "intra_sample: no video selected yet, selected new videos like 'uncertainty'"
        return _ranked(
            context,
            budget,
            config,
            strategy="intra_sample",
            kind="uncertainty",
            use_clusters=False,
            increment="sample+frame",
            notes=[note],
        )
    return _ranked(
        context,
        budget,
        config,
        strategy="intra_sample",
        kind="uncertainty",
        use_clusters=False,
        increment="only_frame",
    )


def initial_selection(
    pool: VideoPool,
    budget: Budget,
    rng: np.random.Generator,
    *,
    frames: Literal["random", "equidistant"] = "random",
    config: SelectionConfig = SelectionConfig(),
) -> SelectionResult:
    """Round 0: random videos with random (default) or evenly spaced frames, under ``budget``.

    Frames per video follow ``config.frames_per_video``; the returned state has ``round=0``.
    """
    if frames not in ("random", "equidistant"):
        raise ValueError(f"frames must be 'random' or 'equidistant', got {frames!r}")
    context = SelectionContext(pool, AnnotationState.empty())
    fresh = dataclasses.replace(config, increment="sample+frame")
    return _shuffled(context, budget, fresh, rng, strategy="initial", frames=frames, next_round=0)


class _Registry(dict[str, Strategy]):
    """Strategy name -> strategy; an unknown name raises ValueError listing the known ones."""

    def __missing__(self, name: str) -> Strategy:
        raise ValueError(f"unknown selection strategy {name!r}; known: {sorted(self)}")


STRATEGIES: dict[str, Strategy] = _Registry(
    claus=claus,
    uncertainty=uncertainty,
    entropy=entropy,
    random=random_strategy,
    equidistant=equidistant,
    sample=sample,
    intra_sample=intra_sample,
)


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name`` (ValueError listing the known names if there is none)."""
    return STRATEGIES[name]
