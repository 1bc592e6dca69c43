"""Video decoding with PyAV: whole videos as RGB arrays, exact frame counts, file lookup.

The detector consumes RGB clips of the real UCF-101-24 / J-HMDB-21 videos (supplementary
Section 7.1: 8-frame clips of 224 x 224 pixels). This module turns a video file into the
``[frame, H, W, 3]`` uint8 array the rest of the package uses, and :class:`VideoFolder` is the
:class:`~claus_core.data.types.FrameSource` of a pool whose records carry video paths.

Frame counts are counted by decoding every frame: container metadata is not trusted (the
re-encoded ``.mp4`` files of the real mini set report 0 frames in their stream header).
A missing, unreadable or undecodable file raises :class:`VideoError` naming the path; nothing
returns ``None`` silently except :func:`find_video_file`, whose job is to say "not there".
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from claus_core.data.types import DataError, VideoPool

if TYPE_CHECKING:
    import av

VIDEO_EXTENSIONS = (".avi", ".mp4")


class VideoError(DataError):
    """A video file is missing, unreadable or undecodable; the message names the path."""


@dataclass(frozen=True)
class VideoInfo:
    """What decoding a whole video file found."""

    num_frames: int  # frames actually decoded
    width: int  # decoded frame width in pixels
    height: int  # decoded frame height in pixels
    fps: float  # the container's average frame rate (0.0 when it declares none)


def find_video_file(videos_dir: str | Path, name: str) -> Path | None:
    """The file of video ``name`` (e.g. ``Biking/v_Biking_g01_c03``) under ``videos_dir``.

    Looks for ``<videos_dir>/<Class>/<video>.avi|.mp4`` (UCF-101 layout) and then for the flat
    ``<videos_dir>/<video>.avi|.mp4``; returns None when neither exists. A name that would
    leave ``videos_dir`` (absolute, or with a ``..`` part: annotation files are untrusted)
    raises :class:`DataError` naming it.
    """
    root = Path(videos_dir)
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise DataError(
            f"video name {name!r}: must be a relative path inside the videos folder {root}"
        )
    candidates = [relative]
    if len(relative.parts) > 1:
        candidates.append(Path(relative.name))
    for candidate in candidates:
        for extension in VIDEO_EXTENSIONS:
            path = root / candidate.with_name(candidate.name + extension)
            if path.is_file():
                return path
    return None


def _decode_error(path: Path, err: Exception) -> VideoError:
    return VideoError(f"{path}: cannot decode video ({type(err).__name__}: {err})")


@contextlib.contextmanager
def _open_video(path: Path) -> Iterator[av.video.stream.VideoStream]:
    """The first video stream of ``path``, its container closed on exit."""
    if not path.is_file():
        raise VideoError(f"{path}: video file not found")
    import av  # imported here so that the model and scoring run where PyAV is not installed

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as err:
        raise _decode_error(path, err) from err
    with container:
        if not container.streams.video:
            raise VideoError(f"{path}: the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield stream


def _decode(path: Path, stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame]:
    """Every decoded frame of ``stream``; decoder failures become VideoError naming ``path``."""
    import av

    try:
        yield from stream.container.decode(stream)
    except (av.FFmpegError, OSError, ValueError) as err:
        raise _decode_error(path, err) from err


@functools.lru_cache(maxsize=4096)
def _probe_cached(path: str, modified_ns: int, size_bytes: int) -> VideoInfo:
    count, width, height = 0, 0, 0
    with _open_video(Path(path)) as stream:
        rate = stream.average_rate
        for frame in _decode(Path(path), stream):
            if count == 0:
                width, height = frame.width, frame.height
            count += 1
    if count == 0:
        raise VideoError(f"{path}: no frame could be decoded")
    fps = float(rate) if rate is not None else 0.0
    return VideoInfo(num_frames=count, width=width, height=height, fps=fps)


def probe_video(path: str | Path) -> VideoInfo:
    """Decode ``path`` once and report its exact frame count, frame size and frame rate.

    Results are cached per (path, modification time, size), so probing a pool twice is cheap.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: video file not found")
    stat = path.stat()
    return _probe_cached(str(path), stat.st_mtime_ns, stat.st_size)


def read_video(path: str | Path, *, size: tuple[int, int] | None = None) -> np.ndarray:
    """All frames of ``path`` as RGB: ``[frame, H, W, 3]`` uint8.

    ``size=(height, width)`` resizes every frame (bilinear, libswscale); by default frames keep
    the size of the first decoded frame.
    """
    path = Path(path)
    if size is not None:
        height, width = size
        if height <= 0 or width <= 0:
            raise ValueError(f"size must be (height, width) with positive entries, got {size}")
    frames = list(iter_video(path, size=size))  # each [H, W, 3] uint8
    if not frames:
        raise VideoError(f"{path}: no frame could be decoded")
    return np.stack(frames)  # [frame, H, W, 3]


def iter_video(path: str | Path, *, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """The frames of ``path`` one at a time, RGB ``[H, W, 3]`` uint8 (``size=(height, width)``
    resizes each as it is decoded): memory for one frame, whatever the video's length."""
    path = Path(path)
    with _open_video(path) as stream:
        for frame in _decode(path, stream):
            if size is None:
                size = (frame.height, frame.width)
            yield frame.to_ndarray(format="rgb24", width=size[1], height=size[0])


def read_frames(path: str | Path, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """The frames ``indices`` (0-based) of ``path`` at its own size, ``{index: [H, W, 3]}``
    uint8, decoded in one pass that keeps only those; an index past the end raises VideoError."""
    path = Path(path)
    wanted = {int(i) for i in indices}
    found = {i: f for i, f in enumerate(iter_video(path)) if i in wanted}
    missing = sorted(wanted - set(found))
    if missing:
        raise VideoError(f"{path}: no frame {missing[0]} (0-based) in the video")
    return found


class VideoFolder:
    """FrameSource over decoded video files: ``frames(name)`` reads ``pool[name].path``.

    Frames are returned at the pool record's ``height x width`` (so its GT boxes line up with the
    pixels), and a decoded frame count that differs from the record's ``num_frames`` raises
    DataError naming the video and both counts.
    """

    def __init__(self, pool: VideoPool) -> None:
        self.pool = pool

    def frames(self, name: str) -> np.ndarray:  # [frame, H, W, 3] uint8
        record = self.pool[name]
        if record.path is None:
            raise VideoError(
                f"{self.pool.dataset}/{name}: the pool has no video file for this video "
                "(load it with videos_dir=... pointing at the videos)"
            )
        # filled as the frames are decoded: memory for the frames at the record's size, once
        pixels = np.empty((record.num_frames, record.height, record.width, 3), dtype=np.uint8)
        count = 0
        for frame in iter_video(record.path, size=(record.height, record.width)):
            if count < record.num_frames:
                pixels[count] = frame
            count += 1
        if count != record.num_frames:
            raise DataError(
                f"{name}: {record.path} decodes to {count} frames but the annotation "
                f"says {record.num_frames}"
            )
        return pixels
