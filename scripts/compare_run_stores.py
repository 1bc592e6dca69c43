"""Compare two run stores of the same study: how far apart are their losses, scores and v-mAP?

Meant for a change that should only reorder float arithmetic (issue 23): run the same study
config with the old and the new code into two roots, then::

    .venv/bin/python scripts/compare_run_stores.py runs_old/smoke runs_new/smoke

For every run folder and finished round present in both it compares the training losses (total
and per term, every epoch), the per-frame scores (``scores.npz``, every video and kind), every
metric of ``metrics.json`` and the next annotation state. A round whose annotation state
differs between the two stores trained on other data, so its differences are not float
reordering alone: rounds are therefore split into those whose inputs were identical (every
earlier selection the same) and the others, and the largest change is reported for each part.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from claus_core.files import read_npz


@dataclass
class Largest:
    """The largest absolute difference seen so far, and where."""

    value: float = 0.0
    where: str = "-"
    compared: int = 0

    def update(self, a: np.ndarray, b: np.ndarray, where: str) -> None:
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            raise ValueError(f"{where}: shapes differ, {a.shape} and {b.shape}")
        self.compared += a.size
        if a.size:
            diff = float(np.max(np.abs(a - b)))
            if diff > self.value:
                self.value, self.where = diff, where


@dataclass
class Part:
    """The comparisons of one group of rounds (same inputs, or not)."""

    rounds: int = 0
    loss: Largest = field(default_factory=Largest)
    score: Largest = field(default_factory=Largest)
    vmap: Largest = field(default_factory=Largest)
    metric: Largest = field(default_factory=Largest)
    selections_differ: int = 0


def finished_rounds(folder: Path) -> list[int]:
    return sorted(int(p.parent.name[5:]) for p in folder.glob("round*/round.json"))


def compare_round(a: Path, b: Path, where: str, part: Part) -> bool:
    """Add round folders ``a`` and ``b`` to ``part``; True when their next states are equal."""
    part.rounds += 1
    ma, mb = (json.loads((f / "metrics.json").read_text()) for f in (a, b))
    part.loss.update(ma["train_loss"], mb["train_loss"], f"{where} train_loss")
    for term in sorted(set(ma["train_loss_terms"]) & set(mb["train_loss_terms"])):
        part.loss.update(
            ma["train_loss_terms"][term], mb["train_loss_terms"][term], f"{where} {term} loss"
        )
    for name in sorted(set(ma["metrics"]) & set(mb["metrics"])):
        target = part.vmap if name == "v-mAP@0.5" else part.metric
        target.update(ma["metrics"][name], mb["metrics"][name], f"{where} {name}")
    if (a / "scores.npz").exists() and (b / "scores.npz").exists():
        sa, sb = read_npz(a / "scores.npz"), read_npz(b / "scores.npz")
        for key in sorted(set(sa) & set(sb)):
            part.score.update(sa[key], sb[key], f"{where} {key}")
    states = [f / "next_state.json" for f in (a, b)]
    if not all(s.exists() for s in states):
        return True
    same = json.loads(states[0].read_text()) == json.loads(states[1].read_text())
    part.selections_differ += not same
    return same


def compare(root_a: Path, root_b: Path) -> tuple[Part, Part, int]:
    same_inputs, other_inputs = Part(), Part()
    runs = 0
    for config in sorted(root_a.rglob("config.json")):
        folder = config.parent
        relative = folder.relative_to(root_a)
        other = root_b / relative
        if not (other / "config.json").exists() or folder.name.startswith("."):
            continue
        runs += 1
        inputs_equal = True
        shared = sorted(set(finished_rounds(folder)) & set(finished_rounds(other)))
        for r in shared:
            part = same_inputs if inputs_equal else other_inputs
            inputs_equal = (
                compare_round(
                    folder / f"round{r}", other / f"round{r}", f"{relative}/round{r}", part
                )
                and inputs_equal
            )
    return same_inputs, other_inputs, runs


def show(title: str, part: Part) -> None:
    out = sys.stdout
    out.write(
        f"{title}: {part.rounds} rounds, {part.selections_differ} with another next selection\n"
    )
    for label, largest in (
        ("loss (any term, any epoch)", part.loss),
        ("per-frame score", part.score),
        ("v-mAP@0.5", part.vmap),
        ("any other metric", part.metric),
    ):
        out.write(
            f"  {label:<28} {largest.value:.3e}  ({largest.compared} values; {largest.where})\n"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="a study's run store (runs/<study>)")
    parser.add_argument("new", type=Path, help="the same study run by other code")
    args = parser.parse_args(argv)
    for root in (args.old, args.new):
        if not root.is_dir():
            parser.error(f"{root}: no such run store")
    same_inputs, other_inputs, runs = compare(args.old, args.new)
    if not runs:
        parser.error(f"{args.old} and {args.new} share no run folder")
    sys.stdout.write(f"{runs} runs in both stores\n")
    show("rounds with identical inputs (float reordering alone)", same_inputs)
    show("rounds after a selection that differed", other_inputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
