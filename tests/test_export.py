"""Export of a round's selected frames: CVAT video XML, Label Studio video tasks, CSV."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from claus_core.data.types import AnnotationState, DataError, Tube, VideoPool, VideoRecord
from claus_core.export import (
    export_round,
    frames_from_csv,
    label_studio_config,
    new_frames,
    to_csv,
    to_cvat_video_xml,
    to_label_studio_json,
)
from claus_core.files import StoreError, read_json
from claus_core.store import RunDir


def moving_tube(label: int, start: int, end: int, x0: float) -> Tube:
    """A 10x20 box that moves 2 px right per frame, starting at ``(x0 + 2 * start, 5)``."""
    frames = np.arange(start, end, dtype=np.float32)  # [frame]
    boxes = np.stack(
        [
            x0 + 2 * frames,
            np.full_like(frames, 5),
            np.full_like(frames, 10),
            np.full_like(frames, 20),
        ],
        axis=1,
    )  # [frame, 4]
    return Tube(label, start, end, boxes)


def toy_pool() -> VideoPool:
    """Two videos on a 100x50 grid; the first has two actors, the second one."""
    videos = (
        VideoRecord(
            "Jump/v_jump_01",
            0,
            30,
            100,
            50,
            (moving_tube(0, 0, 20, 0.0), moving_tube(0, 10, 30, 40.0)),
            path=Path("/videos/Jump/v_jump_01.avi"),
        ),
        VideoRecord("Run/v_run_01", 1, 12, 100, 50, (moving_tube(1, 2, 12, 10.0),)),
    )
    return VideoPool("toy", "train", ("Jump", "Run"), videos)


SELECTED = {"Jump/v_jump_01": (3, 15, 25), "Run/v_run_01": (0, 11)}


# new_frames ---------------------------------------------------------------------------------


def test_new_frames_hand_case() -> None:
    previous = AnnotationState(0, ("a", "b"), {"a": (1, 5), "b": (2,)})
    current = AnnotationState(1, ("a", "b", "c"), {"a": (1, 3, 5, 9), "b": (2,), "c": (0, 4)})
    assert new_frames(previous, current) == {"a": (3, 9), "c": (0, 4)}
    assert new_frames(AnnotationState.empty(), current) == {
        "a": (1, 3, 5, 9),
        "b": (2,),
        "c": (0, 4),
    }
    assert list(new_frames(previous, current)) == ["a", "c"]  # current's selection order


def test_new_frames_refuses_a_state_that_shrank() -> None:
    previous = AnnotationState(0, ("a",), {"a": (1, 5)})
    with pytest.raises(DataError, match=r"lost frames \[5\] of 'a'"):
        new_frames(previous, AnnotationState(1, ("a",), {"a": (1,)}))
    with pytest.raises(DataError, match="lost video 'a'"):
        new_frames(previous, AnnotationState(1, ("b",), {"b": (1,)}))


# CVAT ---------------------------------------------------------------------------------------


def test_cvat_xml_has_one_task_per_video_with_meta_and_labels() -> None:
    pool = toy_pool()
    documents = to_cvat_video_xml(pool, SELECTED)
    assert list(documents) == ["Jump/v_jump_01", "Run/v_run_01"]
    root = ET.fromstring(documents["Jump/v_jump_01"])
    assert root.tag == "annotations" and root.findtext("version") == "1.1"
    task = root.find("meta/task")
    assert task.findtext("name") == "Jump/v_jump_01"
    assert task.findtext("mode") == "interpolation"
    assert (task.findtext("size"), task.findtext("start_frame"), task.findtext("stop_frame")) == (
        "30",
        "0",
        "29",
    )
    assert task.findtext("original_size/width") == "100"
    assert task.findtext("original_size/height") == "50"
    assert task.findtext("source") == "v_jump_01.avi"
    labels = {lab.findtext("name"): lab.findtext("type") for lab in task.iterfind("labels/label")}
    assert labels == {"Jump": "rectangle", "Run": "rectangle", "annotate": "rectangle"}
    assert [t.get("label") for t in root.findall("track")] == ["annotate"]  # no boxes unless asked
    assert root.find("image") is None  # datumaro refuses <image> elements without frame files


def test_cvat_marks_show_on_exactly_the_selected_frames_0_based() -> None:
    documents = to_cvat_video_xml(toy_pool(), {"Jump/v_jump_01": [3, 4, 29]})
    (marks,) = ET.fromstring(documents["Jump/v_jump_01"]).findall("track")
    boxes = [(int(b.get("frame")), b.get("keyframe"), b.get("outside")) for b in marks]
    # shown on 3 and 4, outside from 5; shown on the last frame 29 (nothing after it)
    assert boxes == [(3, "1", "0"), (4, "1", "0"), (5, "1", "1"), (29, "1", "0")]
    corners = [float(marks[0].get(k)) for k in ("xtl", "ytl", "xbr", "ybr")]
    assert corners == [0.0, 0.0, 100.0, 50.0]  # the whole 100 x 50 frame


def test_cvat_tracks_carry_the_gt_boxes_on_the_selected_frames() -> None:
    pool = toy_pool()
    root = ET.fromstring(to_cvat_video_xml(pool, SELECTED, include_boxes=True)["Jump/v_jump_01"])
    tracks = root.findall("track")[1:]  # track 0: the marks
    # tube 0 covers [0, 20): frames 3 and 15; tube 1 covers [10, 30): frames 15 and 25
    assert [t.get("label") for t in tracks] == ["Jump", "Jump"]
    boxes = [[(int(b.get("frame")), b.get("outside")) for b in t.findall("box")] for t in tracks]
    assert boxes[0] == [(3, "0"), (15, "0"), (16, "1")]  # closed after its last selected frame
    assert boxes[1] == [(15, "0"), (25, "0"), (26, "1")]
    first = tracks[1].find("box")  # tube 1 on frame 15: x = 40 + 30 = 70, y = 5, 10 x 20
    corners = [float(first.get(k)) for k in ("xtl", "ytl", "xbr", "ybr")]
    assert corners == [70.0, 5.0, 80.0, 25.0]
    assert all(b.get("keyframe") == "1" for t in tracks for b in t.findall("box"))


def test_cvat_track_ending_on_the_last_frame_needs_no_outside_box() -> None:
    root = ET.fromstring(
        to_cvat_video_xml(toy_pool(), SELECTED, include_boxes=True)["Run/v_run_01"]
    )
    (_marks, track) = root.findall("track")  # frame 0 lies before the tube [2, 12)
    assert [(b.get("frame"), b.get("outside")) for b in track.findall("box")] == [("11", "0")]


def test_cvat_clips_boxes_to_the_frame() -> None:
    tube = Tube(0, 0, 2, np.array([[90, -5, 20, 20], [10, 10, 5, 5]], dtype=np.float32))
    pool = VideoPool("toy", "train", ("A",), (VideoRecord("v", 0, 4, 100, 50, (tube,)),))
    root = ET.fromstring(to_cvat_video_xml(pool, {"v": [0]}, include_boxes=True)["v"])
    box = root.findall("track")[1].find("box")
    assert [float(box.get(k)) for k in ("xtl", "ytl", "xbr", "ybr")] == [90.0, 0.0, 100.0, 15.0]


def test_cvat_refuses_a_tag_label_that_is_a_class() -> None:
    with pytest.raises(ValueError, match="'Run' is also an action class"):
        to_cvat_video_xml(toy_pool(), SELECTED, tag_label="Run")


# Label Studio -------------------------------------------------------------------------------


def test_label_studio_tasks_have_the_fields_label_studio_expects() -> None:
    pool = toy_pool()
    tasks = to_label_studio_json(pool, SELECTED, include_boxes=True, fps=25.0)
    assert len(tasks) == 2
    jump = tasks[0]
    assert jump["data"]["video"] == "/data/local-files/?d=Jump/v_jump_01.mp4"
    assert jump["data"]["frames_to_annotate"] == [4, 16, 26]  # 1-based
    assert jump["data"]["frames_to_annotate_text"] == "Frames to annotate: 4, 16, 26"
    (prediction,) = jump["predictions"]
    results = prediction["result"]
    assert len(results) == 2  # one region per GT tube with a selected frame
    for result in results:
        assert result["type"] == "videorectangle"
        assert (result["from_name"], result["to_name"]) == ("box", "video")
        assert result["value"]["labels"] == ["Jump"]
        assert result["value"]["framesCount"] == 30
        assert result["value"]["duration"] == pytest.approx(30 / 25.0)
        for item in result["value"]["sequence"]:
            assert {"frame", "enabled", "x", "y", "width", "height", "time", "rotation"} <= set(
                item
            )
    json.dumps(tasks)  # plain JSON


def test_label_studio_frames_are_1_based_and_boxes_in_percent() -> None:
    tasks = to_label_studio_json(toy_pool(), SELECTED, include_boxes=True, fps=25.0)
    second_tube = tasks[0]["predictions"][0]["result"][1]["value"]["sequence"]
    assert [item["frame"] for item in second_tube] == [16, 26]  # 0-based 15 and 25
    assert [item["enabled"] for item in second_tube] == [True, False]  # lifespan ends at the last
    first = second_tube[0]  # tube 1 on frame 15: (70, 5, 10, 20) on a 100 x 50 frame
    assert (first["x"], first["y"], first["width"], first["height"]) == pytest.approx(
        (70.0, 10.0, 10.0, 40.0)
    )
    assert first["time"] == pytest.approx(16 / 25.0)


def test_label_studio_without_boxes_has_no_predictions_and_honours_the_prefix() -> None:
    tasks = to_label_studio_json(
        toy_pool(),
        {"Run/v_run_01": [5]},
        video_url_prefix="https://host/v/",
        video_extension=".webm",
    )
    assert tasks == [
        {
            "data": {
                "video": "https://host/v/Run/v_run_01.webm",
                "video_name": "Run/v_run_01",
                "frames_to_annotate": [6],
                "frames_to_annotate_text": "Frames to annotate: 6",
                "framerate": 25.0,
            }
        }
    ]


def test_label_studio_config_names_match_the_tasks() -> None:
    view = ET.fromstring(label_studio_config(("Jump", "Run & Walk"), framerate=30.0))
    assert view.tag == "View"
    labels = view.find("Labels")
    assert (labels.get("name"), labels.get("toName")) == ("videoLabels", "video")
    assert [lab.get("value") for lab in labels.findall("Label")] == ["Jump", "Run & Walk"]
    video = view.find("Video")
    assert (video.get("name"), video.get("value"), video.get("framerate")) == (
        "video",
        "$video",
        "30.0",
    )
    rect = view.find("VideoRectangle")
    assert (rect.get("name"), rect.get("toName")) == ("box", "video")
    with pytest.raises(ValueError, match="at least one class"):
        label_studio_config(())


# CSV ----------------------------------------------------------------------------------------


def test_csv_rows_and_round_trip() -> None:
    pool = toy_pool()
    text = to_csv(pool, SELECTED)
    lines = text.splitlines()
    assert lines[0] == "video,frame,frame_1based,class,width,height,path"
    assert lines[1] == "Jump/v_jump_01,3,4,Jump,100,50,/videos/Jump/v_jump_01.avi"
    assert lines[-1] == "Run/v_run_01,11,12,Run,100,50,"
    assert len(lines) == 1 + 5
    assert frames_from_csv(text) == SELECTED


def test_frames_from_csv_rejects_inconsistent_bases() -> None:
    text = "video,frame,frame_1based\nv,3,3\n"
    with pytest.raises(DataError, match="line 2: frame_1based 3 != frame 3 \\+ 1"):
        frames_from_csv(text, source="sel.csv")
    with pytest.raises(DataError, match="missing columns \\['frame_1based'\\]"):
        frames_from_csv("video,frame\nv,3\n")


# bad frames ---------------------------------------------------------------------------------


@pytest.mark.parametrize("export", [to_csv, to_cvat_video_xml, to_label_studio_json])
def test_exports_reject_unknown_videos_and_frames_outside_the_video(export) -> None:
    pool = toy_pool()
    with pytest.raises(DataError, match="'Swim/v' is not in toy/train"):
        export(pool, {"Swim/v": [0]})
    with pytest.raises(DataError, match="Run/v_run_01 has 12 frames .* got frames \\[12\\]"):
        export(pool, {"Run/v_run_01": [3, 12]})
    with pytest.raises(DataError, match="non-integer"):
        export(pool, {"Run/v_run_01": [1.5]})


# export_round -------------------------------------------------------------------------------


def write_round(run: RunDir, index: int, state: AnnotationState, *, finished: bool = True) -> None:
    folder = run.round_dir(index)
    folder.mkdir(parents=True)
    (folder / "state.json").write_text(state.to_json())
    if finished:
        run.finish_round(index, "hash")


def two_round_run(tmp_path: Path) -> RunDir:
    run = RunDir(tmp_path / "run")
    first = AnnotationState(0, ("Jump/v_jump_01",), {"Jump/v_jump_01": (3,)})
    write_round(run, 0, first)
    write_round(run, 1, first.merged({"Jump/v_jump_01": [15, 25], "Run/v_run_01": [0, 11]}, 1))
    return run


def test_export_round_writes_the_new_frames_of_that_round(tmp_path: Path) -> None:
    run, pool, out = two_round_run(tmp_path), toy_pool(), tmp_path / "out"
    (path,) = export_round(run.root, 1, "csv", out, pool)
    assert path == out / "round1_frames.csv"
    assert frames_from_csv(path.read_text()) == {
        "Jump/v_jump_01": (15, 25),
        "Run/v_run_01": (0, 11),
    }
    (first,) = export_round(run.root, 0, "csv", out, pool)
    assert frames_from_csv(first.read_text()) == {"Jump/v_jump_01": (3,)}
    (cumulative,) = export_round(run.root, 1, "csv", out / "all", pool, cumulative=True)
    assert frames_from_csv(cumulative.read_text()) == SELECTED


def test_export_round_cvat_and_label_studio_files(tmp_path: Path) -> None:
    run, pool, out = two_round_run(tmp_path), toy_pool(), tmp_path / "out"
    paths = export_round(run.root, 1, "cvat", out, pool, include_boxes=True)
    assert paths == [
        out / "round1_cvat" / "Jump" / "v_jump_01.xml",
        out / "round1_cvat" / "Run" / "v_run_01.xml",
    ]
    marks = ET.parse(paths[0]).getroot().find("track")
    assert [int(b.get("frame")) for b in marks if b.get("outside") == "0"] == [15, 25]
    tasks_path, config_path = export_round(run.root, 1, "labelstudio", out, pool, fps=30.0)
    tasks = json.loads(tasks_path.read_text())
    assert [t["data"]["frames_to_annotate"] for t in tasks] == [[16, 26], [1, 12]]
    assert [t["data"]["framerate"] for t in tasks] == [30.0, 30.0]
    assert ET.parse(config_path).getroot().find("Video").get("framerate") == "$framerate"


def test_export_round_errors_name_the_file(tmp_path: Path) -> None:
    run, pool, out = two_round_run(tmp_path), toy_pool(), tmp_path / "out"
    with pytest.raises(StoreError, match="no round 5"):
        export_round(run.root, 5, "csv", out, pool)
    with pytest.raises(ValueError, match="unknown export format 'coco'"):
        export_round(run.root, 1, "coco", out, pool)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="round_index must be >= 0"):
        export_round(run.root, -1, "csv", out, pool)

    (run.round_dir(0) / "state.json").unlink()
    with pytest.raises(StoreError, match=r"round0/state\.json: missing"):
        export_round(run.root, 1, "csv", out, pool)
    (run.round_dir(1) / "state.json").write_text("{not json")
    with pytest.raises(
        StoreError, match=r"round1/state\.json: changed or corrupt since round 1 finished"
    ):
        export_round(run.root, 1, "csv", out, pool)
    run.finish_round(
        1, read_json(run.round_dir(1) / "round.json")["hash"]
    )  # checksums of the bad file
    with pytest.raises(DataError, match=r"round1/state\.json: not a valid annotation state"):
        export_round(run.root, 1, "csv", out, pool)
    assert not out.exists()  # nothing written on error


def test_export_round_refuses_unfinished_rounds_and_foreign_states(tmp_path: Path) -> None:
    run, pool = RunDir(tmp_path / "run"), toy_pool()
    write_round(
        run, 0, AnnotationState(0, ("Jump/v_jump_01",), {"Jump/v_jump_01": (3,)}), finished=False
    )
    with pytest.raises(StoreError, match=r"round0/round\.json: missing; round 0 is not finished"):
        export_round(run.root, 0, "csv", tmp_path / "out", pool)
    write_round(run, 1, AnnotationState(0, ("Swim/v",), {"Swim/v": (3,)}))
    with pytest.raises(DataError, match=r"round1/state\.json: .*'Swim/v', not in toy"):
        export_round(run.root, 1, "csv", tmp_path / "out", pool, cumulative=True)


def test_export_round_refuses_video_names_that_leave_the_output_folder(tmp_path: Path) -> None:
    video = VideoRecord("../evil", 0, 4, 10, 10, ())
    pool = VideoPool("toy", "train", ("A",), (video,))
    run = RunDir(tmp_path / "run")
    write_round(run, 0, AnnotationState(0, ("../evil",), {"../evil": (1,)}))
    with pytest.raises(DataError, match=r"video name '../evil'.*not a name inside its folder"):
        export_round(run.root, 0, "cvat", tmp_path / "out", pool)
