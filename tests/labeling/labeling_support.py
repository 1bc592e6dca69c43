"""Helpers of the labeling tests: fixture paths, and a CVAT "annotator" that writes what CVAT exports.

:func:`cvat_track_shapes` and :func:`cvat_video_xml` redo, in a few lines, what CVAT v2.73.0
does when it exports a video task as *CVAT for video 1.1*: ``get_interpolated_shapes``
(``cvat/apps/dataset_manager/annotation.py`` lines 1146-1217: a box on every frame of a track's
life, ``keyframe="0"`` between key frames, nothing after an ``outside`` key frame, the last box
propagated to the end of the task when it is not outside) and the XML writer of
``formats/cvat.py`` (lines 646-830 and 1014-1200: 2-space indentation, a close tag on its own
line, coordinates written ``{:.2f}``). ``test_cvat.py`` checks them against
``tests/fixtures/cvat/``, which CVAT's own code wrote. :func:`cvat_answer` is the annotator of
the round-trip tests: it takes the XML claus exported for a video and returns CVAT's export after
a person drew the ground-truth boxes as key frames on the asked frames.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from claus_core.data.types import VideoRecord

REPO = Path(__file__).resolve().parents[2]
MINI = REPO / "data" / "ucf101_24_mini"
LS_FIXTURES = REPO / "tests" / "fixtures" / "labelstudio"
CVAT_FIXTURES = REPO / "tests" / "fixtures" / "cvat"
CLASSES = (
    "Basketball",
    "Biking",
    "CliffDiving",
    "Fencing",
    "GolfSwing",
    "HorseRiding",
    "IceDancing",
    "SalsaSpin",
    "SkateBoarding",
)  # the class folders of data/ucf101_24_mini, sorted
CVAT_VIDEO = "Basketball/v_Basketball_g07_c04"  # the video of the CVAT fixtures
CVAT_VIDEO_FIXTURE = CVAT_FIXTURES / "v_Basketball_g07_c04_video_1.1.xml"
CVAT_IMAGES_FIXTURE = CVAT_FIXTURES / "v_Basketball_g07_c04_images_1.1.xml"


def ls_fixture(name: str) -> Any:
    """A fresh copy of a Label Studio fixture (``tests/fixtures/labelstudio/<name>``), to edit."""
    return copy.deepcopy(json.loads((LS_FIXTURES / name).read_text(encoding="utf-8")))


def write_json(path: Path, payload: Any) -> Path:
    path.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return path


def corners(box: Sequence[float], width: int, height: int) -> np.ndarray:  # [4] x0, y0, x1, y1
    """A ``(x, y, w, h)`` box as corners clipped to the ``width x height`` frame."""
    x, y, w, h = (float(v) for v in box)
    return np.clip([x, y, x + w, y + h], 0.0, [width, height, width, height])


def gt_box(video: VideoRecord, frame: int) -> np.ndarray | None:  # [4] x, y, w, h
    """The ground-truth box of the video's (single) actor on ``frame``, clipped to the frame."""
    for tube in video.tubes:
        box = tube.box_at(frame)
        if box is not None:
            x0, y0, x1, y1 = corners(box, video.width, video.height)
            return np.array([x0, y0, x1 - x0, y1 - y0])
    return None


# ---- CVAT ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """A key frame of a CVAT track as CVAT stores it: corners ``(xtl, ytl, xbr, ybr)`` in pixels."""

    frame: int
    corners: tuple[float, float, float, float]
    outside: bool = False


def cvat_track_shapes(keys: Sequence[Key], num_frames: int) -> list[dict[str, Any]]:
    """Every box CVAT exports for a rectangle track (``get_interpolated_shapes``, 2D, whole task):
    ``{"frame", "keyframe", "outside", "points"}`` in frame order."""
    shapes: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for key in sorted(keys, key=lambda k: k.frame):
        shape = {"frame": key.frame, "keyframe": True, "outside": key.outside,
                 "points": [float(v) for v in key.corners]}  # fmt: skip
        if previous is not None and not previous["outside"]:
            distance = shape["frame"] - previous["frame"]  # simple_interpolation, as CVAT has it
            diff = np.subtract(shape["points"], previous["points"])
            for frame in range(previous["frame"] + 1, shape["frame"]):
                offset = (frame - previous["frame"]) / distance
                points = previous["points"] + diff * offset
                shapes.append({"frame": frame, "keyframe": False, "outside": False,
                               "points": points.tolist()})  # fmt: skip
        shapes.append(shape)
        previous = shape
    if previous is not None and not previous["outside"]:  # propagate to the task's end
        for frame in range(previous["frame"] + 1, num_frames):
            shapes.append({**previous, "frame": frame, "keyframe": False})
    first = min(k.frame for k in keys)
    return [s for s in shapes if first <= s["frame"] < num_frames]


def cvat_task_meta(
    name: str,
    size: int,
    width: int,
    height: int,
    source: str,
    labels: Sequence[str],
) -> dict[str, Any]:
    """``meta`` as ``TaskData.meta_for_task`` (``bindings.py`` 1045-1106) gives it for a video
    task with one job (the ids, dates and colors of the fixtures in ``tests/fixtures/cvat/``,
    whose ``make_fixtures.py`` writes them with it)."""
    colors = ("#fa3253", "#33ddff", "#34d1b7", "#ff6037", "#ddff33", "#b83df5", "#f078f0",
              "#2a7dd1", "#ffcc33", "#83e070")  # fmt: skip
    return {
        "task": {
            "id": "12", "name": name, "size": str(size), "mode": "interpolation",
            "overlap": "0", "bugtracker": "",
            "created": "2026-12-01 14:00:00.000000+00:00",
            "updated": "2026-12-01 14:20:00.000000+00:00",
            "subset": "", "start_frame": "0", "stop_frame": str(size - 1), "frame_filter": "",
            "segments": [("segment", {"id": "12", "start": "0", "stop": str(size - 1),
                                      "url": "http://localhost:8080/api/jobs/12"})],
            "owner": {"username": "admin", "email": ""}, "assignee": "",
            "labels": [
                ("label", {"name": label, "color": colors[i % len(colors)], "type": "rectangle",
                           "attributes": []})
                for i, label in enumerate(labels)
            ],
            "original_size": {"width": str(width), "height": str(height)},
            "source": source,
        },
        "dumped": "2026-12-01 14:30:00.000000+00:00",
    }  # fmt: skip


def cvat_video_xml(
    meta: dict[str, Any], tracks: Sequence[tuple[str, str, Sequence[dict[str, Any]]]]
) -> str:
    """A *CVAT for video 1.1* document: ``tracks`` are ``(label, source, shapes)``."""
    out = ['<?xml version="1.0" encoding="utf-8"?>\n<annotations>', "\n  <version>1.1</version>"]

    def pairs(items: Any, level: int) -> None:
        for key, value in items:
            out.append("\n" + "  " * level + f"<{key}>")
            if isinstance(value, dict | list):
                pairs(value.items() if isinstance(value, dict) else value, level + 1)
                out.append("\n" + "  " * level)
            else:
                out.append(escape(value))
            out.append(f"</{key}>")

    out.append("\n  <meta>")
    pairs(meta.items(), 2)
    out.append("\n  </meta>")
    for index, (label, source, shapes) in enumerate(tracks):
        attrs = {"id": str(index), "label": label, "source": source}
        out.append("\n  <track" + "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items()) + ">")
        for shape in shapes:
            x0, y0, x1, y1 = (f"{v:.2f}" for v in shape["points"])
            box = {"frame": str(shape["frame"]), "keyframe": str(int(shape["keyframe"])),
                   "outside": str(int(shape["outside"])), "occluded": "0",
                   "xtl": x0, "ytl": y0, "xbr": x1, "ybr": y1, "z_order": "0"}  # fmt: skip
            out.append("\n    <box" + "".join(f" {k}={quoteattr(v)}" for k, v in box.items()))
            out.append(">\n    </box>")
        out.append("\n  </track>")
    out.append("\n</annotations>\n")
    return "".join(out)


def cvat_answer(claus_xml: str, truth: VideoRecord, class_names: Sequence[str]) -> str:
    """CVAT's *CVAT for video 1.1* export of the task made from ``claus_xml`` (claus's export of
    one video) after a person drew ``truth``'s boxes: per actor with an asked frame, one track
    with a key frame on each asked frame the actor is on and an outside key frame on the next
    frame (label: ``class_names[tube.label]``). The marks track comes back as CVAT stores an uploaded track (``source="file"``, its
    key frames only: ``formats/cvat.py`` 1327-1334, 1510-1512)."""
    root = ET.fromstring(claus_xml)
    task = root.find("meta/task")
    assert task is not None
    name, size = task.findtext("name", ""), int(task.findtext("size", "0"))
    width = int(task.findtext("original_size/width", "0"))
    height = int(task.findtext("original_size/height", "0"))
    labels = [label.findtext("name", "") for label in task.iter("label")]
    marks = next(t for t in root.iter("track") if t.get("label") == "annotate")
    mark_keys = [
        Key(
            int(b.get("frame", "")),
            tuple(float(b.get(c, "")) for c in ("xtl", "ytl", "xbr", "ybr")),
            b.get("outside") == "1",
        )  # fmt: skip
        for b in marks.iter("box")
    ]
    asked = sorted(k.frame for k in mark_keys if not k.outside)
    tracks = [("annotate", "file", cvat_track_shapes(mark_keys, size))]
    for tube in truth.tubes:
        inside = [f for f in asked if tube.start <= f < tube.end]
        if not inside:
            continue
        keys = [Key(f, tuple(corners(tube.box_at(f), width, height))) for f in inside]
        if inside[-1] + 1 < size:
            keys.append(Key(inside[-1] + 1, keys[-1].corners, outside=True))
        tracks.append((class_names[tube.label], "manual", cvat_track_shapes(keys, size)))
    meta = cvat_task_meta(name, size, width, height, task.findtext("source", ""), labels)
    return cvat_video_xml(meta, tracks)


SMALL_VIDEOS = (
    "Basketball/v_Basketball_g01_c01.avi",
    "Biking/v_Biking_g01_c03.avi",
    "Biking/v_Biking_g01_c01.mp4",
    "CliffDiving/v_CliffDiving_g05_c02.avi",
    "HorseRiding/v_HorseRiding_g01_c02.avi",
    "SkateBoarding/v_SkateBoarding_g04_c01.avi",
)
SMALL_CLASSES = ("Basketball", "Biking", "CliffDiving", "HorseRiding", "SkateBoarding")


def small_project(tmp_path: Path, **changes: Any) -> Any:
    """A project of 6 real mini videos (nested ``Class/video`` files, so the simulated annotator
    finds their real boxes) with the smoke training settings: trained rounds in seconds."""
    import shutil

    from claus_core.clustering import ClusterConfig
    from claus_core.config import TrainConfig
    from claus_core.labeling import LabelingConfig, LabelProject
    from claus_core.uncertainty import ScoringConfig

    videos = tmp_path / "videos"
    for file in SMALL_VIDEOS:
        (videos / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MINI / file, videos / file)
    config = LabelingConfig(
        classes=SMALL_CLASSES,
        train=TrainConfig(epochs=1, learning_rate=2e-3),
        scoring=ScoringConfig(n_samples=2),
        cluster=ClusterConfig(k=2),
        **changes,
    )
    return LabelProject.create(tmp_path / "project", videos, config)
