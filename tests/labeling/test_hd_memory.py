"""HD video in a labeling project (issue 26, 1): memory does not grow with the video's
resolution times its length. A generated 1080p clip of 120 frames would hold 746 MB of decoded
pixels at once (the whole-video decode did that, twice with ``np.stack``). Transcoding streams
its frames, and ``select`` decodes each video straight to the detector's input size; the peak
resident memory of each grows by far less than the clip, measured in a subprocess.
``benchmarks/bench_label_memory.py`` measures the whole commands on 720p to 4K, 16 s and 60 s."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

FRAMES, HEIGHT, WIDTH = 120, 1080, 1920
HELD_WHOLE_MB = FRAMES * HEIGHT * WIDTH * 3 / 2**20  # 746 MB of decoded pixels


def _write_clip(path: Path) -> None:
    """A moving gradient, 1080p, H.264 ultrafast: quick to write and to decode."""
    import av

    ramp = np.linspace(0, 255, WIDTH, dtype=np.float32)[None, :, None]  # [1, W, 1]
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for index in range(FRAMES):
            pixels = np.broadcast_to((ramp + 2 * index) % 256, (HEIGHT, WIDTH, 3)).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _growth_mb(code: str, *args: Path) -> tuple[str, int]:
    """What ``code`` printed before its peak resident memory growth (MB), run alone."""
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    *printed, growth = done.stdout.split()
    return " ".join(printed), int(growth)


def test_transcoding_a_1080p_clip_keeps_its_memory_bounded(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    _write_clip(clip)
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from claus_core.labeling.transcode import transcode_video\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "n = transcode_video(Path(sys.argv[1]), Path(sys.argv[2]), fps=25.0)\n"
        "print(n, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    frames, growth_mb = _growth_mb(code, clip, tmp_path / "copy.mp4")
    assert int(frames) == FRAMES
    # measured on 2026-12-07: the whole-video decode grew 1,238 MB, the streaming one 226 MB
    # (the x264 encoder's own buffers at 1080p); the import of claus_core is left out of both
    assert growth_mb < HELD_WHOLE_MB / 2, f"peak resident memory grew {growth_mb} MB"


def test_select_decodes_a_1080p_clip_at_the_input_size(tmp_path: Path) -> None:
    """What ``claus label select`` reads of a video (training, scoring, predictions): the
    project's record at the detector's input size, decoded one frame at a time."""
    clip = tmp_path / "clip.mp4"
    _write_clip(clip)
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from claus_core.data.types import VideoPool, VideoRecord\n"
        "from claus_core.data.video import VideoFolder\n"
        f"record = VideoRecord('v', 0, {FRAMES}, {WIDTH}, {HEIGHT}, (), Path(sys.argv[1]))\n"
        "pool = VideoPool('labeling', 'pool', ('a',), (record,)).at_size(112, 112)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "frames = VideoFolder(pool).frames('v')\n"
        "print(*frames.shape, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    shape, growth_mb = _growth_mb(code, clip)
    assert shape == f"{FRAMES} 112 112 3"
    # the frames themselves are 4.5 MB; the rest is the decoder's own buffers at 1080p
    assert growth_mb < HELD_WHOLE_MB / 4, f"peak resident memory grew {growth_mb} MB"
