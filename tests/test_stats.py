"""Student-t intervals, paired comparisons, verdicts, power and detectable effects: hand cases and
coverage; the stratified bootstrap of v-mAP over test videos."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from claus_core.stats import (
    Comparison,
    compare,
    detection_power,
    minimum_detectable_effect,
    paired_differences,
    seeds_needed,
    simulated_coverage,
    t_interval,
    video_bootstrap_vmap,
    vmap_from_videos,
)


def test_t_interval_hand_computed() -> None:
    # [1, 2, 3]: mean 2, sd 1, t_{0.975, 2} = 4.302653 (tables), so 2 -+ 4.302653 / sqrt(3)
    low, high = t_interval([1.0, 2.0, 3.0])
    half = 4.302653 / math.sqrt(3)
    assert low == pytest.approx(2 - half, abs=1e-6) and high == pytest.approx(2 + half, abs=1e-6)
    # [0, 2] at 50 %: mean 1, sd sqrt(2), t_{0.75, 1} = 1 (the Cauchy quartile): 1 -+ 1
    assert t_interval([0.0, 2.0], confidence=0.5) == pytest.approx((0.0, 2.0))


def test_t_interval_of_constant_values_is_that_value() -> None:
    assert t_interval([3.5, 3.5, 3.5]) == (3.5, 3.5)
    assert t_interval([0.1, 0.1, 0.1]) == (0.1, 0.1)  # exactly, though 0.1 * 3 / 3 != 0.1


@pytest.mark.parametrize(
    ("values", "confidence", "message"),
    [
        ([1.0], 0.95, "at least 2 values"),
        ([], 0.95, "at least 2 values"),
        ([1.0, float("nan")], 0.95, "NaN or infinite"),
        ([1.0, float("inf")], 0.95, "NaN or infinite"),
        ([1.0, 2.0], 1.0, "strictly between 0 and 1"),
        ([1.0, 2.0], 0.0, "strictly between 0 and 1"),
        ([1.0, 2.0], -0.5, "strictly between 0 and 1"),
    ],
)
def test_bad_input_is_refused(values: list[float], confidence: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        t_interval(values, confidence=confidence)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=12),
    st.sampled_from([0.5, 0.9, 0.95, 0.99]),
)
def test_t_interval_is_scipy_s_and_centred_on_the_mean(values, confidence) -> None:
    low, high = t_interval(values, confidence=confidence)
    mean = float(np.mean(values))
    assert low <= high
    assert low - 1e-9 <= mean <= high + 1e-9
    assert (high - mean) == pytest.approx(mean - low, abs=1e-9)
    sem = sps.sem(values)
    if sem > 0:
        expected = sps.t.interval(confidence, len(values) - 1, loc=mean, scale=sem)
        assert (low, high) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("n", [3, 5, 10])
def test_the_t_interval_holds_what_it_states_for_normal_seeds(n: int) -> None:
    coverage = simulated_coverage(n, rng=np.random.default_rng(0), n_studies=4_000)
    assert 0.93 <= coverage <= 0.97


def test_the_t_interval_under_covers_strongly_skewed_seeds() -> None:
    """Lognormal values (log-sd 1) at 3 seeds: about 0.84, clearly under 0.95."""
    coverage = simulated_coverage(
        3, rng=np.random.default_rng(0), n_studies=4_000, distribution="skewed"
    )
    assert coverage < 0.93


def test_simulated_coverage_is_the_t_interval_s_one_study_at_a_time() -> None:
    """The vectorized simulation counts what t_interval, called study by study, holds."""
    rng = np.random.default_rng(2026)
    hits = 0
    for _ in range(1_000):
        low, high = t_interval(rng.normal(1.5, 2.0, size=4))
        hits += low <= 1.5 <= high
    assert 0.93 <= hits / 1_000 <= 0.97
    for distribution in ("normal", "skewed"):
        once = simulated_coverage(
            4, rng=np.random.default_rng(1), n_studies=200, distribution=distribution
        )
        again = simulated_coverage(
            4, rng=np.random.default_rng(1), n_studies=200, distribution=distribution
        )
        assert once == again
        study = np.random.default_rng(1)
        values = (
            study.normal(0.0, 1.0, size=(200, 4))
            if distribution == "normal"
            else study.lognormal(0.0, 1.0, size=(200, 4))
        )
        truth = 0.0 if distribution == "normal" else math.exp(0.5)
        looped = np.mean([t_interval(v)[0] <= truth <= t_interval(v)[1] for v in values])
        assert once == pytest.approx(looped)


def test_simulated_coverage_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match=r"one of \('normal', 'skewed'\)"):
        simulated_coverage(3, rng=np.random.default_rng(0), distribution="uniform")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 2 values"):
        simulated_coverage(1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        simulated_coverage(3, rng=np.random.default_rng(0), confidence=1.0)


def test_paired_differences_follow_the_seeds() -> None:
    a = {2: 10.0, 0: 7.0, 1: 8.0}
    b = {0: 5.0, 1: 9.0, 2: 4.0}
    np.testing.assert_array_equal(paired_differences(a, b), [2.0, -1.0, 6.0])  # seeds 0, 1, 2


def test_unpaired_seeds_are_named() -> None:
    with pytest.raises(
        ValueError, match=r"claus - random: not paired: seeds only in A \[3\], only in B \[\]"
    ):
        paired_differences({0: 1.0, 3: 2.0}, {0: 1.0}, what="claus - random")


def test_pairing_removes_the_variance_the_runs_share() -> None:
    """A seed effect shared by both methods vanishes from the paired difference."""
    rng = np.random.default_rng(3)
    seed_effect = rng.normal(0, 10, size=8)
    a = {k: 50 + 2.0 + seed_effect[k] for k in range(8)}
    b = {k: 50 + seed_effect[k] for k in range(8)}
    result = compare(paired_differences(a, b))
    assert (
        result.mean == pytest.approx(2.0)
        and result.low == pytest.approx(2.0)
        and result.sd == pytest.approx(0.0)
    )
    assert result.verdict(+1) == "agrees" and result.verdict(-1) == "contradicts"


def test_verdicts_hand_made() -> None:
    inside = Comparison(mean=0.5, low=-1.0, high=2.0, sd=1.0, seeds=5, mde=1.2)
    above = Comparison(mean=3.0, low=1.0, high=5.0, sd=1.0, seeds=5, mde=1.2)
    below = Comparison(mean=-3.0, low=-5.0, high=-1.0, sd=1.0, seeds=5, mde=1.2)
    assert inside.verdict(+1) == "inconclusive"
    assert above.verdict(+1) == "agrees" and above.verdict(-1) == "contradicts"
    assert below.verdict(+1) == "contradicts" and below.verdict(-1) == "agrees"
    share = Comparison(mean=95.0, low=92.0, high=97.0, sd=2.0, seeds=5, mde=2.5)
    assert share.verdict(+1, reference=90.0) == "agrees"
    assert share.verdict(+1, reference=93.0) == "inconclusive"
    with pytest.raises(ValueError, match="no direction"):
        above.verdict(0)


def test_one_seed_never_agrees() -> None:
    one = compare([4.0])
    assert one.seeds == 1 and math.isnan(one.low) and one.mde == math.inf
    assert one.verdict(+1) == "no interval" and one.verdict(-1) == "no interval"
    assert "no interval" in one.label()


def test_compare_is_the_t_interval_and_the_t_test_s_mde() -> None:
    differences = [2.0, -1.0, 6.0, 3.5]
    for confidence in (0.9, 0.95):
        result = compare(differences, confidence=confidence)
        assert (result.low, result.high) == t_interval(differences, confidence=confidence)
        assert result.sd == pytest.approx(np.std(differences, ddof=1))
        assert result.seeds == 4 and result.confidence == confidence
        assert result.mde == pytest.approx(
            minimum_detectable_effect(result.sd, 4, alpha=1 - confidence)
        )
    with pytest.raises(ValueError, match="no paired difference"):
        compare([])
    with pytest.raises(ValueError, match="NaN"):
        compare([1.0, float("nan")])


@pytest.mark.parametrize("n", [2, 3, 5, 10, 100])
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
def test_power_at_no_effect_is_the_level(n: int, alpha: float) -> None:
    assert detection_power(0.0, 4.0, n, alpha=alpha) == pytest.approx(alpha, abs=1e-9)


def test_power_edge_cases_and_bad_input() -> None:
    assert detection_power(3.0, 4.0, 1) == 0.0 and detection_power(3.0, 4.0, 0) == 0.0
    assert detection_power(3.0, 0.0, 5) == 1.0 and detection_power(0.0, 0.0, 5) == 0.05
    assert detection_power(-3.0, 4.0, 5) == detection_power(3.0, 4.0, 5)
    assert detection_power(36.0, 3.74, 2) == pytest.approx(0.7145, abs=1e-4)  # no NaN far out
    with pytest.raises(ValueError, match="sd must be finite"):
        detection_power(1.0, -1.0, 5)
    with pytest.raises(ValueError, match="alpha must lie"):
        detection_power(1.0, 1.0, 5, alpha=0.0)
    with pytest.raises(ValueError, match="power must lie"):
        minimum_detectable_effect(1.0, 5, power=1.0)


def test_power_is_the_simulated_rejection_rate_of_the_t_test() -> None:
    rng = np.random.default_rng(11)
    n, effect, sd = 5, 3.0, 4.53
    values = rng.normal(effect, sd, size=(20_000, n))  # [study, seed]
    t = values.mean(axis=1) / (values.std(axis=1, ddof=1) / math.sqrt(n))
    rejected = np.mean(np.abs(t) > sps.t.ppf(0.975, n - 1))
    assert detection_power(effect, sd, n) == pytest.approx(rejected, abs=0.01)  # about 0.21


@settings(max_examples=50, deadline=None)
@given(
    st.floats(0.0, 20.0),
    st.floats(0.0, 5.0),
    st.floats(0.1, 10.0),
    st.integers(2, 200),
    st.integers(1, 50),
)
def test_power_grows_with_the_effect_and_the_seeds(effect, more, sd, n, extra) -> None:
    power = detection_power(effect, sd, n)
    assert 0.05 - 1e-9 <= power <= 1.0
    assert detection_power(effect + more, sd, n) >= power - 1e-9
    assert detection_power(effect, sd, n + extra) >= power - 1e-9


@pytest.mark.parametrize("n", [2, 3, 5, 9, 30])
def test_mde_has_the_stated_power_and_exceeds_the_normal_approximation(n: int) -> None:
    sd = 4.53
    mde = minimum_detectable_effect(sd, n)
    assert detection_power(mde, sd, n) == pytest.approx(0.8, abs=1e-6)
    normal = (sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * sd / math.sqrt(n)
    assert mde > normal
    assert minimum_detectable_effect(2 * sd, n) == pytest.approx(2 * mde)


def test_mde_hand_computed() -> None:
    # sd 4.53, 5 seeds: the t test needs 7.619 (the normal approximation said 5.676)
    assert minimum_detectable_effect(4.53, 5) == pytest.approx(7.6194, abs=1e-3)
    assert minimum_detectable_effect(3.0, 1) == math.inf
    assert minimum_detectable_effect(0.0, 5) == 0.0


def test_seeds_needed_hand_computed() -> None:
    # effect 2, sd 4: the normal approximation ceil(((z_0.975 + z_0.8) * 4 / 2)^2) = 32; the t
    # test's power is 0.7954 at 33 seeds and 0.8078 at 34 (scipy.stats.nct)
    assert seeds_needed(2.0, 4.0) == 34
    assert seeds_needed(-2.0, 4.0) == 34
    assert seeds_needed(0.0, 4.0) is None
    assert seeds_needed(math.inf, 4.0) is None and seeds_needed(math.nan, 4.0) is None
    assert seeds_needed(5.0, 0.0) == 2
    assert seeds_needed(100.0, 1.0) == 2
    assert seeds_needed(36.0, 3.74) == 3  # power 0.71 at 2 seeds
    assert seeds_needed(0.01, 4.0) is None  # over a million seeds: past the cap


@pytest.mark.parametrize(
    ("effect", "sd"),
    [(3.0, 4.53), (8.5, 3.37), (3.38, 2.66), (2.4, 4.53), (10.19, 6.11), (3.51, 3.3), (0.3, 2.0)],
)
def test_seeds_needed_is_the_fewest_with_the_power(effect: float, sd: float) -> None:
    n = seeds_needed(effect, sd)
    assert n is not None and n >= 2
    assert detection_power(effect, sd, n) >= 0.8
    assert n == 2 or detection_power(effect, sd, n - 1) < 0.8


def test_video_bootstrap_brackets_the_observed_vmap() -> None:
    ious = np.array([0.9, 0.1, 0.6, 0.7, 0.2, 0.8, 0.4, 0.55])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    observed = np.mean([np.mean(ious[labels == c] >= 0.5) for c in (0, 1)])  # (3/4 + 2/4) / 2
    assert observed == pytest.approx(0.625)
    low, high = video_bootstrap_vmap(ious, labels, threshold=0.5, rng=np.random.default_rng(0))
    assert low < observed < high and 0.0 <= low and high <= 1.0
    all_hit = video_bootstrap_vmap(
        np.ones(4), np.array([0, 0, 1, 1]), threshold=0.5, rng=np.random.default_rng(0)
    )
    assert all_hit == (1.0, 1.0)
    with pytest.raises(ValueError, match="two equal"):
        video_bootstrap_vmap(ious, labels[:3], threshold=0.5, rng=np.random.default_rng(0))


def test_vmap_from_videos_is_the_metrics_module_s_v_map() -> None:
    """Unscored videos (no ground truth, IoU NaN) are dropped and a one-video class counts, as
    in claus_core.metrics; the stratified bootstrap keeps that one video in every resample."""
    from claus_core.metrics import LocalizationScores

    rng = np.random.default_rng(5)
    ious = rng.uniform(0, 1, size=30)
    ious[[3, 17]] = np.nan
    labels = np.concatenate([rng.integers(0, 4, size=29), [4]])  # class 4 has a single video
    predicted = np.where(rng.random(30) < 0.7, labels, (labels + 1) % 5)
    scores = LocalizationScores(
        num_classes=5, frame_iou=np.array([0.5]), frame_label=np.array([0]), frame_predicted=np.array([0]),
        video_iou=ious, video_label=labels, video_predicted=predicted,
    )  # fmt: skip
    for require_class in (False, True):
        table = scores.table((0.3, 0.5), require_class=require_class)
        for threshold in (0.3, 0.5):
            expected = table[(table["metric"] == "v-mAP") & (table["threshold"] == threshold)][
                "value"
            ].item()
            correct = predicted == labels if require_class else None
            assert vmap_from_videos(
                ious, labels, threshold=threshold, correct=correct
            ) == pytest.approx(expected)
    low, high = video_bootstrap_vmap(ious, labels, threshold=0.5, rng=np.random.default_rng(0))
    assert low <= vmap_from_videos(ious, labels, threshold=0.5) <= high
    with pytest.raises(ValueError, match="no test video has ground truth"):
        vmap_from_videos(np.full(3, np.nan), np.zeros(3), threshold=0.5)
