"""Peak resident memory of ``claus label transcode`` and ``claus label select`` on HD video (issue 26).

For each size (720p, 1080p, 4K) and length (16 s, 60 s at 25 fps) this writes two generated
clips of one class (a bright box moving over a moving gradient, H.264), makes a labeling
project of them, and runs the commands a user runs, each in its own process, printing each
one's peak resident memory (``ru_maxrss`` of that process alone) and wall time:

    init ─> transcode ─> select (round 0) ─> import (the box drawn on every asked frame)
         ─> select (round 1: train on one video, score and predict the other)

Round 1 trains a tiny detector briefly (``--epochs``): the point is what the frames cost in
memory, not the model. It prints the CPU model and flags; nothing is asserted.

    .venv/bin/python benchmarks/bench_label_memory.py [--sizes 720p 1080p 4k] [--seconds 16 60]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from claus_core.cpu import cpu_description
from claus_core.data.types import Tube, VideoPool, VideoRecord
from claus_core.labeling.simulate import answer_round

SIZES = {"720p": (720, 1280), "1080p": (1080, 1920), "4k": (2160, 3840)}
FPS = 25
BIN = Path(sys.executable).parent

# a fresh process per command: its ru_maxrss is the command's own peak
MEASURE = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024\n"
    "print(peak, round(time.perf_counter() - start, 1))\n"
)


def box_at(frame: int, height: int, width: int) -> tuple[float, float, float, float]:
    """The actor's box on ``frame`` (x, y, w, h in pixels): a quarter of the frame, moving."""
    w, h = width / 4, height / 4
    x = (width - w) * (0.5 + 0.4 * np.sin(frame / 20))
    y = (height - h) * 0.5
    return float(x), float(y), float(w), float(h)


def write_clip(path: Path, frames: int, height: int, width: int, phase: int) -> None:
    import av

    ramp = np.linspace(0, 200, width, dtype=np.float32)[None, :, None]  # [1, W, 1]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for index in range(frames):
            pixels = np.empty((height, width, 3), dtype=np.uint8)  # [H, W, 3]
            pixels[:] = ((ramp + 2 * index + phase) % 200).astype(np.uint8)
            x, y, w, h = (int(v) for v in box_at(index + phase, height, width))
            pixels[y : y + h, x : x + w] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def truth(frames: int, height: int, width: int) -> VideoPool:
    """The boxes the generated clips were drawn with, as the simulated annotator's truth."""
    records = []
    for phase, name in ((0, "move/a"), (40, "move/b")):
        boxes = [box_at(f + phase, height, width) for f in range(frames)]
        tube = Tube(0, 0, frames, boxes)
        records.append(VideoRecord(name, 0, frames, width, height, (tube,)))
    return VideoPool("labeling", "truth", ("move",), tuple(records))


def measured(*command: str) -> tuple[int, float]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True
    )
    peak, seconds = done.stdout.split()
    return int(peak), float(seconds)


def run_size(name: str, seconds: int, epochs: int, work: Path) -> dict[str, object]:
    height, width = SIZES[name]
    frames = seconds * FPS
    videos, project = work / "videos", work / "project"
    for phase, clip in ((0, "a"), (40, "b")):
        write_clip(videos / "move" / f"{clip}.mp4", frames, height, width, phase)
    (work / "classes.txt").write_text("move\n")
    config = work / "config.yaml"
    config.write_text(
        f"train: {{epochs: {epochs}}}\nscoring: {{n_samples: 2}}\ncluster: {{k: 1}}\n"
    )
    claus = str(BIN / "claus")
    row: dict[str, object] = {"size": name, "seconds": seconds, "frames": frames}
    row["init"] = measured(claus, "label", "init", str(project), "--videos", str(videos),
                           "--classes", str(work / "classes.txt"), "--config", str(config))  # fmt: skip
    row["transcode"] = measured(claus, "label", "transcode", str(project))
    row["select0"] = measured(claus, "label", "select", str(project), "--videos", "1",
                              "--frames", "20")  # fmt: skip
    tasks = project / "round0" / "export" / "round0_labelstudio_tasks.json"
    export = answer_round(tasks, truth(frames, height, width), work / "export.json")
    row["import"] = measured(claus, "label", "import", str(project), "--round", "0", str(export))
    row["select1"] = measured(claus, "label", "select", str(project), "--videos", "1",
                              "--frames", "20")  # fmt: skip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--seconds", nargs="+", type=int, default=[16, 60])
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    model, flags = cpu_description()
    print(f"CPU: {model}; flags: {' '.join(flags)}")
    print(f"{'clip':>12} {'frames':>6} " + " ".join(f"{c:>17}" for c in
          ("init", "transcode", "select round 0", "import", "select round 1")))  # fmt: skip
    rows = []
    for size in args.sizes:
        for seconds in args.seconds:
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                row = run_size(size, seconds, args.epochs, Path(tmp))
                row["total_s"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            cells = [f"{row[k][0]:>6} MB {row[k][1]:>6.1f} s" for k in  # type: ignore[index]
                     ("init", "transcode", "select0", "import", "select1")]  # fmt: skip
            print(f"{size:>7} {seconds:>3} s {row['frames']:>6} " + " ".join(cells), flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
