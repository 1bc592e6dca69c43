"""CVAT imports (claus_core.labeling.cvat), on what CVAT v2.73.0's own exporter writes for a mini
video of round 0 (tests/fixtures/cvat/, see its README) in *CVAT for video 1.1* and *CVAT for
images 1.1*, and on edited copies: which frames count as annotated, outside key frames, the
``annotate`` marks, which video a task is, and every refused file (the error names the file,
the track or image and the frame, and the import saves nothing)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from labeling_support import (
    CLASSES,
    CVAT_IMAGES_FIXTURE,
    CVAT_VIDEO,
    CVAT_VIDEO_FIXTURE,
    MINI,
    Key,
    corners,
    cvat_task_meta,
    cvat_track_shapes,
    cvat_video_xml,
)

from claus_core.data.types import DataError, VideoPool
from claus_core.labeling import LabelingConfig, LabelProject, RoundAnnotations, rounds
from claus_core.labeling.annotations import training_record

ASKED = (1, 29, 36, 66, 100)  # round 0's frames of Basketball/v_Basketball_g07_c04 (101 frames)
# The annotator's key frames in the fixtures (as CVAT writes them, "{:.2f}"): 29 and 33, 36
KEY_29 = [176.38, 37.33, 275.19 - 176.38, 256.00 - 37.33]  # xtl, ytl, xbr - xtl, ybr - ytl
KEY_33 = [167.88, 30.93, 275.19 - 167.88, 256.00 - 30.93]


def read(project: LabelProject, path: Path, fmt: str | None = None) -> RoundAnnotations:
    return rounds.read_round_files(project, 0, [path], fmt)


def edited(tmp_path: Path, fixture: Path, *changes: tuple[str, str], name: str = "") -> Path:
    """A copy of ``fixture`` with each ``(old, new)`` replaced (``old`` found exactly once)."""
    text = fixture.read_text(encoding="utf-8")
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / (name or fixture.name)
    path.write_text(text, encoding="utf-8")
    return path


def refused(project: LabelProject, path: Path, match: str) -> None:
    with pytest.raises(DataError, match=match):
        rounds.import_round(project, 0, [path])
    assert not project.annotations_path(0).exists()


def test_the_tests_cvat_writer_reproduces_cvat_own_export_byte_for_byte(
    mini_pool: VideoPool,
) -> None:
    # make_fixtures.py ran CVAT's code on these key frames; the tests' writer must agree
    truth = mini_pool[CVAT_VIDEO]

    def gt(frame: int) -> tuple[float, ...]:
        return tuple(corners(truth.tubes[0].box_at(frame), 340, 256))

    whole = (0.0, 0.0, 340.0, 256.0)
    marks = [Key(f, whole) for f in ASKED]
    marks += [Key(f + 1, whole, outside=True) for f in ASKED if f + 1 < 101]
    player = [Key(29, gt(29)), Key(33, gt(33)), Key(36, gt(36)), Key(64, gt(36), outside=True)]
    meta = cvat_task_meta(
        CVAT_VIDEO, 101, 340, 256, "v_Basketball_g07_c04.mp4", (*CLASSES, "annotate")
    )
    text = cvat_video_xml(
        meta,
        [
            ("annotate", "file", cvat_track_shapes(marks, 101)),
            ("Basketball", "manual", cvat_track_shapes(player, 101)),
        ],
    )
    assert text == CVAT_VIDEO_FIXTURE.read_text(encoding="utf-8")


# ---- CVAT for video 1.1 -------------------------------------------------------------------


def test_video_1_1_key_frames_and_asked_frames_are_annotated_not_interpolated_ones(
    project: LabelProject,
) -> None:
    imported = read(project, CVAT_VIDEO_FIXTURE)
    assert imported.format == "cvat-video"
    assert imported.warnings == ()
    video = imported.videos[CVAT_VIDEO]
    # key frames 29, 33, 36 (33 not asked); 30-32, 34-35 and 37-63 are keyframe="0"
    assert video.annotated == (1, 29, 33, 36, 66, 100)
    assert video.extra == (33,)
    assert video.empty() == (1, 66, 100)
    assert video.cost() == 3
    (track,) = video.tracks
    assert track.label == "Basketball"
    assert track.keys == (29, 33, 36)
    np.testing.assert_allclose(track.boxes, [KEY_29, KEY_33, KEY_33], atol=1e-9)
    # the outside key frame at 64 ends it: shown 29..63
    assert track.spans == ((29, 64),)
    assert np.flatnonzero(track.shown(101)).tolist() == list(range(29, 64))


def test_video_1_1_outside_hides_the_actor_until_it_comes_back(
    project: LabelProject, tmp_path: Path
) -> None:
    # key frames 29, outside 31, 36, outside 40: CVAT writes 29, 30 (kf 0), 31 (outside), then
    # nothing until 36, 37-39 (kf 0), 40 (outside)
    a, b = (100.0, 50.0, 150.0, 200.0), (120.0, 50.0, 170.0, 200.0)
    keys = [Key(29, a), Key(31, a, outside=True), Key(36, b), Key(40, b, outside=True)]
    shapes = cvat_track_shapes(keys, 101)
    assert [(s["frame"], s["keyframe"], s["outside"]) for s in shapes] == [
        (29, True, False), (30, False, False), (31, True, True),
        (36, True, False), (37, False, False), (38, False, False), (39, False, False),
        (40, True, True),
    ]  # fmt: skip
    meta = cvat_task_meta(CVAT_VIDEO, 101, 340, 256, "v.mp4", CLASSES)
    path = tmp_path / "task.xml"
    path.write_text(cvat_video_xml(meta, [("Basketball", "manual", shapes)]), encoding="utf-8")
    video = read(project, path).videos[CVAT_VIDEO]
    (track,) = video.tracks
    assert track.spans == ((29, 31), (36, 40))
    assert track.keys == (29, 36)
    np.testing.assert_allclose(track.boxes, [[100, 50, 50, 150], [120, 50, 50, 150]])
    record, _ = training_record(project.record(CVAT_VIDEO), [video], project.config.classes)
    assert record is not None
    assert [(t.start, t.end) for t in record.tubes] == [(29, 31), (36, 40)]


def test_a_format_that_is_not_the_file_s_is_refused_not_read_as_no_action(
    project: LabelProject,
) -> None:
    """Issue 26 (3): ``--format cvat-images`` on a video 1.1 export (or the reverse) read its
    boxes as none and recorded every asked frame as "no action"."""
    for path, wrong, right in ((CVAT_VIDEO_FIXTURE, "cvat-images", "cvat-video"),
                               (CVAT_IMAGES_FIXTURE, "cvat-video", "cvat-images")):  # fmt: skip
        with pytest.raises(DataError, match=f"--format {wrong}, but the file is a {right} export"):
            read(project, path, fmt=wrong)
        assert read(project, path, fmt=right).format == right


# ---- CVAT for images 1.1 ------------------------------------------------------------------


def test_images_1_1_every_frame_with_a_box_counts_as_annotated(project: LabelProject) -> None:
    imported = read(project, CVAT_IMAGES_FIXTURE)
    assert imported.format == "cvat-images"
    video = imported.videos[CVAT_VIDEO]
    # no key frames in this format: the track's boxes on 29..63 are all annotated (and paid)
    drawn = tuple(range(29, 64))
    assert video.annotated == tuple(sorted({*ASKED, *drawn}))
    assert video.extra == tuple(f for f in drawn if f not in ASKED)  # 33 frames
    assert video.empty() == (1, 66, 100)
    assert video.cost() == 35
    (track,) = video.tracks  # linked frame to frame by overlap
    assert track.keys == drawn
    assert track.spans == ((29, 64),)
    # frame 30, as CVAT interpolated it: xtl 174.25, ytl 35.73, xbr 275.19, ybr 256.00
    np.testing.assert_allclose(track.boxes[1], [174.25, 35.73, 100.94, 220.27], atol=1e-9)
    np.testing.assert_allclose(track.boxes[0], KEY_29, atol=1e-9)


def test_the_annotate_marks_are_not_annotations(project: LabelProject, tmp_path: Path) -> None:
    # both fixtures hold the marks track (label "annotate") CVAT kept from claus's file
    for fixture in (CVAT_VIDEO_FIXTURE, CVAT_IMAGES_FIXTURE):
        assert 'label="annotate"' in fixture.read_text(encoding="utf-8")
        video = read(project, fixture).videos[CVAT_VIDEO]
        assert [t.label for t in video.tracks] == ["Basketball"], fixture.name
    # claus's own export, imported untouched: every asked frame "no action"
    (written,) = [
        p
        for p in rounds.export_round(project, 0, "cvat", tmp_path / "export")
        if p.name == "v_Basketball_g07_c04.xml"
    ]
    video = read(project, written).videos[CVAT_VIDEO]
    assert (video.tracks, video.annotated, video.empty(), video.cost()) == ((), ASKED, ASKED, 0)


# ---- which video ------------------------------------------------------------------------


def test_the_task_is_found_by_its_name_else_by_its_source_file(
    project: LabelProject, tmp_path: Path
) -> None:
    name = f"<name>{CVAT_VIDEO}</name>"
    assert list(read(project, CVAT_VIDEO_FIXTURE).videos) == [CVAT_VIDEO]
    # a task named otherwise: its source, the uploaded file, is the project's file
    path = edited(tmp_path, CVAT_VIDEO_FIXTURE, (name, "<name>round 0, video 3</name>"))
    assert list(read(project, path).videos) == [CVAT_VIDEO]
    # the source's stem is the video's file name without extension (an H.264 copy, say)
    path = edited(
        tmp_path,
        CVAT_VIDEO_FIXTURE,
        (name, "<name>round 0, video 3</name>"),
        ("v_Basketball_g07_c04.mp4</source>", "v_Basketball_g07_c04.mov</source>"),
    )
    assert list(read(project, path).videos) == [CVAT_VIDEO]


def test_a_task_of_no_project_video_is_refused(project: LabelProject, tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        CVAT_VIDEO_FIXTURE,
        (f"<name>{CVAT_VIDEO}</name>", "<name>clip 7</name>"),
        ("v_Basketball_g07_c04.mp4</source>", "clip7.mp4</source>"),
    )
    refused(
        project,
        path,
        re.escape(
            f"{path}: cannot tell which video of the project this task is: its name 'clip 7' is "
            "not a project video and its source file 'clip7.mp4' matches none"
        ),
    )


def test_a_task_of_a_video_the_round_did_not_ask_for_is_refused(
    project: LabelProject, tmp_path: Path
) -> None:
    path = edited(
        tmp_path,
        CVAT_VIDEO_FIXTURE,
        (f"<name>{CVAT_VIDEO}</name>", "<name>Fencing/v_Fencing_g01_c06</name>"),
    )
    refused(
        project,
        path,
        re.escape(f"{path}: video 'Fencing/v_Fencing_g01_c06' was not asked for in round 0"),
    )


# ---- refused files ------------------------------------------------------------------------


def test_a_label_not_in_the_project_is_refused(project: LabelProject, tmp_path: Path) -> None:
    path = edited(
        tmp_path, CVAT_VIDEO_FIXTURE, ('label="Basketball" source', 'label="Diving" source')
    )
    refused(
        project,
        path,
        re.escape(f"{path}, track 1: label 'Diving' is not a class of the project (9 classes)"),
    )


def test_a_frame_outside_the_video_is_refused(project: LabelProject, tmp_path: Path) -> None:
    # the video has 101 frames, 0..100 (CVAT numbers video frames from 0); an outside box there
    # only says the actor has left, and is skipped
    skipped = edited(tmp_path, CVAT_VIDEO_FIXTURE, ('<box frame="64"', '<box frame="101"'))
    assert read(project, skipped).videos
    path = edited(
        tmp_path,
        CVAT_VIDEO_FIXTURE,
        ('<box frame="36" keyframe="1" outside="0" occluded="0" xtl="167.88"',
         '<box frame="101" keyframe="1" outside="0" occluded="0" xtl="167.88"'),
    )  # fmt: skip
    refused(
        project, path, re.escape(f"{path}, track 1: frame 101 lies outside the video's 101 frames")
    )
    path = edited(
        tmp_path,
        CVAT_IMAGES_FIXTURE,
        (
            '<image id="100" name="frame_000100"',
            '<image id="101" name="frame_000101" width="340" height="256">\n'
            '    <box label="Basketball" source="manual" occluded="0" xtl="1" ytl="1" xbr="9" '
            'ybr="9" z_order="0">\n    </box>\n  </image>\n  <image id="100" name="frame_000100"',
        ),
    )
    refused(
        project,
        path,
        re.escape(f"{path}, image frame_000101: frame 101 lies outside the video's 101 frames"),
    )


def test_a_task_of_another_frame_size_has_its_boxes_scaled_with_a_warning(
    project: LabelProject, tmp_path: Path
) -> None:
    size = "<width>340</width>\n        <height>256</height>"
    path = edited(
        tmp_path, CVAT_VIDEO_FIXTURE, (size, "<width>680</width>\n        <height>512</height>")
    )
    imported = read(project, path)
    assert imported.warnings == (
        f"{path}: the task's frames are 680x512, the video's 340x256; boxes scaled to the video",
    )
    (track,) = imported.videos[CVAT_VIDEO].tracks
    # every coordinate times 340 / 680 = 256 / 512 = 0.5
    np.testing.assert_allclose(track.boxes, np.array([KEY_29, KEY_33, KEY_33]) / 2, atol=1e-9)


def test_a_truncated_xml_file_is_refused(project: LabelProject, tmp_path: Path) -> None:
    text = CVAT_VIDEO_FIXTURE.read_text(encoding="utf-8")
    path = tmp_path / "task.xml"
    path.write_text(text[: len(text) // 2], encoding="utf-8")
    refused(project, path, re.escape(f"{path}: not well-formed XML (") + ".*a truncated file\\?")


def test_xml_that_is_not_a_cvat_file_is_refused(project: LabelProject, tmp_path: Path) -> None:
    path = tmp_path / "task.xml"
    path.write_text("<View><Video name='video'/></View>", encoding="utf-8")
    refused(
        project,
        path,
        re.escape(f"{path}: not a CVAT 1.1 file (root <View>, expected <annotations>)"),
    )


def test_a_job_export_without_task_name_or_source_is_refused(
    project: LabelProject, tmp_path: Path
) -> None:
    # a job's meta (bindings.py 926-983): <job> without <name> or <source>, original_size beside
    text = CVAT_VIDEO_FIXTURE.read_text(encoding="utf-8")
    text = re.sub(r"<task>\s*<id>12</id>\s*<name>[^<]*</name>", "<job>\n      <id>12</id>", text)
    text = re.sub(
        r"(\s*<original_size>.*?</original_size>)\s*<source>[^<]*</source>\s*</task>",
        r"\n    </job>\1",
        text,
        flags=re.DOTALL,
    )
    assert "<task>" not in text and "<source>" not in text and "</job>\n      <orig" in text
    path = tmp_path / "job.xml"
    path.write_text(text, encoding="utf-8")
    refused(project, path, re.escape(f"{path}: cannot tell which video of the project"))


def test_two_files_for_one_video_imported_together_are_refused(
    project: LabelProject, tmp_path: Path
) -> None:
    other = edited(
        tmp_path, CVAT_VIDEO_FIXTURE, ("<id>12</id>\n      <name>", "<id>13</id>\n      <name>")
    )
    with pytest.raises(DataError, match=re.escape(f"video '{CVAT_VIDEO}' is annotated in two")):
        rounds.import_round(project, 0, [CVAT_VIDEO_FIXTURE, other])
    assert not project.annotations_path(0).exists()


def test_two_files_for_one_video_the_error_names_both_files(
    project: LabelProject, tmp_path: Path
) -> None:
    other = edited(
        tmp_path, CVAT_VIDEO_FIXTURE, ("<id>12</id>\n      <name>", "<id>13</id>\n      <name>")
    )
    with pytest.raises(DataError) as error:
        rounds.import_round(project, 0, [CVAT_VIDEO_FIXTURE, other])
    assert str(CVAT_VIDEO_FIXTURE) in str(error.value) and str(other) in str(error.value)


@pytest.mark.parametrize(
    ("new", "match"),
    [
        ('xtl="167.88" ytl="30.93" xbr="275.19" ybr="256.00" z_order="0" rotation="abc"',
         r"frame 36: rotation 'abc' is not a number"),
        ('xtl="nan" ytl="30.93" xbr="275.19" ybr="256.00" z_order="0"', r"frame 36: .*must be finite"),
        (f'xtl="{"9" * 5000}" ytl="30.93" xbr="275.19" ybr="256.00" z_order="0"', r"frame 36: .*must be finite"),
    ],
)  # fmt: skip
def test_a_box_attribute_that_is_no_usable_number_names_the_file_and_frame(
    project: LabelProject, tmp_path: Path, new: str, match: str
) -> None:
    """Issue 26 (8): rotation="abc" raised a bare ValueError, a NaN or 5,000-digit coordinate
    went through; each is refused naming the file and the frame."""
    head = '<box frame="36" keyframe="1" outside="0" occluded="0" '
    old = head + 'xtl="167.88" ytl="30.93" xbr="275.19" ybr="256.00" z_order="0"'
    path = edited(tmp_path, CVAT_VIDEO_FIXTURE, (old, head + new))
    refused(project, path, f"{path.name}.*{match}")


def test_a_video_name_with_spaces_around_it_survives_claus_own_cvat_round_trip(
    tmp_path: Path,
) -> None:
    """Issue 26 (9): the importer stripped the task name, so a video named " dive" (its file
    " dive.avi") was "not a project video" when its own export came back."""
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copyfile(MINI / "CliffDiving" / "v_CliffDiving_g05_c02.avi", videos / " dive .avi")
    config = LabelingConfig(classes=CLASSES, tool="cvat")
    project = LabelProject.create(tmp_path / "p", videos, config)
    assert list(project.videos) == [" dive "]
    rounds.select_round(project, videos=1, frames=3, progress=False)
    (xml,) = (project.round_dir(0) / "export").rglob("*.xml")
    rounds.import_round(project, 0, [xml])
    imported = project.annotations(0)
    assert imported is not None and list(imported.videos) == [" dive "]
    assert imported.videos[" dive "].asked == project.asked(0)[" dive "]
