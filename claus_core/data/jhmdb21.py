"""J-HMDB-21 loader: the official puppet masks, split 1 in YOWO list format, optional videos.

J-HMDB-21 is the paper's second dataset (supplementary Section 5.1; Tables 4 and 7). Every
frame of its 928 videos shows one actor with a puppet mask, so a video is one tube with one box
on each of its frames, and the split-1 train set's 22,712 frames are the fully supervised
annotation cost of Table 7.

Sources read by :func:`load_jhmdb21`:

- the **shipped archive** ``claus_core/assets/jhmdb21/annotations.npz`` (the default), written
  by ``scripts/convert_jhmdb21.py`` from the originals below (layout in :func:`write_jhmdb21_npz`);
- the originals: ``<masks_dir>/<class>/<video>/puppet_mask.mat`` (variable ``part_mask``, uint8
  ``H x W x T``, nonzero = actor; read with ``scipy.io.loadmat``) and the YOWO split-1 lists in
  ``lists_dir``: ``trainlist.txt`` and ``testlist.txt`` (one line ``<class>/<video>/<frame>.txt``
  per annotated frame, frames 1-based) and ``test_video.txt`` (one line ``<class>/<video>/`` per
  test video).

Pixel conventions. Frames are 0-based (frame ``i`` is list entry ``i + 1``). The box of a frame
is the tight bounding box of its nonzero mask pixels in the ``claus_core.data.types`` convention:
``x`` / ``y`` are the first foreground column / row (0-based) and ``w = last column - x + 1``,
``h = last row - y + 1``, so the box covers exactly the pixel columns ``[x, x + w)`` and rows
``[y, y + h)`` of the 320 x 240 frame. YOWO's ``groundtruths_jhmdb`` files give the same boxes
as ``x1 y1 x2 y2`` with ``x1 = x + 1``, ``y1 = y + 1``, ``x2 = min(x + w + 1, 320)``,
``y2 = min(y + h + 1, 240)`` (1-based first pixel, 1-based one-past-last pixel clipped to the
frame: "bounding box + 1 px"); :func:`to_yowo_boxes` converts, and the tests check it on all
9,126 test frames.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
from tqdm import tqdm

from claus_core.data.masks import RunLengthMasks, mask_boxes, pack_runs, unpack_runs
from claus_core.data.types import DataError, Tube, VideoPool, VideoRecord
from claus_core.data.video import find_video_file

logger = logging.getLogger(__name__)

DATASET = "jhmdb21"
SPLITS = ("train", "test")
WIDTH = 320  # every J-HMDB video and puppet mask is 320 x 240
HEIGHT = 240
JHMDB21_CLASSES = (  # label order of the YOWO lists and ground truth (class_id = label + 1)
    "brush_hair",
    "catch",
    "clap",
    "climb_stairs",
    "golf",
    "jump",
    "kick_ball",
    "pick",
    "pour",
    "pullup",
    "push",
    "run",
    "shoot_ball",
    "shoot_bow",
    "shoot_gun",
    "sit",
    "stand",
    "swing_baseball",
    "throw",
    "walk",
    "wave",
)
SPLIT_CODES = {"train": 1, "test": 2}  # the official J-HMDB split files' codes
MASK_FILE = "puppet_mask.mat"
TRAIN_LIST = "trainlist.txt"
TEST_LIST = "testlist.txt"
TEST_VIDEOS = "test_video.txt"
FORMAT_VERSION = 1
_NPZ_ARRAYS = (
    "video_names",
    "video_labels",
    "num_frames",
    "split_1",
    "boxes",
    "mask_run_counts",
    "mask_runs",
    "frame_size",
    "class_names",
    "provenance",
)
_FRAME_LINE = re.compile(r"^([^/]+)/([^/]+)/(\d+)\.txt$")


def jhmdb21_annotations_path() -> Path:
    """The annotations shipped with the package (``claus_core/assets/jhmdb21/``)."""
    return Path(__file__).resolve().parent.parent / "assets" / "jhmdb21" / "annotations.npz"


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: split list not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read split list ({err})") from err


def _check_class(name: str, source: str) -> int:
    """The label of video ``name`` (``<class>/<video>``) from its class folder."""
    folder = name.split("/")[0]
    if folder not in JHMDB21_CLASSES:
        raise DataError(f"{name}: {source} names class {folder!r}, not a J-HMDB-21 class")
    return JHMDB21_CLASSES.index(folder)


def read_frame_list(path: str | Path) -> dict[str, list[int]]:
    """A YOWO frame list: ``<class>/<video>`` -> its listed frames (1-based), in list order."""
    path = Path(path)
    frames: dict[str, list[int]] = {}
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        match = _FRAME_LINE.match(line.strip())
        if match is None:
            raise DataError(
                f"{path}, line {number}: expected '<class>/<video>/<frame>.txt', got {line!r}"
            )
        name = f"{match[1]}/{match[2]}"
        _check_class(name, f"{path}, line {number},")
        frames.setdefault(name, []).append(int(match[3]))
    return frames


def read_video_list(path: str | Path) -> list[str]:
    """A YOWO video list (``test_video.txt``): ``<class>/<video>`` names in list order."""
    path = Path(path)
    names: list[str] = []
    for number, line in enumerate(_read_lines(path), start=1):
        name = line.strip().rstrip("/")
        if not name:
            continue
        if name.count("/") != 1 or not all(name.split("/")):
            raise DataError(f"{path}, line {number}: expected '<class>/<video>/', got {line!r}")
        _check_class(name, f"{path}, line {number},")
        if name in names:
            raise DataError(f"{name}: listed twice in {path}")
        names.append(name)
    return names


def read_puppet_mask(path: str | Path, name: str) -> np.ndarray:  # [frame, H, W] bool
    """The ``part_mask`` of video ``name`` from its ``puppet_mask.mat``, frames first."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{name}: puppet mask not found ({path})")
    try:
        content = scipy.io.loadmat(path, variable_names=["part_mask"])
    except Exception as err:  # scipy reports damaged files as OSError, IndexError, MatReadError..
        raise DataError(f"{name}: cannot read puppet mask {path} ({err!r})") from err
    if "part_mask" not in content:
        raise DataError(f"{name}: {path} holds no variable 'part_mask'")
    part_mask = content["part_mask"]  # [H, W, frame]
    if part_mask.ndim != 3 or part_mask.dtype.kind not in "uib":
        raise DataError(
            f"{name}: 'part_mask' in {path} must be an integer H x W x T array, got "
            f"{part_mask.dtype} {part_mask.shape}"
        )
    if part_mask.shape[:2] != (HEIGHT, WIDTH):
        raise DataError(
            f"{name}: 'part_mask' in {path} is {part_mask.shape[0]} x {part_mask.shape[1]}, "
            f"but J-HMDB frames are {HEIGHT} x {WIDTH}"
        )
    return np.moveaxis(part_mask, 2, 0) != 0


def _video_from_masks(
    name: str, masks: np.ndarray, listed: Sequence[int], list_file: str
) -> VideoRecord:
    """The record of ``name`` from its ``[frame, H, W]`` masks, checked against its list."""
    num_frames = len(masks)
    if sorted(listed) != list(range(1, num_frames + 1)):
        raise DataError(
            f"{name}: {list_file} lists {len(listed)} frame(s) ({min(listed)}..{max(listed)}, "
            f"{len(set(listed))} distinct) but the puppet mask has {num_frames} frames; the "
            f"list must enumerate frames 1..{num_frames} once each"
        )
    empty = np.flatnonzero(~masks.any(axis=(1, 2)))
    if empty.size:
        raise DataError(
            f"{name}: the puppet mask has no foreground pixel on listed frame(s) "
            f"{(empty + 1).tolist()} (1-based, as in {list_file})"
        )
    label = _check_class(name, list_file)
    tube = Tube(label, 0, num_frames, mask_boxes(masks).astype(np.float32))
    return VideoRecord(
        name, label, num_frames, WIDTH, HEIGHT, (tube,), masks=RunLengthMasks.encode(masks)
    )


def _split_frames(lists_dir: Path, split: str) -> tuple[dict[str, list[int]], str]:
    """Video name -> listed frames for ``split``, in pool order, and the frame list's name."""
    if split == "train":
        return read_frame_list(lists_dir / TRAIN_LIST), TRAIN_LIST
    videos = read_video_list(lists_dir / TEST_VIDEOS)
    frames = read_frame_list(lists_dir / TEST_LIST)
    for name in videos:
        if name not in frames:
            raise DataError(f"{name}: in {TEST_VIDEOS} but no frame of it is in {TEST_LIST}")
    for name in frames:
        if name not in videos:
            raise DataError(f"{name}: has frames in {TEST_LIST} but is not in {TEST_VIDEOS}")
    return {name: frames[name] for name in videos}, TEST_LIST


def _records_from_originals(masks_dir: Path, lists_dir: Path, split: str) -> list[VideoRecord]:
    if not masks_dir.is_dir():
        raise DataError(f"{masks_dir}: puppet mask folder not found")
    listed, list_file = _split_frames(lists_dir, split)
    records = []
    for name in tqdm(listed, desc="reading puppet masks", disable=len(listed) < 100):
        masks = read_puppet_mask(masks_dir / name / MASK_FILE, name)
        records.append(_video_from_masks(name, masks, listed[name], list_file))
    return records


def write_jhmdb21_npz(
    pools: Sequence[VideoPool], path: str | Path, *, provenance: Mapping[str, Any]
) -> Path:
    """Write the records of ``pools`` (split "train" / "test") as the shipped ``.npz`` layout.

    Arrays (videos in pool order, videos back to back for per-frame arrays): ``video_names``
    [video] str ``<class>/<video>``; ``video_labels`` [video]; ``num_frames`` [video];
    ``split_1`` [video] uint8 (1 train, 2 test, as in J-HMDB's split files); ``boxes`` [frame, 4]
    uint16 x, y, w, h; ``mask_run_counts`` [frame] (runs per frame); ``mask_runs`` [2, run]
    uint8, the byte planes of the run-length encoded masks (``claus_core.data.masks``);
    ``frame_size`` [2] (height, width); ``class_names`` [21]; ``provenance`` a JSON string.
    """
    names, labels, num_frames, split_codes, boxes, run_counts, runs = [], [], [], [], [], [], []
    for pool in pools:
        if pool.split not in SPLIT_CODES:
            raise ValueError(f"pools must be of split 'train' or 'test', got {pool.split!r}")
        for video in pool:
            masks = video.masks
            if (
                len(video.tubes) != 1
                or not isinstance(masks, RunLengthMasks)
                or (masks.height, masks.width, masks.num_frames)
                != (HEIGHT, WIDTH, video.num_frames)
                or not np.array_equal(video.tubes[0].boxes, np.round(video.tubes[0].boxes))
            ):
                raise DataError(
                    f"{video.name}: needs one tube of integer boxes and run-length encoded "
                    f"{HEIGHT} x {WIDTH} masks on each of its {video.num_frames} frames"
                )
            names.append(video.name)
            labels.append(video.label)
            num_frames.append(video.num_frames)
            split_codes.append(SPLIT_CODES[pool.split])
            boxes.append(video.tubes[0].boxes)
            run_counts.append(np.diff(masks.run_offsets))
            runs.append(masks.runs)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        video_names=np.array(names, dtype=str),
        video_labels=np.array(labels, dtype=np.int8),
        num_frames=np.array(num_frames, dtype=np.int16),
        split_1=np.array(split_codes, dtype=np.uint8),
        boxes=np.concatenate(boxes).astype(np.uint16),
        mask_run_counts=np.concatenate(run_counts).astype(np.int32),
        mask_runs=pack_runs(np.concatenate(runs)),
        frame_size=np.array([HEIGHT, WIDTH], dtype=np.int32),
        class_names=np.array(JHMDB21_CLASSES, dtype=str),
        provenance=np.array(json.dumps(dict(provenance), indent=1, sort_keys=True)),
    )
    return path


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in _NPZ_ARRAYS if key not in npz.files]
            if missing:
                raise DataError(f"{path}: not a J-HMDB-21 annotation archive, missing {missing}")
            return {key: npz[key] for key in _NPZ_ARRAYS}
    except FileNotFoundError:
        raise DataError(f"{path}: annotation archive not found") from None
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read annotation archive ({err})") from err


def _records_from_npz(path: Path, split: str) -> list[VideoRecord]:
    arrays = _read_npz(path)
    names = arrays["video_names"].astype(str)
    labels = arrays["video_labels"].astype(np.int64)  # [video]
    num_frames = arrays["num_frames"].astype(np.int64)  # [video]
    boxes = arrays["boxes"].astype(np.float32)  # [frame, 4]
    run_counts = arrays["mask_run_counts"].astype(np.int64)  # [frame]
    runs = unpack_runs(arrays["mask_runs"])  # [run]
    if (
        tuple(str(c) for c in arrays["class_names"]) != JHMDB21_CLASSES
        or tuple(arrays["frame_size"].tolist()) != (HEIGHT, WIDTH)
        or any(len(arrays[key]) != len(names) for key in ("video_labels", "split_1"))
        or len(num_frames) != len(names)
        or (num_frames <= 0).any()
        or boxes.shape != (num_frames.sum(), 4)
        or len(run_counts) != len(boxes)
        or run_counts.sum() != len(runs)
    ):
        raise DataError(f"{path}: inconsistent arrays in the J-HMDB-21 annotation archive")
    frame_offsets = np.concatenate([[0], np.cumsum(num_frames)])  # [video + 1]
    run_offsets = np.concatenate([[0], np.cumsum(run_counts)])  # [frame + 1]
    records = []
    for v in np.flatnonzero(arrays["split_1"] == SPLIT_CODES[split]):
        name = str(names[v])
        label = _check_class(name, str(path))
        if label != labels[v]:
            raise DataError(f"{name}: {path} gives label {labels[v]}, its class has {label}")
        first, last = frame_offsets[v], frame_offsets[v + 1]
        video_boxes = boxes[first:last]  # [frame, 4]
        inside = (video_boxes[:, 2:] >= 1).all() and (
            video_boxes[:, :2] + video_boxes[:, 2:] <= (WIDTH, HEIGHT)
        ).all()
        if not inside:
            raise DataError(f"{name}: {path} holds an empty box or one outside the frame")
        offsets = run_offsets[first : last + 1]
        try:
            masks = RunLengthMasks(
                HEIGHT, WIDTH, runs[offsets[0] : offsets[-1]], offsets - offsets[0]
            )
        except DataError as err:
            raise DataError(f"{name}: {path}: {err}") from err
        tube = Tube(label, 0, int(num_frames[v]), video_boxes)
        records.append(
            VideoRecord(name, label, int(num_frames[v]), WIDTH, HEIGHT, (tube,), masks=masks)
        )
    return records


def _with_video_files(records: list[VideoRecord], videos_dir: Path) -> list[VideoRecord]:
    if not videos_dir.is_dir():
        raise DataError(f"{videos_dir}: videos folder not found")
    attached = []
    for record in records:
        path = find_video_file(videos_dir, record.name)
        attached.append(
            record
            if path is None
            else VideoRecord(
                record.name,
                record.label,
                record.num_frames,
                record.width,
                record.height,
                record.tubes,
                path=path,
                masks=record.masks,
            )
        )
    found = sum(r.path is not None for r in attached)
    logger.info("%s: %d of %d J-HMDB-21 videos have a file", videos_dir, found, len(records))
    return attached


def load_jhmdb21(
    masks_dir: str | Path | None = None,
    lists_dir: str | Path | None = None,
    split: str = "train",
    videos_dir: str | Path | None = None,
    *,
    archive: str | Path | None = None,
) -> VideoPool:
    """The J-HMDB-21 split-1 videos of ``split`` ("train" or "test") as a VideoPool.

    With ``masks_dir`` and ``lists_dir`` both None, reads the shipped archive (or ``archive``,
    an ``.npz`` written by ``scripts/convert_jhmdb21.py``); with both given, reads the
    ``puppet_mask.mat`` files and YOWO lists (layout and pixel conventions in the module
    docstring). Train holds the videos of ``trainlist.txt`` in list order (660, 22,712 frames),
    test those of ``test_video.txt`` (268, 9,126 frames). Each record has one tube over all its
    frames, one mask box per frame, ``masks`` (a :class:`RunLengthMasks`), size 320 x 240.

    ``videos_dir``: a folder of J-HMDB videos ``<class>/<video>.avi|.mp4`` (or all in one
    folder); records whose file is found get ``path`` (its frame count is checked when
    ``VideoFolder`` decodes it). Bad input raises DataError naming the video or file.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if (masks_dir is None) != (lists_dir is None):
        raise ValueError("give both masks_dir and lists_dir (the originals) or neither (shipped)")
    if masks_dir is not None and archive is not None:
        raise ValueError("archive reads a converted .npz; it excludes masks_dir and lists_dir")
    if masks_dir is not None and lists_dir is not None:
        records = _records_from_originals(Path(masks_dir), Path(lists_dir), split)
    else:
        path = jhmdb21_annotations_path() if archive is None else Path(archive)
        records = _records_from_npz(path, split)
    if videos_dir is not None:
        records = _with_video_files(records, Path(videos_dir))
    return VideoPool(DATASET, split, JHMDB21_CLASSES, tuple(records))


def to_yowo_boxes(
    boxes: np.ndarray, *, width: int = WIDTH, height: int = HEIGHT
) -> np.ndarray:  # [box, 4] int64 x1, y1, x2, y2
    """``x, y, w, h`` mask boxes in YOWO's ``groundtruths_jhmdb`` convention (module docstring)."""
    boxes = np.asarray(boxes)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape [box, 4], got {boxes.shape}")
    x, y, w, h = np.round(boxes).astype(np.int64).T
    return np.stack([x + 1, y + 1, np.minimum(x + w + 1, width), np.minimum(y + h + 1, height)], 1)
