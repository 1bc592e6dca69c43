"""Confidence intervals, paired comparisons and verdicts for the book's claims (pure numpy).

Every comparison of two methods in this book is *paired*: seed k of every strategy starts from
the same initial selection, the same initial weights and the same data order
(:mod:`claus_core.loop` draws all three from the seed alone), so ``A[k] - B[k]`` removes the
variance the two runs share. A claim of the paper ("A beats B", supplementary Tables 2-10,
Figures 1 and 4) then gets one of three verdicts from the 95 % interval of the mean paired
difference:

- ``agrees``: the interval excludes 0 on the paper's side;
- ``contradicts``: it excludes 0 on the other side;
- ``inconclusive``: it contains 0 (reported with the smallest effect the design could detect).

With fewer than two seeds no interval exists, and the verdict says so; it never agrees.

Intervals are percentile bootstraps of the mean (Efron & Tibshirani 1993, ch. 13),
asymptotically correct: with 3 seeds a nominal 95 % interval is the range of the three values
and holds the true mean about three times in four (:func:`simulated_coverage`). The minimum
detectable effect is the nominal normal-approximation one,
``MDE = (z_{1-alpha/2} + z_{power}) * sd / sqrt(n)``; with few seeds it is optimistic too,
which the book states beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

Verdict = Literal["agrees", "contradicts", "inconclusive", "no interval"]


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")


def _finite(values: Sequence[float] | np.ndarray, *, what: str = "values") -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()  # [n]
    if array.size < 2:
        raise ValueError(f"{what}: a confidence interval needs at least 2 values, got {array.size}")
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{what}: {int(np.sum(~np.isfinite(array)))} of {array.size} values are NaN or infinite"
        )
    return array


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``values``: (low, high)."""
    _check_confidence(confidence)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    array = _finite(values)
    picks = rng.integers(0, array.size, size=(n_resamples, array.size))  # [resample, n]
    means = array[picks].mean(axis=1)  # [resample]
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def simulated_coverage(
    n: int,
    *,
    rng: np.random.Generator,
    confidence: float = 0.95,
    n_studies: int = 1_000,
    n_resamples: int = 2_000,
) -> float:
    """How often :func:`bootstrap_ci` of ``n`` normal values holds their true mean (simulated).

    The percentile bootstrap is only asymptotically correct: with 3 seeds a nominal 95 % interval
    covers about three times in four, which the book states beside its verdicts.
    """
    hits = 0
    for _ in range(n_studies):
        low, high = bootstrap_ci(
            rng.normal(0.0, 1.0, size=n), confidence=confidence, n_resamples=n_resamples, rng=rng
        )
        hits += low <= 0.0 <= high
    return hits / n_studies


def paired_differences(
    a: Mapping[int, float], b: Mapping[int, float], *, what: str = "A - B"
) -> np.ndarray:
    """``a[k] - b[k]`` for every seed k, in seed order; both must hold the same seeds."""
    if set(a) != set(b):
        only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        raise ValueError(f"{what}: not paired: seeds only in A {only_a}, only in B {only_b}")
    seeds = sorted(a)
    return np.asarray([a[k] - b[k] for k in seeds], dtype=np.float64)  # [seed]


def z_quantile(p: float) -> float:
    return NormalDist().inv_cdf(p)


def minimum_detectable_effect(
    sd: float, n: int, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest true mean difference a design of ``n`` paired seeds resolves with ``power``.

    Two-sided level ``alpha``; ``sd`` is the standard deviation of the per-seed differences.
    """
    if n < 2:
        return math.inf
    return (z_quantile(1 - alpha / 2) + z_quantile(power)) * sd / math.sqrt(n)


def seeds_needed(
    effect: float, sd: float, *, alpha: float = 0.05, power: float = 0.8
) -> int | None:
    """Paired seeds needed to resolve a true mean difference ``effect`` (None: it cannot be)."""
    if effect == 0 or not math.isfinite(effect):
        return None
    if sd == 0:
        return 2
    z = z_quantile(1 - alpha / 2) + z_quantile(power)
    return max(2, math.ceil((z * sd / abs(effect)) ** 2))


@dataclass(frozen=True)
class Comparison:
    """A paired difference over seeds: its mean, 95 % interval, spread and detectable effect."""

    mean: float
    low: float  # NaN when no interval exists (fewer than 2 seeds)
    high: float
    sd: float
    seeds: int
    mde: float
    confidence: float = 0.95

    def verdict(self, paper_sign: float, *, reference: float = 0.0) -> Verdict:
        """Against the paper's direction: +1 when the paper has the quantity above
        ``reference`` (for a difference A - B: A above B), -1 when below."""
        if self.seeds < 2 or math.isnan(self.low):
            return "no interval"
        if paper_sign == 0:
            raise ValueError("the paper's effect has no direction (0): no verdict on an ordering")
        if self.low > reference or self.high < reference:
            return "agrees" if (self.low > reference) == (paper_sign > 0) else "contradicts"
        return "inconclusive"

    def label(self, digits: int = 1) -> str:
        if self.seeds < 2 or math.isnan(self.low):
            return f"{self.mean:+.{digits}f} (1 seed: no interval)"
        return f"{self.mean:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"


def compare(
    differences: Sequence[float] | np.ndarray,
    *,
    rng: np.random.Generator,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
) -> Comparison:
    """Summarize per-seed paired differences (from :func:`paired_differences`)."""
    _check_confidence(confidence)
    array = np.asarray(differences, dtype=np.float64).ravel()  # [seed]
    if array.size == 0:
        raise ValueError("compare: no paired difference (no seed has both methods)")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"compare: {int(np.sum(~np.isfinite(array)))} paired differences are NaN")
    if array.size < 2:
        return Comparison(float(array[0]), math.nan, math.nan, math.nan, 1, math.inf, confidence)
    low, high = bootstrap_ci(array, confidence=confidence, n_resamples=n_resamples, rng=rng)
    sd = float(array.std(ddof=1))
    return Comparison(float(array.mean()), low, high, sd, int(array.size),
                      minimum_detectable_effect(sd, array.size, alpha=1 - confidence), confidence)  # fmt: skip


def _video_hits(ious: np.ndarray, labels: np.ndarray, threshold: float, correct: np.ndarray | None):
    """Hits [scored video] and their labels: videos without ground truth (IoU NaN) are not
    scored, as in :mod:`claus_core.metrics`; ``correct`` [video] adds its class condition."""
    ious = np.asarray(ious, dtype=np.float64)
    labels = np.asarray(labels)
    if ious.shape != labels.shape or ious.ndim != 1 or ious.size == 0:
        raise ValueError(
            f"ious and labels must be two equal [video] arrays, got {ious.shape} and {labels.shape}"
        )
    scored = ~np.isnan(ious)  # [video]
    hits = np.zeros(ious.shape, dtype=bool)
    hits[scored] = ious[scored] >= threshold
    if correct is not None:
        hits &= np.asarray(correct, dtype=bool)
    if not scored.any():
        raise ValueError("no test video has ground truth: v-mAP is undefined")
    return hits[scored], labels[scored]


def vmap_from_videos(
    ious: np.ndarray, labels: np.ndarray, *, threshold: float, correct: np.ndarray | None = None
) -> float:
    """v-mAP from each test video's IoU and class: the mean over classes of the share of their
    scored videos with IoU >= ``threshold`` (the rule :func:`video_bootstrap_vmap` resamples)."""
    hits, labels = _video_hits(ious, labels, threshold, correct)
    return float(np.mean([hits[labels == c].mean() for c in np.unique(labels)]))


def video_bootstrap_vmap(
    ious: np.ndarray,
    labels: np.ndarray,
    *,
    threshold: float,
    rng: np.random.Generator,
    correct: np.ndarray | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2_000,
) -> tuple[float, float]:
    """Interval of one run's v-mAP over resampled test videos (the test set's own noise).

    ``ious`` [video]: each test video's video IoU (NaN: no ground truth, not scored);
    ``labels`` [video]: its class; ``correct`` [video]: whether the class was predicted right,
    where the evaluation requires it. Videos are resampled within each class (a stratified
    bootstrap), so every class stays present, as :func:`vmap_from_videos` needs.
    """
    _check_confidence(confidence)
    hits, labels = _video_hits(ious, labels, threshold, correct)
    shares = []  # [class] of [resample]
    for c in np.unique(labels):
        members = hits[labels == c]  # [class video]
        picks = rng.integers(0, members.size, size=(n_resamples, members.size))
        shares.append(members[picks].mean(axis=1))
    vmaps = np.mean(shares, axis=0)  # [resample]
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(vmaps, [tail, 1.0 - tail])
    return float(low), float(high)
