"""The supplementary's claims, one row each, and their verdicts on our runs (issue 13).

A claim is an ordering the paper states or tabulates: "A is above B" (Tables 2, 3, 4, 5, 8, 10,
Figures 1 and 4), "static above moving" (Table 9), or "CLAUS at the last step comes close to
full supervision" (Tables 6, 7). For each one this module computes, per seed, the same summary
on our runs and on the paper's numbers, and turns the per-seed values into a paired
:class:`claus_core.stats.Comparison` with its verdict::

    collect(root) --per seed--> A[k], B[k] --A[k]-B[k]--> stats.compare --> verdict vs paper sign

Summaries, fixed before any verdict was read (see the book's claims page):

- ``"mean_after_round0"``: the mean over rounds 1, 2, ... of v-mAP@0.5. Round 0 trains on the
  same random initial selection for every strategy of a seed (without the cluster loss, which
  acts from round 1 on), so it holds no difference of *selection* and is left out, for every
  claim alike (Table 10's loss variants differ there too). The paper's effect is the mean of A - B
  over its rows after the first, likewise.
- ``"last_round"``: the value at the study's last round (the paper: its last row).
- Tables 6 and 7: CLAUS's last round as a percentage of the fully supervised reference of the
  same seed; "comparable" is read as at least ``LABEL_EFFICIENCY_BAR`` = 90 % (the paper:
  96 % on UCF-101-24, 94 % on J-HMDB-21).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from claus_core.data.synthetic import UCF_MOVING_CLASSES
from claus_core.paper import paper_table
from claus_core.stats import Comparison, compare, paired_differences, seeds_needed

Summary = Literal["mean_after_round0", "last_round"]
LABEL_EFFICIENCY_BAR = 90.0  # percent of the fully supervised v-mAP@0.5
METRIC, THRESHOLD = "v-mAP", 0.5


@dataclass(frozen=True, kw_only=True)
class Claim:
    """One ordering of the paper, one keyword row of :data:`CLAIMS`. ``a`` and ``b`` are our
    (group, strategy) runs, compared as ``a - b`` per seed; ``paper`` the paper's table and its
    two row groups (None where the paper prints no number)."""

    key: str
    page: str
    text: str
    kind: Literal["difference", "static_moving", "share_of_full"] = "difference"
    a: tuple[str, str]
    b: tuple[str, str]
    summary: Summary
    paper: tuple[int, str, str] | None
    paper_sign: int = 1  # the paper's direction when it prints no number


class Group:
    """The study groups (and so run folders) the claims and the book read. Every study the book
    renders names them in its ``groups`` (``configs/default_study.yaml``,
    ``configs/smoke_study.yaml``; ``tests/test_claims.py`` checks both)."""

    UCF_MAIN = "ucf_main"  # claus, uncertainty, random
    UCF_BASELINES = "ucf_baselines"  # entropy, equidistant (Table 5), ucf_main's base
    UCF_SELECTION = "ucf_selection"  # sample, intra_sample (Table 2)
    UCF_ONLY_FRAME = "ucf_only_frame"  # claus, frames only inside chosen videos (Table 8)
    UCF_LOSS_INTERPOLATE = (
        "ucf_loss_interpolate"  # claus trained with interpolated boxes (Table 10)
    )
    UCF_LOSS_FRAME = "ucf_loss_frame"  # claus trained on annotated frames only (Table 10)
    UCF_K10 = "ucf_k10"  # claus with K = 10 clusters (Figure 1)
    UCF_K15 = "ucf_k15"  # claus with K = 15 clusters (Figure 1)
    UCF_FULL = "ucf_full"  # fully supervised SynthUCF24 (Table 6, 100 %)
    UCF_RELEASED = "ucf_released"  # claus with the released code's selection and STeW (issue 18)
    # issue 24: the two things CLAUS adds to uncertainty, one at a time (Table 3's parts)
    UCF_CLUSTER_LOSS = "ucf_cluster_loss"  # claus, no cluster limit: the cluster loss alone
    UCF_QUOTA = "ucf_quota"  # claus, this round's videos shared by cluster size: a limit that acts
    JHMDB_MAIN = "jhmdb_main"  # claus, uncertainty on SynthJHMDB21
    JHMDB_FULL = "jhmdb_full"  # fully supervised SynthJHMDB21 (Table 7, 100 %)


MAIN = Group.UCF_MAIN
CLAIMS: tuple[Claim, ...] = (
    Claim(
        key="table2_sample",
        page="table2",
        text="Hybrid (CLAUS) above sample selection, UCF",
        a=(MAIN, "claus"),
        b=(Group.UCF_SELECTION, "sample"),
        summary="last_round",
        paper=(2, "Hybrid (our)", "Sample"),
    ),
    Claim(
        key="table2_intra",
        page="table2",
        text="Hybrid (CLAUS) above intra-sample selection, UCF",
        a=(MAIN, "claus"),
        b=(Group.UCF_SELECTION, "intra_sample"),
        summary="last_round",
        paper=(2, "Hybrid (our)", "Intra-sample"),
    ),
    Claim(
        key="table3",
        page="table3",
        text="CLAUS above uncertainty without clusters, UCF",
        a=(MAIN, "claus"),
        b=(MAIN, "uncertainty"),
        summary="mean_after_round0",
        paper=(3, "With Cluster", "Without Cluster"),
    ),
    Claim(
        key="table3_loss",
        page="table3",
        text="Part 1, the cluster loss: uncertainty selection from a model trained with it above one trained without, UCF",
        a=(Group.UCF_CLUSTER_LOSS, "claus"),
        b=(MAIN, "uncertainty"),
        summary="mean_after_round0",
        paper=None,
    ),
    Claim(
        key="table3_quota",
        page="table3",
        text="Part 2, a cluster limit that acts (each cluster's share of the round's videos) above no limit, same training, UCF",
        a=(Group.UCF_QUOTA, "claus"),
        b=(Group.UCF_CLUSTER_LOSS, "claus"),
        summary="mean_after_round0",
        paper=None,
    ),
    Claim(
        key="table3_limit",
        page="table3",
        text="Part 2, the released limit (0.54 of a cluster's videos, all rounds) above no limit, same training, UCF",
        a=(MAIN, "claus"),
        b=(Group.UCF_CLUSTER_LOSS, "claus"),
        summary="mean_after_round0",
        paper=None,
    ),
    Claim(
        key="table4",
        page="table4",
        text="CLAUS above uncertainty without clusters, J-HMDB",
        a=(Group.JHMDB_MAIN, "claus"),
        b=(Group.JHMDB_MAIN, "uncertainty"),
        summary="mean_after_round0",
        paper=(4, "With Cluster", "Without Cluster"),
    ),
    Claim(
        key="table5_entropy",
        page="table5",
        text="CLAUS above entropy, UCF",
        a=(MAIN, "claus"),
        b=(Group.UCF_BASELINES, "entropy"),
        summary="mean_after_round0",
        paper=(5, "CLAUS", "Entropy"),
    ),
    Claim(
        key="table5_uncertainty",
        page="table5",
        text="CLAUS above uncertainty, UCF",
        a=(MAIN, "claus"),
        b=(MAIN, "uncertainty"),
        summary="mean_after_round0",
        paper=(5, "CLAUS", "Uncertainty"),
    ),
    Claim(
        key="table5_equidistant",
        page="table5",
        text="CLAUS above equidistant, UCF",
        a=(MAIN, "claus"),
        b=(Group.UCF_BASELINES, "equidistant"),
        summary="mean_after_round0",
        paper=(5, "CLAUS", "Equidistant"),
    ),
    Claim(
        key="table5_random",
        page="table5",
        text="CLAUS above random, UCF",
        a=(MAIN, "claus"),
        b=(MAIN, "random"),
        summary="mean_after_round0",
        paper=(5, "CLAUS", "Random"),
    ),
    Claim(
        key="table6",
        page="table6",
        text="CLAUS at the last step within 10 % of full supervision, UCF",
        kind="share_of_full",
        a=(MAIN, "claus"),
        b=(Group.UCF_FULL, "random"),
        summary="last_round",
        paper=(6, "CLAUS", "CLAUS"),
    ),
    Claim(
        key="table7",
        page="table7",
        text="CLAUS at the last step within 10 % of full supervision, J-HMDB",
        kind="share_of_full",
        a=(Group.JHMDB_MAIN, "claus"),
        b=(Group.JHMDB_FULL, "random"),
        summary="last_round",
        paper=(7, "CLAUS", "CLAUS"),
    ),
    Claim(
        key="table8",
        page="table8",
        text="Sample+frame increments above only-frame increments, UCF",
        a=(MAIN, "claus"),
        b=(Group.UCF_ONLY_FRAME, "claus"),
        summary="mean_after_round0",
        paper=(8, "Sample+Frame", "Only Frame"),
    ),
    Claim(
        key="table9",
        page="table9",
        text="Static classes above moving classes (CLAUS), UCF",
        kind="static_moving",
        a=(MAIN, "claus"),
        b=(MAIN, "claus"),
        summary="last_round",
        paper=(9, "Static", "Moving"),
    ),
    Claim(
        key="table10_interpolate",
        page="table10",
        text="STeW above plain interpolation, UCF",
        a=(MAIN, "claus"),
        b=(Group.UCF_LOSS_INTERPOLATE, "claus"),
        summary="mean_after_round0",
        paper=(10, "STeW", "Interpolate"),
    ),
    Claim(
        key="table10_frame",
        page="table10",
        text="STeW above frame-only training, UCF",
        a=(MAIN, "claus"),
        b=(Group.UCF_LOSS_FRAME, "claus"),
        summary="mean_after_round0",
        paper=(10, "STeW", "Frame"),
    ),
    Claim(
        key="figure1_k10",
        page="figure1",
        text="K = 5 clusters above K = 10, UCF",
        a=(MAIN, "claus"),
        b=(Group.UCF_K10, "claus"),
        summary="mean_after_round0",
        paper=None,
    ),
    Claim(
        key="figure1_k15",
        page="figure1",
        text="K = 5 clusters above K = 15, UCF",
        a=(MAIN, "claus"),
        b=(Group.UCF_K15, "claus"),
        summary="mean_after_round0",
        paper=None,
    ),
    Claim(
        key="figure4",
        page="figure4",
        text="CLAUS above random at the last step, UCF",
        a=(MAIN, "claus"),
        b=(MAIN, "random"),
        summary="last_round",
        paper=(5, "CLAUS", "Random"),
    ),
)


def _series(
    results: pd.DataFrame,
    run: tuple[str, str],
    *,
    metric: str = METRIC,
    threshold: float = THRESHOLD,
) -> dict[int, pd.Series]:
    """Seed -> ``metric@threshold`` (default v-mAP@0.5) per finished round of one (group, strategy)."""
    rows = results[(results["group"] == run[0]) & (results["strategy"] == run[1])
                   & (results["metric"] == metric) & np.isclose(results["threshold"], threshold)]  # fmt: skip
    return {
        int(seed): r.set_index("round")["value"].sort_index() for seed, r in rows.groupby("seed")
    }


def _summary(series: pd.Series, rounds: pd.Index, summary: Summary, *, full: bool) -> float:
    """The claim's summary of one seed's v-mAP over ``rounds``, the rounds its pair shares."""
    if full:  # the fully supervised reference has a single round
        return float(series.iloc[-1])
    values = series.loc[rounds]
    if summary == "last_round":
        return float(values.iloc[-1])
    return float(values.loc[values.index > 0].mean())


def paired_summaries(
    results: pd.DataFrame,
    a: tuple[str, str],
    b: tuple[str, str],
    summary: Summary,
    *,
    metric: str = METRIC,
    threshold: float = THRESHOLD,
    full: bool = False,
) -> tuple[dict[int, float], dict[int, float], list[int]]:
    """Per seed, the ``summary`` of run ``a`` and of run ``b`` (each a (group, strategy)) over the
    rounds both finished (so seed k of A is set beside seed k of B at the same rounds even while
    a study is incomplete), and the seeds left out for having no partner. ``full``: B is a fully
    supervised reference (one round), summarized by its value."""
    series_a = _series(results, a, metric=metric, threshold=threshold)
    series_b = _series(results, b, metric=metric, threshold=threshold)
    out_a, out_b = {}, {}
    for seed in sorted(set(series_a) & set(series_b)):
        rounds = (
            series_a[seed].index
            if full
            else series_a[seed].index.intersection(series_b[seed].index)
        )
        if not full and summary == "mean_after_round0" and not (rounds > 0).any():
            continue
        if len(rounds):
            out_a[seed] = _summary(series_a[seed], rounds, summary, full=False)
            out_b[seed] = _summary(series_b[seed], rounds, summary, full=full)
    return out_a, out_b, sorted((set(series_a) | set(series_b)) - set(out_a))


def _static_minus_moving(per_class: pd.DataFrame, run: tuple[str, str]) -> dict[int, float]:
    rows = per_class[(per_class["group"] == run[0]) & (per_class["strategy"] == run[1])]
    out = {}
    for seed, by_seed in rows.groupby("seed"):
        last = by_seed[by_seed["round"] == by_seed["round"].max()]
        moving = last["class_name"].isin(UCF_MOVING_CLASSES)
        if moving.any() and (~moving).any():
            out[int(seed)] = float(
                last.loc[~moving, "value"].mean() - last.loc[moving, "value"].mean()
            )
    return out


def paper_effect(claim: Claim) -> float:
    """The paper's value of the claim's quantity (NaN where the paper prints no number)."""
    if claim.paper is None:
        return float("nan")
    number, group_a, group_b = claim.paper
    table = paper_table(number)
    table = table[(table["metric"] == METRIC) & np.isclose(table["threshold"], THRESHOLD)]
    if number == 2:
        table = table[table["dataset"] == "ucf101_24"]
    if (
        claim.kind == "share_of_full"
    ):  # the last active-learning row (5 %, 5.4 %) over the 100 % row
        rows = table[table["group"] == group_a]
        learning = rows[rows["percent"] < 50]["value"].to_numpy()
        full = rows[rows["percent"] == 100]["value"].to_numpy()
        return float(100.0 * learning[-1] / full[-1])
    a = table[table["group"] == group_a]["value"].to_numpy()
    b = table[table["group"] == group_b]["value"].to_numpy()
    if claim.summary == "last_round" or claim.kind == "static_moving":
        return float(a[-1] - b[-1])
    return float(np.mean((a - b)[1:]))  # like ours: the first step left out


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    paper: float
    ours: Comparison | None  # None: our runs for it are missing, or the share is undefined
    verdict: str
    seeds_for_paper_effect: int | None
    reference: float
    unpaired: tuple[int, ...] = ()  # seeds of A or B left out for having no partner

    def row(self) -> dict[str, object]:
        ours = self.ours
        effect = "—" if ours is None else ours.label()
        return {
            "claim": self.claim.text,
            "page": self.claim.page,
            "paper": "direction only" if np.isnan(self.paper) else f"{self.paper:+.2f}",
            "ours [95 % CI]": effect,
            "verdict": self.verdict,
            "seeds": ("0" if ours is None else str(ours.seeds))
            + (f" ({len(self.unpaired)} unpaired left out)" if self.unpaired else ""),
            "MDE": "—" if ours is None or not np.isfinite(ours.mde) else f"{ours.mde:.1f}",
            "seeds for the paper's effect": str(self.seeds_for_paper_effect or "—"),
        }


def evaluate(claim: Claim, results: pd.DataFrame, per_class: pd.DataFrame) -> ClaimResult:
    """One claim's verdict on our runs (``collect`` and ``collect_per_class`` of a study)."""
    paper = paper_effect(claim)
    reference, unpaired = 0.0, ()
    if claim.kind == "static_moving":
        values = _static_minus_moving(per_class, claim.a)
        differences = np.asarray([values[k] for k in sorted(values)])
    else:
        a, b, left_out = paired_summaries(
            results, claim.a, claim.b, claim.summary, full=claim.kind == "share_of_full"
        )
        unpaired = tuple(left_out)
        if claim.kind == "share_of_full":
            reference = LABEL_EFFICIENCY_BAR
            if any(b[k] <= 0 for k in b):
                return ClaimResult(claim, paper, None, "undefined: the fully supervised v-mAP@0.5 is 0",
                                   None, reference, unpaired)  # fmt: skip
            differences = np.asarray([100.0 * a[k] / b[k] for k in sorted(a)])
        else:
            differences = paired_differences(a, b, what=claim.key)
    if differences.size == 0:
        return ClaimResult(claim, paper, None, "runs missing", None, reference, unpaired)
    ours = compare(differences)
    sign = claim.paper_sign if np.isnan(paper) else float(np.sign(paper - reference) or 1)
    needed = None
    if not np.isnan(paper) and ours.seeds >= 2 and claim.kind != "share_of_full":
        needed = seeds_needed(paper, ours.sd)
    return ClaimResult(
        claim, paper, ours, ours.verdict(sign, reference=reference), needed, reference, unpaired
    )


def evaluate_all(
    results: pd.DataFrame, per_class: pd.DataFrame, *, page: str | None = None
) -> list[ClaimResult]:
    """Every claim (or those of one ``page``), evaluated once."""
    return [evaluate(c, results, per_class) for c in CLAIMS if page is None or c.page == page]


def claims_table(outcomes: list[ClaimResult]) -> pd.DataFrame:
    """One row per claim: the book's "Which claims hold" table."""
    return pd.DataFrame([outcome.row() for outcome in outcomes])
