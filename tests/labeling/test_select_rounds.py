"""``select_round`` end to end on real video: round 0, import, then trained rounds.

A project of 6 real mini videos (nested ``Class/video`` files, so the simulated annotator finds
their real boxes), the smoke training settings, and two trained rounds: what a later round asks
for is never a frame annotated before, stays within the budget, and comes with the model's boxes
as Label Studio predictions; held-out videos are neither trained on nor asked again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from labeling_support import small_project

from claus_core.config import ConfigError
from claus_core.data.types import DataError
from claus_core.data.ucf101_24 import load_ucf101_24_mini
from claus_core.files import StoreError
from claus_core.labeling import LabelProject, import_round, select_round
from claus_core.labeling.simulate import answer_round

pytestmark = pytest.mark.slow


def answer(project: LabelProject, index: int, tmp_path: Path) -> None:
    tasks = project.round_dir(index) / "export" / f"round{index}_labelstudio_tasks.json"
    export = answer_round(tasks, load_ucf101_24_mini(), tmp_path / f"answers{index}.json")
    import_round(project, index, [export])


def test_later_rounds_never_ask_an_annotated_frame_and_keep_the_budget(tmp_path: Path) -> None:
    project = small_project(tmp_path, holdout=1)
    assert select_round(project, videos=3, frames=12, progress=False) == 0
    assert project.request(0)["strategy"] == "initial"
    answer(project, 0, tmp_path)
    annotated = {n: set(v.annotated) for n, v in project.annotations(0).videos.items()}
    for index in (1, 2):
        assert select_round(project, videos=2, frames=8, progress=False) == index
        asked = project.asked(index)
        assert sum(map(len, asked.values())) <= 8  # B_f counts frames
        assert len(set(asked) - set(annotated)) <= 2  # B_v new videos
        for name, frames in asked.items():
            assert not set(frames) & annotated.get(name, set()), name
        holdout = set(project.holdout())
        assert len(holdout) == 1 and not holdout & set(asked)
        trained = json.loads((project.round_dir(index) / "model" / "training.json").read_text())
        assert not holdout & set(trained["videos"])
        assert (project.round_dir(index) / "model" / "validation.json").exists()
        tasks = json.loads(
            (
                project.round_dir(index) / "export" / f"round{index}_labelstudio_tasks.json"
            ).read_text()
        )
        assert {t["data"]["video_name"] for t in tasks} == set(asked)
        assert all(
            t["predictions"][0]["model_version"] == f"claus round {index}"
            for t in tasks
            if "predictions" in t
        )
        answer(project, index, tmp_path)
        for name, video in project.annotations(index).videos.items():
            annotated.setdefault(name, set()).update(video.annotated)
    rows = project.status()
    assert [r["round"] for r in rows] == [0, 1, 2]
    assert rows[-1]["cost so far"] == sum(r["boxes"] for r in rows)
    with pytest.raises(StoreError, match="round 1 was selected after round 0"):
        import_round(project, 0, [tmp_path / "answers0.json"], replace=True)


def test_a_changed_model_file_is_named_and_an_unsealed_one_is_not_warm_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 26 (6): a project's model files carry their SHA-256 (model/digests.json, written
    last), as a run folder's do: 64 garbled bytes in round 1's checkpoint are named before round 2
    warm-starts from them; a model folder never sealed (an interrupted select) is not trusted."""
    project = small_project(tmp_path)
    select_round(project, videos=3, frames=12, progress=False)
    answer(project, 0, tmp_path)
    select_round(project, videos=2, frames=8, progress=False)
    answer(project, 1, tmp_path)
    model = project.round_dir(1) / "model"
    digests = json.loads((model / "digests.json").read_text())
    assert {"checkpoint.pt", "training.json", "predictions.npz"} <= set(digests)
    checkpoint = (model / "checkpoint.pt").read_bytes()
    (model / "checkpoint.pt").write_bytes(checkpoint[:-64] + bytes(64))
    with pytest.raises(StoreError, match=r"checkpoint\.pt: changed or corrupt since its round"):
        select_round(project, videos=2, frames=8, progress=False)
    assert project.rounds() == [0, 1]  # nothing written, nothing lost
    (model / "checkpoint.pt").write_bytes(checkpoint)
    (model / "digests.json").unlink()
    assert select_round(project, videos=2, frames=8, progress=False) == 2
    assert "trains a new model instead of warm-starting" in caplog.text


def test_a_holdout_left_by_a_select_that_never_finished_is_chosen_again(tmp_path: Path) -> None:
    """Issue 26 (2): an empty first import made the failed select write ``{"videos": []}``, and no
    video was held out again, for good. A choice no trained round used is made again."""
    project = small_project(tmp_path, holdout=1)
    select_round(project, videos=3, frames=12, progress=False)
    tasks = json.loads(
        (project.round_dir(0) / "export" / "round0_labelstudio_tasks.json").read_text()
    )
    empty = [{"id": k, "data": t["data"],
              "annotations": [{"id": k, "result": [], "updated_at": "2026-01-01T00:00:00Z"}]}
             for k, t in enumerate(tasks)]  # fmt: skip
    (tmp_path / "empty.json").write_text(json.dumps(empty))
    import_round(project, 0, [tmp_path / "empty.json"])
    with pytest.raises(DataError, match="no annotated video with a box to train on"):
        select_round(project, videos=2, frames=8, progress=False)
    assert project.holdout_chosen() and project.holdout() == ()
    export = answer_round(project.round_dir(0) / "export" / "round0_labelstudio_tasks.json",
                          load_ucf101_24_mini(), tmp_path / "answers0.json")  # fmt: skip
    import_round(project, 0, [export], replace=True)
    assert select_round(project, videos=2, frames=8, progress=False) == 1
    assert len(project.holdout()) == 1


def test_an_import_that_records_nothing_leaves_the_round_unimported(tmp_path: Path) -> None:
    """Issue 26 (4): tasks without any annotation, and round 0's export imported as round 1,
    marked the round imported with nothing in it (exit 0)."""
    project = small_project(tmp_path)
    select_round(project, videos=3, frames=12, progress=False)
    tasks = json.loads(
        (project.round_dir(0) / "export" / "round0_labelstudio_tasks.json").read_text()
    )
    (tmp_path / "unanswered.json").write_text(json.dumps(tasks))  # the tasks as exported
    with pytest.raises(DataError, match=r"nothing of round 0 is annotated .*no annotation"):
        import_round(project, 0, [tmp_path / "unanswered.json"])
    assert not project.annotations_path(0).exists()
    answer(project, 0, tmp_path)
    select_round(project, videos=2, frames=8, progress=False)
    with pytest.raises(DataError, match=r"nothing of round 1 is annotated"):
        import_round(project, 1, [tmp_path / "answers0.json"])
    assert not project.annotations_path(1).exists()


def test_a_round_waits_for_the_import_of_the_one_before(tmp_path: Path) -> None:
    project = small_project(tmp_path)
    select_round(project, videos=2, frames=6, progress=False)
    before = sorted(p.name for p in project.root.rglob("*"))
    with pytest.raises(StoreError, match="round 0 was asked for but nothing was imported"):
        select_round(project, videos=2, frames=6, progress=False)
    assert sorted(p.name for p in project.root.rglob("*")) == before


def test_a_select_killed_before_its_tasks_were_written_gets_them_again(tmp_path: Path) -> None:
    """Issue 26 (9): a SIGKILL between writing ``request.json`` and the tasks left a round that
    could not be annotated, and the next select only said to import it."""
    project = small_project(tmp_path)
    select_round(project, videos=2, frames=6, progress=False)
    export = project.round_dir(0) / "export"
    written = {p.name: p.read_bytes() for p in export.iterdir()}
    shutil.rmtree(export)  # as the killed select left it
    (project.round_dir(0) / ".export.partial").mkdir()  # and a half-written staging folder
    with pytest.raises(StoreError, match=r"its tasks were missing, a select was interrupted: "
                       r"written again in .*round0/export"):  # fmt: skip
        select_round(project, videos=2, frames=6, progress=False)
    assert {p.name: p.read_bytes() for p in export.iterdir()} == written
    assert not (project.round_dir(0) / ".export.partial").exists()


def test_an_unknown_strategy_is_refused_before_anything_runs(tmp_path: Path) -> None:
    """Issue 26 (9): a bad --strategy was refused only after a round's training (19 s)."""
    project = small_project(tmp_path)
    with pytest.raises(ConfigError, match=r"strategy: unknown 'clause'"):
        select_round(project, videos=2, frames=6, strategy="clause", progress=False)
    assert project.rounds() == [] and not project.round_dir(0).exists()


def test_an_export_with_no_box_at_all_cannot_train_a_round(tmp_path: Path) -> None:
    project = small_project(tmp_path)
    select_round(project, videos=2, frames=6, progress=False)
    tasks = json.loads(
        (project.round_dir(0) / "export" / "round0_labelstudio_tasks.json").read_text()
    )
    empty = [
        {
            "id": k,
            "data": t["data"],
            "annotations": [{"id": k, "result": [], "updated_at": "2026-01-01T00:00:00Z"}],
        }
        for k, t in enumerate(tasks)
    ]
    (tmp_path / "empty.json").write_text(json.dumps(empty))
    imported = import_round(project, 0, [tmp_path / "empty.json"])
    assert imported.cost() == 0 and all(v.empty() == v.annotated for v in imported.videos.values())
    with pytest.raises(DataError, match="no annotated video with a box to train on"):
        select_round(project, videos=2, frames=6, progress=False)
    assert project.rounds() == [0]


def test_a_round_with_no_new_video_left_is_refused_before_training(tmp_path: Path) -> None:
    """Issue 27: with every video asked for, CLAUS (new videos only) trained for minutes and then
    selected nothing; the round is refused at once, naming what to do, and intra_sample runs."""
    project = small_project(tmp_path)
    for index in range(3):  # 6 videos, 2 new ones a round
        select_round(project, videos=2, frames=8, progress=False)
        answer(project, index, tmp_path)
    assert {n for r in range(3) for n in project.asked(r)} == set(project.videos)
    with pytest.raises(DataError, match=r"every video has been asked for in rounds 0-2, and "
                       r"'claus' chooses new videos.*--strategy intra_sample"):  # fmt: skip
        select_round(project, videos=2, frames=8, progress=False)
    assert not (project.round_dir(3) / "model").exists()  # refused before any training
    index = select_round(project, videos=0, frames=4, strategy="intra_sample", progress=False)
    assert index == 3 and set(project.asked(3)) <= set(project.videos)


def failed_after_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LabelProject:
    """A small project whose round-1 select trained, then failed while selecting."""
    from claus_core.labeling import rounds

    project = small_project(tmp_path)
    select_round(project, videos=2, frames=8, progress=False)
    answer(project, 0, tmp_path)

    def fail(**kwargs: object) -> None:
        raise RuntimeError("selection failed after training")

    with monkeypatch.context() as patched:
        patched.setattr(rounds, "select_step", fail)
        with pytest.raises(RuntimeError, match="after training"):
            select_round(project, videos=2, frames=8, progress=False)
    return project


def test_a_select_that_failed_after_training_reuses_that_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 27: a retry trained again from scratch; now a sealed training on the same inputs
    (videos, config, imports, starting model: ``rounds._training_key``) is reused."""
    from claus_core.labeling import rounds

    project = failed_after_training(tmp_path, monkeypatch)
    trained = (project.round_dir(1) / "model" / "checkpoint.pt").read_bytes()

    def train_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained again")

    with monkeypatch.context() as patched:
        patched.setattr(rounds, "train_round", train_again)
        assert select_round(project, videos=2, frames=8, progress=False) == 1
    assert (project.round_dir(1) / "model" / "checkpoint.pt").read_bytes() == trained
    assert project.rounds() == [0, 1]


def test_a_new_import_after_a_failed_select_trains_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reused training must match its inputs: after a replaced import of round 0 the
    training key differs and the round trains again."""
    from claus_core.labeling import rounds

    project = failed_after_training(tmp_path, monkeypatch)
    export = json.loads((tmp_path / "answers0.json").read_text())
    moved = next(t for t in export if t["annotations"][0]["result"])  # same videos, same frames,
    for key in moved["annotations"][0]["result"][0]["value"]["sequence"]:  # a box moved 1 %
        key["x"] += 1.0
    (tmp_path / "changed.json").write_text(json.dumps(export))
    import_round(project, 0, [tmp_path / "changed.json"], replace=True)
    trained = []
    original = rounds.train_round
    monkeypatch.setattr(
        rounds, "train_round", lambda *a, **k: trained.append(1) or original(*a, **k)
    )
    assert select_round(project, videos=2, frames=8, progress=False) == 1
    assert trained == [1]


def test_a_trained_round_decodes_every_video_at_the_input_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 26: training, scoring and predictions read the videos at the detector's input size,
    not at their own (an HD video held whole needed gigabytes)."""
    from claus_core.labeling import rounds

    project = small_project(tmp_path)
    select_round(project, videos=2, frames=8, progress=False)
    answer(project, 0, tmp_path)
    size = rounds.project_detector(project).input_size
    seen = set()

    class Recording(rounds.VideoFolder):
        def frames(self, name: str):
            record = self.pool[name]
            seen.add((record.width, record.height))
            return super().frames(name)

    monkeypatch.setattr(rounds, "VideoFolder", Recording)
    select_round(project, videos=2, frames=8, progress=False)
    assert seen == {(size, size)}
