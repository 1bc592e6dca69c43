"""Claims: per-seed summaries, the paper's effects and verdicts, on hand-made run tables."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from claus_core.claims import CLAIMS, LABEL_EFFICIENCY_BAR, Group, evaluate, paper_effect
from claus_core.config import load_study
from claus_core.paper import paper_table
from claus_core.run_tables import paper_inconsistencies

CLAIM = {c.key: c for c in CLAIMS}
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("study", ["default_study.yaml", "smoke_study.yaml"])
def test_every_group_the_book_reads_is_in_the_studies_it_renders(study: str) -> None:
    config = load_study(CONFIGS / study)
    groups = {g.name: set(g.strategies) for g in config.groups}
    named = {v for k, v in vars(Group).items() if k.isupper()}
    assert named <= set(groups), f"{study} lacks {sorted(named - set(groups))}"
    for claim in CLAIMS:  # and every (group, strategy) a claim compares
        for group, strategy in (claim.a, claim.b):
            assert strategy in groups[group], f"{study}: {claim.key} reads {group}/{strategy}"


def _rows(
    group: str, strategy: str, values: dict[int, list[float]], metric: str = "v-mAP"
) -> list[dict]:
    """``values``: seed -> v-mAP@0.5 per round."""
    return [
        {"group": group, "strategy": strategy, "seed": seed, "round": r, "metric": metric, "threshold": 0.5,
         "value": v, "videos": 1, "frames": 1, "cost": 1, "cost_percent": 1.0}
        for seed, per_round in values.items() for r, v in enumerate(per_round)
    ]  # fmt: skip


def _results(*pieces: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([row for piece in pieces for row in piece])


NO_CLASSES = pd.DataFrame(columns=["group", "strategy", "seed", "round", "class_name", "value"])


def test_every_claim_names_a_page_and_a_paper_effect_with_a_direction() -> None:
    assert len({c.key for c in CLAIMS}) == len(CLAIMS)
    for claim in CLAIMS:
        effect = paper_effect(claim)
        assert claim.paper is None or effect == effect, (
            claim.key
        )  # not NaN when the paper has numbers


def test_paper_effects_hand_computed() -> None:
    assert paper_effect(CLAIM["table2_sample"]) == pytest.approx(72.2 - 36.2)
    assert paper_effect(CLAIM["figure4"]) == pytest.approx(65.55 - 62.04)  # Table 5's last row
    table5 = [
        54.34 - 43.56,
        57.68 - 47.14,
        61.84 - 52.66,
        65.55 - 62.04,
    ]  # the first row left out, like ours
    assert paper_effect(CLAIM["table5_random"]) == pytest.approx(sum(table5) / 4)
    assert paper_effect(CLAIM["table3"]) == pytest.approx((3.10 + 2.45 + 2.41 + 4.05) / 4)
    assert paper_effect(CLAIM["table6"]) == pytest.approx(100 * 72.28 / 75.29)
    assert paper_effect(CLAIM["table7"]) == pytest.approx(100 * 71.50 / 75.81)
    assert paper_effect(CLAIM["table9"]) == pytest.approx(79.0 - 59.9)


def test_mean_after_round0_leaves_out_the_shared_round() -> None:
    results = _results(
        _rows(
            "ucf_main", "claus", {0: [0.0, 12.0, 14.0], 1: [5.0, 10.0, 13.0], 2: [1.0, 11.0, 16.0]}
        ),
        _rows(
            "ucf_main", "random", {0: [0.0, 10.0, 10.0], 1: [5.0, 9.0, 10.0], 2: [1.0, 10.0, 11.0]}
        ),
    )
    outcome = evaluate(CLAIM["table5_random"], results, NO_CLASSES)
    # per seed: mean of rounds 1, 2: (13 - 10, 11.5 - 9.5, 13.5 - 10.5) = (3, 2, 3)
    assert outcome.ours.mean == pytest.approx(8 / 3)
    # the Student-t interval of (3, 2, 3): mean 8/3, sd 1/sqrt(3), t_{0.975, 2} = 4.302653
    half = 4.302653 * (1 / math.sqrt(3)) / math.sqrt(3)
    assert outcome.ours.seeds == 3
    assert (outcome.ours.low, outcome.ours.high) == pytest.approx((8 / 3 - half, 8 / 3 + half))
    assert outcome.verdict == "agrees"


def test_a_reversed_ordering_contradicts_and_a_mixed_one_is_inconclusive() -> None:
    claus = _rows("ucf_main", "claus", {0: [0.0, 10.0], 1: [0.0, 10.0], 2: [0.0, 10.0]})
    worse = _rows("ucf_loss_frame", "claus", {0: [0.0, 14.0], 1: [0.0, 13.0], 2: [0.0, 15.0]})
    mixed = _rows("ucf_loss_interpolate", "claus", {0: [0.0, 14.0], 1: [0.0, 7.0], 2: [0.0, 9.0]})
    results = _results(claus, worse, mixed)
    assert evaluate(CLAIM["table10_frame"], results, NO_CLASSES).verdict == "contradicts"
    assert evaluate(CLAIM["table10_interpolate"], results, NO_CLASSES).verdict == "inconclusive"


def test_one_seed_gives_no_interval_and_missing_runs_are_said() -> None:
    results = _results(
        _rows("ucf_main", "claus", {0: [0.0, 30.0]}), _rows("ucf_main", "random", {0: [0.0, 10.0]})
    )
    assert evaluate(CLAIM["table5_random"], results, NO_CLASSES).verdict == "no interval"
    assert evaluate(CLAIM["table3"], results, NO_CLASSES).verdict == "runs missing"


def test_label_efficiency_is_a_share_of_the_same_seeds_full_reference() -> None:
    main = _rows("ucf_main", "claus", {0: [10.0, 57.0], 1: [10.0, 58.0], 2: [10.0, 56.0]})
    full = _rows("ucf_full", "random", {0: [60.0], 1: [60.0], 2: [60.0]})
    outcome = evaluate(CLAIM["table6"], _results(main, full), NO_CLASSES)
    assert outcome.reference == LABEL_EFFICIENCY_BAR
    assert outcome.ours.mean == pytest.approx(100 * 57 / 60)  # 95 %
    assert outcome.verdict == "agrees"
    zero = _rows("ucf_full", "random", {0: [0.0], 1: [60.0], 2: [60.0]})
    assert evaluate(CLAIM["table6"], _results(main, zero), NO_CLASSES).verdict.startswith(
        "undefined"
    )


def test_static_minus_moving_from_the_last_round_per_class() -> None:
    rows = []
    for seed, (static, moving) in enumerate([(50.0, 30.0), (45.0, 30.0), (48.0, 30.0)]):
        for r in (0, 1):
            rows += [
                {"group": "ucf_main", "strategy": "claus", "seed": seed, "round": r, "class_name": "Basketball",
                 "value": static if r else 0.0},
                {"group": "ucf_main", "strategy": "claus", "seed": seed, "round": r, "class_name": "Biking",
                 "value": moving if r else 0.0},
            ]  # fmt: skip
    outcome = evaluate(CLAIM["table9"], _results(), pd.DataFrame(rows))
    assert outcome.ours.mean == pytest.approx((20 + 15 + 18) / 3)
    assert outcome.verdict == "agrees"


def test_the_paper_typo_in_table10_is_flagged_and_nothing_else() -> None:
    flagged = {n: paper_inconsistencies(paper_table(n)) for n in (2, 3, 4, 5, 6, 7, 8, 9, 10)}
    assert [n for n, notes in flagged.items() if notes] == [10]
    assert (
        "Interpolate row at 0.25 % prints v-mAP@0.2 = 95.90 above v-mAP@0.1 = 92.03"
        in flagged[10][0]
    )


def test_summarize_gives_the_mean_and_its_interval_per_round() -> None:
    from claus_core.run_tables import interval_label, summarize

    results = _results(_rows("ucf_main", "claus", {0: [1.0, 10.0], 1: [3.0, 10.0], 2: [2.0, 13.0]}))
    summary = summarize(results).set_index("round")
    assert summary.loc[0, "mean"] == pytest.approx(2.0) and summary.loc[0, "std"] == pytest.approx(
        1.0
    )
    half = 4.302653 / math.sqrt(3)  # t_{0.975, 2} * sd 1 / sqrt(3 seeds)
    assert (summary.loc[0, "low"], summary.loc[0, "high"]) == pytest.approx((2 - half, 2 + half))
    assert summary.loc[1, "seeds"] == 3
    one = summarize(_results(_rows("ucf_main", "claus", {0: [4.0]})))
    assert one["low"].isna().all() and one["std"].tolist() == [0.0]
    assert interval_label(4.0, float("nan"), float("nan")) == "4.0"
    assert interval_label(4.0, 3.25, 4.75) == "4.0 [3.2, 4.8]"


def test_seeds_are_paired_at_the_rounds_both_runs_finished() -> None:
    """An unfinished run is set beside its partner at the same rounds, and a seed without a
    partner is left out and counted."""
    claus = _rows(
        "ucf_main", "claus", {0: [0.0, 10.0, 20.0], 1: [0.0, 12.0, 22.0], 2: [0.0, 11.0, 21.0]}
    )
    sample = _rows(
        "ucf_selection", "sample", {0: [0.0, 5.0, 9.0], 1: [0.0, 6.0], 3: [0.0, 1.0, 2.0]}
    )
    outcome = evaluate(CLAIM["table2_sample"], _results(claus, sample), NO_CLASSES)
    # seed 0 at round 2: 20 - 9; seed 1 only reached round 1: 12 - 6; seeds 2 and 3 have no partner
    assert outcome.ours.mean == pytest.approx((11.0 + 6.0) / 2)
    assert outcome.unpaired == (2, 3) and outcome.row()["seeds"] == "2 (2 unpaired left out)"


def test_table3_parts_separate_the_cluster_loss_from_the_limit() -> None:
    """Issue 24: part 1 = cluster-loss training without a limit - uncertainty without clusters;
    part 2 = a limit that acts - no limit, both trained with the cluster loss."""
    results = _results(
        _rows("ucf_main", "uncertainty", {0: [0.0, 10.0], 1: [0.0, 11.0], 2: [0.0, 12.0]}),
        _rows("ucf_cluster_loss", "claus", {0: [0.0, 12.0], 1: [0.0, 14.0], 2: [0.0, 15.0]}),
        _rows("ucf_quota", "claus", {0: [0.0, 11.0], 1: [0.0, 14.0], 2: [0.0, 13.0]}),
        _rows("ucf_main", "claus", {0: [0.0, 12.0], 1: [0.0, 14.0], 2: [0.0, 15.0]}),
    )
    loss = evaluate(CLAIM["table3_loss"], results, NO_CLASSES)
    quota = evaluate(CLAIM["table3_quota"], results, NO_CLASSES)
    limit = evaluate(CLAIM["table3_limit"], results, NO_CLASSES)
    assert loss.ours.mean == pytest.approx((2 + 3 + 3) / 3) and loss.verdict == "agrees"
    assert quota.ours.mean == pytest.approx((-1 + 0 - 2) / 3) and quota.verdict == "inconclusive"
    assert limit.ours.mean == 0.0 and limit.ours.sd == 0.0  # a limit that never binds: no effect
    assert math.isnan(loss.paper)  # the paper tests the two parts only together


def test_the_design_page_sets_each_verdict_beside_the_earlier_runs() -> None:
    from claus_core.pages.study_pages import verdict_history

    results = _results(
        _rows("ucf_main", "claus", {0: [0.0, 14.0], 1: [0.0, 13.0], 2: [0.0, 15.0]}),
        _rows("ucf_baselines", "entropy", {0: [0.0, 10.0], 1: [0.0, 10.0], 2: [0.0, 11.0]}),
    )
    outcome = evaluate(CLAIM["table5_entropy"], results, NO_CLASSES)
    assert outcome.verdict == "agrees"
    row = verdict_history([outcome]).iloc[0]
    assert row["this study"].endswith(": agrees")
    assert (
        row["Other machine, AVX2 only (float32 scoring, bootstrap)"]
        == "+0.2 [-4.3, +4.7]: inconclusive"
    )
    assert row["Book before issue 23 (bfloat16 scoring, bootstrap)"].endswith(": agrees")
    assert "Other machine, AVX2 only" in row["differs from"]
    assert "Book before issue 23" not in row["differs from"]
