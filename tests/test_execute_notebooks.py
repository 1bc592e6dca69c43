"""``scripts/execute_notebooks.py`` cannot hang the book's build: a cell that runs past the timeout
fails with the notebook and the cell named, and the outputs up to it are kept."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location(
        "execute_notebooks", ROOT / "scripts" / "execute_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _notebook(path: Path, *sources: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [nbformat.v4.new_markdown_cell("# A chapter")]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, path)
    return path


def test_a_hanging_cell_fails_within_the_timeout_naming_the_notebook_and_cell(
    tmp_path: Path,
) -> None:
    script = _script()
    source = _notebook(
        tmp_path / "hangs.ipynb",
        'print("before the hang")',
        "import time  # waits for ever\ntime.sleep(60)",
        'print("never")',
    )
    target = tmp_path / "out" / "hangs.ipynb"
    target.parent.mkdir()
    started = time.monotonic()
    with pytest.raises(script.NotebookFailed) as failed:
        script.run_notebook(source, target, {}, timeout=3)
    assert time.monotonic() - started < 30
    message = str(failed.value)
    assert str(source) in message
    assert "cell 2 (`import time  # waits for ever`)" in message
    assert "timed out" in message and "3 seconds" in message
    assert str(target) in message
    executed = nbformat.read(target, as_version=4)  # the partial output is written
    assert executed.cells[1].outputs[0]["text"] == "before the hang\n"
    assert executed.cells[3].outputs == []


def test_a_failing_cell_names_the_notebook_and_cell(tmp_path: Path) -> None:
    script = _script()
    source = _notebook(tmp_path / "fails.ipynb", "x = 1", "\n1 / 0")
    target = tmp_path / "fails.out.ipynb"
    with pytest.raises(script.NotebookFailed) as failed:
        script.run_notebook(source, target, {}, timeout=30)
    message = str(failed.value)
    assert f"{source}, cell 2 (`1 / 0`) raised ZeroDivisionError" in message
    assert str(target) in message


def test_the_command_line_takes_the_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    script = _script()
    seen = {}

    def execute(name: str, profile: str, **timeouts: int) -> float:
        seen[name] = timeouts
        raise script.NotebookFailed(f"{name} hung")

    monkeypatch.setattr(script, "execute", execute)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # main() drops it; monkeypatch puts it back
    assert script.main(["--timeout", "7", "--start-timeout", "9", "stew"]) == 1
    assert seen == {"stew": {"timeout": 7, "start_timeout": 9}}
