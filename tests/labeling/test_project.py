"""A labeling project's folder (claus_core.labeling.project): the classes file, creating a project
from a videos folder (probing, skipped files, video names), reopening it, and its status."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from labeling_support import CLASSES, LS_FIXTURES, MINI

from claus_core.config import ConfigError
from claus_core.data.types import DataError
from claus_core.files import StoreError
from claus_core.labeling import LabelingConfig, LabelProject, read_classes, rounds

SMALL = MINI / "CliffDiving" / "v_CliffDiving_g05_c02.avi"  # 76 frames, 320 x 240, 25 fps


def classes_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "classes.txt"
    path.write_text(text, encoding="utf-8")
    return path


# ---- read_classes -------------------------------------------------------------------------


def test_read_classes_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = classes_file(
        tmp_path, "# my classes\nBiking  # on a bike\n\n   \n  Ice Dancing\nFencing\n"
    )
    assert read_classes(path) == ("Biking", "Ice Dancing", "Fencing")


def test_read_classes_reads_a_byte_order_mark_and_a_hash_inside_a_name(tmp_path: Path) -> None:
    path = tmp_path / "classes.txt"
    path.write_bytes("\ufeffBiking\nC#\n".encode())  # Notepad's UTF-8, and a '#' not after a space
    assert read_classes(path) == ("Biking", "C#")
    path.write_text("Biking\nBad\x00Name\n")
    with pytest.raises(ConfigError, match="holds a control character"):
        read_classes(path)


def test_read_classes_refuses_an_empty_file(tmp_path: Path) -> None:
    for text in ("", "# only a comment\n\n"):
        path = classes_file(tmp_path, text)
        with pytest.raises(ConfigError, match=re.escape(f"{path}: no action class")):
            read_classes(path)


def test_read_classes_names_both_lines_of_a_duplicate(tmp_path: Path) -> None:
    path = classes_file(tmp_path, "Biking\n# comment\n\nFencing\nBiking # again\n")
    with pytest.raises(
        ConfigError, match=re.escape(f"{path}: class 'Biking' is given twice (lines 1 and 5)")
    ):
        read_classes(path)


def test_read_classes_refuses_the_reserved_name_annotate(tmp_path: Path) -> None:
    path = classes_file(tmp_path, "Biking\nannotate\n")
    with pytest.raises(
        ConfigError, match=re.escape(f"{path}: class 'annotate' is reserved (it marks the asked")
    ):
        read_classes(path)
    with pytest.raises(ConfigError, match="'annotate' is reserved"):
        LabelingConfig(classes=("Biking", "annotate"))


def test_read_classes_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'no.txt'}: classes file not")):
        read_classes(tmp_path / "no.txt")


# ---- creating a project -------------------------------------------------------------------


def test_create_without_a_decodable_video_is_refused_and_leaves_no_folder(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "bad.mp4").write_bytes(b"not a video at all")
    (videos / "notes.txt").write_text("a text file: not a video, not even tried", encoding="utf-8")
    root = tmp_path / "projects" / "p"
    with pytest.raises(
        DataError,
        match=re.escape(f"{videos}: no decodable video (.avi or .mp4) found (1 files skipped: ")
        + "bad.mp4: .*cannot decode",
    ):
        LabelProject.create(root, videos, LabelingConfig(classes=CLASSES))
    assert not root.exists()
    assert not (tmp_path / "projects").exists()  # nor a staging folder beside it


def test_create_skips_a_junk_file_beside_a_real_video_and_says_why(tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "bad.mp4").write_bytes(b"not a video at all")
    shutil.copyfile(SMALL, videos / "clip7.avi")
    project = LabelProject.create(tmp_path / "p", videos, LabelingConfig(classes=CLASSES))
    assert list(project.videos) == ["clip7"]  # a flat folder: the file name, no class folder
    video = project.videos["clip7"]
    assert (video.file, video.num_frames, video.width, video.height, video.fps) == (
        "clip7.avi", 76, 320, 240, 25.0,
    )  # fmt: skip
    (skipped,) = project.skipped
    assert skipped["file"] == "bad.mp4"
    assert str(videos / "bad.mp4") in skipped["reason"]
    assert "cannot decode" in skipped["reason"]
    reopened = LabelProject(project.root)  # what videos.json keeps
    assert reopened.skipped == project.skipped
    assert reopened.videos == project.videos
    assert reopened.video_path("clip7") == (videos / "clip7.avi").resolve()


def test_nested_folders_name_videos_with_their_folder_and_same_names_are_skipped(
    tmp_path: Path,
) -> None:
    videos = tmp_path / "videos"
    (videos / "CliffDiving").mkdir(parents=True)
    shutil.copyfile(SMALL, videos / "CliffDiving" / "dive.avi")
    shutil.copyfile(SMALL, videos / "dive.avi")  # flat: "dive", another name
    shutil.copyfile(SMALL, videos / "dive.mp4")  # same name "dive" as dive.avi
    project = LabelProject.create(tmp_path / "p", videos, LabelingConfig(classes=CLASSES))
    assert list(project.videos) == ["CliffDiving/dive", "dive"]
    assert project.videos["CliffDiving/dive"].file == "CliffDiving/dive.avi"
    assert project.skipped == [{"file": "dive.mp4", "reason": "same name as dive.avi"}]


def test_create_into_an_existing_project_or_a_non_empty_folder_is_refused(
    project_template: Path, tmp_path: Path
) -> None:
    before = (project_template / "project.json").read_bytes()
    with pytest.raises(StoreError, match=f"{project_template}: already a labeling project"):
        LabelProject.create(project_template, MINI, LabelingConfig(classes=CLASSES))
    assert (project_template / "project.json").read_bytes() == before
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.tex").write_text("\\begin{document}", encoding="utf-8")
    with pytest.raises(StoreError, match=f"{busy}: exists and is not empty"):
        LabelProject.create(busy, MINI, LabelingConfig(classes=CLASSES))
    assert [p.name for p in busy.iterdir()] == ["thesis.tex"]


def test_create_under_a_file_or_at_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    """Issue 26 (8): both ended in a bare FileExistsError / NotADirectoryError."""
    (tmp_path / "notes").write_text("x", encoding="utf-8")
    with pytest.raises(StoreError, match=r"notes is a file, not a folder"):
        LabelProject.create(tmp_path / "notes" / "p", MINI, LabelingConfig(classes=CLASSES))
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    with pytest.raises(StoreError, match=r"link: is a symbolic link; name the folder itself"):
        LabelProject.create(tmp_path / "link", MINI, LabelingConfig(classes=CLASSES))
    assert not any((tmp_path / "empty").iterdir()) and (tmp_path / "link").is_symlink()


def test_the_mini_project_holds_every_mini_video_with_its_decoded_size(
    project: LabelProject,
) -> None:
    assert len(project.videos) == 16 and project.skipped == []
    video = project.videos["Basketball/v_Basketball_g07_c04"]  # a re-encoded 340 x 256 clip
    assert (video.file, video.num_frames, video.width, video.height, video.fps) == (
        "Basketball/v_Basketball_g07_c04.mp4", 101, 340, 256, 25.0,
    )  # fmt: skip
    assert project.config.classes == CLASSES
    record = project.record("Basketball/v_Basketball_g07_c04")
    assert (record.label, record.tubes, record.path) == (-1, (), MINI / video.file)


def test_opening_a_folder_that_is_not_a_project_is_refused(tmp_path: Path) -> None:
    (tmp_path / "project.json").write_text(
        json.dumps({"kind": "claus-run", "version": 1, "id": "x", "videos_dir": "", "config": {}}),
        encoding="utf-8",
    )
    with pytest.raises(StoreError, match="not a claus labeling project"):
        LabelProject(tmp_path)


@pytest.mark.parametrize(
    ("file", "edit", "match"),
    [
        ("project.json", lambda d: d.update(videos_dir=5), r"'videos_dir' must be a JSON string"),
        ("videos.json", lambda d: d.update(videos={"a": 1}), r"'videos' must be a JSON array"),
        ("videos.json", lambda d: d.update(skipped=5), r"'skipped' must be a JSON array"),
        ("videos.json", lambda d: d["videos"][0].update(num_frames="x"),
         r"num_frames 'x' has the wrong type"),
        ("videos.json", lambda d: d["videos"][0].update(width=-3), r"width must be positive"),
        ("round0/request.json", lambda d: d.update(frames=[1, 2]),
         r"'frames' must be a JSON object"),
        ("round0/request.json", lambda d: d["frames"].update({"Biking/x": [1]}),
         r"video 'Biking/x' is not one of the project's videos"),
        ("round0/request.json", lambda d: d["frames"].update({"Biking/v_Biking_g01_c03": "ab"}),
         r"video 'Biking/v_Biking_g01_c03' must be a JSON array"),
        ("round0/request.json", lambda d: d["frames"].update({"Biking/v_Biking_g01_c03": [151]}),
         r"frames must be integers in \[0, 151\)"),
    ],
)  # fmt: skip
def test_a_project_file_of_the_wrong_shape_is_named(
    project: LabelProject, file: str, edit: Any, match: str
) -> None:
    """Issue 26 (8): a received project's files of another shape ended in TypeError or
    AttributeError tracebacks, or were taken as they were."""
    path = project.root / file
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(StoreError, match=f"{re.escape(str(path))}: .*{match}"):
        LabelProject(project.root).status()


# ---- rounds and status --------------------------------------------------------------------


def test_the_request_of_round_0_is_read_0_based_and_missing_rounds_are_named(
    project: LabelProject,
) -> None:
    assert project.rounds() == [0]
    assert project.asked(0)["Basketball/v_Basketball_g07_c04"] == (1, 29, 36, 66, 100)
    path = project.round_dir(3) / "request.json"
    with pytest.raises(StoreError, match=re.escape(f"{path}: round 3 does not exist")):
        project.asked(3)


def test_status_counts_a_round_before_and_after_its_import(project: LabelProject) -> None:
    (row,) = project.status()
    assert (row["videos asked"], row["frames asked"], row["videos annotated"], row["boxes"]) == (
        5, 25, 0, 0,
    )  # fmt: skip
    rounds.import_round(project, 0, [LS_FIXTURES / "round0_export_json.json"])
    (row,) = project.status()
    # boxes: Basketball g07 2 + HorseRiding g03 5 + Biking 8 + HorseRiding g02 5 + Basketball
    # g01 1 = 21; no action: Basketball g07 frames 1, 66, 100 and Basketball g01 frame 65
    counts = {k: v for k, v in row.items() if not k.startswith("validation")}
    assert counts == {
        "round": 0,
        "videos asked": 5,
        "frames asked": 25,
        "videos annotated": 5,
        "frames annotated": 25,
        "frames extra": 0,
        "frames no action": 4,
        "boxes": 21,
        "cost so far": 21,
    }


def test_selection_pool_costs_one_unit_per_frame_before_any_box_is_drawn(
    project: LabelProject,
) -> None:
    pool = project.selection_pool(exclude=["Basketball/v_Basketball_g07_c04"])
    assert len(pool) == 15 and "Basketball/v_Basketball_g07_c04" not in pool
    video = pool["Biking/v_Biking_g01_c01"]
    (tube,) = video.tubes
    assert (tube.start, tube.end, video.num_boxes()) == (0, 151, 151)


def test_a_received_project_whose_video_names_leave_its_folders_is_refused(
    project: LabelProject,
) -> None:
    """Issue 26 (5): a video named ``../../../../tmp/x`` in videos.json would make an export or
    a media copy write outside the project; opening the project names the file and the video."""
    path = project.root / "videos.json"
    listing = json.loads(path.read_text())
    first = listing["videos"][0]
    for field, value in (("name", "../../../../tmp/x"), ("file", "/etc/passwd"), ("name", "")):
        changed = {**listing, "videos": [{**first, field: value}, *listing["videos"][1:]]}
        path.write_text(json.dumps(changed))
        with pytest.raises(StoreError, match=r"videos\.json: video .*not a name inside its folder"):
            LabelProject(project.root)
    path.write_text(json.dumps({**listing, "videos": [{"name": "x"}]}))
    with pytest.raises(StoreError, match=r"videos\.json: a video entry of the wrong shape"):
        LabelProject(project.root)


def test_the_csv_export_of_a_project_leaves_the_unknown_class_empty(
    project: LabelProject, tmp_path: Path
) -> None:
    """Issue 26 (7): a project's videos have no class before they are labeled (label -1); the
    CSV gave every one the last class."""
    from claus_core.labeling.rounds import export_round

    (written,) = export_round(project, 0, "csv", tmp_path / "out")
    rows = list(csv.DictReader(written.read_text().splitlines()))
    assert rows and {row["class"] for row in rows} == {""}
