"""Tests of the UCF-101-24 loader, the shipped annotations and the real mini set."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from claus_core.cost import full_cost, percent_cost
from claus_core.data.tube_checks import BoxOutsideFrameWarning
from claus_core.data.types import DataError
from claus_core.data.ucf101_24 import (
    ARRAY_FIELDS,
    load_ucf101_24,
    load_ucf101_24_mini,
    read_annotations,
    read_testlist,
    ucf101_24_annotations_path,
    ucf101_24_class_names,
    ucf101_24_mini_root,
)
from claus_core.data.video import probe_video

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "ucf101_24"
needs_shared = pytest.mark.skipif(
    not (SHARED / "pyannot.pkl").is_file(), reason="../shared/data/ucf101_24 is not present"
)
PYANNOT_SHA256 = "757b75b8a7d4ec44374e38f69093a15da15b665db603e01de7cb11c71070199c"
TESTLIST_SHA256 = "99ff0a7e07569581bb51f3846835d19beb44f3c28846cfc38f408ed02a5bd392"
MINI_NUMF = {  # numf of the 16 real videos, from ../shared/data/SOURCES.md
    "Basketball/v_Basketball_g01_c01": 141,
    "Basketball/v_Basketball_g01_c02": 180,
    "Basketball/v_Basketball_g07_c04": 101,
    "Biking/v_Biking_g01_c01": 151,
    "Biking/v_Biking_g01_c03": 151,
    "Biking/v_Biking_g05_c02": 201,
    "CliffDiving/v_CliffDiving_g03_c01": 92,
    "CliffDiving/v_CliffDiving_g05_c02": 76,
    "Fencing/v_Fencing_g01_c06": 174,
    "GolfSwing/v_GolfSwing_g01_c01": 172,
    "HorseRiding/v_HorseRiding_g01_c02": 102,
    "HorseRiding/v_HorseRiding_g01_c03": 98,
    "IceDancing/v_IceDancing_g02_c05": 244,
    "SalsaSpin/v_SalsaSpin_g03_c01": 168,
    "SkateBoarding/v_SkateBoarding_g02_c01": 369,
    "SkateBoarding/v_SkateBoarding_g04_c01": 106,
}


def _tube(label: int, start: int, end: int, box=(10, 20, 30, 40), dtype=np.uint8) -> dict:
    return {
        "label": label,
        "sf": start,
        "ef": end,
        "boxes": np.array([box] * (end - start), dtype=dtype),
    }


def _pyannot() -> dict:
    """A small pyannot.pkl-shaped dict: two classes (labels 2 and 9), three videos."""
    return {
        "Biking/v_Biking_g01_c01": {
            "numf": np.uint8(30),
            "label": 2,
            "annotations": [_tube(2, 0, 10), _tube(2, 5, 30, (100, 50, 60, 90), np.uint16)],
        },
        "Biking/v_Biking_g08_c01": {"numf": np.uint8(12), "label": 2, "annotations": []},
        "HorseRiding/v_HorseRiding_g09_c02": {
            "numf": np.uint16(300),
            "label": 9,
            "annotations": [_tube(9, 3, 8)],
        },
    }


def _write(tmp_path: Path, data: dict, testlist: str = "Biking/v_Biking_g01_c01") -> tuple:
    pkl = tmp_path / "pyannot.pkl"
    pkl.write_bytes(pickle.dumps(data, protocol=2))
    listing = tmp_path / "testlist01.txt"
    listing.write_text(testlist)  # no trailing newline, like the real file
    return pkl, listing


# --- the shipped annotations --------------------------------------------------------------


def test_split1_counts_from_shipped_annotations() -> None:
    train, test = load_ucf101_24(split="train"), load_ucf101_24(split="test")
    assert (len(train), full_cost(train)) == (2284, 403282)
    assert (len(test), full_cost(test)) == (910, 170580)
    assert sum(v.num_boxes() for v in test) == 170580
    assert not set(train.names) & set(test.names)
    assert len(load_ucf101_24(split="all")) == 3194
    assert train.dataset == "ucf101_24" and train.split == "train"
    assert {(v.width, v.height) for v in train} == {(320, 240)}
    assert all(v.path is None for v in train)


def test_cost_of_full_and_90_percent_train() -> None:
    train = load_ucf101_24()
    assert full_cost(train) == 403282
    assert percent_cost(train, 90) == 362953


def test_class_names_by_label_id() -> None:
    names = ucf101_24_class_names()
    assert len(names) == 24
    assert names[0] == "Basketball" and names[2] == "Biking" and names[23] == "WalkingWithDog"
    pool = load_ucf101_24(split="all")
    assert pool.classes == names
    assert all(v.name.split("/")[0] == names[v.label] for v in pool)


def test_shipped_file_is_compact_and_records_its_sources() -> None:
    path = ucf101_24_annotations_path()
    assert path.stat().st_size < 3_000_000
    with np.load(path, allow_pickle=False) as npz:
        assert npz["boxes"].dtype == np.uint16 and npz["boxes"].shape == (573862, 4)
        provenance = json.loads(str(npz["provenance"]))
    assert {entry["sha256"] for entry in provenance["inputs"]} == {
        PYANNOT_SHA256,
        TESTLIST_SHA256,
    }
    assert provenance["counts"] == {
        "videos": 3194,
        "test_videos": 910,
        "tubes": 4458,
        "boxes": 573862,
    }


@needs_shared
def test_shipped_npz_equals_pyannot_pkl() -> None:
    assert hashlib.sha256((SHARED / "pyannot.pkl").read_bytes()).hexdigest() == PYANNOT_SHA256
    shipped = read_annotations()
    original = read_annotations(SHARED / "pyannot.pkl", testlist=SHARED / "testlist01.txt")
    for field in ARRAY_FIELDS:
        assert np.array_equal(getattr(shipped, field), getattr(original, field)), field
    assert shipped.class_names == original.class_names
    assert original.is_test.sum() == len(read_testlist(SHARED / "testlist01.txt")) == 910


@needs_shared
def test_pool_from_pyannot_equals_pool_from_npz() -> None:
    from_pkl = load_ucf101_24(SHARED / "pyannot.pkl", "test")  # default: shipped test list
    from_npz = load_ucf101_24(split="test")
    assert from_pkl.names == from_npz.names and from_pkl.classes == from_npz.classes
    for a, b in zip(from_pkl, from_npz, strict=True):
        assert (a.label, a.num_frames, len(a.tubes)) == (b.label, b.num_frames, len(b.tubes))
        for ta, tb in zip(a.tubes, b.tubes, strict=True):
            assert (ta.start, ta.end) == (tb.start, tb.end)
            assert np.array_equal(ta.boxes, tb.boxes)


@needs_shared
def test_converter_reproduces_the_shipped_file(tmp_path: Path) -> None:
    module = _script("convert_ucf101_24")
    out = module.convert(
        SHARED / "pyannot.pkl",
        SHARED / "testlist01.txt",
        tmp_path / "a.npz",
        source=module.DEFAULT_SOURCE,
    )
    with np.load(out) as fresh, np.load(ucf101_24_annotations_path()) as shipped:
        assert fresh.files == shipped.files
        for key in shipped.files:
            assert np.array_equal(fresh[key], shipped[key]), key


# --- the real mini set ---------------------------------------------------------------------


def test_real_mini_decoded_frame_counts_equal_numf() -> None:
    pool = load_ucf101_24_mini()
    assert pool.dataset == "ucf101_24_mini" and pool.split == "all"
    assert {v.name: v.num_frames for v in pool} == MINI_NUMF
    for video in pool:
        assert video.path is not None and video.path.is_relative_to(ucf101_24_mini_root())
        assert probe_video(video.path).num_frames == video.num_frames


def test_real_mini_boxes_scaled_to_decoded_size() -> None:
    mini = load_ucf101_24_mini()
    grid = load_ucf101_24(split="all").subset(mini.names)
    sizes = {}
    for video, original in zip(mini, grid, strict=True):
        sizes[video.path.suffix] = sizes.get(video.path.suffix, set()) | {
            (video.width, video.height)
        }
        sx, sy = video.width / 320, video.height / 240
        for tube, base in zip(video.tubes, original.tubes, strict=True):
            expected = base.boxes * np.array([sx, sy, sx, sy], dtype=np.float32)
            assert np.allclose(tube.boxes, expected)
            assert (tube.boxes[:, 0] + tube.boxes[:, 2] <= video.width + 1e-3).all()
    assert sizes == {".avi": {(320, 240)}, ".mp4": {(340, 256)}}
    mp4 = mini["Biking/v_Biking_g01_c01"]
    base = grid["Biking/v_Biking_g01_c01"].tubes[0].boxes
    assert np.allclose(mp4.tubes[0].boxes, base * np.array([340 / 320, 256 / 240] * 2))


def test_real_mini_has_its_own_train_test_split() -> None:
    """All 16 are split-1 test videos; the mini split tests the last video (by name) of every
    class with two or more: 5 test videos of 5 classes, 11 train videos of all 9 classes."""
    everything = load_ucf101_24_mini()
    train, test = load_ucf101_24_mini(split="train"), load_ucf101_24_mini(split="test")
    assert (len(train), len(test)) == (11, 5) and (train.split, test.split) == ("train", "test")
    assert set(train.names) | set(test.names) == set(everything.names)
    assert not set(train.names) & set(test.names)
    for name in test.names:
        same_class = sorted(n for n in everything.names if n.split("/")[0] == name.split("/")[0])
        assert len(same_class) >= 2 and name == same_class[-1]
    assert {train[n].label for n in train.names} == {v.label for v in everything}


def test_ucf101_24_on_the_mini_folder_points_at_the_mini_dataset(smoke_config) -> None:
    from claus_core.engine.sources import make_sources

    config = smoke_config("mini", dataset="ucf101_24", videos_dir=str(ucf101_24_mini_root()))
    with pytest.raises(DataError, match="run them as dataset ucf101_24_mini"):
        make_sources(config)


def test_mini_root_missing_raises(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="real mini videos are not there"):
        load_ucf101_24_mini(tmp_path / "absent")


# --- videos_dir ----------------------------------------------------------------------------


def test_videos_dir_flat_layout_and_require_videos(tmp_path: Path) -> None:
    source = ucf101_24_mini_root() / "Biking" / "v_Biking_g01_c01.mp4"
    shutil.copyfile(source, tmp_path / source.name)
    pool = load_ucf101_24(split="test", videos_dir=tmp_path)
    assert len(pool) == 910
    found = [v for v in pool if v.path is not None]
    assert [v.name for v in found] == ["Biking/v_Biking_g01_c01"]
    assert (found[0].width, found[0].height) == (340, 256)
    assert {(v.width, v.height) for v in pool if v.path is None} == {(320, 240)}
    only = load_ucf101_24(split="test", videos_dir=tmp_path, require_videos=True)
    assert only.names == ["Biking/v_Biking_g01_c01"]
    with pytest.raises(DataError, match="none of the 2284 videos"):
        load_ucf101_24(split="train", videos_dir=tmp_path, require_videos=True)


def test_videos_dir_frame_count_mismatch_names_video_and_counts(tmp_path: Path) -> None:
    source = ucf101_24_mini_root() / "Biking" / "v_Biking_g01_c03.avi"
    (tmp_path / "Biking").mkdir()
    (tmp_path / "Biking" / source.name).write_bytes(source.read_bytes()[:20_000])
    with pytest.raises(
        DataError, match=r"Biking/v_Biking_g01_c03: .* decodes to \d+ frames .* 151"
    ):
        load_ucf101_24(split="test", videos_dir=tmp_path)


def test_videos_dir_missing_or_corrupt(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="videos folder not found"):
        load_ucf101_24(split="test", videos_dir=tmp_path / "absent")
    (tmp_path / "v_Biking_g01_c03.avi").write_bytes(np.random.default_rng(1).bytes(4000))
    with pytest.raises(DataError, match="v_Biking_g01_c03.avi: cannot decode"):
        load_ucf101_24(split="test", videos_dir=tmp_path)
    with pytest.raises(ValueError, match="require_videos"):
        load_ucf101_24(split="test", require_videos=True)


# --- reading a pyannot.pkl and bad input ---------------------------------------------------


def test_small_pyannot_with_testlist(tmp_path: Path) -> None:
    pkl, listing = _write(tmp_path, _pyannot())
    train = load_ucf101_24(pkl, "train", testlist=listing)
    test = load_ucf101_24(pkl, "test", testlist=listing)
    assert train.names == ["Biking/v_Biking_g08_c01", "HorseRiding/v_HorseRiding_g09_c02"]
    assert test.names == ["Biking/v_Biking_g01_c01"]
    assert train.classes == ucf101_24_class_names()[:10]  # ids without videos: canonical names
    video = test["Biking/v_Biking_g01_c01"]
    assert (video.label, video.num_frames, [t.num_frames for t in video.tubes]) == (2, 30, [10, 25])
    assert video.tubes[1].boxes[0].tolist() == [100, 50, 60, 90]
    assert full_cost(test) == 35
    assert train["HorseRiding/v_HorseRiding_g09_c02"].num_frames == 300


def test_pyannot_defaults_to_the_shipped_test_list(tmp_path: Path) -> None:
    pkl, _ = _write(tmp_path, _pyannot())
    assert load_ucf101_24(pkl, "test").names == ["Biking/v_Biking_g01_c01"]  # group 1 is test
    assert len(load_ucf101_24(pkl, "train")) == 2


def test_testlist_suffixes_and_blank_lines(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("A/v_a.avi\n\n  B/v_b  \nC/v_c")
    assert read_testlist(listing) == ["A/v_a", "B/v_b", "C/v_c"]
    with pytest.raises(DataError, match="split list not found"):
        read_testlist(tmp_path / "absent.txt")


def test_missing_annotation_file_and_bad_split(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="absent.pkl: annotation file not found"):
        load_ucf101_24(tmp_path / "absent.pkl")
    with pytest.raises(ValueError, match="split"):
        load_ucf101_24(split="val")


def _broken(mutate) -> dict:
    data = _pyannot()
    mutate(data)
    return data


def _video(data: dict) -> dict:
    return data["Biking/v_Biking_g01_c01"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: _video(d).pop("numf"), r"malformed entry, missing fields \['numf'\]"),
        (lambda d: d.update({"Biking/v_x": [1, 2]}), "Biking/v_x: malformed entry"),
        (lambda d: _video(d).update(annotations="none"), "must be a list of tubes"),
        (lambda d: _video(d)["annotations"][0].pop("sf"), "malformed tube 0"),
        (lambda d: _video(d).update(numf=3.5), "'numf' must be an integer"),
        (
            lambda d: _video(d)["annotations"][0].update(boxes=np.zeros((10, 3))),
            r"tube 0 boxes must be a numeric array \[frames, 4\]",
        ),
        (
            lambda d: _video(d)["annotations"][0].update(ef=0),
            r"tube 0 ends before it starts \(end 0 <= start 0\)",
        ),
        (
            lambda d: _video(d)["annotations"][0].update(ef=9),
            r"tube 0 covers 9 frames \[0, 9\) but has 10 boxes",
        ),
        (
            lambda d: _video(d)["annotations"][1].update(sf=6, ef=31, boxes=np.ones((25, 4))),
            r"tube 1 covers frames \[6, 31\) beyond the video's 30 frames",
        ),
        (
            lambda d: _video(d)["annotations"][1].update(label=9),
            "label disagreement: tube 1 has label 9 but the video has label 2",
        ),
        (
            lambda d: _video(d).update(label=9),
            "label disagreement: class 'Biking' has label 9 elsewhere .* but 2 here",
        ),
        (
            lambda d: _video(d)["annotations"][0].update(boxes=np.array([[400, 10, 20, 20]] * 10)),
            "tube 0: the box at tube frame 0 lies wholly outside the 320x240 frame",
        ),
        (
            lambda d: _video(d)["annotations"][0].update(boxes=np.array([[10, 10, 0, 20]] * 10)),
            "tube 0 has a box of non-positive size",
        ),
    ],
)
def test_bad_pyannot_entries_raise_data_error_naming_the_video(
    tmp_path: Path, mutate, message: str
) -> None:
    pkl, listing = _write(tmp_path, _broken(mutate))
    with pytest.raises(DataError, match=message) as info:
        load_ucf101_24(pkl, "all", testlist=listing)
    assert "Biking/v_" in str(info.value)


def test_box_outside_frame_is_clipped_with_a_warning(tmp_path: Path) -> None:
    boxes = np.array([[300, 200, 40, 60]] + [[-5, 10, 20, 20]] + [[10, 20, 30, 40]] * 8)
    data = _broken(lambda d: _video(d)["annotations"][0].update(boxes=boxes))
    pkl, listing = _write(tmp_path, data)
    with pytest.warns(BoxOutsideFrameWarning, match="Biking/v_Biking_g01_c01: tube 0: 2 boxes"):
        pool = load_ucf101_24(pkl, "test", testlist=listing)
    clipped = pool["Biking/v_Biking_g01_c01"].tubes[0].boxes
    assert clipped[0].tolist() == [300, 200, 20, 40]
    assert clipped[1].tolist() == [0, 10, 15, 20]
    assert clipped[2].tolist() == [10, 20, 30, 40]


def test_refused_global_in_pyannot(tmp_path: Path) -> None:
    pkl = tmp_path / "pyannot.pkl"
    pkl.write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")
    with pytest.raises(DataError, match=r"pyannot.pkl: .*'os\.system'"):
        load_ucf101_24(pkl, "all")


def test_class_folder_with_two_labels(tmp_path: Path) -> None:
    data = _pyannot()
    data["HorseRiding/v_HorseRiding_g10_c01"] = {"numf": 5, "label": 3, "annotations": []}
    pkl, listing = _write(tmp_path, data)
    with pytest.raises(DataError, match="v_HorseRiding_g10_c01: label disagreement"):
        load_ucf101_24(pkl, "all", testlist=listing)


def test_corrupt_npz_archive(tmp_path: Path) -> None:
    bad = tmp_path / "annotations.npz"
    np.savez_compressed(bad, video_names=np.array(["a/b"]))
    with pytest.raises(DataError, match="missing"):
        load_ucf101_24(bad)
    with np.load(ucf101_24_annotations_path()) as npz:
        arrays = dict(npz)
    arrays["boxes"] = arrays["boxes"][:-1]
    np.savez_compressed(bad, **arrays)
    with pytest.raises(DataError, match="573861 boxes"):
        load_ucf101_24(bad)


# --- statistics in the data cards ----------------------------------------------------------


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("dataset", "card", "row"),
    [
        ("ucf101_24", "ucf101_24.md", "| train | 2284 | 395868 |"),
        ("ucf101_24_mini", "ucf101_24_real_mini.md", "| all | 16 | 2526 |"),
    ],
)
def test_data_cards_show_the_statistics_the_script_computes(
    dataset: str, card: str, row: str
) -> None:
    tables = _script("dataset_stats").report(dataset)
    assert row in tables
    assert tables in (REPO / "data_cards" / card).read_text()
