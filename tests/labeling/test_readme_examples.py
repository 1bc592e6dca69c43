"""The README's hand-written Label Studio export imports as it says (issue 27): one box track
from key frame 30 to 37 (1-based), on round 0 of the mini project."""

from __future__ import annotations

import json
import re
from pathlib import Path

from labeling_support import REPO

from claus_core.labeling import LabelProject, rounds


def test_the_readme_s_minimal_label_studio_export_imports(
    project: LabelProject, tmp_path: Path
) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- minimal-labelstudio-export.*?-->\n```json\n(.*?)```", readme, re.S)
    assert block is not None, "the README lost its minimal export"
    path = tmp_path / "export.json"
    path.write_text(block.group(1), encoding="utf-8")
    json.loads(block.group(1))
    imported = rounds.read_round_files(project, 0, [path])
    video = imported.videos["Basketball/v_Basketball_g07_c04"]
    assert video.asked == (1, 29, 36, 66, 100)  # round 0 asked these (0-based)
    assert [track.keys for track in video.tracks] == [(29, 36)]
    assert [track.label for track in video.tracks] == ["Basketball"]
