"""scripts/compare_run_stores.py on two hand-made run stores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def write_run(root: Path, losses: list[list[float]], states: list[list[str]], score: float) -> None:
    run = root / "group" / "claus" / "seed0"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    for r, (loss, videos) in enumerate(zip(losses, states, strict=True)):
        folder = run / f"round{r}"
        folder.mkdir()
        (folder / "round.json").write_text("{}")
        metrics = {"train_loss": loss, "train_loss_terms": {"localization": loss},
                   "metrics": {"v-mAP@0.5": 0.25 + score, "f-mAP@0.5": 0.5}}  # fmt: skip
        (folder / "metrics.json").write_text(json.dumps(metrics))
        (folder / "next_state.json").write_text(json.dumps({"videos": videos}))
        np.savez(folder / "scores.npz", **{"uncertainty/a": np.array([0.5, score], np.float32)})


def test_differences_are_split_at_the_first_other_selection(tmp_path: Path) -> None:
    write_run(tmp_path / "old", [[1.0, 2.0], [3.0]], [["a"], ["a", "b"]], 0.0)
    write_run(tmp_path / "new", [[1.0, 2.5], [3.25]], [["c"], ["a", "b"]], 0.125)
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compare_run_stores.py"),
         str(tmp_path / "old"), str(tmp_path / "new")],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert lines[0] == "1 runs in both stores"
    # round 0 had the same inputs: losses differ by 0.5, its next selection differs
    assert lines[1].endswith("1 rounds, 1 with another next selection")
    assert "5.000e-01" in lines[2] and "group/claus/seed0/round0" in lines[2]
    assert "1.250e-01" in lines[3] and "uncertainty/a" in lines[3]
    assert "1.250e-01" in lines[4]
    # round 1 trained on another selection
    assert lines[6].endswith("1 rounds, 0 with another next selection")
    assert "2.500e-01" in lines[7]
