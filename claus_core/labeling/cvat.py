"""Read CVAT 1.1 XML exports (*CVAT for video 1.1* and *CVAT for images 1.1*) of one video task.

What CVAT writes (its exporter ``cvat/apps/dataset_manager/formats/cvat.py`` and
``bindings.py``, read at CVAT v2.73.0; the fixtures in ``tests/fixtures/cvat/`` follow it):

- **video 1.1**: ``<track id label source>`` elements of ``<box frame keyframe outside occluded
  xtl ytl xbr ybr z_order>``, one box on *every* frame of the track's life: the annotator's key
  frames with ``keyframe="1"``, the frames between them interpolated with ``keyframe="0"``, an
  ``outside="1"`` key frame where the actor leaves, then nothing until it comes back. Frame
  numbers are absolute, 0-based (``start_frame`` 0 and step 1 for a whole video). Tags are not
  written in this format.
- **images 1.1**: one ``<image id name width height>`` per frame (``id`` the frame, ``name``
  ``frame_%06d``), holding ``<box label ... xtl ytl xbr ybr>`` and ``<tag label>``; boxes
  outside are left out, and neither key frames nor track ids are written.
- ``meta/task`` (or ``meta/job`` with ``original_size`` beside it) holds ``name``, ``size``,
  ``original_size`` and ``source`` (the uploaded video file's name).

The task's video: its ``name`` when that is a video of the project, else the video whose file
name is ``source``; otherwise DataError. Frames that count as annotated: the asked frames, and
with video 1.1 every key frame (not outside). Images 1.1 carries no key frames, so *every frame
with a box* counts as annotated (and is paid for): export *CVAT for video 1.1* for sparse frames.
Boxes of images 1.1 are linked into tracks frame to frame by IoU
(:func:`claus_core.labeling.annotations.link_frames`). Boxes of the ``annotate`` label (the
marks of the asked frames, :mod:`claus_core.export`) are not annotations and are skipped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

import numpy as np

from claus_core.data.types import DataError, VideoRecord
from claus_core.export import ANNOTATE_TAG
from claus_core.labeling.annotations import (
    RoundAnnotations,
    Track,
    VideoAnnotations,
    clip_box,
    link_frames,
    make_track,
)

FORMATS = ("cvat-video", "cvat-images")
MARK_LABEL = ANNOTATE_TAG  # claus's marks of the asked frames (claus_core.export)


def parse_xml(text: str, *, source: str) -> ET.Element:
    try:
        return ET.fromstring(text)
    except ET.ParseError as err:
        raise DataError(f"{source}: not well-formed XML ({err}); a truncated file?") from err


def detect_format(root: ET.Element, *, source: str) -> str:
    if root.tag != "annotations":
        raise DataError(
            f"{source}: not a CVAT 1.1 file (root <{root.tag}>, expected <annotations>)"
        )
    if root.find("image") is not None:
        return "cvat-images"
    return "cvat-video"


def task_video(root: ET.Element, videos: Mapping[str, VideoRecord], *, source: str) -> str:
    """The project video a CVAT export is of (module docstring)."""
    meta = root.find("meta")
    task = None if meta is None else meta.find("task")
    if task is None and meta is not None:
        task = meta.find("job")
    name = None if task is None else task.findtext("name") or ""
    # as written (a video name may start or end with a space), then as a person may have typed it
    for candidate in dict.fromkeys(() if name is None else (name, name.strip())):
        if candidate in videos:
            return candidate
    text = "" if meta is None else meta.findtext(".//source") or ""
    for file in dict.fromkeys((text, text.strip())):
        by_file = [n for n, v in videos.items() if v.path is not None and v.path.name == file]
        by_stem = [n for n in videos if PurePosixPath(n).name == PurePosixPath(file).stem]
        for found in (by_file, by_stem):
            if len(found) == 1:
                return found[0]
    file = text.strip()
    raise DataError(
        f"{source}: cannot tell which video of the project this task is: its name {name!r} is not "
        f"a project video and its source file {file!r} matches none (an export of another "
        "project? name the CVAT task as the video, e.g. 'Class/video')"
    )


def _corners(
    box: ET.Element, video: VideoRecord, scale: np.ndarray, where: str, notes: list[str]
) -> np.ndarray:  # [4] x, y, w, h in the video's pixels
    try:
        x0, y0, x1, y1 = (float(box.attrib[k]) for k in ("xtl", "ytl", "xbr", "ybr"))
    except (KeyError, ValueError) as err:
        raise DataError(f"{where}: a box needs numeric xtl, ytl, xbr, ybr ({err})") from err
    if not np.isfinite([x0, y0, x1, y1]).all():
        raise DataError(
            f"{where}: a box's xtl, ytl, xbr, ybr must be finite, got {x0}, {y0}, {x1}, {y1}"
        )
    xywh = np.array([x0, y0, x1 - x0, y1 - y0]) * scale
    return clip_box(xywh, video.width, video.height, where=where, warnings=notes)


def _frame(element: ET.Element, key: str, video: VideoRecord, where: str) -> int:
    try:
        frame = int(element.attrib[key])
    except (KeyError, ValueError):
        raise DataError(f"{where}: <{element.tag}> needs an integer '{key}'") from None
    if not 0 <= frame < video.num_frames:
        raise DataError(
            f"{where}: frame {frame} lies outside the video's {video.num_frames} frames"
        )
    return frame


def _label(element: ET.Element, classes: Sequence[str], where: str) -> str | None:
    label = element.attrib.get("label", "")
    if label == MARK_LABEL:
        return None
    if label not in classes:
        raise DataError(
            f"{where}: label {label!r} is not a class of the project ({len(classes)} classes)"
        )
    return label


def _video_tracks(
    root: ET.Element,
    video: VideoRecord,
    classes: Sequence[str],
    asked: Sequence[int],
    scale: np.ndarray,
    source: str,
    notes: list[str],
) -> tuple[list[Track], set[int]]:
    tracks, drawn = [], set()
    for track in root.iter("track"):
        where = f"{source}, track {track.attrib.get('id')}"
        label = _label(track, classes, where)
        if label is None:
            continue
        shown: dict[int, np.ndarray] = {}
        keys = []
        for box in track.iter("box"):
            if box.attrib.get("outside") == "1":  # the actor leaves: no box, wherever it is
                continue
            frame = _frame(box, "frame", video, where)
            try:
                rotation = float(box.attrib.get("rotation", 0) or 0)
            except ValueError:
                raise DataError(
                    f"{where}, frame {frame}: rotation {box.attrib['rotation']!r} is not a number"
                ) from None
            if rotation != 0:
                notes.append(f"{where}, frame {frame}: rotated box, rotation ignored")
            shown[frame] = _corners(box, video, scale, f"{where}, frame {frame}", notes)
            if box.attrib.get("keyframe", "1") == "1":
                keys.append(frame)
        if not shown or not (set(keys) | set(asked)) & set(shown):
            notes.append(f"{where}: no key frame and no asked frame shown; the track is skipped")
            continue
        tracks.append(make_track(label, shown, keys, asked))
        drawn.update(keys)
    for kind in ("polygon", "polyline", "points", "ellipse", "mask", "skeleton", "cuboid"):
        if root.find(f".//track/{kind}") is not None:
            notes.append(f"{source}: <{kind}> shapes are not boxes; ignored")
    return tracks, drawn


def _image_tracks(
    root: ET.Element,
    video: VideoRecord,
    classes: Sequence[str],
    scale: np.ndarray,
    source: str,
    notes: list[str],
) -> tuple[list[Track], set[int]]:
    per_frame: dict[int, list[tuple[str, np.ndarray]]] = {}
    for image in root.iter("image"):
        where = f"{source}, image {image.attrib.get('name', image.attrib.get('id'))}"
        frame = _frame(image, "id", video, where)
        for box in image.iter("box"):
            label = _label(box, classes, f"{where}, frame {frame}")
            if label is not None:
                per_frame.setdefault(frame, []).append(
                    (label, _corners(box, video, scale, f"{where}, frame {frame}", notes))
                )
    tracks = [make_track(label, shown, list(shown), ()) for label, shown in link_frames(per_frame)]
    return tracks, set(per_frame)


def read_cvat(
    text: str,
    *,
    source: str,
    round_index: int,
    videos: Mapping[str, VideoRecord],
    classes: Sequence[str],
    asked: Mapping[str, Sequence[int]],
    fmt: str | None = None,
    shown_sizes: Mapping[str, tuple[int, int]] | None = None,
) -> RoundAnnotations:
    """The annotations of one CVAT XML export: one video of round ``round_index``.
    ``shown_sizes``: per video, the (width, height) of its H.264 copy, whose pixels are the
    original's (cropped by at most one column and row): a task of that size is not scaled."""
    root = parse_xml(text, source=source)
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown CVAT format {fmt!r}; choose one of {FORMATS}")
    found = detect_format(root, source=source)
    if (
        fmt is not None
        and fmt != found
        and root.find("track" if fmt == "cvat-images" else "image") is not None
    ):
        raise DataError(  # its boxes would all be missed and every asked frame read as "no action"
            f"{source}: --format {fmt}, but the file is a {found} export; import it with --format "
            f"{found}, or without --format"
        )
    fmt = fmt or found
    name = task_video(root, videos, source=source)
    if name not in asked:
        raise DataError(f"{source}: video {name!r} was not asked for in round {round_index}")
    video, notes = videos[name], []
    scale = np.ones(4)
    size = root.find(".//original_size")
    if size is not None:
        try:
            width, height = int(size.findtext("width") or ""), int(size.findtext("height") or "")
        except ValueError:
            raise DataError(f"{source}: <original_size> needs integer width and height") from None
        copy = (shown_sizes or {}).get(name, (video.width, video.height))
        if width < 1 or height < 1:
            raise DataError(f"{source}: <original_size> {width}x{height} is not a frame size")
        if (width, height) not in ((video.width, video.height), copy):
            scale = np.array([video.width / width, video.height / height] * 2)
            notes.append(
                f"{source}: the task's frames are {width}x{height}, the video's "
                f"{video.width}x{video.height}; boxes scaled to the video"
            )
    if fmt == "cvat-video":
        tracks, drawn = _video_tracks(root, video, classes, asked[name], scale, source, notes)
    else:
        tracks, drawn = _image_tracks(root, video, classes, scale, source, notes)
    annotations = VideoAnnotations(
        name, tuple(asked[name]), tuple(set(asked[name]) | drawn), tuple(tracks)
    )
    return RoundAnnotations(round_index, fmt, {name: annotations}, tuple(notes))
