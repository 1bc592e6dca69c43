"""The labeling loop against a real Label Studio 1.23.2 server on 127.0.0.1.

``make test-labelstudio`` installs Label Studio in its own virtual environment
(``.venv-labelstudio``: its pins do not fit the project's) and runs
``scripts/labelstudio_live.py`` here: a project of the mini videos, round 0 imported into the
server, annotated through the REST API, exported as JSON and JSON_MIN, read back by
``claus label import``, round 1 trained on those boxes and selected with predictions; then claus
as Label Studio's ML backend (issue 27): connected, predictions retrieved and stored with score,
version and 1-based frames, the Data Manager sorted by prediction score and uncertainty
sampling's next task in CLAUS's order, annotations arriving by webhook, and Start Training
running round 2 into the server. The script bounds every wait and stops the server whatever
happens.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.labelstudio

ROOT = Path(__file__).resolve().parents[2]
EXECUTABLE = Path(
    os.environ.get("CLAUS_LABEL_STUDIO", ROOT / ".venv-labelstudio" / "bin" / "label-studio")
)


def test_two_labeling_rounds_through_a_real_label_studio_server(tmp_path: Path) -> None:
    assert EXECUTABLE.exists(), f"{EXECUTABLE}: no label-studio; run `make test-labelstudio`"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "labelstudio_live.py"),
         "--label-studio", str(EXECUTABLE), "--work", str(tmp_path / "work")],
        capture_output=True, text=True, cwd=ROOT, timeout=900, check=False,
    )  # fmt: skip
    sys.stdout.write(done.stdout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for line in (
        "round 0: 5 tasks imported, every video served (200, MP4)",
        "round 0: claus label import; JSON_MIN reads the same annotations",
        "round 1 selected (trained on the human boxes), with predictions",
        "round 1: claus label serve connected (state CO, version 'claus round 1')",
        "predictions stored (score, version, 1-based frames)",
        "round 1: the backend set the project's model version 'claus round 1'",
        "round 1: the Data Manager sorted by prediction score shows CLAUS's order on top",
        "round 1: uncertainty sampling's next task is CLAUS's first",
        "annotations posted, the webhook arrived",
        "round 2 selected by Start Training; project version 'claus round 2'",
        "predictions of claus round 2 stored",
        "label-studio stopped",
    ):
        assert line in done.stdout
