"""Tables of the book: our run-store results beside the paper's numbers, and honest verdicts.

``collect`` reads every finished round of a study (``runs/<study>/<group>/<strategy>/seed<k>``)
into one tidy DataFrame; ``summarize`` takes mean and spread over seeds (supplementary Section
4.3 reports averages of 3 runs); ``beside_paper`` aligns our active-learning steps with the rows
of a paper table by step index (our budgets are the paper's *shape*, not its absolute sizes);
``ordering_verdict`` states, computed from the numbers, whether our ordering of methods agrees
with the paper's and by how much. All values are in percent, like the paper's tables.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from claus_core.store import RunDir, read_json

KEYS = ["group", "strategy", "seed", "round"]


def collect(root: str | Path) -> pd.DataFrame:
    """One row per (group, strategy, seed, round, metric, threshold) of every finished round.

    Columns: group, strategy, seed, round, videos, frames, cost, cost_percent, metric,
    threshold, value (percent).
    """
    rows = []
    for config_path in sorted(Path(root).glob("*/*/seed*/config.json")):
        run = RunDir(config_path.parent)
        group, strategy = config_path.parts[-4], config_path.parts[-3]
        seed = int(config_path.parent.name[4:])
        for r in run.finished_rounds():
            m = read_json(run.round_dir(r) / "metrics.json")
            for key, value in m["metrics"].items():
                metric, threshold = key.split("@")
                rows.append({
                    "group": group, "strategy": strategy, "seed": seed, "round": r,
                    "videos": m["videos"], "frames": m["frames"], "cost": m["cost"],
                    "cost_percent": 100.0 * m["cost"] / m["full_cost"], "metric": metric,
                    "threshold": float(threshold), "value": 100.0 * value,
                })
    columns = KEYS + ["videos", "frames", "cost", "cost_percent", "metric", "threshold", "value"]
    return pd.DataFrame(rows, columns=columns)


def collect_per_class(root: str | Path, *, metric: str = "v-mAP", threshold: float = 0.5) -> pd.DataFrame:
    """Per-class values (percent) of every finished round: group, strategy, seed, round, class_name, value."""
    rows = []
    for config_path in sorted(Path(root).glob("*/*/seed*/config.json")):
        run = RunDir(config_path.parent)
        for r in run.finished_rounds():
            payload = json.loads((run.round_dir(r) / "evaluation.json").read_text())
            for row in payload["per_class"]:
                if row["metric"] == metric and abs(row["threshold"] - threshold) < 1e-9:
                    rows.append({
                        "group": config_path.parts[-4], "strategy": config_path.parts[-3],
                        "seed": int(config_path.parent.name[4:]), "round": r,
                        "class_name": row["class_name"], "value": 100.0 * row["value"],
                    })
    return pd.DataFrame(rows, columns=KEYS + ["class_name", "value"])


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation and count over seeds, per group/strategy/round/metric/threshold."""
    keys = ["group", "strategy", "round", "metric", "threshold"]
    grouped = results.groupby(keys, as_index=False)
    out = grouped.agg(
        mean=("value", "mean"), std=("value", "std"), seeds=("seed", "nunique"),
        cost=("cost", "mean"), cost_percent=("cost_percent", "mean"),
    )
    out["std"] = out["std"].fillna(0.0)
    return out


def beside_paper(
    ours: pd.DataFrame,
    paper: pd.DataFrame,
    methods: Mapping[str, tuple[str, str]],
    *,
    metric: str,
    threshold: float,
) -> pd.DataFrame:
    """Step-by-step table: for each method, the paper's value beside our mean ± std.

    ``methods`` maps a paper group (e.g. ``"CLAUS"``) to our (group, strategy). Our round r is
    set beside the paper's r-th row of that group (the paper's annotation steps in order).
    """
    rows = []
    for paper_group, (group, strategy) in methods.items():
        p = paper[(paper["group"] == paper_group) & (paper["metric"] == metric)
                  & np.isclose(paper["threshold"], threshold)].reset_index(drop=True)
        o = ours[(ours["group"] == group) & (ours["strategy"] == strategy) & (ours["metric"] == metric)
                 & np.isclose(ours["threshold"], threshold)].sort_values("round").reset_index(drop=True)
        for step in range(max(len(p), len(o))):
            rows.append({
                "method": paper_group,
                "step": step,
                "paper % annotated": p.loc[step, "percent"] if step < len(p) else np.nan,
                "paper": p.loc[step, "value"] if step < len(p) else np.nan,
                "ours % annotated": o.loc[step, "cost_percent"] if step < len(o) else np.nan,
                "ours (mean)": o.loc[step, "mean"] if step < len(o) else np.nan,
                "ours (std)": o.loc[step, "std"] if step < len(o) else np.nan,
                "seeds": o.loc[step, "seeds"] if step < len(o) else 0,
            })
    return pd.DataFrame(rows)


def ordering_verdict(table: pd.DataFrame, *, what: str) -> str:
    """Does our ordering of methods agree with the paper's? Computed over the common steps.

    For every pair of methods and every step where both have a paper value and ours, the pair
    agrees when the sign of (A - B) is the same in the paper and in ours. Reports the share of
    agreeing pairs and the mean over steps of each method's advantage, ours and the paper's.
    """
    both = table.dropna(subset=["paper", "ours (mean)"])
    if both.empty:
        return f"{what}: no step has both a paper number and ours; nothing to compare."
    methods = list(dict.fromkeys(both["method"]))
    agree = total = 0
    for a, b in itertools.combinations(methods, 2):
        pa = both[both["method"] == a].set_index("step")
        pb = both[both["method"] == b].set_index("step")
        for step in pa.index.intersection(pb.index):
            paper_sign = np.sign(pa.loc[step, "paper"] - pb.loc[step, "paper"])
            ours_sign = np.sign(pa.loc[step, "ours (mean)"] - pb.loc[step, "ours (mean)"])
            total += 1
            agree += int(paper_sign == ours_sign)
    means = both.groupby("method")[["paper", "ours (mean)"]].mean().loc[methods]
    paper_order = " > ".join(means["paper"].sort_values(ascending=False).index)
    ours_order = " > ".join(means["ours (mean)"].sort_values(ascending=False).index)
    verdict = "agrees with" if paper_order == ours_order else "differs from"
    text = (
        f"**{what}.** Averaged over the common steps, the paper ranks {paper_order}; ours ranks "
        f"{ours_order}: our ordering **{verdict}** the paper's."
    )
    if total:
        text += f" Pairwise, {agree} of {total} (method pair, step) comparisons have the paper's sign ({agree / total:.0%})."
    gaps = ", ".join(
        f"{m}: paper {means.loc[m, 'paper']:.1f}, ours {means.loc[m, 'ours (mean)']:.1f}" for m in methods
    )
    return text + f" Means over the steps (percent): {gaps}."


def mean_std_label(mean: float, std: float) -> str:
    return "—" if np.isnan(mean) else f"{mean:.1f} ± {std:.1f}"


def wide(table: pd.DataFrame, columns: Sequence[str] = ("paper", "ours")) -> pd.DataFrame:
    """The beside-paper table with our mean ± std as one text column, for display."""
    out = table.copy()
    out["ours"] = [mean_std_label(m, s) for m, s in zip(out["ours (mean)"], out["ours (std)"], strict=True)]
    keep = ["method", "step", "paper % annotated", "ours % annotated", *columns, "seeds"]
    return out[keep].round(2)
