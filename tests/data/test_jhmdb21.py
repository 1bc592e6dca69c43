"""Tests of the J-HMDB-21 loader (claus_core.data.jhmdb21) and its converter script.

The asserted counts are those of the paper (supplementary Table 7: 22,712 train frames, the
fully supervised cost) and of the YOWO split-1 lists. Tests marked ``needs_shared`` compare the
shipped archive with the original files and are skipped where ``../shared`` is absent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import scipy.io

from claus_core.cost import full_cost
from claus_core.data.jhmdb21 import (
    JHMDB21_CLASSES,
    jhmdb21_annotations_path,
    load_jhmdb21,
    read_frame_list,
    read_video_list,
    to_yowo_boxes,
    write_jhmdb21_npz,
)
from claus_core.data.masks import RunLengthMasks, mask_boxes
from claus_core.data.types import DataError, VideoPool

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "jhmdb21_yowo_test_boxes.npz"
SHARED = REPO.parent / "shared" / "data" / "jhmdb21"
needs_shared = pytest.mark.skipif(
    not (SHARED / "groundtruths_jhmdb.zip").is_file(), reason="../shared/data/jhmdb21 is absent"
)
LIST_SHA256 = {  # ../shared/data/SOURCES.md
    "trainlist.txt": "3f4d7aba1867d8db44d129a323c0d6d2bd3aa4d6172ee50c04bea5bb31fec4ba",
    "testlist.txt": "937bf3377c56677ee4d0b115607fd3e33aea9083ed07f51344515464fe02c8ee",
    "test_video.txt": "1f25801cb29dcc427c9f53a1d08e8df2ceacbaa7e97f7cb743c2db35d7353682",
}


@pytest.fixture(scope="module")
def train() -> VideoPool:
    return load_jhmdb21(split="train")


@pytest.fixture(scope="module")
def test() -> VideoPool:
    return load_jhmdb21(split="test")


# --- the shipped archive ---------------------------------------------------------------------


def test_train_split_counts_and_full_cost(train: VideoPool) -> None:
    assert (train.dataset, train.split, train.classes) == ("jhmdb21", "train", JHMDB21_CLASSES)
    assert len(train) == 660
    assert sum(v.num_frames for v in train) == 22_712
    assert full_cost(train) == 22_712  # Table 7, fully supervised


def test_test_split_counts(test: VideoPool) -> None:
    assert (test.dataset, test.split) == ("jhmdb21", "test")
    assert len(test) == 268
    assert sum(v.num_frames for v in test) == full_cost(test) == 9_126


def test_records_are_one_full_tube_with_masks(train: VideoPool, test: VideoPool) -> None:
    assert not set(train.names) & set(test.names)
    assert len(JHMDB21_CLASSES) == 21 and list(JHMDB21_CLASSES) == sorted(JHMDB21_CLASSES)
    for pool in (train, test):
        assert set(pool.labels().tolist()) == set(range(21))
        for video in pool:
            assert JHMDB21_CLASSES[video.label] == video.name.split("/")[0]
            assert (video.width, video.height, video.path) == (320, 240, None)
            assert 15 <= video.num_frames <= 40
            (tube,) = video.tubes
            assert (tube.label, tube.start, tube.end) == (video.label, 0, video.num_frames)
            masks = video.masks
            assert isinstance(masks, RunLengthMasks)
            assert (masks.num_frames, masks.height, masks.width) == (video.num_frames, 240, 320)


def test_shipped_boxes_are_the_mask_boxes_on_every_frame(train: VideoPool, test: VideoPool) -> None:
    for pool in (train, test):
        for video in pool:
            assert np.array_equal(video.tubes[0].boxes, mask_boxes(video.masks.array()))


def test_shipped_boxes_match_yowo_groundtruth_on_every_test_frame(test: VideoPool) -> None:
    with np.load(FIXTURE, allow_pickle=False) as fixture:
        assert fixture["video_names"].tolist() == test.names
        frames = [(v.name, f) for v in test for f in range(1, v.num_frames + 1)]
        names = fixture["video_names"][fixture["video_index"]].tolist()
        assert list(zip(names, fixture["frames"].tolist(), strict=True)) == frames
        labels = np.concatenate([np.full(v.num_frames, v.label) for v in test])
        assert np.array_equal(fixture["class_ids"], labels + 1)
        ours = to_yowo_boxes(np.concatenate([v.tubes[0].boxes for v in test]))  # [frame, 4]
        assert len(ours) == 9_126
        assert np.array_equal(ours, fixture["boxes"])  # exact, not only within 1 px


def test_provenance_records_the_source_lists() -> None:
    with np.load(jhmdb21_annotations_path(), allow_pickle=False) as npz:
        provenance = json.loads(str(npz["provenance"]))
    lists = {entry["file"]: entry["sha256"] for entry in provenance["inputs"]["lists"]}
    assert lists == LIST_SHA256
    assert provenance["inputs"]["puppet_masks"]["files"] == 928
    assert jhmdb21_annotations_path().stat().st_size < 10_000_000


def test_to_yowo_boxes_clips_at_the_frame_edge() -> None:
    boxes = np.array([[0, 0, 320, 240], [10, 20, 30, 40]], dtype=np.float32)
    assert to_yowo_boxes(boxes).tolist() == [[1, 1, 320, 240], [11, 21, 41, 61]]
    with pytest.raises(ValueError, match="shape"):
        to_yowo_boxes(np.zeros((2, 3)))


# --- the originals, faked in tmp_path ---------------------------------------------------------


def _moving_box_masks(num_frames: int, x: int, y: int, w: int, h: int) -> np.ndarray:
    masks = np.zeros((num_frames, 240, 320), dtype=bool)  # [frame, H, W]
    for frame in range(num_frames):
        masks[frame, y + frame : y + frame + h, x : x + w] = True
    return masks


def _write_mask(masks_dir: Path, name: str, part_mask: np.ndarray) -> Path:
    """Write ``part_mask`` ([H, W, T] as in J-HMDB) to ``<masks_dir>/<name>/puppet_mask.mat``."""
    folder = masks_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(folder / "puppet_mask.mat", {"part_mask": part_mask}, do_compression=True)
    return folder / "puppet_mask.mat"


def _frame_lines(videos: dict[str, int]) -> str:
    return "".join(f"{n}/{f:05d}.txt\n" for n, count in videos.items() for f in range(1, count + 1))


TRAIN = {"wave/b_wave_u_nm_np1_fr_goo_0": 3, "brush_hair/a_brush_hair_u_nm_np1_ba_goo_1": 2}
TEST = {"clap/c_clap_u_nm_np1_fr_med_2": 4}
BOXES = {  # x, y, w, h on frame 0; the box moves down one row per frame
    "wave/b_wave_u_nm_np1_fr_goo_0": (5, 6, 7, 8),
    "brush_hair/a_brush_hair_u_nm_np1_ba_goo_1": (0, 0, 320, 200),
    "clap/c_clap_u_nm_np1_fr_med_2": (300, 100, 20, 30),
}


@pytest.fixture()
def originals(tmp_path: Path) -> tuple[Path, Path]:
    masks_dir, lists_dir = tmp_path / "puppet_mask", tmp_path / "lists"
    for name, count in {**TRAIN, **TEST}.items():
        masks = _moving_box_masks(count, *BOXES[name])
        _write_mask(masks_dir, name, np.moveaxis(masks, 0, 2).astype(np.uint8))
    lists_dir.mkdir()
    (lists_dir / "trainlist.txt").write_text(_frame_lines(TRAIN))
    (lists_dir / "testlist.txt").write_text(_frame_lines(TEST))
    (lists_dir / "test_video.txt").write_text("".join(f"{n}/\n" for n in TEST))
    return masks_dir, lists_dir


def test_originals_give_mask_boxes_in_list_order(originals: tuple[Path, Path]) -> None:
    masks_dir, lists_dir = originals
    train = load_jhmdb21(masks_dir, lists_dir, "train")
    assert train.names == list(TRAIN)  # list order, not sorted
    assert train.labels().tolist() == [20, 0] and train.classes == JHMDB21_CLASSES
    assert full_cost(train) == 5
    for video in train:
        x, y, w, h = BOXES[video.name]
        expected = [[x, y + frame, w, h] for frame in range(video.num_frames)]
        assert video.tubes[0].boxes.tolist() == expected
        assert np.array_equal(video.masks.array(), _moving_box_masks(video.num_frames, x, y, w, h))
    test = load_jhmdb21(masks_dir, lists_dir, "test")
    assert test.names == list(TEST) and test.videos[0].num_frames == 4
    assert to_yowo_boxes(test.videos[0].tubes[0].boxes)[0].tolist() == [301, 101, 320, 131]


def test_video_files_are_attached_where_found(originals: tuple[Path, Path], tmp_path: Path) -> None:
    videos_dir = tmp_path / "videos"
    (videos_dir / "wave").mkdir(parents=True)
    (videos_dir / "wave" / "b_wave_u_nm_np1_fr_goo_0.avi").write_bytes(b"")
    pool = load_jhmdb21(*originals, "train", videos_dir)
    assert pool.videos[0].path == videos_dir / "wave" / "b_wave_u_nm_np1_fr_goo_0.avi"
    assert pool.videos[1].path is None and pool.videos[0].masks is not None
    assert load_jhmdb21(split="test", videos_dir=videos_dir).videos[0].path is None
    with pytest.raises(DataError, match="videos folder not found"):
        load_jhmdb21(*originals, "train", tmp_path / "absent")


def test_missing_or_unreadable_mat_names_the_video(originals: tuple[Path, Path]) -> None:
    masks_dir, lists_dir = originals
    mat = masks_dir / "wave" / "b_wave_u_nm_np1_fr_goo_0" / "puppet_mask.mat"
    mat.write_bytes(b"MATLAB 5.0 MAT-file, garbage" * 10)
    with pytest.raises(DataError, match="wave/b_wave_u_nm_np1_fr_goo_0: cannot read puppet mask"):
        load_jhmdb21(masks_dir, lists_dir, "train")
    mat.unlink()
    with pytest.raises(DataError, match="wave/b_wave_u_nm_np1_fr_goo_0: puppet mask not found"):
        load_jhmdb21(masks_dir, lists_dir, "train")


def test_list_naming_a_video_without_mask(originals: tuple[Path, Path]) -> None:
    masks_dir, lists_dir = originals
    with (lists_dir / "trainlist.txt").open("a") as stream:
        stream.write("jump/ghost_jump_f_cm_np1_ba_bad_0/00001.txt\n")
    with pytest.raises(DataError, match="jump/ghost_jump_f_cm_np1_ba_bad_0: puppet mask not found"):
        load_jhmdb21(masks_dir, lists_dir, "train")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"other": np.ones((240, 320, 2), np.uint8)}, "holds no variable 'part_mask'"),
        ({"part_mask": np.ones((240, 320), np.uint8)}, "integer H x W x T array"),
        ({"part_mask": np.ones((120, 160, 2), np.uint8)}, "J-HMDB frames are 240 x 320"),
    ],
)
def test_malformed_part_mask(
    originals: tuple[Path, Path], content: dict[str, np.ndarray], message: str
) -> None:
    masks_dir, lists_dir = originals
    name = "brush_hair/a_brush_hair_u_nm_np1_ba_goo_1"
    scipy.io.savemat(masks_dir / name / "puppet_mask.mat", content)
    with pytest.raises(DataError, match=f"{name}: .*{message}"):
        load_jhmdb21(masks_dir, lists_dir, "train")


def test_empty_mask_on_a_listed_frame(originals: tuple[Path, Path]) -> None:
    masks_dir, lists_dir = originals
    name = "clap/c_clap_u_nm_np1_fr_med_2"
    part_mask = np.moveaxis(_moving_box_masks(4, *BOXES[name]), 0, 2).astype(np.uint8)
    part_mask[:, :, 2] = 0
    _write_mask(masks_dir, name, part_mask)
    with pytest.raises(
        DataError, match=rf"{name}: .*no foreground pixel on listed frame\(s\) \[3\]"
    ):
        load_jhmdb21(masks_dir, lists_dir, "test")


@pytest.mark.parametrize("frames", [[1, 2], [1, 2, 3, 4], [1, 2, 2], [0, 1, 2]])
def test_frame_count_disagreeing_with_the_list(
    originals: tuple[Path, Path], frames: list[int]
) -> None:
    masks_dir, lists_dir = originals
    name = "wave/b_wave_u_nm_np1_fr_goo_0"  # 3 mask frames
    lines = [f"{name}/{f:05d}.txt\n" for f in frames]
    lines += [f"brush_hair/a_brush_hair_u_nm_np1_ba_goo_1/{f:05d}.txt\n" for f in (1, 2)]
    (lists_dir / "trainlist.txt").write_text("".join(lines))
    with pytest.raises(DataError, match=f"{name}: trainlist.txt lists .* the puppet mask has 3"):
        load_jhmdb21(masks_dir, lists_dir, "train")


def test_test_lists_must_agree(originals: tuple[Path, Path]) -> None:
    masks_dir, lists_dir = originals
    with (lists_dir / "test_video.txt").open("a") as stream:
        stream.write("pour/d_pour_u_nm_np1_fr_med_0/\n")
    with pytest.raises(DataError, match="pour/d_pour_u_nm_np1_fr_med_0: in test_video.txt but"):
        load_jhmdb21(masks_dir, lists_dir, "test")
    (lists_dir / "test_video.txt").write_text("")
    with pytest.raises(DataError, match="clap/c_clap_u_nm_np1_fr_med_2: has frames in testlist"):
        load_jhmdb21(masks_dir, lists_dir, "test")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("wave/b_wave_u_nm_np1_fr_goo_0/1.png\n", r"line 6: expected '<class>/<video>/<frame>"),
        ("dance/e_dance_0/00001.txt\n", "e_dance_0: .*line 6, names class 'dance'"),
    ],
)
def test_malformed_frame_list(originals: tuple[Path, Path], line: str, message: str) -> None:
    masks_dir, lists_dir = originals
    with (lists_dir / "trainlist.txt").open("a") as stream:
        stream.write(line)
    with pytest.raises(DataError, match=message):
        load_jhmdb21(masks_dir, lists_dir, "train")


def test_video_list_format(tmp_path: Path) -> None:
    path = tmp_path / "test_video.txt"
    path.write_text("clap/a_clap/\n\nwave/b_wave\n")
    assert read_video_list(path) == ["clap/a_clap", "wave/b_wave"]
    path.write_text("clap/a_clap/\nclap/a_clap/\n")
    with pytest.raises(DataError, match="clap/a_clap: listed twice"):
        read_video_list(path)
    path.write_text("clap/a/b/\n")
    with pytest.raises(DataError, match="line 1: expected '<class>/<video>/'"):
        read_video_list(path)
    with pytest.raises(DataError, match="split list not found"):
        read_frame_list(tmp_path / "trainlist.txt")


def test_bad_arguments_and_missing_folders(originals: tuple[Path, Path], tmp_path: Path) -> None:
    masks_dir, lists_dir = originals
    with pytest.raises(ValueError, match="split"):
        load_jhmdb21(split="val")
    with pytest.raises(ValueError, match="both masks_dir and lists_dir"):
        load_jhmdb21(masks_dir=masks_dir)
    with pytest.raises(ValueError, match="archive"):
        load_jhmdb21(masks_dir, lists_dir, archive=jhmdb21_annotations_path())
    with pytest.raises(DataError, match="puppet mask folder not found"):
        load_jhmdb21(tmp_path / "absent", lists_dir)
    with pytest.raises(DataError, match="test_video.txt: split list not found"):
        load_jhmdb21(masks_dir, tmp_path, "test")


# --- the archive layout and the converter -----------------------------------------------------


def test_archive_round_trip_and_corruption(originals: tuple[Path, Path], tmp_path: Path) -> None:
    pools = [load_jhmdb21(*originals, split) for split in ("train", "test")]
    path = write_jhmdb21_npz(pools, tmp_path / "a.npz", provenance={"source": "test"})
    for pool in pools:
        again = load_jhmdb21(split=pool.split, archive=path)
        assert again.names == pool.names
        for a, b in zip(pool, again, strict=True):
            assert a.label == b.label and np.array_equal(a.tubes[0].boxes, b.tubes[0].boxes)
            assert np.array_equal(a.masks.array(), b.masks.array())
    with np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    np.savez_compressed(tmp_path / "short.npz", **{**arrays, "boxes": arrays["boxes"][:-1]})
    with pytest.raises(DataError, match="short.npz: inconsistent arrays"):
        load_jhmdb21(archive=tmp_path / "short.npz")
    runs = arrays["mask_runs"].copy()
    runs[0, 0] += 1  # the first frame's runs now cover one pixel too many
    np.savez_compressed(tmp_path / "runs.npz", **{**arrays, "mask_runs": runs})
    with pytest.raises(DataError, match="wave/b_wave_u_nm_np1_fr_goo_0: .*runs.npz: mask frame"):
        load_jhmdb21(archive=tmp_path / "runs.npz")
    boxes = arrays["boxes"].copy()
    boxes[0, 2] = 400
    np.savez_compressed(tmp_path / "boxes.npz", **{**arrays, "boxes": boxes})
    with pytest.raises(DataError, match="wave/b_wave_u_nm_np1_fr_goo_0: .*outside the frame"):
        load_jhmdb21(archive=tmp_path / "boxes.npz")
    del arrays["mask_runs"]
    np.savez_compressed(tmp_path / "partial.npz", **arrays)
    with pytest.raises(DataError, match=r"missing \['mask_runs'\]"):
        load_jhmdb21(archive=tmp_path / "partial.npz")
    with pytest.raises(DataError, match="annotation archive not found"):
        load_jhmdb21(archive=tmp_path / "absent.npz")
    without_masks = VideoPool(
        "jhmdb21", "train", JHMDB21_CLASSES, (dataclasses.replace(pools[0].videos[0], masks=None),)
    )
    with pytest.raises(DataError, match="wave/b_wave_u_nm_np1_fr_goo_0: needs one tube"):
        write_jhmdb21_npz([without_masks], tmp_path / "b.npz", provenance={})
    with pytest.raises(ValueError, match="'train' or 'test'"):
        write_jhmdb21_npz([VideoPool("jhmdb21", "all", (), ())], tmp_path / "b.npz", provenance={})


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _yowo_zip(path: Path, test: VideoPool, *, drop_last: bool = False) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("groundtruths_jhmdb/", "")
        for video in test:
            class_name, video_name = video.name.split("/")
            boxes = to_yowo_boxes(video.tubes[0].boxes)
            for frame, (x1, y1, x2, y2) in enumerate(boxes[:-1] if drop_last else boxes, 1):
                member = f"groundtruths_jhmdb/{class_name}_{video_name}_{frame:05d}.txt"
                archive.writestr(member, f"{video.label + 1} {x1} {y1} {x2} {y2}\n")
    return path


def test_converter_writes_archive_and_yowo_fixture(
    originals: tuple[Path, Path], tmp_path: Path
) -> None:
    module = _script("convert_jhmdb21")
    output = tmp_path / "annotations.npz"
    train, test = module.convert(*originals, output, source="fake")
    assert load_jhmdb21(split="train", archive=output).names == list(TRAIN)
    with np.load(output) as npz:
        provenance = json.loads(str(npz["provenance"]))
    assert provenance["counts"]["test"]["frames"] == 4
    train_list = originals[1] / "trainlist.txt"
    assert provenance["inputs"]["lists"][0] == {
        "file": "trainlist.txt",
        "size_bytes": train_list.stat().st_size,
        "sha256": hashlib.sha256(train_list.read_bytes()).hexdigest(),
    }
    assert provenance["inputs"]["puppet_masks"]["files"] == 3
    fixture = tmp_path / "yowo.npz"
    module.write_yowo_boxes(_yowo_zip(tmp_path / "gt.zip", test), test, fixture)
    with np.load(fixture) as npz:
        assert npz["boxes"].tolist() == [[301, 101 + f, 320, 131 + f] for f in range(4)]
        assert npz["frames"].tolist() == [1, 2, 3, 4] and npz["class_ids"].tolist() == [3] * 4
    with pytest.raises(DataError, match="1 test frames have no box"):
        module.write_yowo_boxes(
            _yowo_zip(tmp_path / "short.zip", test, drop_last=True), test, fixture
        )


def test_stats_tables(train: VideoPool, test: VideoPool) -> None:
    stats = _script("jhmdb21_stats")
    summary = stats.summary([train, test])
    assert "| train | 660 | 22,712 | 22,712 | 34.4 (15-40) |" in summary
    assert "| test | 268 | 9,126 | 9,126 |" in summary
    rows = [line.split(" | ") for line in stats.per_class([train, test]).splitlines()[2:]]
    assert len(rows) == 21 and rows[0][1] == "brush_hair"
    assert sum(int(row[3]) for row in rows) == 22_712
    assert sum(int(row[5].rstrip(" |")) for row in rows) == 9_126


# --- against the original files (skipped without ../shared) -----------------------------------


@needs_shared
def test_real_groundtruth_zip_matches_the_shipped_test_boxes(test: VideoPool) -> None:
    ours = {  # (class/video, 1-based frame) -> YOWO box
        (video.name, frame + 1): box.tolist()
        for video in test
        for frame, box in enumerate(to_yowo_boxes(video.tubes[0].boxes))
    }
    seen = {}
    with zipfile.ZipFile(SHARED / "groundtruths_jhmdb.zip") as archive:
        for member in archive.namelist():
            if member.endswith(".txt"):
                class_id, *box = (int(v) for v in archive.read(member).split())
                class_name = JHMDB21_CLASSES[class_id - 1]
                stem = Path(member).stem
                assert stem.startswith(class_name + "_")
                seen[(f"{class_name}/{stem[len(class_name) + 1 : -6]}", int(stem[-5:]))] = box
    assert len(seen) == 9_126
    assert seen == ours


@needs_shared
def test_shipped_archive_equals_the_mat_files_on_a_sample(
    train: VideoPool, test: VideoPool, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    lists_dir = tmp_path / "lists"
    lists_dir.mkdir()
    sample = {}
    for pool in (train, test):
        by_class = [[v.name for v in pool if v.label == label] for label in range(21)]
        sample[pool.split] = [str(rng.choice(names)) for names in by_class]  # one per class
    for list_name, split in (("trainlist.txt", "train"), ("testlist.txt", "test")):
        real = (SHARED / "yowo_lists" / list_name).read_text().splitlines()
        chosen = set(sample[split])
        kept = [line for line in real if line.rsplit("/", 1)[0] in chosen]
        (lists_dir / list_name).write_text("\n".join(kept) + "\n")
    order = [v for v in test.names if v in set(sample["test"])]
    (lists_dir / "test_video.txt").write_text("".join(f"{name}/\n" for name in order))
    for pool in (train, test):
        from_mat = load_jhmdb21(SHARED / "puppet_mask", lists_dir, pool.split)
        assert sorted(from_mat.names) == sorted(sample[pool.split])
        for video in from_mat:
            shipped = pool[video.name]
            assert (video.label, video.num_frames) == (shipped.label, shipped.num_frames)
            assert np.array_equal(video.tubes[0].boxes, shipped.tubes[0].boxes)
            assert np.array_equal(video.masks.runs, shipped.masks.runs)
            assert np.array_equal(video.masks.array(), shipped.masks.array())


@needs_shared
def test_shipped_pools_follow_the_source_lists(train: VideoPool, test: VideoPool) -> None:
    for name, digest in LIST_SHA256.items():
        assert hashlib.sha256((SHARED / "yowo_lists" / name).read_bytes()).hexdigest() == digest
    assert list(read_frame_list(SHARED / "yowo_lists" / "trainlist.txt")) == train.names
    assert read_video_list(SHARED / "yowo_lists" / "test_video.txt") == test.names
