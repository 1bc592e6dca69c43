"""Tests of PyAV decoding (claus_core.data.video) on the shipped real mini videos."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from claus_core.data.types import DataError, Tube, VideoPool, VideoRecord
from claus_core.data.ucf101_24 import ucf101_24_mini_root
from claus_core.data.video import (
    VideoError,
    VideoFolder,
    VideoInfo,
    find_video_file,
    probe_video,
    read_frames,
    read_video,
)

MINI = ucf101_24_mini_root()
AVI = MINI / "Biking" / "v_Biking_g01_c03.avi"  # 151 frames, 320 x 240, 29.97 fps
MP4 = MINI / "CliffDiving" / "v_CliffDiving_g03_c01.mp4"  # 92 frames, 340 x 256, 25 fps


def _pool(path: Path | None, num_frames: int, width: int = 320, height: int = 240) -> VideoPool:
    tube = Tube(0, 0, 2, np.array([[10, 10, 40, 60]] * 2, dtype=np.float32))
    record = VideoRecord("Biking/v", 0, num_frames, width, height, (tube,), path=path)
    return VideoPool("test", "all", ("Biking",), (record,))


def test_probe_counts_decoded_frames() -> None:
    assert probe_video(AVI) == VideoInfo(
        num_frames=151, width=320, height=240, fps=pytest.approx(30000 / 1001)
    )
    info = probe_video(MP4)  # its stream header declares 0 frames
    assert (info.num_frames, info.width, info.height, info.fps) == (92, 340, 256, 25.0)


def test_read_video_shape_and_resize() -> None:
    frames = read_video(MP4)
    assert frames.shape == (92, 256, 340, 3) and frames.dtype == np.uint8
    assert frames.std() > 10  # real pixels, not a blank buffer
    small = read_video(MP4, size=(60, 80))
    assert small.shape == (92, 60, 80, 3)
    assert abs(float(small.mean()) - float(frames.mean())) < 3
    with pytest.raises(ValueError, match="size"):
        read_video(MP4, size=(0, 80))


def test_find_video_file_ucf_and_flat_layouts(tmp_path: Path) -> None:
    assert find_video_file(MINI, "Biking/v_Biking_g01_c03") == AVI
    assert find_video_file(MINI, "CliffDiving/v_CliffDiving_g03_c01") == MP4
    assert find_video_file(MINI, "Biking/v_Biking_g99_c01") is None
    shutil.copyfile(MP4, tmp_path / MP4.name)
    assert find_video_file(tmp_path, "CliffDiving/v_CliffDiving_g03_c01") == tmp_path / MP4.name
    assert find_video_file(tmp_path, "v_CliffDiving_g03_c01") == tmp_path / MP4.name
    assert find_video_file(tmp_path / "absent", "v_CliffDiving_g03_c01") is None


def test_missing_file_raises_video_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent.avi"
    for call in (probe_video, read_video):
        with pytest.raises(VideoError, match="absent.avi: video file not found"):
            call(missing)
    assert issubclass(VideoError, DataError)


def test_random_bytes_raise_video_error_naming_the_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.avi"
    corrupt.write_bytes(np.random.default_rng(7).bytes(20_000))
    for call in (probe_video, read_video):
        with pytest.raises(VideoError, match="corrupt.avi: cannot decode"):
            call(corrupt)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    with pytest.raises(VideoError, match="notes.mp4"):
        probe_video(text)


def test_truncated_real_file(tmp_path: Path) -> None:
    header_only = tmp_path / "header_only.avi"
    header_only.write_bytes(AVI.read_bytes()[:3000])
    with pytest.raises(VideoError, match="header_only.avi"):
        read_video(header_only)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(AVI.read_bytes()[:20_000])
    assert 0 < probe_video(cut).num_frames < 151


def test_video_folder_decodes_at_the_pool_geometry() -> None:
    source = VideoFolder(_pool(MP4, 92, width=160, height=120))
    frames = source.frames("Biking/v")
    assert frames.shape == (92, 120, 160, 3)


def test_read_frames_keeps_only_the_frames_asked_for() -> None:
    whole = read_video(MP4)  # [frame, H, W, 3]
    picked = read_frames(MP4, [0, 45, 91])
    assert sorted(picked) == [0, 45, 91]
    for index, pixels in picked.items():
        np.testing.assert_array_equal(pixels, whole[index])
    with pytest.raises(VideoError, match=r"v_CliffDiving_g03_c01.mp4: no frame 92"):
        read_frames(MP4, [3, 92])


def test_video_folder_checks_frame_count_and_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"Biking/v: .* decodes to 92 frames but .* says 93"):
        VideoFolder(_pool(MP4, 93)).frames("Biking/v")
    with pytest.raises(DataError, match=r"Biking/v: .* decodes to 92 frames but .* says 91"):
        VideoFolder(_pool(MP4, 91)).frames("Biking/v")  # more frames than room: still counted
    with pytest.raises(VideoError, match="no video file"):
        VideoFolder(_pool(None, 92)).frames("Biking/v")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(AVI.read_bytes()[:20_000])
    with pytest.raises(DataError, match="decodes to .* frames but the annotation says 151"):
        VideoFolder(_pool(cut, 151)).frames("Biking/v")


@pytest.mark.parametrize("name", ["../outside", "Biking/../../outside", "/etc/passwd"])
def test_a_video_name_that_would_leave_the_videos_folder_is_refused(
    tmp_path: Path, name: str
) -> None:
    (tmp_path / "outside.avi").write_bytes(b"")  # beside the videos folder, not in it
    (tmp_path / "videos").mkdir()
    with pytest.raises(DataError, match="must be a relative path inside the videos folder"):
        find_video_file(tmp_path / "videos", name)
