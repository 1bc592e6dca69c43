"""Malformed values in real exports: each is refused with a DataError naming the file and task
(or skipped with a warning where the format allows it), and nothing is saved."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from labeling_support import CVAT_VIDEO_FIXTURE, LS_FIXTURES, ls_fixture, write_json

from claus_core.data.types import DataError
from claus_core.files import StoreError
from claus_core.labeling import LabelingConfig, LabelProject, rounds


def first_region(payload: list[dict[str, Any]]) -> dict[str, Any]:
    return payload[0]["annotations"][0]["result"][0]


def refused(project: LabelProject, payload: Any, tmp_path: Path, match: str) -> None:
    path = write_json(tmp_path / "export.json", payload)
    with pytest.raises(DataError, match=match):
        rounds.import_round(project, 0, [path])
    assert not project.annotations_path(0).exists()


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda p: first_region(p).update(value=None),
            "task 1 .*region 0: a videorectangle needs an object 'value'",
        ),
        (
            lambda p: first_region(p)["value"].pop("sequence"),
            "region 0: a videorectangle needs a non-empty 'sequence'",
        ),
        (
            lambda p: first_region(p)["value"]["sequence"][0].update(frame=None),
            "frame None is not a whole frame number",
        ),
        (
            lambda p: first_region(p)["value"]["sequence"][0].update(frame=True),
            "frame True is not a whole frame number",
        ),
        (
            lambda p: first_region(p)["value"]["sequence"][0].update(frame=4.9),
            "frame 4.9 is not a whole frame number",
        ),
        (
            lambda p: first_region(p)["value"]["sequence"][0].update(enabled="false"),
            "'enabled' is 'false', not true or false",
        ),
        (lambda p: first_region(p)["value"]["sequence"][0].update(rotation="a"), "lacks a numeric"),
        (
            lambda p: first_region(p)["value"].update(framesCount="x"),
            "framesCount 'x' is not a number",
        ),
        (lambda p: first_region(p)["value"].update(labels="Basketball"), "needs exactly one label"),
        (
            lambda p: p[0]["data"].update(frames_to_annotate="2,30"),
            "frames_to_annotate '2,30' is not a list",
        ),
        (lambda p: p[0].update(annotations=None), "'annotations' must be a list of objects"),
    ],
)
def test_a_malformed_value_names_the_file_and_task(project, tmp_path, edit, match) -> None:
    payload = ls_fixture("round0_export_json.json")
    edit(payload)
    refused(project, payload, tmp_path, match)


def test_times_with_and_without_a_zone_compare(project: LabelProject, tmp_path: Path) -> None:
    payload = ls_fixture("round0_export_json.json")
    later = json.loads(json.dumps(payload[0]["annotations"][0]))
    later["id"], later["result"] = 99, []
    later["updated_at"] = "2030-01-01T00:00:00"  # no zone: taken as UTC, so the later one
    payload[0]["annotations"].append(later)
    imported = rounds.read_round_files(project, 0, [write_json(tmp_path / "e.json", payload)])
    assert imported.videos[payload[0]["data"]["video_name"]].tracks == ()


def test_two_json_min_tasks_for_one_video_are_refused(
    project: LabelProject, tmp_path: Path
) -> None:
    rows = json.loads((LS_FIXTURES / "round0_export_json_min.json").read_text())
    twin = dict(rows[0], id=rows[0]["id"] + 1000)  # the tasks file imported twice
    refused(project, [*rows, twin], tmp_path, r"tasks \[.*\] are all for the same video")


def test_a_cvat_frame_size_of_zero_is_refused(project: LabelProject, tmp_path: Path) -> None:
    text = CVAT_VIDEO_FIXTURE.read_text().replace("<width>340</width>", "<width>0</width>", 1)
    path = tmp_path / "task.xml"
    path.write_text(text)
    with pytest.raises(DataError, match=r"<original_size> 0x256 is not a frame size"):
        rounds.import_round(project, 0, [path])


def test_a_project_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    with pytest.raises(StoreError, match="exists and is not a folder"):
        LabelProject.create(tmp_path / "taken", tmp_path, LabelingConfig(classes=("Biking",)))


def test_boxes_of_several_rounds_at_once_are_refused(project: LabelProject, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--boxes with --cumulative"):
        rounds.export_round(
            project, 0, "labelstudio", tmp_path, include_boxes=True, cumulative=True
        )


def test_hostile_export_files_are_named_not_tracebacks(
    project: LabelProject, tmp_path: Path
) -> None:
    """Issue 26 (8): Infinity (OverflowError later), JSON nested 3,000 deep (RecursionError) and
    /dev/zero (read without end) as an import file; each refused naming the file."""
    text = (LS_FIXTURES / "round0_export_json.json").read_text(encoding="utf-8")
    infinite = re.sub(r'"frame": *\d+', '"frame": Infinity', text, count=1)
    cases = [
        ("infinity.json", infinite, "Infinity is not a number an export holds"),
        ("deep.json", "[" * 3000 + "]" * 3000, "nested too deep"),
    ]
    for name, text, match in cases:
        (tmp_path / name).write_text(text)
        with pytest.raises(DataError, match=f"{name}: .*{match}"):
            rounds.import_round(project, 0, [tmp_path / name])
    with pytest.raises(DataError, match="/dev/zero: not a regular file"):
        rounds.import_round(project, 0, [Path("/dev/zero")])
    assert not project.annotations_path(0).exists()


def test_an_export_saved_with_a_byte_order_mark_imports(
    project: LabelProject, tmp_path: Path
) -> None:
    """Issue 26 (8): a file saved with a UTF-8 byte-order mark was "neither JSON nor XML"."""
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + (LS_FIXTURES / "round0_export_json.json").read_bytes())
    assert rounds.import_round(project, 0, [path]).videos


def test_a_json_min_region_that_is_not_in_a_list_is_refused(
    project: LabelProject, tmp_path: Path
) -> None:
    """Issue 26 (3): a JSON_MIN ``box`` holding one region object instead of a list of regions
    was dropped without a word, and its frames became "no action"."""
    rows = json.loads((LS_FIXTURES / "round0_export_json_min.json").read_text())
    row = next(r for r in rows if r["box"])
    row["box"] = row["box"][0]
    refused(project, rows, tmp_path, r"field 'box' holds one region object")
