"""``claus report`` and :mod:`claus_core.study_report`: hand-computed curves and comparisons,
and the command on the smoke study (``configs/smoke_study.yaml``, run or reused here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from claus_core.cli import main
from claus_core.plots import strategy_color
from claus_core.run_tables import METRIC_COLUMNS
from claus_core.study_report import comparisons, curves, make_runs_hint, parse_metric

ROOT = Path(__file__).resolve().parents[1]


def _rows(values: dict[tuple[str, int], list[float]], group: str = "g") -> pd.DataFrame:
    """collect()-shaped rows: v-mAP@0.5 of strategy s, seed k at rounds 0, 1, ... (percent)."""
    rows = []
    for (strategy, seed), per_round in values.items():
        for r, value in enumerate(per_round):
            rows.append({
                "group": group, "strategy": strategy, "seed": seed, "round": r, "videos": 4 * (r + 1),
                "frames": 8 * (r + 1), "cost": 10 * (r + 1), "cost_percent": 10.0 * (r + 1),
                "metric": "v-mAP", "threshold": 0.5, "value": value,
            })  # fmt: skip
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def test_curves_are_the_mean_and_t_interval_over_seeds() -> None:
    table = curves(_rows({("a", 0): [10, 20], ("a", 1): [12, 26], ("a", 2): [14, 23]}))
    row = table[(table["strategy"] == "a") & (table["round"] == 1)].iloc[0]
    values = np.array([20.0, 26.0, 23.0])
    half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert row["mean"] == pytest.approx(23.0)
    assert (row["low"], row["high"]) == pytest.approx((23.0 - half, 23.0 + half))
    assert row["seeds"] == 3 and row["cost_percent"] == pytest.approx(20.0)


def test_comparisons_pair_every_strategy_by_seed_and_say_which_is_above() -> None:
    # a - b per seed after round 0: 5, 6, 7 (a above b); c equals b plus noise around 0
    results = _rows({
        ("a", 0): [0, 15, 25], ("a", 1): [0, 16, 26], ("a", 2): [0, 17, 27],
        ("b", 0): [0, 10, 20], ("b", 1): [0, 10, 20], ("b", 2): [0, 10, 20],
        ("c", 0): [0, 11, 19], ("c", 1): [0, 9, 21], ("c", 2): [0, 10, 20],
    })  # fmt: skip
    table = comparisons(results).set_index(["a", "b", "summary"])
    assert len(table) == 3 * 2  # pairs (a, b), (a, c), (b, c), two summaries each
    mean_ab = table.loc[("a", "b", "mean_after_round0")]
    assert mean_ab["difference"] == pytest.approx(6.0) and mean_ab["seeds"] == 3
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert (mean_ab["low"], mean_ab["high"]) == pytest.approx((6.0 - half, 6.0 + half))
    assert mean_ab["verdict"] == "a above b"
    assert table.loc[("b", "c", "last_round"), "verdict"] == "inconclusive"
    flipped = comparisons(results.replace({"strategy": {"a": "z"}})).set_index(
        ["a", "b", "summary"]
    )
    assert flipped.loc[("b", "z", "last_round"), "verdict"] == "z above b"


def test_a_seed_without_its_partner_is_left_out_and_counted() -> None:
    results = _rows(
        {("a", 0): [0, 5], ("a", 1): [0, 6], ("b", 0): [0, 1], ("b", 1): [0, 1], ("a", 2): [0, 9]}
    )
    row = comparisons(results).iloc[0]
    assert row["seeds"] == 2 and row["unpaired"] == 1
    one_seed = comparisons(_rows({("a", 0): [0, 5], ("b", 0): [0, 1]})).iloc[0]
    assert one_seed["verdict"] == "no interval (1 seed)"


@pytest.mark.parametrize("text", ["v-mAP", "v-mAP@", "@0.5", "v-mAP@high"])
def test_a_malformed_metric_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected <metric>@<threshold>"):
        parse_metric(text)


def test_a_metric_the_study_lacks_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: v-mAP@0.5"):
        curves(_rows({("a", 0): [1.0]}), "f-mAP@0.5")


def test_the_hint_names_the_repository_config_of_a_known_study(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    hint = make_runs_hint(Path("runs/smoke"), ("ucf_main",))
    assert hint == f"make them with `claus run {Path('configs') / 'smoke_study.yaml'} --root runs`"
    lacking = make_runs_hint(Path("runs/mini_real"), ("ucf_main",))
    assert lacking.startswith(
        f"{Path('configs') / 'mini_real.yaml'} (study 'mini_real') defines no group ucf_main"
    )
    assert "YOUR_STUDY.yaml --root" in make_runs_hint(tmp_path / "mine")


def test_the_hint_says_when_a_folder_is_not_a_study_folder(tmp_path: Path) -> None:
    (tmp_path / "store" / "mine" / "g" / "claus" / "seed0").mkdir(parents=True)
    assert "holds studies: pass one of them" in make_runs_hint(tmp_path / "store")
    assert "pass its study folder" in make_runs_hint(tmp_path / "store" / "mine" / "g")
    assert "pass its study folder" in make_runs_hint(tmp_path / "store" / "mine" / "g" / "claus")


def test_report_on_a_folder_without_runs_names_the_command(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path / "nothing")]) == 1
    assert "claus run YOUR_STUDY.yaml" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()


@pytest.fixture(scope="module")
def smoke_study() -> Path:
    """The smoke study of ``make test`` (``configs/smoke_study.yaml``): run, or reused when done."""
    command = [sys.executable, "-m", "claus_core.cli", "run", "configs/smoke_study.yaml",
               "--root", "runs", "--jobs", "2", "--quiet"]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, timeout=1800)
    return ROOT / "runs" / "smoke"


def _has_color(image: np.ndarray, color: str) -> bool:
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)]) / 255.0
    return bool((np.abs(image[..., :3] - rgb).max(axis=-1) < 0.02).any())


@pytest.mark.slow
def test_claus_report_on_the_smoke_study(smoke_study: Path, tmp_path: Path, capsys) -> None:
    assert main(["report", str(smoke_study), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ucf_main: claus - random, mean_after_round0:" in out
    document = json.loads((tmp_path / "report.json").read_text())
    strategies = {c["strategy"] for c in document["curves"] if c["group"] == "ucf_main"}
    assert strategies == {"claus", "uncertainty", "random"}
    assert {(c["a"], c["b"]) for c in document["comparisons"] if c["group"] == "ucf_main"} == {
        ("claus", "random"),
        ("claus", "uncertainty"),
        ("random", "uncertainty"),
    }
    assert all(c["seeds"] == 2 for c in document["comparisons"])
    assert (tmp_path / "ucf_main.svg").stat().st_size > 0
    image = matplotlib.image.imread(tmp_path / "ucf_main.png")  # [H, W, RGBA]
    for strategy in strategies:  # one curve (and its legend entry) per strategy
        assert _has_color(image, strategy_color(strategy)), strategy
    assert not _has_color(image, strategy_color("entropy"))
