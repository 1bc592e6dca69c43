"""Any study's own report: learning curves with intervals, and every pair of strategies compared.

What ``claus report STUDY_DIR`` and the book's "Your own study" page show, for a study of any
groups (no paper table needed)::

    run store --run_tables.collect--> rows [group, strategy, seed, round, metric, value]
        |-- curves():      per group, strategy, round: mean over seeds, 95 % Student-t interval,
        |                  share of the full annotation cost  --> plots.strategy_curves (PNG, SVG)
        '-- comparisons(): per group, every pair of its strategies: the paired difference over
                           seeds of one summary per seed, its 95 % interval and a verdict

The summaries are the claims page's (:mod:`claus_core.claims`, fixed before any verdict was
read): ``mean_after_round0`` (the mean over rounds 1, 2, ...; round 0 is the same random start
for every strategy of a seed) and ``last_round``. A verdict says which strategy is above when the
interval excludes 0, ``inconclusive`` when it holds 0, and ``no interval`` with one seed.
Supplementary Section 4.3 reports means of 3 runs; the interval is :func:`claus_core.stats.t_interval`.
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from claus_core.claims import Summary, paired_summaries
from claus_core.files import StoreError, write_json
from claus_core.locations import repository_root
from claus_core.run_tables import collect, summarize
from claus_core.stats import compare
from claus_core.store import parse_metric_name

logger = logging.getLogger(__name__)

SUMMARIES: tuple[Summary, ...] = ("mean_after_round0", "last_round")
DEFAULT_METRIC = "v-mAP@0.5"


class MissingRunsError(StoreError):
    """A study folder without the finished runs a report or a book page reads; the message says
    which command makes them."""


def parse_metric(text: str) -> tuple[str, float]:
    """``"v-mAP@0.5"`` -> ``("v-mAP", 0.5)`` (:func:`claus_core.store.parse_metric_name`, as
    ``--metric`` and the notebook's ``metric`` write it)."""
    try:
        name, value = parse_metric_name(text)
    except StoreError:
        name, value = "", float("nan")
    if not name or not np.isfinite(value):
        raise ValueError(f"--metric {text!r}: expected <metric>@<threshold>, e.g. v-mAP@0.5")
    return name, value


def make_runs_hint(root: Path, groups: tuple[str, ...] = ()) -> str:
    """What makes (or finishes) the runs of the study folder ``root`` (``<store>/<study name>``)
    that ``groups`` need: the repository's study config of that name when it defines them, else a
    study of the user's; a folder that is not a study folder is named as such."""
    if (root / "config.json").exists() or any(root.glob("seed*")) or any(root.glob("*/seed*")):
        return f"{root} is a run, group or strategy folder: pass its study folder (<store>/<study>)"
    studies = sorted(
        {seed.parents[2] for seed in root.glob("*/*/*/seed*")}
    )  # <study>/<g>/<s>/seed<k>
    if studies:
        return f"{root} holds studies: pass one of them ({', '.join(map(str, studies))})"
    wanted = f", with the group(s) {', '.join(groups)}" if groups else ""
    configs = repository_root() / "configs"
    for path in sorted(configs.glob("*.yaml")) if configs.is_dir() else ():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(data, dict) or data.get("name") != root.name:
            continue
        here = Path.cwd()
        shown = path.relative_to(here) if path.is_relative_to(here) else path
        defined = {g.get("name") for g in data.get("groups") or [] if isinstance(g, dict)}
        lacking = [g for g in groups if g not in defined]
        if lacking:
            return (f"{shown} (study {root.name!r}) defines no group {', '.join(lacking)}: "
                    f"read a store whose study has them{wanted}")  # fmt: skip
        return f"make them with `claus run {shown} --root {root.parent}`"
    return f"make them with `claus run YOUR_STUDY.yaml --root {root.parent}` (a study named {root.name!r}{wanted})"


def missing_runs(root: Path, what: str, groups: tuple[str, ...] = ()) -> MissingRunsError:
    """The error for runs of ``groups`` of the study under ``root`` that ``what`` needs."""
    return MissingRunsError(f"{root}: {what}; {make_runs_hint(root, groups)}")


def read_results(root: str | Path) -> pd.DataFrame:
    """:func:`claus_core.run_tables.collect` of the study under ``root``; a folder with no
    finished round raises :class:`MissingRunsError` naming the command that makes them."""
    root = Path(root)
    results = collect(root) if root.is_dir() else pd.DataFrame()
    if results.empty:
        raise missing_runs(
            root, "no finished round of any run (<group>/<strategy>/seed<k>/round<r>)"
        )
    return results


def _select(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    name, threshold = parse_metric(metric)
    rows = results[(results["metric"] == name) & np.isclose(results["threshold"], threshold)]
    if rows.empty:
        known = sorted(
            {f"{m}@{t:g}" for m, t in zip(results["metric"], results["threshold"], strict=True)}
        )
        raise ValueError(
            f"--metric {metric!r}: not in this study's rounds; known: {', '.join(known)}"
        )
    return rows


def curves(results: pd.DataFrame, metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """Per group, strategy and round: ``mean``, 95 % interval (``low``, ``high``; NaN with one
    seed), ``std``, ``seeds``, mean ``cost`` and ``cost_percent`` (share of the full annotation
    cost) of ``metric`` (percent)."""
    table = summarize(_select(results, metric))
    return table.drop(columns=["metric", "threshold"]).reset_index(drop=True)


def comparisons(results: pd.DataFrame, metric: str = DEFAULT_METRIC) -> pd.DataFrame:
    """Every pair (A, B) of strategies within a group, A before B alphabetically, per summary:
    the mean paired difference A - B over seeds, its 95 % interval, the seeds paired and left out,
    and the verdict."""
    name, threshold = parse_metric(metric)
    rows = _select(results, metric)
    out = []
    for group, part in rows.groupby("group", sort=True):
        for a, b in itertools.combinations(sorted(part["strategy"].unique()), 2):
            for summary in SUMMARIES:
                values_a, values_b, unpaired = paired_summaries(
                    rows, (group, a), (group, b), summary, metric=name, threshold=threshold
                )
                if not values_a:
                    continue
                comparison = compare([values_a[k] - values_b[k] for k in sorted(values_a)])
                out.append({
                    "group": group, "a": a, "b": b, "summary": summary,
                    "difference": comparison.mean, "low": comparison.low, "high": comparison.high,
                    "seeds": comparison.seeds, "unpaired": len(unpaired),
                    "verdict": _verdict(comparison.low, comparison.high, a, b),
                })  # fmt: skip
    columns = [
        "group",
        "a",
        "b",
        "summary",
        "difference",
        "low",
        "high",
        "seeds",
        "unpaired",
        "verdict",
    ]
    return pd.DataFrame(out, columns=columns)


def _verdict(low: float, high: float, a: str, b: str) -> str:
    if np.isnan(low):
        return "no interval (1 seed)"
    if low > 0:
        return f"{a} above {b}"
    if high < 0:
        return f"{b} above {a}"
    return "inconclusive"


@dataclass(frozen=True)
class Report:
    """A study's report: its curves, comparisons and the figure files written (one per group)."""

    root: Path
    metric: str
    curves: pd.DataFrame
    comparisons: pd.DataFrame
    figures: dict[str, list[Path]] = field(default_factory=dict)

    def text(self) -> str:
        """The report as the terminal shows it."""
        lines = [f"{self.root}: {self.metric}, mean over seeds [95 % interval], per round", ""]
        for group, part in self.curves.groupby("group", sort=True):
            lines.append(f"{group}")
            lines.append(f"  {'strategy':<15} {'round':>5} {'% cost':>7} {'seeds':>5}  value")
            for row in part.sort_values(["strategy", "round"]).itertuples():
                value = (
                    f"{row.mean:.1f}"
                    if np.isnan(row.low)
                    else f"{row.mean:.1f} [{row.low:.1f}, {row.high:.1f}]"
                )
                lines.append(
                    f"  {row.strategy:<15} {row.round:>5} {row.cost_percent:>7.1f} {row.seeds:>5}  {value}"
                )
        lines += ["", "paired differences A - B over seeds [95 % interval]"]
        if self.comparisons.empty:
            lines.append("  (no group has two strategies)")
        for row in self.comparisons.itertuples():
            interval = "" if np.isnan(row.low) else f" [{row.low:+.1f}, {row.high:+.1f}]"
            left_out = f", {row.unpaired} unpaired left out" if row.unpaired else ""
            lines.append(
                f"  {row.group}: {row.a} - {row.b}, {row.summary}: {row.difference:+.1f}{interval} "
                f"({row.seeds} seeds{left_out}): {row.verdict}"
            )
        for group, paths in self.figures.items():
            lines.append(f"figure {group}: {', '.join(str(p) for p in paths)}")
        return "\n".join(lines) + "\n"


def build_report(root: str | Path, *, metric: str = DEFAULT_METRIC) -> Report:
    """The curves and comparisons of the study under ``root`` (no file written)."""
    results = read_results(root)
    return Report(Path(root), metric, curves(results, metric), comparisons(results, metric))


def curve_figures(report: Report) -> dict[str, object]:
    """One learning-curve figure per group of ``report`` (matplotlib Figures)."""
    from claus_core import plots

    return {
        str(group): plots.strategy_curves(
            part, title=f"{report.root.name} / {group}", ylabel=f"{report.metric} (%)"
        )
        for group, part in report.curves.groupby("group", sort=True)
    }


def write_report(root: str | Path, out: str | Path, *, metric: str = DEFAULT_METRIC) -> Report:
    """:func:`build_report`, written under ``out``: ``<group>.png`` and ``<group>.svg`` per
    group and ``report.json`` (curves, comparisons, figure files); returns the report."""
    from claus_core import plots

    report = build_report(root, metric=metric)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots.apply_style()
    figures: dict[str, list[Path]] = {}
    for group, figure in curve_figures(report).items():
        paths = [out / f"{group}.png", out / f"{group}.svg"]
        for path in paths:
            figure.savefig(path, dpi=120)
        plots.plt.close(figure)
        figures[group] = paths
    report = replace(report, figures=figures)
    document = {
        "study": str(report.root),
        "metric": metric,
        "curves": json.loads(report.curves.to_json(orient="records")),
        "comparisons": json.loads(report.comparisons.to_json(orient="records")),
        "figures": {group: [p.name for p in paths] for group, paths in figures.items()},
    }
    write_json(out / "report.json", document)
    logger.info("report of %s written to %s", report.root, out)
    return report
