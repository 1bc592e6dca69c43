"""Plain data types shared by every loader, the cost model, the losses and the selection code.

Conventions (used throughout the package):

- frames are 0-based; a tube covers frames ``[start, end)`` (``end`` exclusive, like the
  ``ef`` field of UCF-101-24's ``pyannot.pkl``);
- a box is ``(x, y, w, h)`` in pixels of the video's own ``width x height`` grid, ``x, y``
  the top-left corner; the box covers the pixel columns ``[x, x + w)`` and rows ``[y, y + h)``;
- one box on one frame costs 1 annotation unit (``claus_core.cost``).

::

    VideoPool ── videos: tuple[VideoRecord, ...] ── tubes: tuple[Tube, ...]
                                                     └─ boxes  # [frame, 4] x, y, w, h
    AnnotationState ── videos (selected, in order) ── frames[video] (annotated frame indices)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np


class DataError(ValueError):
    """Malformed or inconsistent input data; the message names the file or video and the problem."""


class MaskSequence(Protocol):
    """Per-frame foreground masks of one video (J-HMDB-21 puppet masks), decoded on demand."""

    num_frames: int
    height: int
    width: int

    def frame(self, index: int) -> np.ndarray:  # [H, W] bool
        ...

    def array(self) -> np.ndarray:  # [frame, H, W] bool
        ...


@dataclass(frozen=True, eq=False)
class Tube:
    """One actor's track: a label and one box per frame over ``[start, end)``."""

    label: int
    start: int
    end: int
    boxes: np.ndarray  # [end - start, 4] float32, x, y, w, h in pixels

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float32)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise DataError(f"tube boxes must have shape [frames, 4], got {boxes.shape}")
        if self.end <= self.start:
            raise DataError(f"tube has end <= start ({self.end} <= {self.start})")
        if len(boxes) != self.end - self.start:
            raise DataError(
                f"tube covers {self.end - self.start} frames [{self.start}, {self.end}) "
                f"but has {len(boxes)} boxes"
            )
        boxes.setflags(write=False)
        object.__setattr__(self, "boxes", boxes)

    @property
    def num_frames(self) -> int:
        return self.end - self.start

    def frames(self) -> range:
        return range(self.start, self.end)

    def box_at(self, frame: int) -> np.ndarray | None:
        """The box ``(x, y, w, h)`` on ``frame``, or None outside the tube."""
        if self.start <= frame < self.end:
            return self.boxes[frame - self.start]
        return None

    def scaled(self, sx: float, sy: float) -> Tube:
        """The same tube in a grid scaled by ``sx`` horizontally and ``sy`` vertically."""
        factor = np.array([sx, sy, sx, sy], dtype=np.float32)
        return Tube(self.label, self.start, self.end, self.boxes * factor)


@dataclass(frozen=True, eq=False)
class VideoRecord:
    """One video: its name (``Class/video`` for UCF-101-24), label, size and GT tubes."""

    name: str
    label: int
    num_frames: int
    width: int
    height: int
    tubes: tuple[Tube, ...]
    path: Path | None = None  # decodable video file, when the user supplied videos
    masks: MaskSequence | None = field(default=None, repr=False)  # J-HMDB-21 puppet masks

    def __post_init__(self) -> None:
        for tube in self.tubes:
            if tube.end > self.num_frames or tube.start < 0:
                raise DataError(
                    f"{self.name}: tube [{tube.start}, {tube.end}) lies outside the video's "
                    f"{self.num_frames} frames"
                )

    def annotated_frames(self) -> np.ndarray:  # [frame] bool: some tube has a box there
        present = np.zeros(self.num_frames, dtype=bool)
        for tube in self.tubes:
            present[tube.start : tube.end] = True
        return present

    def boxes_per_frame(self) -> np.ndarray:  # [frame] int: number of GT boxes on each frame
        counts = np.zeros(self.num_frames, dtype=np.int64)
        for tube in self.tubes:
            counts[tube.start : tube.end] += 1
        return counts

    def num_boxes(self) -> int:
        return int(sum(t.num_frames for t in self.tubes))

    def at_size(self, width: int, height: int) -> VideoRecord:
        """The same video decoded at ``width x height`` pixels: its boxes scaled to that grid.

        A labeling project trains and scores at the detector's input size, so an HD video is
        decoded straight to it (:class:`~claus_core.data.video.VideoFolder` resizes to the
        record's size) instead of being held at its own resolution.
        """
        if self.masks is not None:
            raise DataError(f"{self.name}: a video with segmentation masks keeps its own size")
        sx, sy = width / self.width, height / self.height
        tubes = tuple(tube.scaled(sx, sy) for tube in self.tubes)
        return VideoRecord(self.name, self.label, self.num_frames, width, height, tubes, self.path)


@dataclass(frozen=True, eq=False)
class VideoPool:
    """An ordered set of videos of one dataset split."""

    dataset: str
    split: str
    classes: tuple[str, ...]
    videos: tuple[VideoRecord, ...]

    def __post_init__(self) -> None:
        names = [v.name for v in self.videos]
        if len(set(names)) != len(names):
            raise DataError(f"{self.dataset}/{self.split}: duplicate video names in the pool")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})

    def __len__(self) -> int:
        return len(self.videos)

    def __iter__(self) -> Iterator[VideoRecord]:
        return iter(self.videos)

    def __contains__(self, name: object) -> bool:
        return name in self._index  # type: ignore[attr-defined]

    def __getitem__(self, name: str) -> VideoRecord:
        try:
            return self.videos[self._index[name]]  # type: ignore[attr-defined]
        except KeyError:
            raise KeyError(f"{self.dataset}/{self.split} has no video named {name!r}") from None

    def index(self, name: str) -> int:
        return self._index[name]  # type: ignore[attr-defined]

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.videos]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def labels(self) -> np.ndarray:  # [video] int
        return np.array([v.label for v in self.videos], dtype=np.int64)

    def subset(self, names: Sequence[str]) -> VideoPool:
        return VideoPool(self.dataset, self.split, self.classes, tuple(self[n] for n in names))

    def at_size(self, width: int, height: int) -> VideoPool:
        """Every video at ``width x height`` pixels (:meth:`VideoRecord.at_size`)."""
        videos = tuple(v.at_size(width, height) for v in self.videos)
        return VideoPool(self.dataset, self.split, self.classes, videos)


@dataclass(frozen=True)
class AnnotationState:
    """Which videos are selected and which of their frames carry GT boxes after a round.

    ``videos`` keeps selection order; ``frames[name]`` is a sorted tuple of annotated frame
    indices (0-based). A video may be selected with no annotated frame yet only transiently;
    states written by the selection code always annotate at least one frame per video.
    """

    round: int
    videos: tuple[str, ...]
    frames: Mapping[str, tuple[int, ...]]

    def __post_init__(self) -> None:
        frames = {name: tuple(sorted({int(f) for f in fs})) for name, fs in self.frames.items()}
        if set(frames) != set(self.videos) or len(set(self.videos)) != len(self.videos):
            raise DataError("annotation state: 'frames' must have one entry per selected video")
        for name, fs in frames.items():
            if fs and fs[0] < 0:
                raise DataError(f"annotation state: negative frame index for {name}")
        object.__setattr__(self, "frames", frames)

    @classmethod
    def empty(cls) -> AnnotationState:
        return cls(round=0, videos=(), frames={})

    def num_frames(self) -> int:
        return sum(len(fs) for fs in self.frames.values())

    def merged(self, new_frames: Mapping[str, Sequence[int]], round: int) -> AnnotationState:
        """This state plus ``new_frames`` (new videos appended in the given order)."""
        videos = list(self.videos)
        frames = {k: list(v) for k, v in self.frames.items()}
        for name, fs in new_frames.items():
            if name not in frames:
                videos.append(name)
                frames[name] = []
            frames[name].extend(fs)  # __post_init__ makes them sorted unique ints
        return AnnotationState(round, tuple(videos), {k: tuple(v) for k, v in frames.items()})

    def validate(self, pool: VideoPool) -> None:
        """Raise DataError unless every video is in ``pool`` and every frame inside it."""
        for name in self.videos:
            if name not in pool:
                raise DataError(f"annotation state names video {name!r}, not in {pool.dataset}")
            n = pool[name].num_frames
            bad = [f for f in self.frames[name] if f >= n]
            if bad:
                raise DataError(f"annotation state: {name} has {n} frames, got frames {bad[:5]}")

    def to_json(self) -> str:
        payload = {
            "round": self.round,
            "videos": list(self.videos),
            "frames": {name: list(self.frames[name]) for name in self.videos},
        }
        return json.dumps(payload, indent=1)

    @classmethod
    def from_json(cls, text: str, *, source: str = "annotation state") -> AnnotationState:
        try:
            payload = json.loads(text)
            return cls(
                round=int(payload["round"]),
                videos=tuple(str(v) for v in payload["videos"]),
                frames={str(k): tuple(int(f) for f in v) for k, v in payload["frames"].items()},
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise DataError(f"{source}: not a valid annotation state ({err})") from err


class FrameSource(Protocol):
    """Anything that yields a pool's pixels: decoded real videos or a synthetic renderer.

    ``frames(name)`` returns the whole video in the geometry of ``pool`` (its width and height
    are those of ``pool[name]``, so GT boxes line up with pixels).
    """

    pool: VideoPool

    def frames(self, name: str) -> np.ndarray:  # [frame, H, W, 3] uint8
        ...
