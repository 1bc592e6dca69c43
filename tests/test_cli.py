"""The `claus` command: help, status, export of a finished round, errors that name the problem."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch
import yaml

from claus_core.cli import build_parser, main
from claus_core.config import ExperimentConfig, TrainConfig
from claus_core.data.synthetic import SynthConfig
from claus_core.data.types import AnnotationState
from claus_core.engine.experiment import Experiment
from claus_core.selection import Budget
from claus_core.uncertainty import ScoringConfig


def test_help_lists_every_subcommand(capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for command in ("run", "status", "resume", "export", "data"):
        assert command in out


def test_unknown_strategy_is_a_clear_error(tmp_path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"strategy": "claws"}))
    assert main(["run", str(path), "--root", str(tmp_path / "runs")]) == 2
    assert "unknown strategy 'claws'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("cli") / "run"
    config = ExperimentConfig(
        name="cli",
        synth=SynthConfig.smoke(),
        strategy="random",
        rounds=1,
        initial_budget=Budget(videos=4, frame_cost=8),
        round_budget=Budget(videos=4, frame_cost=8),
        train=TrainConfig(epochs=1),
        scoring=ScoringConfig(n_samples=2),
    )
    Experiment(config, folder, progress=False).run_all()
    return folder


@pytest.mark.slow
def test_status_prints_every_round(finished_run, capsys) -> None:
    assert main(["status", str(finished_run)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:2] == ["round", "videos"] and len(lines) == 3


@pytest.mark.slow
def test_export_writes_the_new_frames_of_a_round(finished_run, tmp_path, capsys) -> None:
    before = AnnotationState.from_json((finished_run / "round0" / "state.json").read_text())
    after = AnnotationState.from_json((finished_run / "round1" / "state.json").read_text())
    new = {v: set(after.frames[v]) - set(before.frames.get(v, ())) for v in after.videos}
    new = {v: f for v, f in new.items() if f}

    def export(fmt: str) -> int:
        return main(
            ["export", str(finished_run), "--round", "1", "--format", fmt, "--out", str(tmp_path)]
        )

    assert export("csv") == 0
    rows = list(csv.DictReader(io.StringIO(next(tmp_path.glob("*.csv")).read_text())))
    exported: dict[str, set[int]] = {}
    for row in rows:
        exported.setdefault(row["video"], set()).add(int(row["frame"]))
    assert exported == new
    assert export("cvat") == 0
    for path in tmp_path.rglob("*.xml"):
        ET.fromstring(path.read_text())
    assert export("labelstudio") == 0
    tasks = json.loads(next(tmp_path.glob("*labelstudio_tasks.json")).read_text())
    assert {t["data"]["video_name"] for t in tasks} == set(new)
    capsys.readouterr()


def test_export_of_a_missing_round_names_it(finished_run, tmp_path, capsys) -> None:
    assert (
        main(
            ["export", str(finished_run), "--round", "7", "--format", "csv", "--out", str(tmp_path)]
        )
        == 2
    )
    assert "round7" in capsys.readouterr().err


def test_status_on_a_study_folder_lists_its_runs_and_what_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 28: ``claus status`` on a study answered "no finished round" (exit 1)."""
    from claus_core.store import ROUND_MARKER

    for seed, finished in ((0, 2), (1, 1)):
        run = tmp_path / "study" / "ucf_main" / "claus" / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "config.json").write_text('{"rounds": 1}', encoding="utf-8")
        for index in range(finished):
            (run / f"round{index}").mkdir()
            (run / f"round{index}" / ROUND_MARKER).write_text('{"hash": "x"}', encoding="utf-8")
    assert main(["status", str(tmp_path / "study")]) == 0
    out = capsys.readouterr().out
    assert "ucf_main              claus              0  2 of 2" in out
    assert "ucf_main              claus              1  1 of 2" in out
    assert f"unfinished: claus resume {tmp_path / 'study' / 'ucf_main' / 'claus' / 'seed1'}" in out
    assert "2 runs, 1 finished" in out


def test_status_on_a_labeling_project_points_to_claus_label_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("project.json", "videos.json"):
        (tmp_path / name).write_text("{}", encoding="utf-8")
    assert main(["status", str(tmp_path)]) == 1
    assert f"`claus label status {tmp_path}`" in capsys.readouterr().out
