"""Execute the book's notebooks with papermill into ``book/generated/`` (what the book renders).

Usage::

    python scripts/execute_notebooks.py --profile smoke            # every notebook, smoke profile
    python scripts/execute_notebooks.py --profile default data cost # only these two

Each notebook's ``parameters`` cell holds the smoke profile; ``--profile default`` injects the full
one. The parameters and papermill's injected cell are tagged ``remove-cell`` so the book does not
show them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import nbformat
import papermill
import yaml

from claus_core.book_pages import RESULT_TITLES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
OUTPUT = ROOT / "book" / "generated"
HIDDEN_TAGS = {"parameters", "injected-parameters"}

log = logging.getLogger("execute_notebooks")


def book_notebooks() -> list[str]:
    """Page names in the order of ``_toc.yml`` (its ``book/generated/<name>`` entries)."""

    def files(entries: list[dict]) -> list[str]:
        out = []
        for entry in entries:
            out.append(entry["file"])
            out += files(entry.get("sections", []))
        return out

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    every = files([c for part in toc["parts"] for c in part["chapters"]])
    return [Path(f).name for f in every if f.startswith("book/generated/")]


def hide_parameter_cells(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = set(cell.metadata.get("tags", []))
        if tags & HIDDEN_TAGS:
            cell.metadata["tags"] = sorted(tags | {"remove-cell"})
    nbformat.write(notebook, path)


def source_of(name: str) -> tuple[Path, dict[str, str]]:
    """The notebook behind a book page and its extra parameters.

    Every results page (``table5``, ``figure4``, ...) is ``notebooks/results.ipynb`` run with
    ``result=<name>``; every other page is ``notebooks/<name>.ipynb``.
    """
    if name in RESULT_TITLES:
        return NOTEBOOKS / "results.ipynb", {"result": name}
    return NOTEBOOKS / f"{name}.ipynb", {}


def add_title(path: Path, title: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_markdown_cell(f"# {title}"))
    nbformat.write(notebook, path)


def execute(name: str, profile: str) -> float:
    source, parameters = source_of(name)
    target = OUTPUT / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    papermill.execute_notebook(
        str(source),
        str(target),
        parameters={"profile": profile, **parameters},
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        kernel_name="python3",
    )
    hide_parameter_cells(target)
    if name in RESULT_TITLES:
        add_title(target, RESULT_TITLES[name])
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["smoke", "default"], default="smoke")
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all in _toc.yml)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # a non-inline MPLBACKEND (e.g. Agg set for headless tests) would reach the kernels and
    # leave every figure out of the executed notebooks
    os.environ.pop("MPLBACKEND", None)
    names = args.names or book_notebooks()
    for name in names:
        seconds = execute(name, args.profile)
        log.info("executed %s (%s profile) in %.1f s", name, args.profile, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
