"""``claus label`` at the terminal (issue 27): a project made without ``--config`` learns (the
default study's learning rate, K that its videos can fill), and every command says what comes
next: the next command, a budget left unspent, the round that awaits its import."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from labeling_support import MINI, SMALL_CLASSES, SMALL_VIDEOS

from claus_core.cli import main
from claus_core.data.ucf101_24 import load_ucf101_24_mini
from claus_core.labeling import LabelProject
from claus_core.labeling.simulate import answer_round


def claus(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_a_project_without_config_learns_and_each_command_says_what_is_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    videos = tmp_path / "videos"
    for file in SMALL_VIDEOS:
        (videos / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MINI / file, videos / file)
    (tmp_path / "classes.txt").write_text("\n".join(SMALL_CLASSES) + "\n", encoding="utf-8")
    root = str(tmp_path / "p")
    out = claus(capsys, "label", "init", root, "--videos", str(videos),
                "--classes", str(tmp_path / "classes.txt"))  # fmt: skip
    assert "6 videos, 5 classes, K = 2 clusters" in out  # 6 videos cannot fill 5
    assert f"next: claus label transcode {root}" in out
    config = LabelProject(root).config
    assert (config.train.learning_rate, config.train.lr_schedule) == (0.002, "cosine")

    out = claus(capsys, "label", "select", root, "--videos", "2", "--frames", "6", "--quiet")
    assert "round 0: 6 frames of 2 videos" in out
    assert (
        f"next: annotate them in labelstudio, export, then claus label import {root} --round 0"
        in out
    )
    out = claus(capsys, "label", "status", root)
    assert f"round 0 awaits its import: claus label import {root} --round 0 FILE" in out

    tasks = Path(root) / "round0" / "export" / "round0_labelstudio_tasks.json"
    export = answer_round(tasks, load_ucf101_24_mini(), tmp_path / "answers.json")
    out = claus(capsys, "label", "import", root, "--round", "0", str(export))
    assert f"next: claus label select {root} --videos N --frames M (round 1" in out
    assert "is imported: claus label select" in claus(capsys, "label", "status", root)


def test_a_budget_left_unspent_says_why_at_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    videos = tmp_path / "videos"
    (videos / "Biking").mkdir(parents=True)
    shutil.copy(MINI / "Biking" / "v_Biking_g01_c03.avi", videos / "Biking" / "v.avi")
    (tmp_path / "classes.txt").write_text("Biking\n", encoding="utf-8")
    root = str(tmp_path / "p")
    claus(capsys, "label", "init", root, "--videos", str(videos), "--classes",
          str(tmp_path / "classes.txt"))  # fmt: skip
    out = claus(capsys, "label", "select", root, "--videos", "3", "--frames", "4", "--quiet")
    notes = json.loads((Path(root) / "round0" / "request.json").read_text())["notes"]
    assert notes and all(f"note: {note}" in out for note in notes)
