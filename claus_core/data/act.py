"""Loader for the ACT-detector ground-truth pickles (``UCF101v2-GT.pkl``, ``JHMDB-GT.pkl``).

The ACT detector (Kalogeiton et al., ICCV 2017) distributes the ground truth of UCF-101-24 and
J-HMDB-21, the two datasets of the paper (supplementary Section 5.1, Tables 6 and 7), as one
pickle per dataset, read here through the restricted unpickler
:func:`~claus_core.data.safe_pickle.safe_load`:

- ``labels``: list of class names (label id = position);
- ``gttubes``: ``{video: {label: [array [n, 5] of (frame, x1, y1, x2, y2)]}}``, frames 1-based;
- ``nframes``: ``{video: number of frames}``;
- ``train_videos`` / ``test_videos``: one list of video names per split
  (``split_index=1`` is element 0; UCF101v2 has one split, J-HMDB three);
- ``resolution``: ``{video: (height, width)}``.

Conversions (to the conventions of ``claus_core.data.types``):

- frames: 1-based frame ``f`` becomes 0-based ``f - 1``; a tube with frames ``a..b`` (1-based,
  inclusive) covers ``[a - 1, b)``. The frames of a tube must be consecutive and increasing:
  a gap or a repeat raises DataError (ACT's own tubes are continuous);
- boxes: ACT corners are *inclusive* pixel coordinates (its ``area2d`` is
  ``(x2 - x1 + 1) * (y2 - y1 + 1)``), so ``x, y, w, h = x1, y1, x2 - x1 + 1, y2 - y1 + 1``;
- split ``"all"`` is the union of the train and test lists of ``split_index``; videos are
  ordered by name; a video's label is the label of its tubes (all must agree).

Boxes outside the ``resolution`` frame are clipped with a
:class:`~claus_core.data.tube_checks.BoxOutsideFrameWarning`; other bad input raises DataError
naming the file or video.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from claus_core.data.safe_pickle import safe_load
from claus_core.data.tube_checks import checked_tube
from claus_core.data.types import DataError, Tube, VideoPool, VideoRecord

SPLITS = ("train", "test", "all")
_FIELDS = ("labels", "gttubes", "nframes", "train_videos", "test_videos", "resolution")


def _field(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    value = data[key]
    if not isinstance(value, kind):
        raise DataError(f"{path}: field {key!r} has type {type(value).__name__}")
    return value


def _split_videos(data: Mapping[str, Any], key: str, split_index: int, path: Path) -> list[str]:
    splits = _field(data, key, (list, tuple), path)
    if not 1 <= split_index <= len(splits):
        raise ValueError(
            f"{path}: split_index must be in 1..{len(splits)} ({key} has {len(splits)} splits), "
            f"got {split_index}"
        )
    videos = splits[split_index - 1]
    if not isinstance(videos, list | tuple):
        raise DataError(f"{path}: {key}[{split_index - 1}] must be a list of video names")
    return [str(video) for video in videos]


def act_tube_to_xywh(video: str, index: int, track: Any) -> tuple[int, int, np.ndarray]:
    """``(start, end, boxes)`` of one ACT track ``[n, 5]`` (1-based frame, x1, y1, x2, y2).

    Returns 0-based ``[start, end)`` and ``boxes`` ``[n, 4]`` x, y, w, h with inclusive corners
    (``w = x2 - x1 + 1``).
    """
    track = np.asarray(track)
    if track.ndim != 2 or track.shape[1] != 5 or len(track) == 0 or track.dtype.kind not in "iuf":
        raise DataError(
            f"{video}: tube {index} must be a non-empty numeric array [frames, 5], got shape "
            f"{track.shape} dtype {track.dtype}"
        )
    frames = track[:, 0]  # [n] 1-based
    if not np.array_equal(frames, np.round(frames)):
        raise DataError(f"{video}: tube {index} has non-integer frame numbers")
    steps = np.diff(frames)  # [n - 1]
    if (steps != 1).any():
        at = int(np.flatnonzero(steps != 1)[0])
        raise DataError(
            f"{video}: tube {index} frames are not consecutive (frame {int(frames[at])} is "
            f"followed by {int(frames[at + 1])})"
        )
    x1, y1, x2, y2 = (track[:, column].astype(np.float64) for column in range(1, 5))
    boxes = np.stack([x1, y1, x2 - x1 + 1, y2 - y1 + 1], axis=1)  # [n, 4]
    start = int(frames[0]) - 1
    return start, start + len(track), boxes


def _video_record(video: str, data: Mapping[str, Any], classes: Sequence[str]) -> VideoRecord:
    gttubes, nframes, resolution = data["gttubes"], data["nframes"], data["resolution"]
    if video not in nframes or video not in resolution:
        raise DataError(f"{video}: missing from 'nframes' or 'resolution'")
    tubes_by_label = gttubes.get(video, {})
    if not isinstance(tubes_by_label, Mapping):
        raise DataError(f"{video}: gttubes entry must be a dict label -> list of tubes")
    try:
        num_frames = int(nframes[video])
        height, width = (int(v) for v in resolution[video])
        labels = sorted({int(label) for label in tubes_by_label})
    except (TypeError, ValueError) as err:
        raise DataError(f"{video}: malformed nframes, resolution or tube labels ({err})") from err
    if len(labels) > 1:
        raise DataError(f"{video}: label disagreement, tubes carry labels {labels}")
    if labels:
        label = labels[0]
    elif video.split("/")[0] in classes:
        label = classes.index(video.split("/")[0])
    else:
        raise DataError(f"{video}: no tube and no class folder to take a label from")
    if not 0 <= label < len(classes):
        raise DataError(f"{video}: label {label} is not one of the {len(classes)} classes")
    tubes: list[Tube] = []
    for raw_label, tracks in tubes_by_label.items():
        if not isinstance(tracks, list | tuple):
            raise DataError(f"{video}: tubes of label {raw_label} must be a list of arrays")
        for track in tracks:
            start, end, boxes = act_tube_to_xywh(video, len(tubes), track)
            tubes.append(
                checked_tube(
                    video,
                    len(tubes),
                    label=label,
                    start=start,
                    end=end,
                    boxes=boxes,
                    num_frames=num_frames,
                    width=width,
                    height=height,
                )
            )
    return VideoRecord(video, label, num_frames, width, height, tuple(tubes))


def load_act_pickle(path: str | Path, split: str, split_index: int = 1) -> VideoPool:
    """The videos of ``split`` ("train", "test" or "all") of an ACT ground-truth pickle.

    The pool's dataset name is the file's stem (e.g. ``UCF101v2-GT``), its classes ``labels``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    path = Path(path)
    data = safe_load(path)
    if not isinstance(data, Mapping):
        raise DataError(f"{path}: expected a dict, got {type(data).__name__}")
    missing = [key for key in _FIELDS if key not in data]
    if missing:
        raise DataError(f"{path}: not an ACT ground-truth pickle, missing fields {missing}")
    classes = tuple(str(name) for name in _field(data, "labels", (list, tuple), path))
    for key in ("gttubes", "nframes", "resolution"):
        _field(data, key, Mapping, path)
    train = _split_videos(data, "train_videos", split_index, path)
    test = _split_videos(data, "test_videos", split_index, path)
    if split == "train":
        names = train
    elif split == "test":
        names = test
    else:
        names = train + test
    if len(set(names)) != len(names):
        raise DataError(f"{path}: split {split_index} lists a video twice or in both splits")
    records = [_video_record(video, data, classes) for video in sorted(names)]
    return VideoPool(path.stem, split, classes, tuple(records))
