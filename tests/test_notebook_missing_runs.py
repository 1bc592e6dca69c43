"""A notebook whose run store lacks its runs fails (papermill exits non-zero) and names the command
that makes them (issue 28: the results page rendered "runs missing" and papermill exited 0)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("notebook", "parameters"),
    [("results.ipynb", ["-p", "result", "table10"]), ("selection.ipynb", []), ("study.ipynb", [])],
)
def test_a_notebook_on_an_empty_store_fails_and_names_the_command(
    notebook: str, parameters: list[str], tmp_path: Path
) -> None:
    store = tmp_path / "runs" / "mine"
    command = [sys.executable, "-m", "papermill", str(ROOT / "notebooks" / notebook),
               str(tmp_path / "out.ipynb"), "-p", "store", str(store), *parameters]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "MissingRunsError" in done.stderr
    assert f"make them with `claus run YOUR_STUDY.yaml --root {store.parent}" in done.stderr
    assert not store.exists()
