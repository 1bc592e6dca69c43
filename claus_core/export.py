"""Export the frames an active-learning round selected to annotation tools (CVAT, Label Studio, CSV).

The paper's annotation loop (supplementary Section 5.1, Algorithm 1 in Section 4.1) asks an
oracle for boxes on the frames CLAUS selected, round after round, under a per-round budget. In
this library the oracle is the GT of the pool; this module is the bridge to human annotators:
it writes "the frames round r selected, per video" in formats the common tools import.

Frames are 0-based everywhere inside ``claus_core`` (``claus_core.data.types``). Each format
states its own base:

- **CVAT** (``to_cvat_video_xml``): *0-based*, no conversion. A CVAT video task numbers the
  video's frames from 0 (its frames are named ``frame_000000``, ``frame_000001``, ...).
- **Label Studio** (``to_label_studio_json``): *1-based*. The ``frame`` of a ``videorectangle``
  sequence item counts from 1 (the first frame is 1, at ``time = 1 / fps``), so frame ``f`` here
  is ``f + 1`` there, and ``time = (f + 1) / fps``.
- **CSV** (``to_csv``): both columns, ``frame`` (0-based) and ``frame_1based``.

Format decisions
----------------

CVAT -- one *CVAT for video 1.1* XML per video (``mode`` = ``interpolation``), because a CVAT
video task holds exactly one video: create one task per selected video from its video file
(named as the video, e.g. ``Biking/v_Biking_g01_c03``), then *Upload annotations* -> *CVAT
1.1* with that video's XML. CVAT has no "frame to annotate" marker. The selected frames are
marked by one ``<track>`` of the label ``annotate``: a frame-sized box that is a key frame on
each selected frame and ``outside`` on the frame after it, so it shows on exactly the selected
frames (annotators leave it alone; the importer skips it). Frame-level tags would be the
natural mark, but CVAT's 1.1 format carries tags only inside ``<image>`` elements, and
datumaro's ``cvat`` importer (CVAT's dataset framework) refuses an ``<image>`` whose frame
file it cannot find ("Cannot find an image which has name=frame_000041"); tracks it reads
without frame images. The task needs the labels listed in ``meta/task/labels``: one
``rectangle`` label per action class and ``annotate``. With ``include_boxes`` the boxes become
one ``<track>`` per tube with a key frame on each selected frame inside the tube and an
``outside`` key frame right after the last one (CVAT interpolates between key frames, as the
STeW pseudo-labels do between annotated frames).

Label Studio -- one *video object tracking* task per video: ``data.video`` is the video URL
(``video_url_prefix`` + the video name + its extension), ``data.video_name`` the video,
``data.frames_to_annotate`` the selected frames (1-based), ``data.frames_to_annotate_text``
the same as text for the labeling view, ``data.framerate`` the video's frame rate (the
labeling config reads it as ``framerate="$framerate"``: a Label Studio project has one config,
and each task its own rate). With ``include_boxes`` the boxes are **predictions**
(pre-annotations an annotator accepts or corrects, not finished annotations): one
``videorectangle`` result per tube, ``from_name`` = ``box`` (the ``VideoRectangle``),
``to_name`` = ``video``, ``value`` = {``sequence``, ``labels``, ``framesCount``, ``duration``};
each sequence item is {``frame`` (1-based), ``enabled``, ``rotation``, ``x``, ``y``, ``width``,
``height`` (percent of the frame width / height, top-left corner), ``time`` (seconds)}.
``enabled`` is True on every keyframe but the tube's last, where the region's lifespan ends
(as Label Studio's own tracking backends write it). Label Studio plays videos in the browser
and derives frame numbers from ``framerate``: browsers play H.264 MP4 (``claus label
transcode`` writes such copies at each video's own frame rate, every frame kept).

Boxes ``(x, y, w, h)`` (pixels, top-left corner) are clipped to the frame in both tools.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import quote

import numpy as np

from claus_core.data.types import AnnotationState, DataError, VideoPool, VideoRecord
from claus_core.files import StoreError, atomic_write, inside_name
from claus_core.store import ROUND_MARKER, RunDir

logger = logging.getLogger(__name__)

ExportFormat = Literal["cvat", "labelstudio", "csv"]
EXPORT_FORMATS: tuple[str, ...] = ("cvat", "labelstudio", "csv")
ANNOTATE_TAG = "annotate"
DEFAULT_VIDEO_URL_PREFIX = "/data/local-files/?d="
CSV_COLUMNS = ("video", "frame", "frame_1based", "class", "width", "height", "path")


def new_frames(previous: AnnotationState, current: AnnotationState) -> dict[str, tuple[int, ...]]:
    """The frames annotated in ``current`` but not in ``previous``: what one round selected.

    States are cumulative (each round's state is the previous one plus its selection), so a
    frame of ``previous`` missing from ``current`` is an error. Videos keep ``current``'s
    selection order; videos with no new frame are left out.
    """
    for name in previous.videos:
        if name not in current.frames:
            raise DataError(
                f"annotation state round {current.round} lost video {name!r} that round "
                f"{previous.round} had; states must be cumulative"
            )
        lost = sorted(set(previous.frames[name]) - set(current.frames[name]))
        if lost:
            raise DataError(
                f"annotation state round {current.round} lost frames {lost[:5]} of {name!r} "
                f"that round {previous.round} had; states must be cumulative"
            )
    added: dict[str, tuple[int, ...]] = {}
    for name in current.videos:
        before = set(previous.frames.get(name, ()))
        fresh = tuple(f for f in current.frames[name] if f not in before)
        if fresh:
            added[name] = fresh
    return added


def to_cvat_video_xml(
    pool: VideoPool,
    frames: Mapping[str, Sequence[int]],
    *,
    include_boxes: bool = False,
    tag_label: str = ANNOTATE_TAG,
) -> dict[str, str]:
    """One CVAT-for-video-1.1 XML document per video of ``frames`` (video name -> XML text).

    Frame numbers are 0-based, as in CVAT video tasks. The selected frames are marked by track 0
    of the label ``tag_label``; with ``include_boxes`` the boxes on the selected frames are
    emitted as tracks 1, 2, ... (see the module docstring).
    """
    selected = _checked_frames(pool, frames)
    if tag_label in pool.classes:
        raise ValueError(f"tag_label {tag_label!r} is also an action class of {pool.dataset}")
    documents = {}
    for name, video_frames in selected.items():
        video = pool[name]
        root = ET.Element("annotations")
        ET.SubElement(root, "version").text = "1.1"
        meta = ET.SubElement(root, "meta")
        meta.append(_cvat_task_meta(pool, video, tag_label))
        root.append(_cvat_marks(video, video_frames, tag_label))
        if include_boxes:
            for track_id, (tube_index, tube_frames) in enumerate(
                _tube_frames(video, video_frames), start=1
            ):
                root.append(_cvat_track(pool, video, tube_index, tube_frames, track_id))
        ET.indent(root)
        documents[name] = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(
            root, encoding="unicode"
        )
    return documents


def to_label_studio_json(
    pool: VideoPool,
    frames: Mapping[str, Sequence[int]],
    *,
    video_url_prefix: str = DEFAULT_VIDEO_URL_PREFIX,
    video_extension: str | Mapping[str, str] = ".mp4",
    fps: float | Mapping[str, float] = 25.0,
    include_boxes: bool = False,
    model_version: str = "ground-truth",
) -> list[dict[str, Any]]:
    """Label Studio import tasks, one per video of ``frames`` (frames 1-based there).

    ``video_extension`` and ``fps``: one for every video, or one per video name. Import the
    returned list as a JSON file into a project labeled with ``label_studio_config(pool.classes)``.
    With ``include_boxes`` the tubes of ``pool`` become predictions of ``model_version``.
    """
    selected = _checked_frames(pool, frames)
    tasks = []
    for name, video_frames in selected.items():
        video = pool[name]
        rate = float(fps[name] if isinstance(fps, Mapping) else fps)
        if not rate > 0:
            raise ValueError(f"{name}: fps must be > 0, got {rate}")
        extension = (
            video_extension[name] if isinstance(video_extension, Mapping) else video_extension
        )
        one_based = [f + 1 for f in video_frames]
        task: dict[str, Any] = {
            "data": {
                "video": video_url_prefix + quote(name + extension, safe="/"),
                "video_name": name,
                "frames_to_annotate": one_based,
                "frames_to_annotate_text": "Frames to annotate: "
                + ", ".join(str(f) for f in one_based),
                "framerate": rate,
            }
        }
        if include_boxes:
            results = [
                _label_studio_region(pool, video, tube_index, tube_frames, rate)
                for tube_index, tube_frames in _tube_frames(video, video_frames)
            ]
            if results:
                task["predictions"] = [{"model_version": model_version, "result": results}]
        tasks.append(task)
    return tasks


def label_studio_config(classes: Sequence[str], *, framerate: float | str = "$framerate") -> str:
    """Label Studio labeling config: a video, one label per class, a ``VideoRectangle``.

    Names match ``to_label_studio_json``: ``Video`` ``video``, ``VideoRectangle`` ``box``,
    ``Labels`` ``videoLabels``; a header shows ``data.frames_to_annotate_text``. The frame rate
    is each task's ``data.framerate`` by default, or one number for the whole project.
    """
    if not classes:
        raise ValueError("label_studio_config needs at least one class")
    if not isinstance(framerate, str) and not framerate > 0:
        raise ValueError(f"framerate must be > 0, got {framerate}")
    view = ET.Element("View")
    ET.SubElement(view, "Header", {"value": "$frames_to_annotate_text"})
    labels = ET.SubElement(view, "Labels", {"name": "videoLabels", "toName": "video"})
    for name in classes:
        ET.SubElement(labels, "Label", {"value": name})
    ET.SubElement(
        view,
        "Video",
        {
            "name": "video",
            "value": "$video",
            "framerate": framerate if isinstance(framerate, str) else f"{float(framerate)}",
        },
    )
    ET.SubElement(view, "VideoRectangle", {"name": "box", "toName": "video"})
    ET.indent(view)
    return ET.tostring(view, encoding="unicode")


def to_csv(pool: VideoPool, frames: Mapping[str, Sequence[int]]) -> str:
    """One row per (video, frame): ``video, frame, frame_1based, class, width, height, path``.

    ``frame`` is 0-based; ``class`` is empty for a video whose class is not known yet (a labeling
    project's, label -1); ``path`` is the video file when the pool has one, else empty.
    """
    selected = _checked_frames(pool, frames)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, video_frames in selected.items():
        video = pool[name]
        path = "" if video.path is None else str(video.path)
        label = pool.classes[video.label] if video.label >= 0 else ""  # -1: not known yet
        for frame in video_frames:
            writer.writerow((name, frame, frame + 1, label, video.width, video.height, path))
    return buffer.getvalue()


def frames_from_csv(text: str, *, source: str = "CSV") -> dict[str, tuple[int, ...]]:
    """The (video -> sorted 0-based frames) mapping of a ``to_csv`` table."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("video", "frame", "frame_1based") if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(f"{source}: missing columns {missing}")
    frames: dict[str, set[int]] = {}
    for line, row in enumerate(reader, start=2):
        try:
            frame, one_based = int(row["frame"]), int(row["frame_1based"])
        except (TypeError, ValueError) as err:
            raise DataError(f"{source}, line {line}: frame is not an integer ({err})") from err
        if one_based != frame + 1:
            raise DataError(f"{source}, line {line}: frame_1based {one_based} != frame {frame} + 1")
        frames.setdefault(row["video"], set()).add(frame)
    return {name: tuple(sorted(fs)) for name, fs in frames.items()}


def export_round(
    run_dir: Path,
    round_index: int,
    fmt: ExportFormat,
    out: Path,
    pool: VideoPool,
    *,
    cumulative: bool = False,
    include_boxes: bool = False,
    fps: float = 25.0,
    video_url_prefix: str = DEFAULT_VIDEO_URL_PREFIX,
) -> list[Path]:
    """Write the frames round ``round_index`` of a run selected, in ``fmt``, under ``out``.

    The frames are ``state_r - state_{r-1}`` (all of ``state_r`` with ``cumulative``), read
    from ``round<r>/state.json`` of the run store; round 0 is the initial selection. Files:

    - ``cvat``: ``round<r>_cvat/<video name>.xml``, one per video;
    - ``labelstudio``: ``round<r>_labelstudio_tasks.json`` and ``round<r>_labelstudio_config.xml``;
    - ``csv``: ``round<r>_frames.csv``.

    Returns the written paths. A missing or unfinished round, or a state that does not fit
    ``pool``, raises an error naming the file.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {list(EXPORT_FORMATS)}")
    if round_index < 0:
        raise ValueError(f"round_index must be >= 0, got {round_index}")
    run = RunDir(Path(run_dir))
    current = _read_state(run, round_index, pool)
    if cumulative or round_index == 0:
        previous = AnnotationState.empty()
    else:
        previous = _read_state(run, round_index - 1, pool)
    frames = new_frames(previous, current)
    logger.info(
        "round %d: exporting %d frames of %d videos as %s",
        round_index,
        sum(len(fs) for fs in frames.values()),
        len(frames),
        fmt,
    )
    out = Path(out)
    prefix = f"round{round_index}"
    written: list[Path] = []
    if fmt == "cvat":
        folder = out / f"{prefix}_cvat"
        files = {name: folder / _relative_file(name, ".xml") for name in frames}  # check first
        for name, text in to_cvat_video_xml(pool, frames, include_boxes=include_boxes).items():
            written.append(write_text(files[name], text))
    elif fmt == "labelstudio":
        extensions = {n: ".mp4" if pool[n].path is None else pool[n].path.suffix for n in frames}
        tasks = to_label_studio_json(
            pool,
            frames,
            video_url_prefix=video_url_prefix,
            video_extension=extensions,
            fps=fps,
            include_boxes=include_boxes,
        )
        written.append(
            write_text(out / f"{prefix}_labelstudio_tasks.json", json.dumps(tasks, indent=1))
        )
        written.append(
            write_text(
                out / f"{prefix}_labelstudio_config.xml",
                label_studio_config(pool.classes),
            )
        )
    else:
        written.append(write_text(out / f"{prefix}_frames.csv", to_csv(pool, frames)))
    return written


def _read_state(run: RunDir, round_index: int, pool: VideoPool) -> AnnotationState:
    folder = run.round_dir(round_index)
    path = folder / "state.json"
    if not folder.is_dir():
        raise StoreError(f"{folder}: no round {round_index} in run {run.root}")
    if not (folder / ROUND_MARKER).exists():
        raise StoreError(
            f"{folder / ROUND_MARKER}: missing; round {round_index} is not finished, "
            "resume the run before exporting it"
        )
    run.verify_round(round_index)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise StoreError(f"{path}: missing") from None
    state = AnnotationState.from_json(text, source=str(path))
    try:
        state.validate(pool)
    except DataError as err:
        raise DataError(f"{path}: {err}") from err
    return state


def _checked_frames(
    pool: VideoPool, frames: Mapping[str, Sequence[int]]
) -> dict[str, tuple[int, ...]]:
    """``frames`` as sorted unique 0-based tuples, every video in ``pool``, every frame inside
    it; videos without frames are dropped."""
    checked = {}
    for name, video_frames in frames.items():
        if name not in pool:
            raise DataError(f"export: video {name!r} is not in {pool.dataset}/{pool.split}")
        if any(isinstance(f, bool) or int(f) != f for f in video_frames):
            raise DataError(f"export: {name} has non-integer frame numbers")
        values = sorted({int(f) for f in video_frames})
        num_frames = pool[name].num_frames
        bad = [f for f in values if f < 0 or f >= num_frames]
        if bad:
            raise DataError(
                f"export: {name} has {num_frames} frames (0-based 0..{num_frames - 1}), "
                f"got frames {bad[:5]}"
            )
        if values:
            checked[name] = tuple(values)
    return checked


def _tube_frames(video: VideoRecord, frames: Sequence[int]) -> list[tuple[int, list[int]]]:
    """(tube index, the selected frames inside that tube) for every tube with at least one."""
    pairs = []
    for tube_index, tube in enumerate(video.tubes):
        inside = [f for f in frames if tube.start <= f < tube.end]
        if inside:
            pairs.append((tube_index, inside))
    return pairs


def _clipped_corners(video: VideoRecord, tube_index: int, frame: int) -> np.ndarray:
    """Corners ``[x0, y0, x1, y1]`` in pixels of a tube's box on ``frame``, clipped to the frame."""
    box = video.tubes[tube_index].box_at(frame)  # [4] x, y, w, h
    corners = np.array([box[0], box[1], box[0] + box[2], box[1] + box[3]], dtype=np.float64)
    corners = np.clip(corners, 0.0, [video.width, video.height, video.width, video.height])
    if corners[2] <= corners[0] or corners[3] <= corners[1]:
        raise DataError(
            f"{video.name}: tube {tube_index} has a box wholly outside the "
            f"{video.width}x{video.height} frame on frame {frame}"
        )
    return corners


def _cvat_task_meta(pool: VideoPool, video: VideoRecord, tag_label: str) -> ET.Element:
    task = ET.Element("task")
    fields = {
        "id": str(pool.index(video.name)),
        "name": video.name,
        "size": str(video.num_frames),
        "mode": "interpolation",
        "overlap": "0",
        "bugtracker": "",
        "flipped": "False",
        "start_frame": "0",
        "stop_frame": str(video.num_frames - 1),
        "frame_filter": "",
    }
    for key, value in fields.items():
        ET.SubElement(task, key).text = value
    labels = ET.SubElement(task, "labels")
    for name in (*pool.classes, tag_label):
        label = ET.SubElement(labels, "label")
        ET.SubElement(label, "name").text = name
        ET.SubElement(label, "type").text = "rectangle"
        ET.SubElement(label, "attributes")
    size = ET.SubElement(task, "original_size")
    ET.SubElement(size, "width").text = str(video.width)
    ET.SubElement(size, "height").text = str(video.height)
    ET.SubElement(task, "source").text = video.name if video.path is None else video.path.name
    return task


def _cvat_track(
    pool: VideoPool, video: VideoRecord, tube_index: int, frames: list[int], track_id: int
) -> ET.Element:
    label = pool.classes[video.tubes[tube_index].label]
    track = ET.Element("track", {"id": str(track_id), "label": label, "source": "manual"})
    corners = [_clipped_corners(video, tube_index, frame) for frame in frames]
    for frame, frame_corners in zip(frames, corners, strict=True):
        track.append(_cvat_box(frame, frame_corners, outside=False))
    if frames[-1] + 1 < video.num_frames:  # end the track after its last selected frame
        track.append(_cvat_box(frames[-1] + 1, corners[-1], outside=True))
    return track


def _cvat_marks(video: VideoRecord, frames: Sequence[int], label: str) -> ET.Element:
    """Track 0: a frame-sized box shown on exactly the selected ``frames``."""
    track = ET.Element("track", {"id": "0", "label": label, "source": "auto"})
    whole = np.array([0.0, 0.0, video.width, video.height])
    chosen = set(frames)
    for frame in frames:
        track.append(_cvat_box(frame, whole, outside=False))
        if frame + 1 < video.num_frames and frame + 1 not in chosen:
            track.append(_cvat_box(frame + 1, whole, outside=True))
    return track


def _cvat_box(frame: int, corners: np.ndarray, *, outside: bool) -> ET.Element:
    x0, y0, x1, y1 = (f"{v:.2f}" for v in corners)
    return ET.Element(
        "box",
        {
            "frame": str(frame),
            "keyframe": "1",
            "outside": "1" if outside else "0",
            "occluded": "0",
            "xtl": x0,
            "ytl": y0,
            "xbr": x1,
            "ybr": y1,
            "z_order": "0",
        },
    )


def _label_studio_region(
    pool: VideoPool, video: VideoRecord, tube_index: int, frames: list[int], fps: float
) -> dict[str, Any]:
    sequence = []
    for position, frame in enumerate(frames):
        x0, y0, x1, y1 = _clipped_corners(video, tube_index, frame)
        sequence.append(
            {
                "frame": frame + 1,
                "enabled": position < len(frames) - 1,
                "rotation": 0,
                "x": 100.0 * x0 / video.width,
                "y": 100.0 * y0 / video.height,
                "width": 100.0 * (x1 - x0) / video.width,
                "height": 100.0 * (y1 - y0) / video.height,
                "time": (frame + 1) / fps,
            }
        )
    return {
        "id": f"v{pool.index(video.name)}t{tube_index}",
        "from_name": "box",
        "to_name": "video",
        "type": "videorectangle",
        "value": {
            "sequence": sequence,
            "labels": [pool.classes[video.tubes[tube_index].label]],
            "framesCount": video.num_frames,
            "duration": video.num_frames / fps,
        },
    }


def _relative_file(name: str, suffix: str) -> PurePosixPath:
    """A video name (``Class/video``) as a relative file path; names that would leave the
    output folder are refused."""
    path = inside_name(name, what=f"export: video name {name!r}")
    return path.with_name(path.name + suffix)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
