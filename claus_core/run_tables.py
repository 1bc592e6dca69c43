"""The run store read into tidy tables: every finished round's metrics, with intervals.

The split: this module *reads* a study's run store into plain DataFrames (one row per group,
strategy, seed, round, metric) and summarizes them; :mod:`claus_core.book_pages` *lays out* the
book's pages from those tables.

``collect`` reads every finished round of a study (``runs/<study>/<group>/<strategy>/seed<k>``)
into one tidy DataFrame (the localization protocol's f-mAP / v-mAP and the detection protocol's
frame-AP / video-AP); ``summarize`` takes the mean over seeds with its 95 % Student-t
interval (:func:`claus_core.stats.t_interval`; supplementary Section 4.3 reports averages of 3
runs); ``beside_paper`` aligns our active-learning steps with the rows of a paper table by step
index (our budgets are the paper's *shape*, not its absolute sizes). Verdicts on the paper's
claims live in :mod:`claus_core.claims`. All values are in percent, like the paper's tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from claus_core.files import read_json, read_keys
from claus_core.stats import t_interval, video_bootstrap_vmap
from claus_core.store import METRICS_KEYS, RunDir, parse_metric_name
from claus_core.store import study_runs as store_runs

KEYS = ["group", "strategy", "seed", "round"]
METRIC_COLUMNS = KEYS + ["videos", "frames", "cost", "cost_percent", "metric", "threshold", "value"]
PER_CLASS_COLUMNS = KEYS + ["class_name", "value"]


def study_runs(
    root: str | Path, group: str = "*", strategy: str = "*"
) -> Iterator[tuple[dict[str, object], RunDir]]:
    """Every run of a study (:func:`claus_core.store.study_runs`) as its key (group, strategy,
    seed) and its :class:`RunDir`, in path order."""
    for key, run in store_runs(Path(root), group, strategy):
        yield {"group": key.experiment, "strategy": key.strategy, "seed": key.seed}, run


def finished_rounds(root: str | Path) -> Iterator[tuple[dict[str, object], Path]]:
    """Every finished round of a study: its key (group, strategy, seed, round) and its folder."""
    for key, run in study_runs(root):
        for r in run.finished_rounds():
            yield {**key, "round": r}, run.round_dir(r)


def collect_tables(
    root: str | Path, *, metric: str = "v-mAP", threshold: float = 0.5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`collect` and :func:`collect_per_class` in one pass over the run store (each
    round's ``evaluation.json`` is read once)."""
    rows, per_class = [], []
    for key, folder in finished_rounds(root):
        m = read_keys(folder / "metrics.json", *METRICS_KEYS)
        evaluation = read_json(folder / "evaluation.json")
        iou = evaluation["config"]["ap_iou_threshold"]
        values = [(*parse_metric_name(name), value) for name, value in m["metrics"].items()]
        values += [("frame-AP", iou, evaluation["frame_ap"]["mean"]),
                   ("video-AP", iou, evaluation["video_ap"]["mean"])]  # fmt: skip
        shared = {**key, "videos": m["videos"], "frames": m["frames"], "cost": m["cost"],
                  "cost_percent": 100.0 * m["cost"] / m["full_cost"]}  # fmt: skip
        rows += [
            {**shared, "metric": name, "threshold": float(t), "value": 100.0 * value}
            for name, t, value in values
        ]
        per_class += [
            {**key, "class_name": row["class_name"], "value": 100.0 * row["value"]}
            for row in evaluation["per_class"]
            if row["metric"] == metric and abs(row["threshold"] - threshold) < 1e-9
        ]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS), pd.DataFrame(
        per_class, columns=PER_CLASS_COLUMNS
    )


def collect(root: str | Path) -> pd.DataFrame:
    """One row per (group, strategy, seed, round, metric, threshold) of every finished round.

    Columns: group, strategy, seed, round, videos, frames, cost, cost_percent, metric,
    threshold, value (percent).
    """
    return collect_tables(root)[0]


def collect_per_class(
    root: str | Path, *, metric: str = "v-mAP", threshold: float = 0.5
) -> pd.DataFrame:
    """Per-class values (percent) of every finished round: group, strategy, seed, round, class_name, value."""
    return collect_tables(root, metric=metric, threshold=threshold)[1]


def collect_training(root: str | Path) -> pd.DataFrame:
    """The loss terms of every epoch of every finished round: group, strategy, seed, round, epoch,
    term (``total``, ``localization``, ``classification``, ``cluster``), value, margin."""
    rows = []
    for key, folder in finished_rounds(root):
        m = read_keys(folder / "metrics.json", *METRICS_KEYS)
        terms = {"total": m["train_loss"], **m.get("train_loss_terms", {})}
        margins = m.get("spread_margin") or [np.nan] * len(m["train_loss"])
        for term, values in terms.items():
            for epoch, value in enumerate(values):
                rows.append(
                    {**key, "epoch": epoch, "term": term, "value": value, "margin": margins[epoch]}
                )
    return pd.DataFrame(rows, columns=KEYS + ["epoch", "term", "value", "margin"])


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds with its 95 % Student-t interval (``low``, ``high``; NaN for one seed),
    standard deviation and seed count, per group/strategy/round/metric/threshold."""
    keys = ["group", "strategy", "round", "metric", "threshold"]
    rows = []
    for key, group in results.groupby(keys, sort=True):
        values = group["value"].to_numpy()
        low, high = interval(values)
        rows.append({
            **dict(zip(keys, key, strict=True)), "mean": float(values.mean()), "low": low, "high": high,
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0, "seeds": group["seed"].nunique(),
            "cost": float(group["cost"].mean()), "cost_percent": float(group["cost_percent"].mean()),
        })  # fmt: skip
    columns = keys + ["mean", "low", "high", "std", "seeds", "cost", "cost_percent"]
    return pd.DataFrame(rows, columns=columns)


def interval(values: np.ndarray) -> tuple[float, float]:
    """:func:`claus_core.stats.t_interval` of ``values`` (95 % Student-t interval of their mean),
    or (NaN, NaN) for a single value."""
    return t_interval(values) if len(values) > 1 else (np.nan, np.nan)


def interval_labels(table: pd.DataFrame, prefix: str = "ours") -> list[str]:
    """:func:`interval_label` of every row of a table with ``<prefix> (mean)``, ``(low)``, ``(high)``."""
    columns = [table[f"{prefix} ({c})"] for c in ("mean", "low", "high")]
    return [interval_label(m, lo, hi) for m, lo, hi in zip(*columns, strict=True)]


def interval_label(mean: float, low: float, high: float) -> str:
    """``mean [low, high]``, or the mean alone where one seed gives no interval."""
    if np.isnan(mean):
        return "—"
    return f"{mean:.1f}" if np.isnan(low) else f"{mean:.1f} [{low:.1f}, {high:.1f}]"


def beside_paper(
    ours: pd.DataFrame,
    paper: pd.DataFrame,
    methods: Mapping[str, tuple[str, str]],
    *,
    metric: str,
    threshold: float,
) -> pd.DataFrame:
    """Step-by-step table: for each method, the paper's value beside our mean and 95 % interval.

    ``methods`` maps a paper group (e.g. ``"CLAUS"``) to our (group, strategy). Our round r is
    set beside the paper's r-th row of that group (the paper's annotation steps in order).
    """
    rows = []
    for paper_group, (group, strategy) in methods.items():
        p = paper[
            (paper["group"] == paper_group)
            & (paper["metric"] == metric)
            & np.isclose(paper["threshold"], threshold)
        ].reset_index(drop=True)
        o = (
            ours[
                (ours["group"] == group)
                & (ours["strategy"] == strategy)
                & (ours["metric"] == metric)
                & np.isclose(ours["threshold"], threshold)
            ]
            .sort_values("round")
            .reset_index(drop=True)
        )
        for step in range(max(len(p), len(o))):
            rows.append(
                {
                    "method": paper_group,
                    "step": step,
                    "paper % annotated": p.loc[step, "percent"] if step < len(p) else np.nan,
                    "paper": p.loc[step, "value"] if step < len(p) else np.nan,
                    "ours % annotated": o.loc[step, "cost_percent"] if step < len(o) else np.nan,
                    "ours (mean)": o.loc[step, "mean"] if step < len(o) else np.nan,
                    "ours (low)": o.loc[step, "low"] if step < len(o) else np.nan,
                    "ours (high)": o.loc[step, "high"] if step < len(o) else np.nan,
                    "seeds": o.loc[step, "seeds"] if step < len(o) else 0,
                }
            )
    return pd.DataFrame(rows)


def paper_inconsistencies(paper: pd.DataFrame) -> list[str]:
    """Rows of a paper table whose value *rises* with the IoU threshold, which a share of hits at
    that threshold cannot do (a typo in the paper): one sentence each."""
    notes = []
    keys = ["dataset", "group", "percent", "metric"]
    for key, rows in paper.dropna(subset=["threshold"]).groupby(keys, sort=False):
        rows = rows.sort_values("threshold")
        values, thresholds = rows["value"].to_numpy(), rows["threshold"].to_numpy()
        for k in np.flatnonzero(np.diff(values) > 0):
            dataset, group, percent, metric = key
            notes.append(
                f"The paper's {group} row at {percent:g} % prints {metric}@{thresholds[k + 1]:g} = "
                f"{values[k + 1]:.2f} above {metric}@{thresholds[k]:g} = {values[k]:.2f}, which cannot "
                "be (a higher threshold counts fewer hits); it is copied as printed."
            )
    return notes


def resampled_test_intervals(
    root: str | Path, runs: Sequence[tuple[str, str, str]], *, threshold: float = 0.5
) -> pd.DataFrame:
    """How much of a run's v-mAP is the test set's own noise: for each (label, group, strategy)
    and seed, the last round's v-mAP with a 95 % interval from resampling its test videos
    (:func:`claus_core.stats.video_bootstrap_vmap`), in percent."""
    rows = []
    for label, group, strategy in runs:
        for key, run in study_runs(root, group, strategy):
            finished = run.finished_rounds()
            if not finished:
                continue
            evaluation = read_json(run.round_dir(finished[-1]) / "evaluation.json")
            videos = evaluation["videos"]
            ious = np.asarray(
                [np.nan if v["iou"] is None else v["iou"] for v in videos], dtype=np.float64
            )
            labels = np.asarray([v["label"] for v in videos])
            correct = None
            if evaluation["config"].get("require_class"):
                correct = np.asarray([v["predicted_label"] == v["label"] for v in videos])
            low, high = video_bootstrap_vmap(ious, labels, threshold=threshold, correct=correct,
                                             rng=np.random.default_rng(int(key["seed"])))  # fmt: skip
            stored = read_keys(run.round_dir(finished[-1]) / "metrics.json", *METRICS_KEYS)[
                "metrics"
            ][f"v-mAP@{threshold:g}"]
            rows.append({"method": label, "seed": key["seed"], "round": finished[-1], "test videos": len(videos),
                         "v-mAP@0.5": 100 * stored,
                         "test-video 95 % CI": f"[{100 * low:.1f}, {100 * high:.1f}]",
                         "interval width": round(100 * (high - low), 1)})  # fmt: skip
    return pd.DataFrame(rows)


CLUSTER_COLUMNS = ("k", "pool clusters", "pool entropy (bits)", "largest share", "training clusters",
                   "reseeds", "new videos", "changed by clusters")  # fmt: skip


def _cluster_facts(metrics: dict) -> dict[str, float]:
    """What a clustered round's clusters did (``metrics["clusters"]``, issue 24), NaN elsewhere."""
    facts = metrics.get("clusters")
    if not facts:
        return dict.fromkeys(CLUSTER_COLUMNS, np.nan)
    pool = facts["pool"]
    return {"k": facts["k"], "pool clusters": pool["non_empty"], "pool entropy (bits)": pool["entropy_bits"],
            "largest share": pool["largest_share"], "training clusters": facts["training"]["non_empty"],
            "reseeds": facts["reseeds"],
            "new videos": facts.get("new_videos", np.nan),
            "changed by clusters": facts.get("changed_by_clusters", np.nan)}  # fmt: skip


def collect_rounds(root: str | Path) -> pd.DataFrame:
    """One row per finished round: its seconds per stage, annotated videos and frames, the test
    videos it was evaluated on, for a round 0 shared within the study its key and whether it was
    reused, and for a clustered round what its clusters did before the round's selection
    (:data:`CLUSTER_COLUMNS`: K, the non-empty clusters over the pool, the pool assignment's
    entropy and largest cluster's share, the non-empty clusters over the training videos, k-means
    re-seeds, and of the new videos how many the clusters changed against the same ranking
    without them)."""
    rows = []
    for key, folder in finished_rounds(root):
        m = read_keys(folder / "metrics.json", *METRICS_KEYS)
        state = read_json(folder / "state.json")
        per_video = [len(f) for f in state["frames"].values()]
        rows.append({
            **key, **{f"{stage} (s)": seconds for stage, seconds in m.get("seconds", {}).items()},
            "videos": len(state["videos"]), "frames": sum(per_video),
            "frames per video": float(np.mean(per_video)) if per_video else 0.0,
            "test videos": len(read_json(folder / "evaluation.json")["videos"]),
            "round0 key": m.get("round0", {}).get("key"), "reused": m.get("round0", {}).get("reused"),
            **_cluster_facts(m),
        })  # fmt: skip
    return pd.DataFrame(rows)
