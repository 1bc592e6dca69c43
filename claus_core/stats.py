"""Confidence intervals, paired comparisons and verdicts for the book's claims (numpy + scipy).

Every comparison of two methods in this book is *paired*: seed k of every strategy starts from
the same initial selection, the same initial weights and the same data order
(:mod:`claus_core.engine.experiment` draws all three from the seed alone), so ``A[k] - B[k]`` removes the
variance the two runs share. A claim of the paper ("A beats B", supplementary Tables 2-10,
Figures 1 and 4) then gets one of three verdicts from the 95 % interval of the mean paired
difference:

- ``agrees``: the interval excludes 0 on the paper's side;
- ``contradicts``: it excludes 0 on the other side;
- ``inconclusive``: it contains 0 (reported with the smallest effect the design could detect).

With fewer than two seeds no interval exists, and the verdict says so; it never agrees.

Intervals of a mean over seeds are Student-t intervals, ``mean ± t_{1-alpha/2, n-1} sd / sqrt(n)``
(:func:`t_interval`): exact for normal per-seed values at any number of seeds, which is what 3-10
seeds need (a percentile bootstrap of 3 values covers about three times in four). For strongly
skewed values the t interval covers less than it states at few seeds (:func:`simulated_coverage`
measures both cases). The power of the same test, the minimum detectable effect and the seeds
needed use the same t distribution: the two-sided one-sample t test of the mean paired difference
has power from the noncentral t distribution (:func:`detection_power`), with
``df = n - 1`` and noncentrality ``effect sqrt(n) / sd``.

Over the many test videos of one run the stratified bootstrap (:func:`video_bootstrap_vmap`)
remains: there it resamples hundreds of videos, where it is valid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize
from scipy import stats as sps

Verdict = Literal["agrees", "contradicts", "inconclusive", "no interval"]
Distribution = Literal["normal", "skewed"]
DISTRIBUTIONS: tuple[str, ...] = ("normal", "skewed")
MAX_SEEDS = 100_000  # seeds_needed gives up (None) beyond this many seeds


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")


def _check_probability(value: float, name: str) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")


def _check_sd(sd: float) -> None:
    if not (math.isfinite(sd) and sd >= 0):
        raise ValueError(f"sd must be finite and >= 0, got {sd}")


def _finite(values: Sequence[float] | np.ndarray, *, what: str = "values") -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).ravel()  # [n]
    if array.size < 2:
        raise ValueError(f"{what}: a confidence interval needs at least 2 values, got {array.size}")
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{what}: {int(np.sum(~np.isfinite(array)))} of {array.size} values are NaN or infinite"
        )
    return array


def t_interval(
    values: Sequence[float] | np.ndarray, *, confidence: float = 0.95
) -> tuple[float, float]:
    """The Student-t interval of the mean of ``values``: ``mean ± t_{1-alpha/2, n-1} sd / sqrt(n)``
    with ``sd`` the sample standard deviation (ddof 1) and ``alpha = 1 - confidence``."""
    _check_confidence(confidence)
    array = _finite(values)
    if np.all(array == array[0]):
        return float(array[0]), float(array[0])  # exactly, without the rounding of mean and sd
    mean = float(array.mean())
    half = float(
        sps.t.ppf(0.5 + confidence / 2.0, array.size - 1)
        * array.std(ddof=1)
        / math.sqrt(array.size)
    )
    return mean - half, mean + half


def simulated_coverage(
    n: int,
    *,
    rng: np.random.Generator,
    confidence: float = 0.95,
    n_studies: int = 4_000,
    distribution: Distribution = "normal",
) -> float:
    """How often :func:`t_interval` of ``n`` simulated values holds their true mean: the share of
    ``n_studies`` simulated studies.

    ``distribution``: ``"normal"`` (standard normal values, true mean 0), where the t interval is
    exact, or ``"skewed"`` (lognormal values, log-mean 0 and log-sd 1, true mean ``exp(0.5)``), a
    strongly right-skewed case where it covers less than it states at few seeds.
    """
    _check_confidence(confidence)
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    if n < 2:
        raise ValueError(f"a confidence interval needs at least 2 values, got n = {n}")
    if n_studies < 1:
        raise ValueError(f"n_studies must be >= 1, got {n_studies}")
    if distribution == "normal":
        values, truth = rng.normal(0.0, 1.0, size=(n_studies, n)), 0.0  # [study, n]
    else:
        values, truth = rng.lognormal(0.0, 1.0, size=(n_studies, n)), math.exp(0.5)
    means = values.mean(axis=1)  # [study]
    halves = sps.t.ppf(0.5 + confidence / 2.0, n - 1) * values.std(axis=1, ddof=1) / math.sqrt(n)
    return float(np.mean(np.abs(means - truth) <= halves))


def paired_differences(
    a: Mapping[int, float], b: Mapping[int, float], *, what: str = "A - B"
) -> np.ndarray:
    """``a[k] - b[k]`` for every seed k, in seed order; both must hold the same seeds."""
    if set(a) != set(b):
        only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        raise ValueError(f"{what}: not paired: seeds only in A {only_a}, only in B {only_b}")
    seeds = sorted(a)
    return np.asarray([a[k] - b[k] for k in seeds], dtype=np.float64)  # [seed]


def _power_standardized(d: float, n: int, alpha: float) -> float:
    """Power of the two-sided t test for a standardized effect ``d = effect / sd`` (n >= 2)."""
    df = n - 1
    critical = sps.t.ppf(1.0 - alpha / 2.0, df)
    nc = abs(d) * math.sqrt(n)
    if nc == 0:
        return float(2.0 * sps.t.sf(critical, df))
    # P(T > c) + P(T < -c) with T ~ nct(df, nc); the second as P(T' > c), T' ~ nct(df, -nc), by
    # symmetry: scipy's nct.cdf far below a large noncentrality returns NaN, its sf does not
    return float(min(1.0, sps.nct.sf(critical, df, nc) + sps.nct.sf(critical, df, -nc)))


def detection_power(effect: float, sd: float, n: int, *, alpha: float = 0.05) -> float:
    """The probability that the two-sided t test at level ``alpha`` rejects (equivalently: that the
    ``1 - alpha`` t interval excludes 0) for ``n`` paired seeds whose differences have true mean
    ``effect`` and standard deviation ``sd``: both tails of the noncentral t distribution,
    ``df = n - 1``, noncentrality ``effect sqrt(n) / sd``."""
    _check_probability(alpha, "alpha")
    _check_sd(sd)
    if n < 2:
        return 0.0
    if sd == 0:
        return 1.0 if effect != 0 else alpha
    return _power_standardized(effect / sd, n, alpha)


def _standardized_mde(n: int, alpha: float, power: float) -> float:
    """The smallest standardized effect ``d`` with power >= ``power`` at ``n`` seeds (n >= 2)."""
    if _power_standardized(0.0, n, alpha) >= power:
        return 0.0
    normal = (sps.norm.ppf(1.0 - alpha / 2.0) + sps.norm.ppf(power)) / math.sqrt(n)
    high = max(normal, 1e-3)
    while _power_standardized(high, n, alpha) < power:
        high *= 2.0
    return float(
        optimize.brentq(
            lambda d: _power_standardized(d, n, alpha) - power, 0.0, high, xtol=1e-14, rtol=1e-14
        )
    )


def minimum_detectable_effect(
    sd: float, n: int, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest true mean difference a design of ``n`` paired seeds resolves with ``power``:
    the smallest ``|effect|`` with :func:`detection_power` >= ``power`` (two-sided level
    ``alpha``); ``sd`` is the standard deviation of the per-seed differences."""
    _check_probability(alpha, "alpha")
    _check_probability(power, "power")
    _check_sd(sd)
    if n < 2:
        return math.inf
    if sd == 0:
        return 0.0
    return _standardized_mde(n, alpha, power) * sd


def seeds_needed(
    effect: float, sd: float, *, alpha: float = 0.05, power: float = 0.8
) -> int | None:
    """The fewest paired seeds (>= 2) whose t test resolves a true mean difference ``effect`` with
    ``power`` (:func:`detection_power`); None when it cannot be (effect 0 or not finite) or when
    it would take more than ``MAX_SEEDS``."""
    _check_probability(alpha, "alpha")
    _check_probability(power, "power")
    _check_sd(sd)
    if effect == 0 or not math.isfinite(effect):
        return None
    if sd == 0:
        return 2
    d = abs(effect) / sd

    def enough(n: int) -> bool:
        return _power_standardized(d, n, alpha) >= power

    if enough(2):
        return 2
    low, high = 2, 4  # enough(low) is False
    while not enough(high):
        if high >= MAX_SEEDS:
            return None
        low, high = high, min(2 * high, MAX_SEEDS)
    while high - low > 1:  # power grows with n: the answer lies in (low, high]
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


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


def compare(differences: Sequence[float] | np.ndarray, *, confidence: float = 0.95) -> Comparison:
    """Summarize per-seed paired differences (from :func:`paired_differences`): their mean, its
    Student-t interval (:func:`t_interval`) and the t test's minimum detectable effect."""
    _check_confidence(confidence)
    array = np.asarray(differences, dtype=np.float64).ravel()  # [seed]
    if array.size == 0:
        raise ValueError("compare: no paired difference (no seed has both methods)")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"compare: {int(np.sum(~np.isfinite(array)))} paired differences are NaN")
    if array.size < 2:
        return Comparison(float(array[0]), math.nan, math.nan, math.nan, 1, math.inf, confidence)
    low, high = t_interval(array, confidence=confidence)
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
