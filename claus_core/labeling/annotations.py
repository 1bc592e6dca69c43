"""Human annotations of one labeling round, in one shape whichever tool drew them.

The paper's oracle (supplementary Section 5.1) draws a box on every actor of each frame CLAUS
asks for; STeW (Section 4.2) then turns those boxes into pseudo-labels between the annotated
frames. In a labeling project the oracle is a person in Label Studio or CVAT, and this module is
what their exports become::

    tool export ──importer──> RoundAnnotations ── videos[name]: VideoAnnotations
                  (label_studio.py, cvat.py)       ├─ asked      frames the round asked for
                                                   ├─ annotated  asked + every frame the
                                                   │             annotator drew a key box on
                                                   └─ tracks     Track: one actor, its key boxes
                                                                 and the spans it is shown on
    every round's VideoAnnotations ──training_record──> VideoRecord (tubes) + annotated frames
                                                        ──> claus_core.losses (STeW targets)

Conventions: frames 0-based, boxes ``(x, y, w, h)`` in pixels of the video's own frame grid,
like :mod:`claus_core.data.types`. A track's ``keys`` are the frames where a box is known
exactly: the tool's key frames, and every asked frame the track is shown on (the box the tool
showed the annotator there, interpolated by the tool). Between keys, a tube's boxes are the
linear interpolation of its keys, the rule both tools apply.

An asked frame with no track shown is **"no action"** (annotated, empty); a frame never asked
and never drawn on is **not annotated**. Cost (:mod:`claus_core.cost`): one unit per box on an
annotated frame, so frames drawn on without being asked are counted too.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from claus_core.data.types import DataError, Tube, VideoRecord

logger = logging.getLogger(__name__)
LINK_IOU = 0.1  # least IoU at which tracks of two rounds are taken for the same actor
EDGE_TOLERANCE = 1e-6  # pixels: a box that far past the frame edge (percent -> pixel rounding)
# is clipped without a warning


@dataclass(frozen=True, eq=False)
class Track:
    """One actor as a tool gave it: a class name, key boxes, and the frame spans it is shown on."""

    label: str
    keys: tuple[int, ...]  # frames with an exact box, ascending
    boxes: np.ndarray  # [key, 4] float64 x, y, w, h in pixels
    spans: tuple[tuple[int, int], ...]  # [start, end) where the tool shows the actor, ascending

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        keys = tuple(int(k) for k in self.keys)
        if len(keys) != len(boxes) or list(keys) != sorted(set(keys)):
            raise DataError(f"track {self.label!r}: keys must be ascending, one box each")
        if not keys:
            raise DataError(f"track {self.label!r}: a track needs at least one key box")
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "spans", tuple((int(a), int(b)) for a, b in self.spans))

    def shown(self, num_frames: int) -> np.ndarray:  # [frame] bool
        shown = np.zeros(num_frames, dtype=bool)
        for start, end in self.spans:
            shown[start:end] = True
        shown[list(self.keys)] = True
        return shown

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "keys": list(self.keys),
            "boxes": np.round(self.boxes, 4).tolist(),
            "spans": [list(span) for span in self.spans],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Track:
        return cls(str(data["label"]), data["keys"], np.array(data["boxes"]), data["spans"])


@dataclass(frozen=True)
class VideoAnnotations:
    """What one round's annotator did on one video."""

    name: str
    asked: tuple[int, ...]  # frames the round asked for
    annotated: tuple[int, ...]  # asked + frames drawn on without being asked
    tracks: tuple[Track, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "asked", tuple(sorted({int(f) for f in self.asked})))
        object.__setattr__(self, "annotated", tuple(sorted({int(f) for f in self.annotated})))
        missing = sorted(set(self.asked) - set(self.annotated))
        if missing:
            raise DataError(f"{self.name}: asked frames {missing[:5]} missing from 'annotated'")

    @property
    def extra(self) -> tuple[int, ...]:
        """Frames annotated without being asked for (kept, and counted in the cost)."""
        asked = set(self.asked)
        return tuple(f for f in self.annotated if f not in asked)

    def boxes_on(self, frame: int) -> int:
        return sum(1 for t in self.tracks if frame in t.keys)

    def empty(self) -> tuple[int, ...]:
        """Annotated frames with no box: "no action" there."""
        return tuple(f for f in self.annotated if self.boxes_on(f) == 0)

    def cost(self) -> int:
        return sum(self.boxes_on(f) for f in self.annotated)

    def to_dict(self) -> dict[str, Any]:
        return {
            "asked": list(self.asked),
            "annotated": list(self.annotated),
            "tracks": [t.to_dict() for t in self.tracks],
        }

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> VideoAnnotations:
        tracks = tuple(Track.from_dict(t) for t in data["tracks"])
        return cls(name, tuple(data["asked"]), tuple(data["annotated"]), tracks)


@dataclass(frozen=True)
class RoundAnnotations:
    """One import: every video of a round's tasks, and what the importer noticed."""

    round: int
    format: str  # "labelstudio-json", "labelstudio-json-min", "cvat-video", "cvat-images"
    videos: Mapping[str, VideoAnnotations]
    warnings: tuple[str, ...] = ()
    sources: tuple[dict[str, str], ...] = field(default=())  # {"file", "sha256"} per file

    def cost(self) -> int:
        return sum(v.cost() for v in self.videos.values())

    def to_json(self) -> str:
        payload = {
            "round": self.round,
            "format": self.format,
            "sources": list(self.sources),
            "warnings": list(self.warnings),
            "cost": self.cost(),
            "videos": {name: v.to_dict() for name, v in self.videos.items()},
        }
        return json.dumps(payload, indent=1)

    @classmethod
    def from_json(cls, text: str, *, source: str) -> RoundAnnotations:
        try:
            data = json.loads(text)
            videos = {n: VideoAnnotations.from_dict(n, v) for n, v in data["videos"].items()}
            return cls(
                int(data["round"]),
                str(data["format"]),
                videos,
                tuple(data["warnings"]),
                tuple(data["sources"]),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise DataError(f"{source}: not a valid imported round ({err})") from err


def clip_box(
    box: Sequence[float], width: int, height: int, *, where: str, warnings: list[str]
) -> np.ndarray:  # [4] x, y, w, h inside the frame
    """A box clipped to the ``width x height`` frame (with a warning); a box of no area inside it
    raises DataError naming ``where``."""
    x, y, w, h = (float(v) for v in box)
    if not np.isfinite([x, y, w, h]).all():
        raise DataError(f"{where}: box {[x, y, w, h]} is not finite")
    x0, y0 = min(max(x, 0.0), width), min(max(y, 0.0), height)
    x1, y1 = min(max(x + w, 0.0), width), min(max(y + h, 0.0), height)
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        raise DataError(
            f"{where}: box (x {x:.1f}, y {y:.1f}, w {w:.1f}, h {h:.1f}) has no area inside "
            f"the {width}x{height} frame"
        )
    moved = np.abs(np.array([x0 - x, y0 - y, x1 - x - w, y1 - y - h]))
    if (moved > EDGE_TOLERANCE).any():
        warnings.append(
            f"{where}: box (x {x:.1f}, y {y:.1f}, w {w:.1f}, h {h:.1f}) extends outside the "
            f"{width}x{height} frame; clipped to it"
        )
    return np.array([x0, y0, x1 - x0, y1 - y0])


def make_track(
    label: str,
    shown: Mapping[int, np.ndarray],
    tool_keys: Sequence[int],
    asked: Sequence[int],
) -> Track:
    """A track from the boxes a tool shows on each frame (``shown``: frame -> ``[4]`` box) and
    its key frames: keys are the tool's keys and the asked frames it is shown on."""
    if not shown:
        raise DataError(f"track {label!r}: the tool shows it on no frame")
    keys = sorted(({int(k) for k in tool_keys} | {int(f) for f in asked}) & set(shown))
    on = np.zeros(max(shown) + 1, dtype=bool)  # [frame]
    on[list(shown)] = True
    return Track(label, tuple(keys), np.array([shown[k] for k in keys]), spans_of(on))


def spans_of(on: np.ndarray) -> tuple[tuple[int, int], ...]:
    """The maximal runs ``[start, end)`` of True in ``on`` (``[frame]`` bool), ascending."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(on, dtype=np.int8), [0]])))
    return tuple((int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True))


def _iou(a: np.ndarray, b: np.ndarray) -> float:  # two [4] x, y, w, h boxes
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def _interpolated(keys: np.ndarray, boxes: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Boxes on ``frames`` ([frame, 4]): linear between keys, held beyond the first and last."""
    return np.stack([np.interp(frames, keys, boxes[:, c]) for c in range(4)], axis=1)


def _link(rounds: Sequence[VideoAnnotations]) -> list[list[Track]]:
    """Tracks of several rounds grouped by actor: a track joins the earlier group of its class
    whose boxes, interpolated to its first key, overlap its first box most (IoU >= LINK_IOU),
    sharing no key with it and taking no other track of the same round."""
    groups: list[list[Track]] = []
    for video in rounds:
        taken: set[int] = set()
        for track in video.tracks:
            best, best_iou = None, LINK_IOU
            for index, group in enumerate(groups):
                if index in taken or group[0].label != track.label:
                    continue
                keys = np.array([k for t in group for k in t.keys])
                if set(keys.tolist()) & set(track.keys):
                    continue
                boxes = np.concatenate([t.boxes for t in group])
                order = np.argsort(keys, kind="stable")
                there = _interpolated(keys[order], boxes[order], np.array([track.keys[0]]))[0]
                iou = _iou(there, track.boxes[0])
                if iou >= best_iou:
                    best, best_iou = index, iou
            if best is None:
                groups.append([track])
                best = len(groups) - 1
            else:
                groups[best].append(track)
            taken.add(best)
    return groups


def _ious(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:  # [4] against [n, 4] -> [n]
    x0, y0 = np.maximum(boxes[:, 0], box[0]), np.maximum(boxes[:, 1], box[1])
    x1 = np.minimum(boxes[:, 0] + boxes[:, 2], box[0] + box[2])
    y1 = np.minimum(boxes[:, 1] + boxes[:, 3], box[1] + box[3])
    inter = np.maximum(x1 - x0, 0.0) * np.maximum(y1 - y0, 0.0)
    union = boxes[:, 2] * boxes[:, 3] + box[2] * box[3] - inter
    return np.divide(inter, union, out=np.zeros(len(boxes)), where=union > 0)


def link_frames(
    per_frame: Mapping[int, Sequence[tuple[str, np.ndarray]]],
) -> list[tuple[str, dict[int, np.ndarray]]]:
    """Boxes given frame by frame without track ids (``frame -> [(label, box)]``) linked into
    tracks: frame after frame, a box joins the track of its class whose last box it overlaps
    most (IoU >= LINK_IOU; of equals, the track started last), one box per track and frame;
    otherwise it starts a track. Each box is compared with every track's last box at once,
    so a file of many boxes links in time linear in its boxes times the tracks."""
    tracks: list[tuple[str, dict[int, np.ndarray]]] = []
    of_label: dict[str, list[int]] = {}  # label -> its tracks' indices, in order
    last: dict[str, np.ndarray] = {}  # label -> [its tracks, 4] each track's last box
    for frame in sorted(per_frame):
        taken: set[int] = set()
        for label, box in per_frame[frame]:
            indices = of_label.setdefault(label, [])
            ious = _ious(box, last[label]) if indices else np.zeros(0)  # [its tracks]
            ious[[k for k, index in enumerate(indices) if index in taken]] = -1.0
            linked = ious.size > 0 and ious.max() >= LINK_IOU
            if linked:
                k = len(ious) - 1 - int(np.argmax(ious[::-1]))  # of equals, the last
                last[label][k] = box
            else:
                k = len(indices)
                indices.append(len(tracks))
                tracks.append((label, {}))
                last[label] = np.vstack([last.get(label, np.zeros((0, 4))), box[None]])
            tracks[indices[k]][1][frame] = box
            taken.add(indices[k])
    return tracks


def _group_tubes(
    group: list[Track], label: int, num_frames: int, annotated: Sequence[int]
) -> list[Tube]:
    """The tubes of one actor: shown from its first to its last shown frame over all rounds,
    except where a round's tool said it was absent between two of that round's keys, and on
    every ``annotated`` frame (of any round) where the actor has no key: a person looked at that
    frame and drew no box of it there (a tool keeps a region shown until told otherwise, so a
    box held from an earlier round must not land on it)."""
    shown_each = [t.shown(num_frames) for t in group]  # each [frame] bool
    any_shown = np.flatnonzero(np.any(shown_each, axis=0))
    shown = np.zeros(num_frames, dtype=bool)
    shown[any_shown[0] : any_shown[-1] + 1] = True
    for track, track_shown in zip(group, shown_each, strict=True):
        inside = np.zeros(num_frames, dtype=bool)
        inside[track.keys[0] : track.keys[-1] + 1] = True
        shown[inside & ~track_shown] = False  # absent in the tool, between its own keys
    shown[list(annotated)] = False
    for track in group:
        shown[list(track.keys)] = True
    keys = np.array([k for t in group for k in t.keys])
    boxes = np.concatenate([t.boxes for t in group])  # [key, 4]
    order = np.argsort(keys, kind="stable")
    keys, boxes = keys[order], boxes[order]
    return [
        Tube(label, start, end, _interpolated(keys, boxes, np.arange(start, end)))
        for start, end in spans_of(shown)
    ]


def training_record(
    video: VideoRecord, rounds: Sequence[VideoAnnotations], classes: Sequence[str]
) -> tuple[VideoRecord | None, tuple[int, ...]]:
    """``video`` with tubes from every round's annotations, and its annotated frames.

    The record's label is the class with the most key boxes (ties: the first in ``classes``),
    and every tube takes it (the detector gives one class per video; other classes are logged);
    a video with no box in any round has no class to learn, so its record is None (its frames
    still count as annotated: "no action" everywhere asked).
    """
    annotated = tuple(sorted({f for r in rounds for f in r.annotated}))
    counts = Counter({t.label: 0 for r in rounds for t in r.tracks})
    for r in rounds:
        for t in r.tracks:
            counts[t.label] += len(t.keys)
    if not counts:
        return None, annotated
    label = max(counts, key=lambda name: (counts[name], -classes.index(name)))
    index = classes.index(label)
    tubes = [
        tube
        for group in _link(rounds)
        for tube in _group_tubes(group, index, video.num_frames, annotated)
    ]
    others = sorted(set(counts) - {label})
    if others:
        logger.warning(
            "%s: boxes of %s besides %r; the detector learns one class per video, so every "
            "tube trains as %r", video.name, others, label, label,
        )  # fmt: skip
    record = VideoRecord(
        video.name, index, video.num_frames, video.width, video.height, tuple(tubes), video.path
    )
    return record, annotated
