"""UCF-101-24 loader: the corrected ``pyannot.pkl`` annotations, split 1, optional real videos.

UCF-101-24 is the main dataset of the paper (supplementary Section 5.1, Table 6: the split-1
train set holds 2,284 videos and 403,282 GT boxes, the fully supervised annotation cost).

Sources read by :func:`load_ucf101_24`:

- the **shipped copy** ``claus_core/assets/ucf101_24/annotations.npz`` (the default), written by
  ``scripts/convert_ucf101_24.py`` from ``pyannot.pkl`` + ``testlist01.txt``;
- a ``pyannot.pkl`` (gurkirt/corrected-UCF101-Annots), read through the restricted unpickler
  :func:`~claus_core.data.safe_pickle.safe_load`: a dict ``'Class/v_Class_gXX_cYY' -> {'numf',
  'label', 'annotations': [{'label', 'sf', 'ef' (exclusive), 'boxes' [ef - sf, 4] x,y,w,h}]}``.

Boxes are in UCF-101's 320 x 240 pixel grid. With ``videos_dir`` every video file found is
decoded once (:func:`~claus_core.data.video.probe_video`): the record takes the decoded frame
size and its boxes are scaled by ``(decoded width / 320, decoded height / 240)``, a rule that
holds for any resolution (the re-encoded 340 x 256 ``.mp4`` files of the real mini set get
``(340/320, 256/240)``); a decoded frame count that differs from ``numf`` raises DataError.
Bad tubes raise DataError and boxes sticking out of the frame are clipped with a
:class:`~claus_core.data.tube_checks.BoxOutsideFrameWarning` (see ``tube_checks``).

The shipped ``.npz`` holds flat arrays (see :class:`Ucf24Annotations`): tube ``t`` of video
``v`` is ``tube_offsets[v] <= t < tube_offsets[v + 1]`` and its boxes are the next
``tube_ends[t] - tube_starts[t]`` rows of ``boxes``, tubes back to back.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from claus_core.data.safe_pickle import safe_load
from claus_core.data.tube_checks import check_span, checked_tube
from claus_core.data.types import DataError, Tube, VideoPool, VideoRecord
from claus_core.data.video import find_video_file, probe_video

logger = logging.getLogger(__name__)

DATASET = "ucf101_24"
MINI_DATASET = "ucf101_24_mini"
SPLITS = ("train", "test", "all")
ANNOTATION_WIDTH = 320  # UCF-101's frame grid, in which pyannot.pkl boxes are given
ANNOTATION_HEIGHT = 240
FORMAT_VERSION = 1
ARRAY_FIELDS = (  # the flat arrays of Ucf24Annotations, one npz entry each
    "video_names",
    "num_frames",
    "video_labels",
    "tube_offsets",
    "tube_labels",
    "tube_starts",
    "tube_ends",
    "boxes",
    "is_test",
)
_NPZ_ARRAYS = (*ARRAY_FIELDS, "class_names", "provenance")
_VIDEO_SUFFIXES = (".avi", ".mp4")


@dataclasses.dataclass(frozen=True, eq=False)
class Ucf24Annotations:
    """A whole UCF-101-24 annotation file as flat arrays (the layout of the shipped .npz)."""

    source: str  # file it was read from
    video_names: np.ndarray  # [video] str, 'Class/v_Class_gXX_cYY', sorted
    num_frames: np.ndarray  # [video] int64 (numf)
    video_labels: np.ndarray  # [video] int64
    tube_offsets: np.ndarray  # [video + 1] int64: video v owns tubes [offsets[v], offsets[v+1])
    tube_labels: np.ndarray  # [tube] int64
    tube_starts: np.ndarray  # [tube] int64 (sf, 0-based)
    tube_ends: np.ndarray  # [tube] int64 (ef, exclusive)
    boxes: np.ndarray  # [box, 4] x, y, w, h in 320x240 pixels, tubes back to back
    is_test: np.ndarray  # [video] bool: listed in testlist01.txt
    class_names: tuple[str, ...]  # by label id
    provenance: str  # JSON text

    @property
    def box_offsets(self) -> np.ndarray:  # [tube + 1] int64: tube t owns boxes [o[t], o[t+1])
        lengths = np.maximum(self.tube_ends - self.tube_starts, 0)  # [tube]
        return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def ucf101_24_annotations_path() -> Path:
    """The annotations shipped with the package (``claus_core/assets/ucf101_24/``)."""
    return Path(__file__).resolve().parent.parent / "assets" / "ucf101_24" / "annotations.npz"


def ucf101_24_mini_root() -> Path:
    """The repository's ``data/ucf101_24_mini`` folder (16 real videos, 9 classes)."""
    return Path(__file__).resolve().parents[2] / "data" / "ucf101_24_mini"


@functools.lru_cache(maxsize=1)
def ucf101_24_class_names() -> tuple[str, ...]:
    """The 24 UCF-101-24 class names, ordered by label id (from the shipped annotations)."""
    return read_annotations(ucf101_24_annotations_path()).class_names


def read_testlist(path: str | Path) -> list[str]:
    """Video names of a split list (one ``Class/video`` per line; a ``.avi`` suffix is dropped,
    blank lines and ``#`` comments are skipped)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: split list not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read split list ({err})") from err
    names = []
    for line in lines:
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        for suffix in _VIDEO_SUFFIXES:
            name = name.removesuffix(suffix)
        names.append(name)
    return names


def _as_int(value: Any, video: str, field: str) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise DataError(f"{video}: field {field!r} must be an integer, got {value!r}")
    return int(value)


def _class_names_from_keys(names: list[str], labels: list[int], source: str) -> tuple[str, ...]:
    """Class names by label id from the folder part of ``Class/video`` keys.

    A label id below the largest one that no video of the file carries (a partial pickle) takes
    UCF-101-24's canonical name from the shipped annotations.
    """
    by_label: dict[int, str] = {}
    by_name: dict[str, int] = {}
    for name, label in zip(names, labels, strict=True):
        folder = name.split("/")[0] if "/" in name else None
        if label < 0:
            raise DataError(f"{name}: negative label {label}")
        if folder is None:
            continue
        if by_label.setdefault(label, folder) != folder:
            raise DataError(
                f"{name}: label disagreement: label {label} is class {by_label[label]!r} "
                f"elsewhere in {source} but this video's folder is {folder!r}"
            )
        if by_name.setdefault(folder, label) != label:
            raise DataError(
                f"{name}: label disagreement: class {folder!r} has label {by_name[folder]} "
                f"elsewhere in {source} but {label} here"
            )
    count = max(labels, default=-1) + 1
    missing = [label for label in range(count) if label not in by_label]
    if missing:
        canonical = ucf101_24_class_names()
        if max(missing) >= len(canonical):
            raise DataError(f"{source}: no video names the class of label ids {missing}")
        by_label.update({label: canonical[label] for label in missing})
    return tuple(by_label[label] for label in range(count))


def annotations_from_pyannot(
    data: object, *, source: str, test_names: Iterable[str]
) -> Ucf24Annotations:
    """Flatten a loaded ``pyannot.pkl`` dict, checking its structure (naming the video)."""
    if not isinstance(data, Mapping):
        raise DataError(f"{source}: expected a dict of videos, got {type(data).__name__}")
    test_set = set(test_names)
    names = sorted(str(key) for key in data)
    by_name = {str(key): value for key, value in data.items()}
    num_frames, video_labels, tube_offsets = [], [], [0]
    tube_labels, tube_starts, tube_ends, boxes = [], [], [], []
    for name in names:
        entry = by_name[name]
        if not isinstance(entry, Mapping):
            raise DataError(
                f"{name}: malformed entry (expected a dict, got {type(entry).__name__})"
            )
        missing = {"numf", "label", "annotations"} - set(entry)
        if missing:
            raise DataError(f"{name}: malformed entry, missing fields {sorted(missing)}")
        num_frames.append(_as_int(entry["numf"], name, "numf"))
        video_labels.append(_as_int(entry["label"], name, "label"))
        tubes = entry["annotations"]
        if not isinstance(tubes, list | tuple):
            raise DataError(f"{name}: malformed entry, 'annotations' must be a list of tubes")
        for index, tube in enumerate(tubes):
            if not isinstance(tube, Mapping) or {"label", "sf", "ef", "boxes"} - set(tube):
                raise DataError(
                    f"{name}: malformed tube {index} (needs a dict with label, sf, ef, boxes)"
                )
            start = _as_int(tube["sf"], name, f"annotations[{index}].sf")
            end = _as_int(tube["ef"], name, f"annotations[{index}].ef")
            tube_boxes = np.asarray(tube["boxes"])
            if (
                tube_boxes.ndim != 2
                or tube_boxes.shape[1] != 4
                or tube_boxes.dtype.kind not in "iuf"
            ):
                raise DataError(
                    f"{name}: tube {index} boxes must be a numeric array [frames, 4], got "
                    f"shape {tube_boxes.shape} dtype {tube_boxes.dtype}"
                )
            check_span(name, index, start, end, len(tube_boxes), num_frames[-1])
            tube_labels.append(_as_int(tube["label"], name, f"annotations[{index}].label"))
            tube_starts.append(start)
            tube_ends.append(end)
            boxes.append(tube_boxes.astype(np.float64))
        tube_offsets.append(len(tube_starts))
    class_names = _class_names_from_keys(names, video_labels, source)
    return Ucf24Annotations(
        source=source,
        video_names=np.array(names, dtype=str),
        num_frames=np.array(num_frames, dtype=np.int64),
        video_labels=np.array(video_labels, dtype=np.int64),
        tube_offsets=np.array(tube_offsets, dtype=np.int64),
        tube_labels=np.array(tube_labels, dtype=np.int64),
        tube_starts=np.array(tube_starts, dtype=np.int64),
        tube_ends=np.array(tube_ends, dtype=np.int64),
        boxes=np.concatenate(boxes) if boxes else np.zeros((0, 4)),
        is_test=np.array([name in test_set for name in names], dtype=bool),
        class_names=class_names,
        provenance=json.dumps({"source": source}),
    )


def _annotations_from_npz(path: Path) -> Ucf24Annotations:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in _NPZ_ARRAYS if key not in npz.files]
            if missing:
                raise DataError(f"{path}: not a UCF-101-24 annotation file, missing {missing}")
            arrays = {key: npz[key] for key in _NPZ_ARRAYS}
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read annotation archive ({err})") from err
    num_videos = len(arrays["video_names"])
    num_tubes = len(arrays["tube_starts"])
    offsets = arrays["tube_offsets"].astype(np.int64)
    if (
        offsets.shape != (num_videos + 1,)
        or offsets[0] != 0
        or offsets[-1] != num_tubes
        or (np.diff(offsets) < 0).any()
        or any(len(arrays[key]) != num_videos for key in ("num_frames", "video_labels", "is_test"))
        or any(len(arrays[key]) != num_tubes for key in ("tube_labels", "tube_ends"))
        or arrays["boxes"].ndim != 2
        or arrays["boxes"].shape[1] != 4
    ):
        raise DataError(f"{path}: inconsistent array lengths in the annotation archive")
    annotations = Ucf24Annotations(
        source=str(path),
        video_names=arrays["video_names"].astype(str),
        num_frames=arrays["num_frames"].astype(np.int64),
        video_labels=arrays["video_labels"].astype(np.int64),
        tube_offsets=offsets,
        tube_labels=arrays["tube_labels"].astype(np.int64),
        tube_starts=arrays["tube_starts"].astype(np.int64),
        tube_ends=arrays["tube_ends"].astype(np.int64),
        boxes=arrays["boxes"],
        is_test=arrays["is_test"].astype(bool),
        class_names=tuple(str(name) for name in arrays["class_names"]),
        provenance=str(arrays["provenance"]),
    )
    if annotations.box_offsets[-1] != len(annotations.boxes):
        raise DataError(
            f"{path}: the tubes cover {annotations.box_offsets[-1]} frames but the archive "
            f"holds {len(annotations.boxes)} boxes"
        )
    return annotations


def read_annotations(
    path: str | Path | None = None, *, testlist: str | Path | None = None
) -> Ucf24Annotations:
    """Read the shipped ``.npz`` (``path=None``) or a ``pyannot.pkl``.

    ``testlist`` (a split list file) overrides the split flags; for a pickle without one, the
    test videos are those of the shipped annotations (split 1, ``testlist01.txt``).
    """
    path = ucf101_24_annotations_path() if path is None else Path(path)
    try:
        with path.open("rb") as stream:
            magic = stream.read(4)
    except FileNotFoundError:
        raise DataError(f"{path}: annotation file not found") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read annotation file ({err})") from err
    if magic.startswith(b"PK"):
        annotations = _annotations_from_npz(path)
        if testlist is None:
            return annotations
        test_names = set(read_testlist(testlist))
        is_test = np.array([name in test_names for name in annotations.video_names], dtype=bool)
        return dataclasses.replace(annotations, is_test=is_test)
    if testlist is None:
        shipped = read_annotations()
        test_names: Iterable[str] = shipped.video_names[shipped.is_test].tolist()
    else:
        test_names = read_testlist(testlist)
    return annotations_from_pyannot(safe_load(path), source=str(path), test_names=test_names)


def write_annotations_npz(
    annotations: Ucf24Annotations, path: str | Path, *, provenance: Mapping[str, Any]
) -> Path:
    """Write ``annotations`` as the compressed ``.npz`` layout read by :func:`read_annotations`."""
    boxes = annotations.boxes  # [box, 4]
    if (
        not np.array_equal(boxes, np.round(boxes))
        or boxes.min(initial=0) < 0
        or boxes.max(initial=0) > np.iinfo(np.uint16).max
    ):
        raise DataError(f"{annotations.source}: boxes must be integer pixels in [0, 65535]")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        video_names=annotations.video_names.astype(str),
        num_frames=annotations.num_frames.astype(np.int32),
        video_labels=annotations.video_labels.astype(np.int16),
        tube_offsets=annotations.tube_offsets.astype(np.int32),
        tube_labels=annotations.tube_labels.astype(np.int16),
        tube_starts=annotations.tube_starts.astype(np.int32),
        tube_ends=annotations.tube_ends.astype(np.int32),
        boxes=boxes.astype(np.uint16),
        is_test=annotations.is_test.astype(bool),
        class_names=np.array(annotations.class_names, dtype=str),
        provenance=np.array(json.dumps(dict(provenance), indent=1, sort_keys=True)),
    )
    return path


def _video_record(
    annotations: Ucf24Annotations, index: int, box_offsets: np.ndarray
) -> VideoRecord:
    """The validated record of video ``index`` in the 320 x 240 annotation grid."""
    name = str(annotations.video_names[index])
    num_frames = int(annotations.num_frames[index])
    label = int(annotations.video_labels[index])
    classes = annotations.class_names
    if num_frames <= 0:
        raise DataError(f"{name}: malformed entry, numf must be positive, got {num_frames}")
    if not 0 <= label < len(classes):
        raise DataError(f"{name}: label {label} is not one of the {len(classes)} classes")
    folder = name.split("/")[0] if "/" in name else None
    if folder is not None and folder != classes[label]:
        raise DataError(
            f"{name}: label disagreement: label {label} is class {classes[label]!r}, "
            f"but the video's folder is {folder!r}"
        )
    tubes: list[Tube] = []
    first, last = annotations.tube_offsets[index], annotations.tube_offsets[index + 1]
    for tube_index, t in enumerate(range(first, last)):
        tube_label = int(annotations.tube_labels[t])
        if tube_label != label:
            raise DataError(
                f"{name}: label disagreement: tube {tube_index} has label {tube_label} but the "
                f"video has label {label}"
            )
        tubes.append(
            checked_tube(
                name,
                tube_index,
                label=tube_label,
                start=int(annotations.tube_starts[t]),
                end=int(annotations.tube_ends[t]),
                boxes=annotations.boxes[box_offsets[t] : box_offsets[t + 1]],
                num_frames=num_frames,
                width=ANNOTATION_WIDTH,
                height=ANNOTATION_HEIGHT,
            )
        )
    return VideoRecord(name, label, num_frames, ANNOTATION_WIDTH, ANNOTATION_HEIGHT, tuple(tubes))


def _with_video_file(record: VideoRecord, path: Path) -> VideoRecord:
    """``record`` at the decoded size of ``path`` (boxes scaled), checking the frame count."""
    info = probe_video(path)
    if info.num_frames != record.num_frames:
        raise DataError(
            f"{record.name}: {path} decodes to {info.num_frames} frames but the annotation "
            f"says numf = {record.num_frames}"
        )
    sx, sy = info.width / ANNOTATION_WIDTH, info.height / ANNOTATION_HEIGHT
    tubes = tuple(tube.scaled(sx, sy) for tube in record.tubes)
    return VideoRecord(
        record.name, record.label, record.num_frames, info.width, info.height, tubes, path=path
    )


def load_ucf101_24(
    annotations: str | Path | None = None,
    split: str = "train",
    videos_dir: str | Path | None = None,
    *,
    testlist: str | Path | None = None,
    require_videos: bool = False,
) -> VideoPool:
    """The UCF-101-24 videos of ``split`` ("train", "test" or "all"; split 1) as a VideoPool.

    ``annotations``: the shipped ``.npz`` (default) or a ``pyannot.pkl``; ``testlist``: a split
    list overriding the test videos (default: ``testlist01.txt`` as shipped). Records are in the
    320 x 240 grid; with ``videos_dir`` (UCF layout ``<Class>/<video>.avi`` or flat, ``.avi`` or
    ``.mp4``) the videos found get ``path`` and their decoded size (boxes scaled to it), and
    ``require_videos=True`` keeps only those. Videos are ordered by name.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    table = read_annotations(annotations, testlist=testlist)
    if split == "all":
        indices = np.arange(len(table.video_names))
    else:
        indices = np.flatnonzero(table.is_test == (split == "test"))
    box_offsets = table.box_offsets
    records = [_video_record(table, int(i), box_offsets) for i in indices]
    if videos_dir is not None:
        records = _attach_videos(records, Path(videos_dir), require_videos=require_videos)
    elif require_videos:
        raise ValueError("require_videos=True needs videos_dir")
    return VideoPool(DATASET, split, table.class_names, tuple(records))


def _attach_videos(
    records: list[VideoRecord], videos_dir: Path, *, require_videos: bool
) -> list[VideoRecord]:
    if not videos_dir.is_dir():
        raise DataError(f"{videos_dir}: videos folder not found")
    found = {r.name: find_video_file(videos_dir, r.name) for r in records}
    num_found = sum(path is not None for path in found.values())
    logger.info("%s: %d of %d videos have a file", videos_dir, num_found, len(records))
    if require_videos and num_found == 0:
        raise DataError(f"{videos_dir}: none of the {len(records)} videos has a file there")
    attached = []
    for record in tqdm(records, desc="probing videos", disable=num_found < 100):
        path = found[record.name]
        if path is not None:
            attached.append(_with_video_file(record, path))
        elif not require_videos:
            attached.append(record)
    return attached


def ucf101_24_mini_testlist() -> Path:
    """The shipped test list of the mini set: of every class with two or more of its videos,
    the last by name (5 test, 11 train videos; the 4 classes with one video only train)."""
    return ucf101_24_annotations_path().parent / "mini_testlist.txt"


def load_ucf101_24_mini(root: str | Path | None = None, split: str = "all") -> VideoPool:
    """The *UCF-101-24 real mini* set: the 16 real videos shipped in ``data/ucf101_24_mini``.

    The shipped annotations restricted to the videos found under ``root``, boxes scaled to each
    decoded frame size; the dataset is named ``ucf101_24_mini``. All 16 are split-1 *test*
    videos of UCF-101-24, so the mini set has its own split (:func:`ucf101_24_mini_testlist`):
    ``split`` "train" (11 videos), "test" (5) or "all".
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = ucf101_24_mini_root() if root is None else Path(root)
    if not root.is_dir():
        raise DataError(
            f"{root}: the real mini videos are not there (a source checkout ships them in "
            "data/ucf101_24_mini; pass root=... to point elsewhere)"
        )
    pool = load_ucf101_24(None, "all", videos_dir=root, require_videos=True)
    if split != "all":
        test = set(read_testlist(ucf101_24_mini_testlist()))
        kept = [v for v in pool.videos if (v.name in test) == (split == "test")]
        if not kept:
            raise DataError(f"{root}: no video of the mini set's {split} split is there")
        pool = VideoPool(pool.dataset, split, pool.classes, tuple(kept))
    return VideoPool(MINI_DATASET, pool.split, pool.classes, pool.videos)
