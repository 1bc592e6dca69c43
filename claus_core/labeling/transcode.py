"""H.264 MP4 copies of a project's videos, for annotation in the browser (Label Studio).

Browsers play H.264 in MP4, not the MPEG-4 Part 2 of UCF-101's ``.avi`` files or of the
mini set's re-encoded ``.mp4`` files. :func:`transcode_video` re-encodes every decoded frame at
the video's own frame rate (constant, one output frame per input frame, pixel format yuv420p,
even frame size as H.264 requires: an odd width or height loses its last column or row) and
then decodes the copy to check that it has exactly the original's frame count, so that frame
numbers in the tool are the project's frame numbers.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

from claus_core.data.video import VideoError, probe_video, read_video
from claus_core.files import atomic_write

logger = logging.getLogger(__name__)


def transcode_video(source: Path, target: Path, *, fps: float, crf: int = 20) -> int:
    """Write ``target`` (H.264 MP4) from ``source``; returns the frame count, checked on decode."""
    import av

    frames = read_video(source)  # [frame, H, W, 3] uint8
    height, width = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
    rate = Fraction(fps).limit_denominator(1001)

    def write(tmp: Path) -> None:
        with av.open(
            str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}
        ) as container:
            stream = container.add_stream("libx264", rate=rate)
            stream.codec_context.time_base = 1 / rate
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": str(crf), "preset": "veryfast"}
            for index, pixels in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(pixels[:height, :width], format="rgb24")
                frame.pts = index
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)

    atomic_write(target, write)
    decoded = probe_video(target).num_frames
    if decoded != len(frames):
        target.unlink(missing_ok=True)
        raise VideoError(
            f"{target}: the H.264 copy decodes to {decoded} frames, {source} to {len(frames)}; "
            "the copy was removed"
        )
    return decoded
