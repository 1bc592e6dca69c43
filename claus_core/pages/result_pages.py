"""One page per supplementary result: Tables 2-10, Figures 1 and 4, training, the released code.

Each builder takes the :class:`~claus_core.pages.layout.Study` and returns a
:class:`~claus_core.pages.layout.ResultPage`: its claims first, then our numbers beside the
paper's, the figures and the notes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from claus_core import plots, released_comparison
from claus_core.claims import Group
from claus_core.data.synthetic import UCF_MOVING_CLASSES
from claus_core.pages.layout import (
    RESULT_TITLES,
    ResultPage,
    Study,
    claimed_page,
    table_page,
)
from claus_core.paper import PAPER_ERROR_MARGINS, paper_table
from claus_core.run_tables import (
    beside_paper,
    collect_training,
    interval,
    interval_label,
    interval_labels,
)


def table2_page(study: Study) -> ResultPage:
    page = claimed_page(study, "table2",
                      "Whole videos (*Sample*), new frames only inside already selected videos "
                      "(*Intra-sample*) and CLAUS's hybrid, compared at the last step of the study "
                      "(the paper: 5 % of UCF-101-24, 5.4 % of J-HMDB-21).")  # fmt: skip
    paper = paper_table(2)
    rows = []
    for dataset, groups in (("ucf101_24", {"Sample": (Group.UCF_SELECTION, "sample"),
                                           "Intra-sample": (Group.UCF_SELECTION, "intra_sample"),
                                           "Hybrid (our)": (Group.UCF_MAIN, "claus")}),
                            ("jhmdb21", {"Hybrid (our)": (Group.JHMDB_MAIN, "claus")})):  # fmt: skip
        for method, (group, strategy) in groups.items():
            o = study.rows(group, strategy, threshold=0.5)
            if o.empty:
                page.missing.append(f"{group}/{strategy}")
                continue
            last = o[o["round"] == o["round"].max()]
            row = {"dataset": dataset, "method": method, "ours % annotated": round(float(last["cost_percent"].iloc[0]), 2),
                   "seeds": int(last["seeds"].iloc[0])}  # fmt: skip
            for metric in ("v-mAP", "f-mAP"):
                p = paper[
                    (paper["dataset"] == dataset)
                    & (paper["group"] == method)
                    & (paper["metric"] == metric)
                ]
                m = last[last["metric"] == metric].iloc[0]
                row[f"{metric}@0.5 paper"] = float(p["value"].iloc[0]) if len(p) else np.nan
                row[f"{metric}@0.5 ours [95 % CI]"] = interval_label(m["mean"], m["low"], m["high"])
            rows.append(row)
    if rows:
        page.tables["Table 2 at the last step (percent)"] = pd.DataFrame(rows)
    page.notes.append("Our study has no *sample* or *intra-sample* runs on SynthJHMDB21, so Table 2's J-HMDB "
                      "column is shown for the hybrid only.")  # fmt: skip
    return page


def cost_page(study: Study, table: int, text: str, main: str, full: str) -> ResultPage:
    """Tables 6, 7: each step of CLAUS in ``main`` with its cost, and the ``full`` reference."""
    result = f"table{table}"
    page = claimed_page(study, result, text)
    paper = paper_table(table)
    paper = paper[(paper["metric"] == "v-mAP") & np.isclose(paper["threshold"], 0.5)].reset_index(
        drop=True
    )
    o = study.rows(main, "claus", threshold=0.5)
    f = study.rows(full, threshold=0.5)
    if o.empty:
        page.missing.append(f"{main}/claus")
        return page
    if f.empty:
        page.missing.append(full)
    rows = []
    for label, source in [*((f"step {r}", o[o["round"] == r]) for r in sorted(o["round"].unique())),
                          *((("fully supervised", f),) if not f.empty else ())]:  # fmt: skip
        v = source[source["metric"] == "v-mAP"].iloc[0]
        fm = source[source["metric"] == "f-mAP"].iloc[0]
        rows.append({"ours": label, "ours % annotated": round(float(v["cost_percent"]), 2),
                     "ours cost": int(round(float(v["cost"]))), "seeds": int(v["seeds"]),
                     "v-mAP@0.5 ours [95 % CI]": interval_label(v["mean"], v["low"], v["high"]),
                     "f-mAP@0.5 ours [95 % CI]": interval_label(fm["mean"], fm["low"], fm["high"])})  # fmt: skip
    page.tables[f"Table {table}, ours: cost vs performance (percent)"] = pd.DataFrame(rows)
    page.tables[f"Table {table}, paper: cost vs v-mAP@0.5"] = paper[
        ["percent", "cost", "value"]
    ].rename(columns={"percent": "% annotated", "value": "v-mAP@0.5"})
    return page


def table9_page(study: Study) -> ResultPage:
    page = claimed_page(study, "table9",
                      "Per-class v-mAP@0.5 of CLAUS averaged over the classes SynthUCF24 films with a "
                      f"static camera and over those with a moving camera ({', '.join(UCF_MOVING_CLASSES)}).")  # fmt: skip
    per = study.per_class
    per = per[(per["group"] == Group.UCF_MAIN) & (per["strategy"] == "claus")]
    if per.empty:
        page.missing.append("ucf_main/claus")
        return page
    per = per.assign(type=np.where(per["class_name"].isin(UCF_MOVING_CLASSES), "Moving", "Static"))
    by_seed = per.groupby(["round", "type", "seed"])["value"].mean().reset_index()
    rows = []
    for (r, kind), values in by_seed.groupby(["round", "type"]):
        v = values["value"].to_numpy()
        low, high = interval(v)
        rows.append(
            {
                "step": int(r),
                "type": kind,
                "seeds": len(v),
                "v-mAP@0.5 ours [95 % CI]": interval_label(v.mean(), low, high),
            }
        )
    page.tables["Ours: v-mAP@0.5 per step (percent)"] = pd.DataFrame(rows)
    paper = paper_table(9)[["group", "percent", "value"]].rename(
        columns={"group": "type", "value": "v-mAP@0.5"}
    )
    page.tables["Paper: v-mAP@0.5 at 1 % and 5 %"] = paper
    return page


def figure1_page(study: Study) -> ResultPage:
    page = claimed_page(study, "figure1",
                      "CLAUS with K = 5, 10 and 15 clusters. The paper reports similar performance for "
                      "all three, K = 5 slightly best; its figure prints no numbers, so only ours is drawn.")  # fmt: skip
    methods = {
        f"K={k}": (group, "claus")
        for k, group in ((5, Group.UCF_MAIN), (10, Group.UCF_K10), (15, Group.UCF_K15))
    }
    present = {k: v for k, v in methods.items() if not study.rows(*v).empty}
    page.missing += [f"{g}/claus" for k, (g, _) in methods.items() if k not in present]
    if not present:
        return page
    empty = paper_table(5).iloc[0:0]  # no paper numbers
    t = beside_paper(study.summary, empty, present, metric="v-mAP", threshold=0.5)
    table = t.assign(ours=interval_labels(t))
    page.tables["Ours: v-mAP@0.5 [95 % CI] per K and step (percent)"] = table.pivot_table(
        index="step", columns="method", values="ours", aggfunc="first", sort=False
    )[list(present)]
    page.figures.append(
        plots.metric_curves(t, title="Figure 1 (ours): K clusters", ylabel="v-mAP@0.5 (%)")
    )
    return page


def figure4_page(study: Study) -> ResultPage:
    page = claimed_page(study, "figure4",
                      "v-mAP@0.5 against the share of the full annotation cost, with the annotation cost "
                      "of each step as shaded bars (right axis).")  # fmt: skip
    rows = []
    for method, strategy in (("CLAUS", "claus"), ("Random", "random")):
        o = study.rows(Group.UCF_MAIN, strategy, metric="v-mAP", threshold=0.5)
        if o.empty:
            page.missing.append(f"ucf_main/{strategy}")
            continue
        for _, r in o.iterrows():
            rows.append({"method": method, "step": int(r["round"]), "ours (mean)": r["mean"], "ours (low)": r["low"],
                         "ours (high)": r["high"], "ours cost": r["cost"], "ours % annotated": r["cost_percent"]})  # fmt: skip
    if not rows:
        return page
    table = pd.DataFrame(rows)
    shown = table.assign(**{"v-mAP@0.5 ours [95 % CI]": interval_labels(table)})[
        ["method", "step", "ours % annotated", "ours cost", "v-mAP@0.5 ours [95 % CI]"]
    ]
    page.tables["Ours: v-mAP@0.5 and cost per step"] = shown.round(2)
    page.figures.append(plots.cost_curves(table, title="Figure 4 (ours, SynthUCF24)"))
    return page


def table5_page(study: Study) -> ResultPage:
    page = table_page("table5", "Every strategy trained with STeW, same budgets, same epochs, on SynthUCF24.", 5,
                       TABLE5_METHODS)(study)  # fmt: skip
    rows = []
    for method, (group, strategy) in TABLE5_METHODS.items():
        o = study.rows(group, strategy, metric="v-mAP", threshold=0.5)
        o = o[o["round"] > 0]
        rows.append({"method": method, "paper: average error of 3 runs (Section 4.3)": PAPER_ERROR_MARGINS[method.lower()],
                     "ours: std of v-mAP@0.5 over seeds, mean over rounds 1+": round(float(o["std"].mean()), 2) if len(o) else np.nan,
                     "ours seeds": int(o["seeds"].max()) if len(o) else 0})  # fmt: skip
    page.tables["Spread over seeds, the paper's and ours (v-mAP points)"] = pd.DataFrame(rows)
    page.notes.append("Section 4.3 does not say which statistic its \"average error\" is; ours is the standard "
                      "deviation over seeds.")  # fmt: skip
    return page


TRAINING_TEXT = (
    "The training loss of every round, split into its weighted terms, for CLAUS and for the fully "
    "supervised reference (mean over seeds; dotted lines: a new round starts, from the previous "
    "round's weights). The classification term is the spread loss, whose margin grows from 0.2 to "
    "0.9 over each round (Section 7.3's matrix-capsule schedule): a wider margin costs more for the "
    "same scores, so that term, and with it the total, can rise within a round while the model "
    "improves. The localization term (STeW-weighted cross-entropy and Dice) is the one to read for "
    "fit."
)


def training_page(study: Study) -> ResultPage:
    page = ResultPage(RESULT_TITLES["training"], TRAINING_TEXT)
    training = collect_training(study.root)
    lines = []
    for label, group, strategy in (
        ("CLAUS (ucf_main)", Group.UCF_MAIN, "claus"),
        ("fully supervised (ucf_full)", Group.UCF_FULL, None),
    ):
        rows = training[
            (training["group"] == group)
            & ((training["strategy"] == strategy) if strategy else True)
        ]
        if rows.empty:
            page.missing.append(group if strategy is None else f"{group}/{strategy}")
            continue
        mean = rows.groupby(["round", "epoch", "term"], as_index=False)[["value", "margin"]].mean()
        lines.append(mean.assign(label=label))
    if not lines:
        return page
    table = pd.concat(lines)
    if set(table["term"]) == {"total"}:
        page.notes.append("These runs were made before the loss terms were logged apart: only the total is shown. "
                          "Delete the run folders and rerun to see the terms.")  # fmt: skip
    page.figures.append(
        plots.learning_curves(table, title="Training loss per epoch (mean over seeds)")
    )
    first = table.sort_values(["round", "epoch"]).groupby(["label", "term"]).first()["value"]
    last = table.sort_values(["round", "epoch"]).groupby(["label", "term"]).last()["value"]
    page.tables["First and last epoch of the study"] = (
        pd.DataFrame({"first epoch": first, "last epoch": last}).round(3).reset_index()
    )
    return page


RELEASED_TEXT = (
    "The paper describes Algorithm 1 and STeW; the authors' released code "
    "(`aayushjr/HybridCLAUS` at d3d7fd9) does several things differently (the docstrings of "
    "`claus_core/selection/released.py` and `claus_core/losses_released.py` list each one with "
    "its file and line). This book implements the paper by default and the released code as "
    "`SelectionConfig.released_code()` and `LossConfig.released_code()`, each behaviour checked "
    "by a hand case derived from the released code (`tests/test_selection_released.py`, "
    "`tests/test_losses_released.py`). Here the two are measured against each other: how often "
    "they select the same videos and frames from the same scored pool, how their STeW weights "
    "differ, and, with the `ucf_released` group of the study (CLAUS with the released "
    "selection, pseudo-labels and weights, the seeds of `ucf_main`), what the differences do "
    "to v-mAP@0.5. The released code takes round(B_f / B_v) frames in every selected video with "
    "no cap on the cost, so its rounds annotate more: the cost table says how much, and the "
    "v-mAP difference is not one at equal cost."
)


def released_page(study: Study) -> ResultPage:
    """Algorithm 1 against the released code's selection, STeW weights and v-mAP (issue 18)."""
    page = ResultPage(RESULT_TITLES["released"], RELEASED_TEXT)
    agreement = released_comparison.selection_agreement(study.root)
    if agreement.empty:
        page.missing.append(f"{Group.UCF_MAIN}/claus")
    else:
        totals = agreement.drop(columns=["seed", "round"]).sum()
        page.tables[
            "Selections replayed on the same scored pools (every CLAUS run and round of ucf_main)"
        ] = agreement
        page.notes.append(
            f"Of {len(agreement)} selection steps, {int(agreement['same selection'].sum())} chose the same frames. "
            f"Videos: {int(totals['videos in both'])} chosen by both, of {int(totals['Algorithm 1 videos'])} "
            f"(Algorithm 1) and {int(totals['released videos'])} (released); frames: {int(totals['frames in both'])} "
            f"of {int(totals['Algorithm 1 frames'])} and {int(totals['released frames'])}; cost "
            f"{int(totals['Algorithm 1 cost'])} against {int(totals['released cost'])} boxes."
        )  # fmt: skip
    outcome, verdict = released_comparison.released_outcome(study.results, study.per_class)
    if outcome.ours is None:
        page.missing.append(f"{Group.UCF_RELEASED}/claus")
    else:
        row = outcome.row() | {"verdict": verdict, "paper": "no difference claimed"}
        page.claims = pd.DataFrame([row]).drop(columns=["page", "seeds for the paper's effect"])
        page.verdicts.append(
            f"**Algorithm 1 minus the released code**, v-mAP@0.5 averaged over rounds 1-4: "
            f"{outcome.ours.label()} over {outcome.ours.seeds} seeds: **{verdict}** (smallest effect "
            f"this design detects with 80 % power: {outcome.ours.mde:.1f} points). The paper presents "
            "Algorithm 1 and STeW as its method and the released code as their implementation, so "
            "it claims no difference: an interval without 0 contradicts that, one holding 0 "
            "cannot confirm it."
        )  # fmt: skip
        costs = pd.concat([study.rows(g, "claus", metric="v-mAP", threshold=0.5)
                           for g in (Group.UCF_MAIN, Group.UCF_RELEASED)])  # fmt: skip
        page.tables["Boxes annotated up to each round (mean over seeds)"] = (
            costs.pivot_table(index="round", columns="group", values="cost").round(1).reset_index()
        )
        curves = pd.concat([study.rows(g, "claus", metric="v-mAP", threshold=0.5)
                            for g in (Group.UCF_MAIN, Group.UCF_RELEASED)])  # fmt: skip
        page.figures.append(plots.group_curves(
            curves, title="CLAUS: the paper's (ucf_main), the released code's (ucf_released)",
            ylabel="v-mAP@0.5 (band: 95 % CI)",
        ))  # fmt: skip
    profiles = released_comparison.example_profiles(study.root)
    if profiles is not None:
        page.figures.append(plots.weight_profiles(profiles, title="STeW weights"))
        largest = (
            (profiles[["released, skip 1", "released, skip 2"]].sub(profiles["paper"], axis=0))
            .abs()
            .max()
            .max()
        )
        page.notes.append(
            f"The largest difference of the mean foreground weight on a frame of that video: {largest:.2f}."
        )
    return page


def paper_efficiency(number: int) -> str:
    """What the paper's Table 6 or 7 says of CLAUS's last step below 90 %, from ``paper.py``."""
    t = paper_table(number)
    t = t[(t["metric"] == "v-mAP") & np.isclose(t["threshold"], 0.5)].sort_values("percent")
    full = float(t.loc[t["percent"] == 100.0, "value"].iloc[0])
    last = t[t["percent"] < 90.0].iloc[-1]
    return (f"The paper reaches {last['value']:.1f} v-mAP@0.5 at {last['percent']:g} % against {full:.1f} "
            f"fully supervised ({100 * last['value'] / full:.0f} %).")  # fmt: skip


TABLE5_METHODS = {"CLAUS": (Group.UCF_MAIN, "claus"), "Entropy": (Group.UCF_BASELINES, "entropy"),
                  "Uncertainty": (Group.UCF_MAIN, "uncertainty"), "Equidistant": (Group.UCF_BASELINES, "equidistant"),
                  "Random": (Group.UCF_MAIN, "random")}  # fmt: skip
