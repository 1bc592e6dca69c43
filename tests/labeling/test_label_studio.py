"""Label Studio imports (claus_core.labeling.label_studio), on the real exports of a Label Studio
1.23.2 server (tests/fixtures/labelstudio/) and on edited copies of them: 1-based frames and
percent boxes, which annotation counts, region lifespans, and every refused export (the error
names the file, the task and the frame, and the import saves nothing)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from labeling_support import LS_FIXTURES, ls_fixture, write_json

from claus_core.data.types import DataError, Tube, VideoPool, VideoRecord
from claus_core.export import to_label_studio_json
from claus_core.labeling import LabelProject, RoundAnnotations, rounds
from claus_core.labeling.annotations import training_record
from claus_core.labeling.label_studio import read_label_studio

BB_G07 = (
    "Basketball/v_Basketball_g07_c04"  # task 1: 101 frames, 340 x 256; asked 1, 29, 36, 66, 100
)
HR_G03 = "HorseRiding/v_HorseRiding_g01_c03"  # task 2 (8 in export_json.json)
BIKING = "Biking/v_Biking_g01_c01"  # task 3 (9): 151 frames, 340 x 256
HR_G02 = "HorseRiding/v_HorseRiding_g01_c02"  # task 4 (10)
BB_G01 = "Basketball/v_Basketball_g01_c01"  # task 5: 141 frames, 320 x 240; asked 34, 65


def read(project: LabelProject, path: Path, fmt: str | None = None) -> RoundAnnotations:
    return rounds.read_round_files(project, 0, [path], fmt)


def test_a_format_that_is_not_the_file_s_is_refused(project: LabelProject) -> None:
    """Issue 26 (3): an explicit --format must be the export's own."""
    for name, wrong, right in (("round0_export_json.json", "labelstudio-json-min", "labelstudio-json"),
                               ("round0_export_json_min.json", "labelstudio-json", "labelstudio-json-min")):  # fmt: skip
        with pytest.raises(DataError, match=f"--format {wrong}, but the file is a {right} export"):
            read(project, LS_FIXTURES / name, fmt=wrong)


def sequence(payload: list[dict[str, Any]], task: int, annotation: int = 0) -> list[dict]:
    """The key frames of the first region of a JSON export's task (by task id)."""
    (found,) = [t for t in payload if t["id"] == task]
    return found["annotations"][annotation]["result"][0]["value"]["sequence"]


def refused(project: LabelProject, path: Path, match: str) -> None:
    """``import_round`` of ``path`` raises DataError matching ``match`` and saves nothing."""
    with pytest.raises(DataError, match=match):
        rounds.import_round(project, 0, [path])
    assert not project.annotations_path(0).exists()


def where(path: Path, task: int, name: str, annotation: int | None = None) -> str:
    """The regex of the start of a message about ``task`` of ``path``."""
    text = f"{path}, task {task} ({name})"
    if annotation is not None:
        text += f", annotation {annotation}, region 0"
    return re.escape(text)


# ---- the real exports ---------------------------------------------------------------------


def test_round0_json_and_json_min_exports_import_to_the_same_annotations(
    project: LabelProject,
) -> None:
    full = read(project, LS_FIXTURES / "round0_export_json.json")
    minimal = read(project, LS_FIXTURES / "round0_export_json_min.json")
    assert (full.format, minimal.format) == ("labelstudio-json", "labelstudio-json-min")
    assert full.warnings == minimal.warnings == ()
    assert list(full.videos) == [BB_G07, HR_G03, BIKING, HR_G02, BB_G01]
    assert set(minimal.videos) == set(full.videos)
    for name, video in full.videos.items():
        assert minimal.videos[name].to_dict() == video.to_dict(), name


def test_label_studio_frames_are_one_based_and_boxes_percent_of_the_video(
    project: LabelProject,
) -> None:
    imported = read(project, LS_FIXTURES / "round0_export_json.json")
    # Task 5 (320 x 240): one key frame, frame 35 (1-based) = frame 34 here, enabled false, at
    # x 54.6875 %, y 34.1667 %, w 13.4375 %, h 40 %: x = 54.6875 * 320 / 100 = 175,
    # y = 34.1667 * 240 / 100 = 82, w = 13.4375 * 3.2 = 43, h = 40 * 2.4 = 96
    (track,) = imported.videos[BB_G01].tracks
    assert track.label == "Basketball"
    assert track.keys == (34,)
    assert track.spans == ((34, 35),)  # a disabled last key frame: shown on it alone
    np.testing.assert_allclose(track.boxes, [[175.0, 82.0, 43.0, 96.0]], rtol=1e-12)
    # Task 3 (340 x 256): key frames 4, 19, 21, 22, 70, 99, 121, 144 (1-based); the one at 19
    # is x 51.25 %, y 17.500001 %, w 20.3125 %, h 47.083336 %: x = 51.25 * 3.4 = 174.25,
    # y = 17.500001192 * 2.56 = 44.800003, w = 20.3125 * 3.4 = 69.0625, h = 47.083336 * 2.56
    # = 120.533340
    (track,) = imported.videos[BIKING].tracks
    assert track.keys == (3, 18, 20, 21, 69, 98, 120, 143)
    np.testing.assert_allclose(track.boxes[1], [174.25, 44.800003, 69.0625, 120.53334], rtol=1e-7)
    assert track.spans == ((3, 144),)  # 1-based 4..144, the last key frame disabled


def test_label_studio_boxes_match_the_ground_truth_they_were_drawn_from(
    project: LabelProject, mini_pool: VideoPool
) -> None:
    # the server's annotations were drawn from the real boxes (simulate.py): same pixels back
    imported = read(project, LS_FIXTURES / "round0_export_json.json")
    for name, video in imported.videos.items():
        truth = mini_pool[name]
        for track in video.tracks:
            for frame, got in zip(track.keys, track.boxes, strict=True):
                x, y, w, h = truth.tubes[0].box_at(frame)
                x1, y1 = min(x + w, truth.width), min(y + h, truth.height)
                np.testing.assert_allclose(got, [x, y, x1 - x, y1 - y], atol=1e-3)


def test_asked_frames_without_a_box_are_no_action_and_cost_nothing(project: LabelProject) -> None:
    video = read(project, LS_FIXTURES / "round0_export_json.json").videos[BB_G07]
    # the region runs 1-based 30..37 (0-based 29..36): asked 1, 66, 100 are outside it
    assert video.asked == video.annotated == (1, 29, 36, 66, 100)
    assert video.empty() == (1, 66, 100)
    assert [video.boxes_on(f) for f in video.annotated] == [0, 1, 1, 0, 0]
    assert video.cost() == 2
    assert video.extra == ()


def test_a_key_frame_not_asked_for_is_annotated_extra_and_paid_for(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = ls_fixture("round0_export_json.json")
    items = sequence(payload, 1)
    items.insert(1, {**items[0], "frame": 34})  # 1-based 34 = frame 33, between 30 and 37
    video = read(project, write_json(tmp_path / "export.json", payload)).videos[BB_G07]
    assert video.annotated == (1, 29, 33, 36, 66, 100)
    assert video.extra == (33,)
    assert video.tracks[0].keys == (29, 33, 36)
    assert video.cost() == 3


def test_a_video_missing_from_the_file_is_not_annotated(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = [t for t in ls_fixture("round0_export_json.json") if t["id"] != 5]
    path = write_json(tmp_path / "export.json", payload)
    imported = read(project, path)
    assert BB_G01 not in imported.videos
    assert len(imported.videos) == 4
    assert imported.warnings == (
        f"{path}: 1 videos of round 0 not annotated in this file ('{BB_G01}', ...)",
    )


# ---- which annotation counts ----------------------------------------------------------------


def test_the_later_of_two_annotations_counts(project: LabelProject) -> None:
    # task 7: annotation 8 (later) moved the first key frame to x 52.875 %: 52.875 * 3.4 = 179.775
    for name in ("export_json.json", "export_json_min.json"):
        (track,) = read(project, LS_FIXTURES / name).videos[BB_G07].tracks
        assert track.boxes[0][0] == pytest.approx(179.775), name


def test_a_ground_truth_annotation_counts_over_a_later_one_in_json(
    project: LabelProject, tmp_path: Path
) -> None:
    # task 8: annotation 9 (ground truth, five key frames) and annotation 10 (empty). In the
    # server's file, marking 9 as ground truth updated it after 10 was made; move 10 later still
    # so that only the ground_truth flag can make 9 count
    real = read(project, LS_FIXTURES / "export_json.json").videos[HR_G03]
    payload = ls_fixture("export_json.json")
    (task,) = [t for t in payload if t["id"] == 8]
    assert [(a["id"], a["ground_truth"], a["result"] == []) for a in task["annotations"]] == [
        (9, True, False),
        (10, False, True),
    ]
    task["annotations"][1]["updated_at"] = "2026-12-01T14:00:00.000000Z"
    edited = read(project, write_json(tmp_path / "export.json", payload)).videos[HR_G03]
    for video in (real, edited):
        (track,) = video.tracks
        assert track.keys == (7, 40, 52, 54, 78)
        assert video.empty() == ()


def test_json_min_cannot_see_ground_truth_so_the_latest_counts_with_a_warning(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = ls_fixture("export_json_min.json")
    rows = [r for r in payload if r["id"] == 8]
    assert [(r["annotation_id"], "box" in r) for r in rows] == [(10, False), (9, True)]
    rows[0]["updated_at"] = "2026-12-01T14:00:00.000000Z"  # the empty one, now the latest
    path = write_json(tmp_path / "export_min.json", payload)
    imported = read(project, path)
    video = imported.videos[HR_G03]
    assert video.tracks == ()
    assert video.empty() == (7, 40, 52, 54, 78)
    assert (
        f"{path}, task 8 ({HR_G03}): 2 annotations; JSON_MIN carries no ground_truth flag, so "
        "the latest counts (export JSON to honour a ground-truth annotation)"
    ) in imported.warnings


def test_a_cancelled_annotation_is_ignored_and_its_task_not_annotated(
    project: LabelProject,
) -> None:
    path = LS_FIXTURES / "export_json.json"
    imported = read(project, path)
    assert BIKING not in imported.videos  # task 9: its only annotation was cancelled
    assert f"{path}, task 9 ({BIKING}): 1 cancelled (skipped) annotations ignored" in (
        imported.warnings
    )
    assert BIKING not in read(project, LS_FIXTURES / "export_json_min.json").videos  # no row


def test_predictions_alone_are_not_an_annotation(project: LabelProject) -> None:
    for name in ("export_json.json", "export_json_min.json"):
        path = LS_FIXTURES / name
        imported = read(project, path)
        assert HR_G02 not in imported.videos, name  # task 10: predictions only
        assert (
            f"{path}, task 10 ({HR_G02}): no annotation (predictions alone do not count): "
            "not annotated"
        ) in imported.warnings
        assert sorted(imported.videos) == [BB_G07, HR_G03]


# ---- region lifespans ---------------------------------------------------------------------


def test_a_disabled_key_frame_hides_the_region_until_the_next_key_frame(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = ls_fixture("round0_export_json.json")
    item = sequence(payload, 1)[0]
    # 1-based 2 (disabled), 31 (enabled), 41 (disabled) = frames 1, 30, 40: shown on 1, then
    # hidden until 30, interpolated 30 -> 40, hidden after 40. Boxes (340 x 256): x 10 / 20 /
    # 40 % = 34 / 68 / 136 px; y 10 % = 25.6, w 10 % = 34, h 10 % = 25.6 px
    sequence(payload, 1)[:] = [
        {**item, "frame": 2, "enabled": False, "x": 10, "y": 10, "width": 10, "height": 10},
        {**item, "frame": 31, "enabled": True, "x": 20, "y": 10, "width": 10, "height": 10},
        {**item, "frame": 41, "enabled": False, "x": 40, "y": 10, "width": 10, "height": 10},
    ]
    video = read(project, write_json(tmp_path / "export.json", payload)).videos[BB_G07]
    (track,) = video.tracks
    assert track.spans == ((1, 2), (30, 41))
    # keys: the key frames 1, 30, 40 and the asked frame shown, 36 (asked 29 is hidden)
    assert track.keys == (1, 30, 36, 40)
    # frame 36: 6/10 of the way from 30 (x 68) to 40 (x 136): 68 + 0.6 * 68 = 108.8
    np.testing.assert_allclose(track.boxes[2], [108.8, 25.6, 34.0, 25.6], rtol=1e-9)
    assert video.empty() == (29, 66, 100)
    assert video.extra == (30, 40)


def test_a_last_enabled_key_frame_keeps_the_region_to_the_video_end(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = ls_fixture("round0_export_json.json")
    first = sequence(payload, 1)[0]  # 1-based 30, enabled
    sequence(payload, 1)[:] = [first]
    video = read(project, write_json(tmp_path / "export.json", payload)).videos[BB_G07]
    (track,) = video.tracks
    assert track.spans == ((29, 101),)  # to the last of the 101 frames
    assert track.keys == (29, 36, 66, 100)  # every asked frame from 29 on, at the held box
    np.testing.assert_allclose(track.boxes, [track.boxes[0]] * 4)
    assert video.empty() == (1,)


def test_a_disabled_then_enabled_key_frame_splits_the_training_tube(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = ls_fixture("round0_export_json.json")
    items = sequence(payload, 1)  # 1-based 30 and 37
    items[0]["enabled"], items[1]["enabled"] = False, True
    video = read(project, write_json(tmp_path / "export.json", payload)).videos[BB_G07]
    record, annotated = training_record(project.record(BB_G07), [video], project.config.classes)
    assert record is not None
    # shown on 29 alone, then from 36 to the end: the tool said "absent" on 30..35
    assert [(t.start, t.end) for t in record.tubes] == [(29, 30), (36, 101)]
    assert annotated == (1, 29, 36, 66, 100)


# ---- refused exports ----------------------------------------------------------------------


def test_a_key_frame_outside_the_video_is_refused(project: LabelProject, tmp_path: Path) -> None:
    for frame in (102, 0):  # the video has 101 frames, 1-based 1..101
        payload = ls_fixture("round0_export_json.json")
        sequence(payload, 1)[1]["frame"] = frame
        path = write_json(tmp_path / f"frame{frame}.json", payload)
        refused(
            project,
            path,
            where(path, 1, BB_G07, 1)
            + f": frame {frame} \\(1-based\\) lies outside the video's 101 frames",
        )


def test_a_key_frame_outside_the_video_is_refused_in_json_min(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = ls_fixture("round0_export_json_min.json")
    payload[0]["box"][0]["sequence"][1]["frame"] = 102
    path = write_json(tmp_path / "export_min.json", payload)
    refused(project, path, where(path, 1, BB_G07, 1) + ": frame 102 \\(1-based\\) lies outside")


def test_a_label_not_in_the_project_is_refused(project: LabelProject, tmp_path: Path) -> None:
    payload = ls_fixture("round0_export_json.json")
    payload[0]["annotations"][0]["result"][0]["value"]["labels"] = ["Diving"]
    path = write_json(tmp_path / "export.json", payload)
    refused(
        project, path, where(path, 1, BB_G07, 1) + ": label 'Diving' is not a class of the project"
    )


def test_a_box_partly_outside_the_frame_is_clipped_with_a_warning(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = ls_fixture("round0_export_json.json")
    item = sequence(payload, 1)[0]  # 1-based 30
    item["x"], item["width"] = 90.0, 20.0  # x 306 px, w 68 px: right edge 374 > 340
    path = write_json(tmp_path / "export.json", payload)
    imported = rounds.import_round(project, 0, [path])
    y, h = item["y"] * 2.56, item["height"] * 2.56
    np.testing.assert_allclose(imported.videos[BB_G07].tracks[0].boxes[0], [306, y, 34, h])
    message = (
        f"{path}, task 1 ({BB_G07}), annotation 1, region 0, frame 30: box (x 306.0, y {y:.1f}, "
        f"w 68.0, h {h:.1f}) extends outside the 340x256 frame; clipped to it"
    )
    assert imported.warnings == (message,)
    assert project.annotations(0).warnings == (message,)  # saved with the import


def test_a_box_wholly_outside_the_frame_is_refused(project: LabelProject, tmp_path: Path) -> None:
    payload = ls_fixture("round0_export_json.json")
    sequence(payload, 1)[0]["x"] = 120.0  # x 408 px, beyond the 340 px frame
    path = write_json(tmp_path / "export.json", payload)
    refused(
        project,
        path,
        where(path, 1, BB_G07, 1) + r", frame 30: box \(x 408\.0, .*\) has no area inside the "
        "340x256 frame",
    )


def test_a_task_for_a_video_the_round_did_not_ask_for_is_refused(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = ls_fixture("round0_export_json.json")
    payload[0]["data"]["video_name"] = "Fencing/v_Fencing_g01_c06"  # a project video
    path = write_json(tmp_path / "export.json", payload)
    refused(
        project,
        path,
        re.escape(f"{path}, task 1: video 'Fencing/v_Fencing_g01_c06' was not asked for in this "),
    )


def test_a_task_for_a_video_not_in_the_project_is_refused(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = ls_fixture("round0_export_json.json")
    payload[0]["data"]["video_name"] = "Diving/v_Diving_g01_c01"
    path = write_json(tmp_path / "export.json", payload)
    refused(
        project,
        path,
        re.escape(
            f"{path}, task 1: video 'Diving/v_Diving_g01_c01' is not a video of this project"
        ),
    )


def test_a_task_of_another_round_is_skipped_and_other_frames_refused(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = ls_fixture("round0_export_json.json")
    payload[0]["data"]["claus_round"] = 1  # one Label Studio project for every round
    path = write_json(tmp_path / "round.json", payload)
    imported = read(project, path)
    assert payload[0]["data"]["video_name"] not in imported.videos
    assert len(imported.videos) == len(payload) - 1
    assert f"{path}: tasks of other rounds skipped (1 of round 1)" in imported.warnings
    payload = ls_fixture("round0_export_json.json")
    payload[0]["data"]["frames_to_annotate"] = [2, 30, 37, 67, 99]
    path = write_json(tmp_path / "frames.json", payload)
    refused(
        project,
        path,
        re.escape(f"{path}, task 1: the task asks for frames [2, 30, 37, 67, 99] (1-based) of '")
        + ".*but the round asked for \\[2, 30, 37, 67, 101\\]",
    )


def test_two_tasks_for_one_video_are_refused(project: LabelProject, tmp_path: Path) -> None:
    payload = ls_fixture("round0_export_json.json")
    payload.append({**payload[0], "id": 99})
    path = write_json(tmp_path / "export.json", payload)
    refused(project, path, where(path, 99, BB_G07) + ": a second task for the same video")


def test_a_truncated_json_file_is_refused(project: LabelProject, tmp_path: Path) -> None:
    text = (LS_FIXTURES / "round0_export_json.json").read_text(encoding="utf-8")
    path = tmp_path / "export.json"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    refused(project, path, re.escape(f"{path}: not valid JSON (") + ".*a truncated file\\?")


def test_json_that_is_not_a_list_of_tasks_is_refused(project: LabelProject, tmp_path: Path) -> None:
    path = write_json(tmp_path / "export.json", {"tasks": []})
    refused(project, path, re.escape(f"{path}: a Label Studio export is a JSON list of tasks"))
    path = write_json(tmp_path / "empty.json", [])
    refused(project, path, re.escape(f"{path}: the export holds no task"))


# ---- percent boxes ------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    width=st.integers(16, 1920),
    height=st.integers(16, 1080),
    fractions=st.tuples(*[st.floats(0.0, 1.0)] * 4),
)
def test_pixels_to_label_studio_percent_and_back_round_trip(
    width: int, height: int, fractions: tuple[float, float, float, float]
) -> None:
    # A box in the frame, at least 1 px wide and high, its far edge >= 0.5 px from the border
    fx0, fy0, fw, fh = fractions
    x0, y0 = fx0 * (width - 2), fy0 * (height - 2)
    w = 1 + fw * (width - 1.5 - x0 - 1)
    h = 1 + fh * (height - 1.5 - y0 - 1)
    truth = np.array([x0, y0, w, h])
    name = "Biking/clip"
    record = VideoRecord(name, 0, 3, width, height, (Tube(0, 0, 3, [truth] * 3),))
    pool = VideoPool("toy", "all", ("Biking",), (record,))
    (task,) = to_label_studio_json(pool, {name: [1]}, include_boxes=True)
    result = task.pop("predictions")[0]["result"]
    item = result[0]["value"]["sequence"][0]
    task["annotations"] = [{"id": 1, "result": result, "updated_at": "2026-01-01T00:00:00Z"}]
    imported = read_label_studio(
        [task],
        source="export.json",
        round_index=0,
        videos={name: record},
        classes=("Biking",),
        asked={name: (1,)},
    )
    assert imported.warnings == ()
    (track,) = imported.videos[name].tracks
    assert track.keys == (1,)
    # tubes hold float32 boxes and the export sums x + w in float32 (half an ulp of 1920 is
    # 6e-5 px): pixels within 1e-3 px, and the percent the export wrote exactly back
    np.testing.assert_allclose(track.boxes[0], record.tubes[0].boxes[1], rtol=0, atol=1e-3)
    percent = track.boxes[0] * 100 / np.array([width, height, width, height])
    got = [item["x"], item["y"], item["width"], item["height"]]
    np.testing.assert_allclose(percent, got, rtol=1e-12, atol=1e-12)


def test_a_box_touching_the_right_edge_is_not_reported_outside(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = ls_fixture("round0_export_json.json")
    item = sequence(payload, 5)[0]  # task 5: 320 x 240
    item["x"], item["width"] = 9.090229, 90.909771
    assert item["x"] + item["width"] == 100.0  # exactly at the right edge, in percent
    # in pixels: 9.090229 * 3.2 + 90.909771 * 3.2 = 320.00000000000006 > 320
    imported = read(project, write_json(tmp_path / "export.json", payload))
    assert imported.warnings == ()


def test_a_rotated_box_is_read_unrotated_with_a_warning(
    project: LabelProject, tmp_path: Path
) -> None:
    payload = ls_fixture("round0_export_json.json")
    sequence(payload, 5)[0]["rotation"] = 15
    path = write_json(tmp_path / "export.json", payload)
    imported = read(project, path)
    assert imported.warnings == (
        f"{path}, task 5 ({BB_G01}), annotation 5, region 0, frame 35: rotated box, rotation "
        "ignored",
    )
    np.testing.assert_allclose(imported.videos[BB_G01].tracks[0].boxes, [[175, 82, 43, 96]])


def test_an_import_records_each_file_with_its_sha256_and_the_cost(project: LabelProject) -> None:
    # the import records each file's SHA-256 (what the project was trained from)
    path = LS_FIXTURES / "round0_export_json.json"
    imported = read(project, path)
    assert imported.sources == (
        {"file": str(path.resolve()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
    )
    assert json.loads(imported.to_json())["cost"] == imported.cost() == 2 + 5 + 8 + 5 + 1
