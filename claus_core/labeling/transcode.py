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

from claus_core.data.video import VideoError, iter_video, probe_video
from claus_core.files import atomic_write

logger = logging.getLogger(__name__)


def transcode_video(source: Path, target: Path, *, fps: float, crf: int = 20) -> int:
    """Write ``target`` (H.264 MP4) from ``source``; returns the frame count, checked on decode.

    Frames are decoded and encoded one at a time, so memory does not grow with the video's
    resolution times its length (issue 26: a 16 s 1080p clip needed 4.6 GB held whole)."""
    import av

    info = probe_video(source)
    height, width = info.height // 2 * 2, info.width // 2 * 2
    rate = Fraction(fps).limit_denominator(1001)
    written = 0

    def write(tmp: Path) -> None:
        nonlocal written
        with av.open(
            str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}
        ) as container:
            stream = container.add_stream("libx264", rate=rate)
            stream.codec_context.time_base = 1 / rate
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"crf": str(crf), "preset": "veryfast"}
            for index, pixels in enumerate(iter_video(source, size=(info.height, info.width))):
                frame = av.VideoFrame.from_ndarray(pixels[:height, :width], format="rgb24")
                frame.pts = index
                for packet in stream.encode(frame):
                    container.mux(packet)
                written = index + 1
            for packet in stream.encode():
                container.mux(packet)

    atomic_write(target, write)
    decoded = probe_video(target).num_frames
    if decoded != written:
        target.unlink(missing_ok=True)
        raise VideoError(
            f"{target}: the H.264 copy decodes to {decoded} frames, {source} to {written}; "
            "the copy was removed"
        )
    return decoded
