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
import sys
import time
from pathlib import Path

import nbformat
import papermill

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
OUTPUT = ROOT / "book" / "generated"
HIDDEN_TAGS = {"parameters", "injected-parameters"}

log = logging.getLogger("execute_notebooks")


def book_notebooks() -> list[str]:
    """Notebook names in the order of ``_toc.yml`` (generated/<name> entries)."""
    names = []
    for line in (ROOT / "_toc.yml").read_text().splitlines():
        line = line.strip()
        if "book/generated/" in line:
            names.append(line.split("book/generated/")[1].strip().strip('"'))
    return names


def hide_parameter_cells(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = set(cell.metadata.get("tags", []))
        if tags & HIDDEN_TAGS:
            cell.metadata["tags"] = sorted(tags | {"remove-cell"})
    nbformat.write(notebook, path)


def execute(name: str, profile: str) -> float:
    source = NOTEBOOKS / f"{name}.ipynb"
    target = OUTPUT / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    papermill.execute_notebook(
        str(source),
        str(target),
        parameters={"profile": profile},
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        kernel_name="python3",
    )
    hide_parameter_cells(target)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["smoke", "default"], default="smoke")
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all in _toc.yml)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    names = args.names or book_notebooks()
    for name in names:
        seconds = execute(name, args.profile)
        log.info("executed %s (%s profile) in %.1f s", name, args.profile, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
