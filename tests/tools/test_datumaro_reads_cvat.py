"""claus's CVAT for video 1.1 export, read by datumaro's ``cvat`` importer without frame images.

``make test-datumaro`` installs datumaro 1.13.12 in its own virtual environment
(``.venv-datumaro``) and runs this test, which writes the XML of two real mini videos (the
asked-frame marks and the ground-truth boxes as tracks) and reads it there with
``scripts/datumaro_read_cvat.py``. datumaro refuses an ``<image>`` element whose frame file
is missing; tracks it reads from the XML alone.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from claus_core.data.ucf101_24 import load_ucf101_24_mini
from claus_core.export import to_cvat_video_xml

pytestmark = pytest.mark.datumaro

ROOT = Path(__file__).resolve().parents[2]
PYTHON = Path(os.environ.get("CLAUS_DATUMARO_PYTHON", ROOT / ".venv-datumaro" / "bin" / "python"))
ASKED = {"Biking/v_Biking_g05_c02": [3, 4, 50, 200], "SalsaSpin/v_SalsaSpin_g03_c01": [10, 140]}


def test_datumaro_reads_the_cvat_export_without_frame_images(tmp_path: Path) -> None:
    assert PYTHON.exists(), f"{PYTHON}: no datumaro venv; run `make test-datumaro`"
    pool = load_ucf101_24_mini()
    folders = []
    for name, text in to_cvat_video_xml(pool, ASKED, include_boxes=True).items():
        folder = tmp_path / name.replace("/", "__")
        folder.mkdir()
        (folder / "annotations.xml").write_text(text)
        folders.append(folder)
    done = subprocess.run(
        [str(PYTHON), str(ROOT / "scripts" / "datumaro_read_cvat.py"), *map(str, folders)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = {
        Path(r["folder"]).name.replace("__", "/"): r
        for r in map(json.loads, done.stdout.split("\n")[:-1])
    }
    for name, frames in ASKED.items():
        video = pool[name]
        boxes = found[name]["boxes"]
        marks = sorted(int(b[0].split("_")[1]) for b in boxes if b[1] == "annotate" and not b[2])
        assert marks == frames  # the marks show on exactly the asked frames
        for item, label, outside, _key, _track, *xywh in boxes:
            frame = int(item.split("_")[1])
            if label == "annotate" or outside:
                continue
            truth = [
                clipped(t.box_at(frame), video) for t in video.tubes if t.box_at(frame) is not None
            ]
            assert any(np.allclose(xywh, b, atol=0.01) for b in truth), (name, frame, xywh)
            assert label == pool.classes[video.label]


def clipped(box: np.ndarray, video) -> np.ndarray:  # [4] x, y, w, h inside the frame
    x0, y0 = np.clip(box[:2], 0, [video.width, video.height])
    x1, y1 = np.clip(box[:2] + box[2:], 0, [video.width, video.height])
    return np.array([x0, y0, x1 - x0, y1 - y0])
