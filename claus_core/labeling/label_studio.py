"""Read Label Studio exports (JSON and JSON_MIN) of a labeling round's video tasks.

The formats, as a Label Studio 1.23.2 server writes them (the fixtures in
``tests/fixtures/labelstudio/`` are real exports, made through its REST API):

- **JSON**: a list of tasks ``{"id", "data": {...}, "annotations": [...], "predictions": [...]}``;
  each annotation has ``result`` (regions), ``was_cancelled``, ``ground_truth``,
  ``created_at`` / ``updated_at`` (ISO 8601).
- **JSON_MIN**: one row per annotation: the task's data fields at the top level, ``id`` (the
  task), ``annotation_id``, ``updated_at``, and one key per control tag (``box`` here: the
  ``VideoRectangle``) holding the region values; a row without regions has no such key. It
  carries no ``ground_truth`` flag and no row for a cancelled annotation; a task without an
  annotation has one row without ``annotation_id``.

A ``videorectangle`` region's ``value`` is ``{"sequence", "labels", "framesCount", "duration"}``.
Its ``sequence`` holds key frames ``{"frame" (1-based), "enabled", "x", "y", "width", "height"
(percent of the frame, top-left corner), "rotation", "time"}``. The editor shows the region
from its first key frame on: between a key frame with ``enabled: true`` and the next one, at
the linear interpolation of the two; after a key frame with ``enabled: false`` the region is
hidden until the next key frame (its lifespan ends there); after a last key frame that is
enabled, the region stays at that box to the end of the video.

Which annotation counts: among a task's annotations that were not cancelled, the latest by
``updated_at``, unless some are marked ``ground_truth`` (then the latest of those). A task with
predictions only, or only cancelled annotations, is **not annotated**: its frames are neither
counted in the cost nor trained on. Every frame of a task refers to the task's
``data.video_name``, which must be a video the round asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from claus_core.data.types import DataError, VideoRecord
from claus_core.labeling.annotations import (
    RoundAnnotations,
    Track,
    VideoAnnotations,
    clip_box,
    make_track,
)

FORMATS = ("labelstudio-json", "labelstudio-json-min")


def detect_format(payload: Any, *, source: str) -> str:
    """``labelstudio-json`` (tasks with ``data``) or ``labelstudio-json-min`` (flat rows)."""
    if not isinstance(payload, list):
        raise DataError(
            f"{source}: a Label Studio export is a JSON list of tasks, got a {type(payload).__name__}"
        )
    if not payload:
        raise DataError(f"{source}: the export holds no task")
    first = payload[0]
    if isinstance(first, dict) and isinstance(first.get("data"), dict):
        return "labelstudio-json"
    if isinstance(first, dict) and "video_name" in first:
        return "labelstudio-json-min"
    raise DataError(
        f"{source}: not a Label Studio JSON or JSON_MIN export of claus tasks (the first entry "
        "has neither 'data' nor 'video_name')"
    )


def _time(value: Any, where: str) -> dt.datetime:
    """An ISO 8601 time; one without a zone is taken as UTC (Label Studio writes UTC)."""
    try:
        time = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise DataError(f"{where}: updated_at {value!r} is not an ISO 8601 time") from None
    return time if time.tzinfo is not None else time.replace(tzinfo=dt.UTC)


def _chosen(annotations: Sequence[Any], where: str, notes: list[str]) -> dict[str, Any] | None:
    """The annotation that counts (module docstring), or None."""
    if not isinstance(annotations, list) or not all(isinstance(a, dict) for a in annotations):
        raise DataError(f"{where}: 'annotations' must be a list of objects")
    kept = [a for a in annotations if not a.get("was_cancelled", False)]
    if len(kept) < len(annotations):
        notes.append(
            f"{where}: {len(annotations) - len(kept)} cancelled (skipped) annotations ignored"
        )
    if not kept:
        return None
    truth = [a for a in kept if a.get("ground_truth", False)]
    pool = truth or kept
    if len(pool) == 1:  # nothing to choose between: a hand-written export needs no times
        return pool[0]
    return max(pool, key=lambda a: _time(a.get("updated_at", a.get("created_at")), where))


def _sequence_boxes(
    value: Mapping[str, Any],
    video: VideoRecord,
    shown_size: tuple[int, int],
    where: str,
    notes: list[str],
) -> tuple[dict[int, np.ndarray], list[int]]:
    """The boxes the editor shows on each frame (0-based) of one region, and its key frames.
    Percent is of ``shown_size``, the frames the editor played (the H.264 copy's)."""
    sequence = value.get("sequence")
    if not isinstance(sequence, list) or not sequence:
        raise DataError(f"{where}: a videorectangle needs a non-empty 'sequence'")
    items = []
    for item in sequence:
        if not isinstance(item, dict):
            raise DataError(f"{where}: sequence items must be objects")
        try:
            frame = item["frame"]
            percent = [float(item[k]) for k in ("x", "y", "width", "height")]
            rotation = float(item.get("rotation", 0) or 0)
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(
                f"{where}: sequence item {item!r} lacks a numeric frame/x/y/width/height/rotation "
                f"({err})"
            ) from err
        if isinstance(frame, bool) or not isinstance(frame, int | float) or frame != int(frame):
            raise DataError(f"{where}: frame {frame!r} is not a whole frame number")
        frame = int(frame)
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            raise DataError(f"{where}, frame {frame}: 'enabled' is {enabled!r}, not true or false")
        if not 1 <= frame <= video.num_frames:
            raise DataError(
                f"{where}: frame {frame} (1-based) lies outside the video's {video.num_frames} frames"
            )
        if rotation != 0:
            notes.append(f"{where}, frame {frame}: rotated box, rotation ignored")
        scale = np.array([*shown_size, *shown_size]) / 100.0
        box = clip_box(np.array(percent) * scale, video.width, video.height,
                       where=f"{where}, frame {frame}", warnings=notes)  # fmt: skip
        items.append((frame - 1, box, enabled))
    items.sort(key=lambda i: i[0])
    shown: dict[int, np.ndarray] = {}
    for index, (frame, box, enabled) in enumerate(items):
        shown[frame] = box
        if not enabled:
            continue
        end = items[index + 1][0] if index + 1 < len(items) else video.num_frames
        following = items[index + 1][1] if index + 1 < len(items) else box
        for f in range(frame + 1, end):
            t = (f - frame) / (end - frame)
            shown[f] = (1 - t) * box + t * following
    return shown, [i[0] for i in items]


def _regions(
    result: Any,
    video: VideoRecord,
    shown_size: tuple[int, int],
    classes: Sequence[str],
    asked: Sequence[int],
    where: str,
    notes: list[str],
) -> tuple[list[Track], set[int]]:
    """The tracks of one annotation's regions, and every frame with a key box."""
    if not isinstance(result, list):
        raise DataError(f"{where}: 'result' must be a list of regions")
    tracks, drawn = [], set()
    for position, region in enumerate(result):
        here = f"{where}, region {position}"
        if not isinstance(region, dict):
            raise DataError(f"{here}: a region must be an object")
        if region.get("type", "videorectangle") != "videorectangle":
            notes.append(f"{here}: a {region.get('type')!r} result is not a video box; ignored")
            continue
        if not isinstance(region.get("value"), dict):
            raise DataError(f"{here}: a videorectangle needs an object 'value'")
        tracks_here, keys = _track(region["value"], video, shown_size, classes, asked, here, notes)
        tracks.append(tracks_here)
        drawn.update(keys)
    return tracks, drawn


def _track(
    value: Mapping[str, Any],
    video: VideoRecord,
    shown_size: tuple[int, int],
    classes: Sequence[str],
    asked: Sequence[int],
    where: str,
    notes: list[str],
) -> tuple[Track, list[int]]:
    labels = value.get("labels") or []
    if not isinstance(labels, list) or len(labels) != 1:
        raise DataError(f"{where}: a region needs exactly one label, got {labels!r}")
    label = str(labels[0])
    if label not in classes:
        raise DataError(
            f"{where}: label {label!r} is not a class of the project ({len(classes)} classes)"
        )
    count = value.get("framesCount")
    if count is not None and (not isinstance(count, int | float) or isinstance(count, bool)):
        raise DataError(f"{where}: framesCount {count!r} is not a number")
    if count is not None and int(count) != video.num_frames:
        notes.append(
            f"{where}: Label Studio counted {count} frames, the video has {video.num_frames}; "
            "frames are taken as numbered by Label Studio"
        )
    shown, keys = _sequence_boxes(value, video, shown_size, where, notes)
    return make_track(label, shown, keys, asked), keys


def _video_of(
    name: Any, task: Any, where: str, videos: Mapping[str, VideoRecord], asked: Mapping[str, Any]
) -> str:
    if not isinstance(name, str):
        raise DataError(
            f"{where}: no 'video_name' in the task data; not a task exported by claus label"
        )
    if name not in videos:
        raise DataError(
            f"{where}: video {name!r} is not a video of this project (an export of another project?)"
        )
    if name not in asked:
        raise DataError(f"{where}: video {name!r} was not asked for in this round")
    return name


def task_round(data: Mapping[str, Any]) -> int | None:
    """The round ``claus label select`` wrote into a task's ``data.claus_round`` (None when the
    task carries none, or not a whole number)."""
    written = data.get("claus_round")
    return written if isinstance(written, int) and not isinstance(written, bool) else None


def _other_round(data: Mapping[str, Any], round_index: int, others: dict[int, int]) -> bool:
    """True (and counted) for a task that ``claus label select`` wrote for another round."""
    written = task_round(data)
    if written is not None and written != round_index:
        others[written] = others.get(written, 0) + 1
        return True
    return False


def _check_frames(data: Mapping[str, Any], name: str, asked: Sequence[int], where: str) -> None:
    """The task's frames must be the ones this round asked for."""
    listed = data.get("frames_to_annotate")
    if listed is None:
        return
    if not isinstance(listed, list) or not all(
        isinstance(f, int) and not isinstance(f, bool) for f in listed
    ):
        raise DataError(f"{where}: frames_to_annotate {listed!r} is not a list of frame numbers")
    if sorted(f - 1 for f in listed) != sorted(asked):
        raise DataError(
            f"{where}: the task asks for frames {sorted(listed)} (1-based) of {name!r}, but the "
            f"round asked for {[f + 1 for f in sorted(asked)]} (an export of another round?)"
        )


def read_label_studio(
    payload: Any,
    *,
    source: str,
    round_index: int,
    videos: Mapping[str, VideoRecord],
    classes: Sequence[str],
    asked: Mapping[str, Sequence[int]],
    fmt: str | None = None,
    shown_sizes: Mapping[str, tuple[int, int]] | None = None,
) -> RoundAnnotations:
    """The annotations of round ``round_index`` in a Label Studio export (``payload``: the
    parsed JSON). ``asked``: the frames (0-based) the round asked for, per video;
    ``shown_sizes``: the (width, height) Label Studio played per video (default: the video's).
    Tasks that carry another round in ``data.claus_round`` (one Label Studio project for every
    round exports them all) are skipped. Errors name ``source``, the task and the frame;
    warnings are kept in the result."""
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown Label Studio format {fmt!r}; choose one of {FORMATS}")
    found = detect_format(payload, source=source)
    if fmt is not None and fmt != found:
        raise DataError(
            f"{source}: --format {fmt}, but the file is a {found} export; import it with --format "
            f"{found}, or without --format"
        )
    fmt = found
    notes: list[str] = []
    others: dict[int, int] = {}  # round -> tasks of that round skipped
    chosen: dict[str, tuple[Any, str]] = {}  # video -> (result, where)
    if fmt == "labelstudio-json":
        for position, task in enumerate(payload):
            if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
                raise DataError(f"{source}: entry {position} is not a task with 'data'")
            where = f"{source}, task {task.get('id', position)}"
            if _other_round(task["data"], round_index, others):
                continue
            name = _video_of(task["data"].get("video_name"), task, where, videos, asked)
            _check_frames(task["data"], name, asked[name], where)
            where = f"{where} ({name})"
            if name in chosen:
                raise DataError(f"{where}: a second task for the same video")
            annotation = _chosen(task.get("annotations", []), where, notes)
            if annotation is None:
                notes.append(
                    f"{where}: no annotation (predictions alone do not count): not annotated"
                )
                continue
            chosen[name] = (
                annotation.get("result", []),
                f"{where}, annotation {annotation.get('id')}",
            )
    else:
        rows: dict[str, list[dict[str, Any]]] = {}
        for position, row in enumerate(payload):
            if not isinstance(row, dict):
                raise DataError(f"{source}: entry {position} is not an object")
            where = f"{source}, task {row.get('id', position)}"
            if _other_round(row, round_index, others):
                continue
            name = _video_of(row.get("video_name"), row, where, videos, asked)
            _check_frames(row, name, asked[name], where)
            rows.setdefault(name, []).append(row)
        for name, found in rows.items():
            where = f"{source}, task {found[0].get('id')} ({name})"
            tasks = sorted({str(r.get("id")) for r in found})
            if len(tasks) > 1:
                raise DataError(f"{where}: tasks {tasks} are all for the same video")
            found = [r for r in found if r.get("annotation_id") is not None]
            if not found:
                notes.append(
                    f"{where}: no annotation (predictions alone do not count): not annotated"
                )
                continue
            if len(found) > 1:
                notes.append(
                    f"{where}: {len(found)} annotations; JSON_MIN carries no ground_truth flag, so "
                    "the latest counts (export JSON to honour a ground-truth annotation)"
                )
            row = max(found, key=lambda r: _time(r.get("updated_at", r.get("created_at")), where))
            for key, values in row.items():  # one region not in a list: its boxes would be lost
                if isinstance(values, dict) and "sequence" in values:
                    raise DataError(
                        f"{where}: field {key!r} holds one region object; a JSON_MIN export "
                        "lists its regions ([...])"
                    )
            regions = [
                {"type": "videorectangle", "value": value}
                for key, values in row.items()
                if isinstance(values, list)
                for value in values
                if isinstance(value, dict) and "sequence" in value
            ]
            chosen[name] = (regions, f"{where}, annotation {row.get('annotation_id')}")
    annotated = {}
    for name, (result, where) in chosen.items():
        video = videos[name]
        shown_size = (shown_sizes or {}).get(name, (video.width, video.height))
        tracks, drawn = _regions(result, video, shown_size, classes, asked[name], where, notes)
        annotated[name] = VideoAnnotations(
            name, tuple(asked[name]), tuple(set(asked[name]) | drawn), tuple(tracks)
        )
    if others:
        counts = ", ".join(f"{n} of round {r}" for r, n in sorted(others.items()))
        notes.append(f"{source}: tasks of other rounds skipped ({counts})")
    missing = [name for name in asked if name not in annotated]
    if missing:
        notes.append(
            f"{source}: {len(missing)} videos of round {round_index} not annotated in this file ({missing[0]!r}, ...)"
        )
    return RoundAnnotations(round_index, fmt, annotated, tuple(notes))
