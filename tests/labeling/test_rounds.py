"""A labeling round's export and import (claus_core.labeling.rounds): round trips on the real mini
videos through both tools (claus's tasks, answered from the real UCF-101-24 boxes, come back as
those boxes and as training tubes), and the import's bookkeeping: a round that does not exist,
importing twice, replacing, and a failed import that leaves the project as it was."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import av
import numpy as np
import pytest
from labeling_support import (
    CVAT_VIDEO,
    CVAT_VIDEO_FIXTURE,
    LS_FIXTURES,
    cvat_answer,
    gt_box,
    ls_fixture,
    write_json,
)

from claus_core.data.types import DataError, VideoPool
from claus_core.data.video import probe_video
from claus_core.files import StoreError
from claus_core.labeling import LabelingConfig, LabelProject, RoundAnnotations, rounds, simulate
from claus_core.labeling.annotations import training_record
from claus_core.labeling.transcode import transcode_video
from claus_core.losses import LossConfig, localization_targets


def answered_in_label_studio(project: LabelProject, truth: VideoPool, folder: Path) -> Path:
    """Round 0's Label Studio tasks, as claus exports them, answered from ``truth``."""
    written = rounds.export_round(project, 0, "labelstudio", folder / "export")
    (tasks_file,) = [p for p in written if p.name == "round0_labelstudio_tasks.json"]
    tasks = json.loads(tasks_file.read_text(encoding="utf-8"))
    return write_json(folder / "labelstudio_export.json", simulate.answer_tasks(tasks, truth))


def answered_in_cvat(project: LabelProject, truth: VideoPool, folder: Path) -> list[Path]:
    """Round 0's CVAT files, as claus exports them, as CVAT exports them back after a person
    drew ``truth``'s boxes on the asked frames (one file per video)."""
    answers = []
    for path in rounds.export_round(project, 0, "cvat", folder / "export"):
        text = path.read_text(encoding="utf-8")
        name = ET.fromstring(text).findtext("meta/task/name", "")
        answer = folder / "cvat_export" / f"{Path(name).name}.xml"
        answer.parent.mkdir(parents=True, exist_ok=True)
        answer.write_text(cvat_answer(text, truth[name], truth.classes), encoding="utf-8")
        answers.append(answer)
    return answers


def check_boxes_are_the_truth(
    imported: RoundAnnotations, project: LabelProject, truth: VideoPool, tolerance: float
) -> int:
    """Every asked frame: the real box (clipped to the frame) as a key box of exactly one track
    when the actor is there (corners within ``tolerance`` px), "no action" when not. Returns
    the number of boxes checked."""
    asked = project.asked(0)
    assert set(imported.videos) == set(asked)
    checked = 0
    for name, frames in asked.items():
        video = imported.videos[name]
        assert video.annotated == tuple(sorted(frames)), name  # nothing drawn beyond the asked
        for frame in frames:
            expected = gt_box(truth[name], frame)
            found = [t.boxes[t.keys.index(frame)] for t in video.tracks if frame in t.keys]
            if expected is None:
                assert found == [], (name, frame)
                assert frame in video.empty()
                continue
            (got,) = found
            got_corners = [got[0], got[1], got[0] + got[2], got[1] + got[3]]
            want = [expected[0], expected[1], expected[0] + expected[2], expected[1] + expected[3]]
            np.testing.assert_allclose(got_corners, want, rtol=0, atol=tolerance)
            checked += 1
    return checked


# ---- round trips on the mini videos ---------------------------------------------------------


def test_label_studio_round_trip_gives_back_the_real_boxes(
    project: LabelProject, mini_pool: VideoPool, tmp_path: Path
) -> None:
    export = answered_in_label_studio(project, mini_pool, tmp_path)
    imported = rounds.import_round(project, 0, [export])
    assert imported.warnings == ()
    # percent of the frame and back: exact up to float rounding
    assert check_boxes_are_the_truth(imported, project, mini_pool, 1e-3) == 21
    saved = project.annotations(0)  # what annotations.json holds (boxes to 4 decimals)
    assert saved is not None
    assert check_boxes_are_the_truth(saved, project, mini_pool, 1e-3) == 21
    assert saved.cost() == imported.cost() == 21  # 25 frames asked, 4 without the actor


def test_cvat_round_trip_gives_back_the_real_boxes(
    project: LabelProject, mini_pool: VideoPool, tmp_path: Path
) -> None:
    answers = answered_in_cvat(project, mini_pool, tmp_path)
    assert len(answers) == 5
    imported = rounds.import_round(project, 0, answers)
    assert imported.format == "cvat-video"
    assert imported.warnings == ()
    # CVAT writes coordinates "{:.2f}": each corner within half a hundredth of a pixel
    assert check_boxes_are_the_truth(imported, project, mini_pool, 0.005 + 1e-9) == 21


def test_training_records_of_the_round_trip_hold_the_real_boxes_on_annotated_frames(
    project: LabelProject, mini_pool: VideoPool, tmp_path: Path
) -> None:
    rounds.import_round(project, 0, [answered_in_label_studio(project, mini_pool, tmp_path)])
    saved = project.annotations(0)
    assert saved is not None
    classes = project.config.classes
    for name, video in saved.videos.items():
        truth = mini_pool[name]
        record, annotated = training_record(project.record(name), [video], classes)
        assert annotated == tuple(sorted(project.asked(0)[name]))
        assert record is not None
        assert classes[record.label] == mini_pool.classes[truth.label]
        for frame in annotated:
            expected = gt_box(truth, frame)
            boxes = [t.box_at(frame) for t in record.tubes if t.box_at(frame) is not None]
            if expected is None:
                assert boxes == [], (name, frame)
            else:
                (got,) = boxes
                np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)
        masks, weights = localization_targets(record, annotated, LossConfig())
        assert masks.shape == weights.shape == (truth.num_frames, truth.height, truth.width)
        for frame in annotated:  # the target on an annotated frame is its box, or nothing
            assert masks[frame].any() == (gt_box(truth, frame) is not None), (name, frame)


def test_files_of_both_tools_import_together(project: LabelProject, tmp_path: Path) -> None:
    payload = [t for t in ls_fixture("round0_export_json.json") if t["id"] != 1]  # not BB g07
    label_studio = write_json(tmp_path / "export.json", payload)
    imported = rounds.import_round(project, 0, [label_studio, CVAT_VIDEO_FIXTURE])
    assert imported.format == "cvat-video+labelstudio-json"
    assert set(imported.videos) == set(project.asked(0))
    assert imported.videos[CVAT_VIDEO].annotated == (1, 29, 33, 36, 66, 100)  # from CVAT
    assert [s["file"] for s in imported.sources] == [
        str(label_studio.resolve()),
        str(CVAT_VIDEO_FIXTURE.resolve()),
    ]
    # each reader speaks of its own file: the Label Studio file lacks the video CVAT's has
    assert imported.warnings == (
        f"{label_studio}: 1 videos of round 0 not annotated in this file ('{CVAT_VIDEO}', ...)",
    )


# ---- the import's bookkeeping -------------------------------------------------------------


def test_importing_a_round_that_does_not_exist_is_refused(project: LabelProject) -> None:
    path = project.round_dir(1) / "request.json"
    with pytest.raises(StoreError, match=f"{path}: round 1 does not exist .*rounds \\[0\\]"):
        rounds.import_round(project, 1, [LS_FIXTURES / "round0_export_json.json"])
    assert not project.round_dir(1).exists()


def test_a_round_imported_twice_is_refused_without_replace_and_replaced_with_it(
    project: LabelProject, tmp_path: Path
) -> None:
    rounds.import_round(project, 0, [LS_FIXTURES / "round0_export_json.json"])
    before = project.annotations_path(0).read_bytes()
    payload = ls_fixture("round0_export_json.json")
    payload[0]["annotations"][0]["result"][0]["value"]["sequence"][0]["x"] = 41.875
    corrected = write_json(tmp_path / "corrected.json", payload)
    with pytest.raises(StoreError, match="round 0 was imported before; pass --replace"):
        rounds.import_round(project, 0, [corrected])
    assert project.annotations_path(0).read_bytes() == before
    rounds.import_round(project, 0, [corrected], replace=True)
    saved = project.annotations(0)
    assert saved is not None
    # 41.875 % of 340 px = 142.375 (it was 51.875 % = 176.375)
    assert saved.videos["Basketball/v_Basketball_g07_c04"].tracks[0].boxes[0][0] == 142.375
    assert saved.sources[0]["file"] == str(corrected.resolve())


def test_replacing_a_round_is_refused_once_a_later_round_exists(
    project: LabelProject, tmp_path: Path
) -> None:
    rounds.import_round(project, 0, [LS_FIXTURES / "round0_export_json.json"])
    before = project.annotations_path(0).read_bytes()
    project.round_dir(1).mkdir()
    request = json.loads((LS_FIXTURES / "round0_request.json").read_text(encoding="utf-8"))
    write_json(project.round_dir(1) / "request.json", {**request, "round": 1})
    assert project.rounds() == [0, 1]
    with pytest.raises(StoreError, match="round 1 was selected after round 0 was imported"):
        rounds.import_round(project, 0, [LS_FIXTURES / "round0_export_json_min.json"], replace=True)
    assert project.annotations_path(0).read_bytes() == before


def test_a_failed_replace_leaves_the_previous_import_as_it_was(
    project: LabelProject, tmp_path: Path
) -> None:
    rounds.import_round(project, 0, [LS_FIXTURES / "round0_export_json.json"])
    before = project.annotations_path(0).read_bytes()
    good = LS_FIXTURES / "round0_export_json_min.json"
    payload = ls_fixture("round0_export_json.json")
    payload[4]["annotations"][0]["result"][0]["value"]["labels"] = ["Diving"]
    bad = write_json(tmp_path / "bad.json", payload)
    with pytest.raises(DataError, match=f"{bad}, task 5 .*label 'Diving'"):
        rounds.import_round(project, 0, [good, bad], replace=True)  # the good file first
    assert project.annotations_path(0).read_bytes() == before
    assert sorted(p.name for p in project.round_dir(0).iterdir()) == [
        "annotations.json",
        "request.json",
    ]  # no temporary file left either


def test_an_import_is_refused_while_another_command_holds_the_project(
    project: LabelProject,
) -> None:
    with project.lock():
        with pytest.raises(StoreError, match="in use by another claus command"):
            rounds.import_round(project, 0, [LS_FIXTURES / "round0_export_json.json"])
    assert not project.annotations_path(0).exists()


def test_an_unknown_file_kind_is_refused(project: LabelProject, tmp_path: Path) -> None:
    path = tmp_path / "frames.csv"
    path.write_text("video,frame\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"{path}: neither a Label Studio JSON export nor a CVAT"):
        rounds.import_round(project, 0, [path])
    missing = tmp_path / "missing.json"
    with pytest.raises(DataError, match=f"{missing}: file not found"):
        rounds.import_round(project, 0, [missing])
    assert not project.annotations_path(0).exists()


def test_the_label_studio_tasks_of_round_0_are_those_the_real_server_answered(
    project: LabelProject, tmp_path: Path
) -> None:
    written = rounds.export_round(project, 0, "labelstudio", tmp_path)
    tasks = json.loads(written[0].read_text(encoding="utf-8"))
    answered = json.loads((LS_FIXTURES / "round0_export_json.json").read_text(encoding="utf-8"))
    # same data field by field (frames 1-based), but the video URL: the server's project had
    # H.264 copies (media/<video>.mp4); this one has none, so the URL names the video's own file
    for task, real in zip(tasks, answered, strict=True):
        assert {k: v for k, v in task["data"].items() if k != "video"} == {
            k: v for k, v in real["data"].items() if k != "video"
        }
        name = task["data"]["video_name"]
        suffix = Path(project.videos[name].file).suffix
        assert task["data"]["video"] == f"/data/local-files/?d=media/{name}{suffix}"


def test_an_export_of_a_label_studio_project_used_for_two_rounds_imports_round_1(
    project: LabelProject, mini_pool: VideoPool, tmp_path: Path
) -> None:
    rounds.import_round(project, 0, [LS_FIXTURES / "round0_export_json.json"])
    request = {"round": 1, "strategy": "claus", "budget": {"videos": 1, "frames": 2}}
    project.write_request(1, {**request, "frames": {"Fencing/v_Fencing_g01_c06": [10, 50]}})
    written = rounds.export_round(project, 1, "labelstudio", tmp_path / "export")
    tasks = json.loads(written[0].read_text(encoding="utf-8"))
    # the server's export: round 0's five tasks (claus_round 0), then round 1's task
    export = ls_fixture("round0_export_json.json") + simulate.answer_tasks(
        tasks, mini_pool, first_id=6
    )
    path = write_json(tmp_path / "export.json", export)
    imported = rounds.import_round(project, 1, [path])
    assert list(imported.videos) == ["Fencing/v_Fencing_g01_c06"]


def test_label_studio_boxes_on_the_h264_copy_of_an_odd_sized_video_keep_their_pixels(
    tmp_path: Path,
) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    with av.open(str(videos / "odd.avi"), "w") as container:  # 5 frames of 33 x 25
        stream = container.add_stream("mjpeg", rate=25)
        stream.width, stream.height, stream.pix_fmt = 33, 25, "yuvj420p"
        for value in range(5):
            pixels = np.full((25, 33, 3), 40 * value, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    project = LabelProject.create(tmp_path / "p", videos, LabelingConfig(classes=("Biking",)))
    transcode_video(project.video_path("odd"), project.media_path("odd"), fps=25.0)
    copy = probe_video(project.media_path("odd"))
    assert copy.width % 2 == copy.height % 2 == 0  # H.264: even (today cropped to 32 x 24)
    project.write_request(
        0, {"round": 0, "strategy": "initial", "budget": {}, "frames": {"odd": [2]}}
    )
    written = rounds.export_round(project, 0, "labelstudio", tmp_path / "export")
    (task,) = json.loads(written[0].read_text(encoding="utf-8"))
    assert task["data"]["video"].endswith("media/odd.mp4")  # Label Studio plays the copy
    # The annotator draws a box from the middle of the copy's top third to its bottom-right
    # corner: x 50 %, y 33.3 %, w 50 %, h 66.7 % of the copy, (16, 8, 16, 16) px on 32 x 24. The
    # copy keeps the original's pixel grid from the top-left corner, so that box is the same
    # pixels of the 33 x 25 original
    item = {"frame": 3, "enabled": False, "rotation": 0, "x": 50.0, "y": 100 / 3,
            "width": 50.0, "height": 200 / 3, "time": 0.12}  # fmt: skip
    expected = [copy.width / 2, copy.height / 3, copy.width / 2, copy.height * 2 / 3]
    value = {"sequence": [item], "labels": ["Biking"], "framesCount": 5, "duration": 0.2}
    result = [{"id": "r", "from_name": "box", "to_name": "video", "type": "videorectangle",
               "value": value}]  # fmt: skip
    annotation = {"id": 1, "result": result, "updated_at": "2026-01-01T00:00:00Z"}
    path = write_json(tmp_path / "export.json", [{**task, "id": 1, "annotations": [annotation]}])
    (track,) = rounds.import_round(project, 0, [path]).videos["odd"].tracks
    np.testing.assert_allclose(track.boxes[0], expected, atol=1e-6)
