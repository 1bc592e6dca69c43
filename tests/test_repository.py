"""Repository hygiene: pins agree, notebooks are committed clean, the book's toc resolves."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from claus_core.book_pages import RESULT_TITLES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def pyproject_pins() -> dict[str, str]:
    text = (ROOT / "pyproject.toml").read_text()
    return {m[0].lower(): m[1] for m in re.findall(r'"([A-Za-z0-9_.\-]+)==([^"]+)"', text)}


def test_environment_yml_has_the_pyproject_pins() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    env_pins = dict(p.lower().split("==") for p in pip if "==" in p)
    for name, version in pyproject_pins().items():
        assert env_pins.get(name) == version, (
            f"{name}: pyproject {version}, env {env_pins.get(name)}"
        )


def test_torch_is_pinned_exactly() -> None:
    assert pyproject_pins()["torch"] == "2.13.0"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_a_smoke_parameters_cell(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected one cell tagged 'parameters'"
    assert 'profile = "smoke"' in tagged[0].source


def test_toc_entries_exist() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    chapters = [c for part in toc["parts"] for c in part["chapters"]]
    files = [toc["root"]] + [c["file"] for c in chapters]
    files += [s["file"] for c in chapters for s in c.get("sections", [])]
    for entry in files:
        if entry.startswith("book/generated/"):
            name = Path(entry).name
            source = "results" if name in RESULT_TITLES else name
            assert (ROOT / "notebooks" / f"{source}.ipynb").exists(), entry
        else:
            assert (ROOT / f"{entry}.md").exists() or (ROOT / f"{entry}.ipynb").exists(), entry


def test_library_never_reads_the_shared_folder() -> None:
    for path in (ROOT / "claus_core").rglob("*.py"):
        text = path.read_text()
        assert "/shared/" not in text and "../shared" not in text, path


@pytest.mark.parametrize("version", ["3.12", "3.10"])
def test_make_stops_at_once_on_another_python(version: str, tmp_path: Path) -> None:
    """Issue 28: make accepted another Python until pip failed after torch was installed."""
    import subprocess

    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\necho {version}\n")
    fake.chmod(0o755)
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("MAKE")
    }  # not make's child
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "setup", f"PYTHON={fake}", f"VENV={tmp_path / 'venv'}"],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=60,
        env=environment,
    )  # fmt: skip
    assert done.returncode != 0 and "pip" not in done.stdout  # stopped before any install step
    assert f"is Python {version}; this project needs Python 3.11" in done.stderr
