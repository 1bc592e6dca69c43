"""Tests of the ACT ground-truth pickle loader (claus_core.data.act) on small written pickles."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from claus_core.cost import full_cost
from claus_core.data.act import act_tube_to_xywh, load_act_pickle
from claus_core.data.tube_checks import BoxOutsideFrameWarning
from claus_core.data.types import DataError


def _track(first_frame: int, n: int, x1=10.0, y1=20.0, x2=49.0, y2=99.0) -> np.ndarray:
    frames = np.arange(first_frame, first_frame + n, dtype=np.float32)  # 1-based
    corners = np.tile(np.array([x1, y1, x2, y2], dtype=np.float32), (n, 1))
    return np.column_stack([frames, corners])  # [n, 5]


def _gt() -> dict:
    """JHMDB-GT.pkl-shaped ground truth: 2 classes, 4 videos, 2 splits."""
    return {
        "labels": ["brush_hair", "catch"],
        "gttubes": {
            "brush_hair/v1": {0: [_track(1, 40)]},
            "brush_hair/v2": {0: [_track(3, 10), _track(5, 20, 100, 100, 139, 179)]},
            "catch/v3": {1: [_track(1, 15)]},
            "catch/v4": {1: [_track(2, 30)]},
        },
        "nframes": {"brush_hair/v1": 40, "brush_hair/v2": 30, "catch/v3": 15, "catch/v4": 31},
        "train_videos": [["brush_hair/v1", "catch/v3"], ["brush_hair/v2", "catch/v4"]],
        "test_videos": [["brush_hair/v2", "catch/v4"], ["brush_hair/v1", "catch/v3"]],
        "resolution": {
            "brush_hair/v1": (240, 320),
            "brush_hair/v2": (240, 320),
            "catch/v3": (240, 320),
            "catch/v4": (480, 640),
        },
    }


def _write(tmp_path: Path, data: dict, protocol: int = 4) -> Path:
    path = tmp_path / "JHMDB-GT.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    return path


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_splits_frames_and_boxes(tmp_path: Path, protocol: int) -> None:
    path = _write(tmp_path, _gt(), protocol)
    train = load_act_pickle(path, "train")
    assert train.dataset == "JHMDB-GT" and train.classes == ("brush_hair", "catch")
    assert train.names == ["brush_hair/v1", "catch/v3"]
    assert load_act_pickle(path, "test").names == ["brush_hair/v2", "catch/v4"]
    assert load_act_pickle(path, "train", split_index=2).names == ["brush_hair/v2", "catch/v4"]
    assert len(load_act_pickle(path, "all")) == 4
    v1 = train["brush_hair/v1"]
    assert (v1.label, v1.num_frames, v1.width, v1.height) == (0, 40, 320, 240)
    (tube,) = v1.tubes
    assert (tube.start, tube.end) == (0, 40)  # 1-based frames 1..40 -> [0, 40)
    assert tube.boxes[0].tolist() == [10, 20, 40, 80]  # inclusive corners: w = x2 - x1 + 1
    v2 = load_act_pickle(path, "test")["brush_hair/v2"]
    assert [(t.start, t.end) for t in v2.tubes] == [(2, 12), (4, 24)]
    assert full_cost(load_act_pickle(path, "test")) == 10 + 20 + 30
    v4 = load_act_pickle(path, "test")["catch/v4"]
    assert (v4.label, v4.width, v4.height) == (1, 640, 480)


def test_act_tube_conversion() -> None:
    start, end, boxes = act_tube_to_xywh("v", 0, _track(7, 3, 0, 0, 9, 4))
    assert (start, end) == (6, 9)
    assert boxes.tolist() == [[0, 0, 10, 5]] * 3


def test_bad_split_arguments(tmp_path: Path) -> None:
    path = _write(tmp_path, _gt())
    with pytest.raises(ValueError, match="split_index must be in 1..2"):
        load_act_pickle(path, "train", split_index=3)
    with pytest.raises(ValueError, match="split must be one of"):
        load_act_pickle(path, "val")


def _mutated(mutate) -> dict:
    data = _gt()
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["gttubes"]["brush_hair/v1"][0].__setitem__(
                0, np.delete(_track(1, 40), 10, axis=0)
            ),
            r"brush_hair/v1: tube 0 frames are not consecutive \(frame 10 is followed by 12\)",
        ),
        (
            lambda d: d["gttubes"]["brush_hair/v1"].update({1: [_track(1, 5)]}),
            r"brush_hair/v1: label disagreement, tubes carry labels \[0, 1\]",
        ),
        (
            lambda d: d["nframes"].update({"brush_hair/v1": 39}),
            r"brush_hair/v1: tube 0 covers frames \[0, 40\) beyond the video's 39 frames",
        ),
        (
            lambda d: d["gttubes"]["brush_hair/v1"][0].__setitem__(0, np.zeros((4, 4))),
            r"brush_hair/v1: tube 0 must be a non-empty numeric array \[frames, 5\]",
        ),
        (
            lambda d: d["gttubes"]["brush_hair/v1"][0].__setitem__(0, _track(0, 40)),
            "brush_hair/v1: tube 0 starts at negative frame -1",
        ),
        (
            lambda d: d["resolution"].pop("brush_hair/v1"),
            "brush_hair/v1: missing from 'nframes' or 'resolution'",
        ),
        (
            lambda d: d["gttubes"]["brush_hair/v1"].update(
                {5: d["gttubes"]["brush_hair/v1"].pop(0)}
            ),
            "brush_hair/v1: label 5 is not one of the 2 classes",
        ),
    ],
)
def test_bad_tubes_raise_data_error(tmp_path: Path, mutate, message: str) -> None:
    path = _write(tmp_path, _mutated(mutate))
    with pytest.raises(DataError, match=message):
        load_act_pickle(path, "train")


def test_missing_fields_and_files(tmp_path: Path) -> None:
    path = _write(tmp_path, _mutated(lambda d: d.pop("resolution")))
    with pytest.raises(DataError, match=r"JHMDB-GT.pkl: not an ACT .* \['resolution'\]"):
        load_act_pickle(path, "train")
    with pytest.raises(DataError, match="not found"):
        load_act_pickle(tmp_path / "UCF101v2-GT.pkl", "train")
    listed_twice = _write(tmp_path, _mutated(lambda d: d["test_videos"][0].append("catch/v3")))
    with pytest.raises(DataError, match="lists a video twice"):
        load_act_pickle(listed_twice, "all")


def test_refused_global(tmp_path: Path) -> None:
    path = tmp_path / "UCF101v2-GT.pkl"
    path.write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(DataError, match="'builtins.eval'"):
        load_act_pickle(path, "train")


def test_box_outside_frame_is_clipped_with_a_warning(tmp_path: Path) -> None:
    data = _gt()
    data["gttubes"]["catch/v3"][1][0] = _track(1, 15, 300, 200, 339, 259)
    path = _write(tmp_path, data)
    with pytest.warns(BoxOutsideFrameWarning, match="catch/v3: tube 0: 15 boxes"):
        pool = load_act_pickle(path, "train")
    assert pool["catch/v3"].tubes[0].boxes[0].tolist() == [300, 200, 20, 40]


def test_video_without_tubes_takes_its_folder_label(tmp_path: Path) -> None:
    path = _write(tmp_path, _mutated(lambda d: d["gttubes"].pop("catch/v3")))
    video = load_act_pickle(path, "train")["catch/v3"]
    assert (video.label, video.tubes) == (1, ())
