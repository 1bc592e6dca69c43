"""Bootstrap intervals, paired comparisons, verdicts and detectable effects: hand cases and coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claus_core.stats import (
    Comparison,
    bootstrap_ci,
    compare,
    minimum_detectable_effect,
    paired_differences,
    seeds_needed,
    simulated_coverage,
    video_bootstrap_vmap,
    vmap_from_videos,
)


def test_bootstrap_of_two_values_spans_them_hand_computed() -> None:
    # resampled means of [0, 2] are 0, 1 or 2 with probabilities 1/4, 1/2, 1/4
    low, high = bootstrap_ci([0.0, 2.0], rng=np.random.default_rng(0), n_resamples=20_000)
    assert (low, high) == (0.0, 2.0)
    low, high = bootstrap_ci(
        [0.0, 2.0], confidence=0.4, rng=np.random.default_rng(0), n_resamples=20_000
    )
    assert (low, high) == (1.0, 1.0)  # the middle 40 % is all 1


def test_bootstrap_of_constant_values_is_that_value() -> None:
    assert bootstrap_ci([3.5, 3.5, 3.5], rng=np.random.default_rng(1)) == (3.5, 3.5)


def test_bootstrap_is_reproducible_from_the_generator() -> None:
    values = [1.0, 4.0, 2.0, 8.0]
    assert bootstrap_ci(values, rng=np.random.default_rng(7)) == bootstrap_ci(
        values, rng=np.random.default_rng(7)
    )


@pytest.mark.parametrize(
    ("values", "confidence", "message"),
    [
        ([1.0], 0.95, "at least 2 values"),
        ([], 0.95, "at least 2 values"),
        ([1.0, float("nan")], 0.95, "NaN or infinite"),
        ([1.0, 2.0], 1.0, "strictly between 0 and 1"),
        ([1.0, 2.0], 0.0, "strictly between 0 and 1"),
        ([1.0, 2.0], -0.5, "strictly between 0 and 1"),
    ],
)
def test_bad_input_is_refused(values: list[float], confidence: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(values, confidence=confidence, rng=np.random.default_rng(0))


def test_coverage_on_simulated_data_is_near_the_nominal_level() -> None:
    """Over 400 simulated studies of 20 normal values, the 95 % interval holds the true mean
    about 95 % of the time (the percentile bootstrap runs a little under at this n)."""
    rng = np.random.default_rng(2026)
    hits = 0
    for _ in range(400):
        sample = rng.normal(1.5, 2.0, size=20)
        low, high = bootstrap_ci(sample, rng=rng, n_resamples=2_000)
        hits += low <= 1.5 <= high
    assert 0.89 <= hits / 400 <= 0.99


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
    result = compare(paired_differences(a, b), rng=rng)
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
    one = compare([4.0], rng=np.random.default_rng(0))
    assert one.seeds == 1 and math.isnan(one.low) and one.mde == math.inf
    assert one.verdict(+1) == "no interval" and one.verdict(-1) == "no interval"
    assert "no interval" in one.label()


def test_mde_and_seeds_needed_hand_computed() -> None:
    z = 1.959964 + 0.841621  # z_0.975 + z_0.80
    assert minimum_detectable_effect(3.0, 9) == pytest.approx(z * 3.0 / 3.0, rel=1e-5)
    assert minimum_detectable_effect(3.0, 1) == math.inf
    # effect 2, sd 4: n = ceil((z * 4 / 2)^2) = ceil(31.4) = 32
    assert seeds_needed(2.0, 4.0) == 32
    assert seeds_needed(-2.0, 4.0) == 32
    assert seeds_needed(0.0, 4.0) is None
    assert seeds_needed(5.0, 0.0) == 2


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=12),
    st.integers(0, 2**32 - 1),
)
def test_interval_lies_within_the_sample_and_holds_the_mean_of_a_symmetric_sample(
    values, seed
) -> None:
    low, high = bootstrap_ci(values, rng=np.random.default_rng(seed), n_resamples=500)
    assert min(values) - 1e-9 <= low <= high <= max(values) + 1e-9
    mirrored = values + [2 * np.mean(values) - v for v in values]
    low, high = bootstrap_ci(mirrored, rng=np.random.default_rng(seed), n_resamples=500)
    assert low - 1e-9 <= np.mean(mirrored) <= high + 1e-9


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


def test_the_percentile_bootstrap_under_covers_with_few_seeds() -> None:
    three = simulated_coverage(3, rng=np.random.default_rng(0), n_studies=600, n_resamples=1_000)
    twenty = simulated_coverage(20, rng=np.random.default_rng(0), n_studies=600, n_resamples=1_000)
    assert 0.65 <= three <= 0.85 < twenty


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
