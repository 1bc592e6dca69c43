"""Execute the book's notebooks with papermill into ``book/generated/`` (what the book renders).

Usage::

    python scripts/execute_notebooks.py --profile smoke            # every notebook, smoke profile
    python scripts/execute_notebooks.py --profile default data cost # only these two

Each notebook's ``parameters`` cell holds the smoke profile; ``--profile default`` injects the full
one. The parameters and papermill's injected cell are tagged ``remove-cell`` so the book does not
show them.

No cell may run longer than ``--timeout`` seconds (600 by default: the longest default-profile
cell, the labeling chapter's two training rounds, takes a few minutes on a 2-core machine) and
the kernel must start within ``--start-timeout``: a cell that hangs fails the build with the
notebook, the cell's index and first line, and the partial output papermill wrote.
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
from nbclient.exceptions import CellTimeoutError
from papermill.exceptions import PapermillExecutionError
from papermill.execute import ERROR_MARKER_TAG

from claus_core.book_pages import RESULT_TITLES

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
OUTPUT = ROOT / "book" / "generated"
HIDDEN_TAGS = {"parameters", "injected-parameters"}
CELL_TIMEOUT = 600  # seconds one cell may run
START_TIMEOUT = 120  # seconds the kernel may take to start on a loaded machine

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


class NotebookFailed(RuntimeError):
    """A notebook's cell raised, timed out or lost its kernel; the message names the notebook,
    the cell and where its partial output is."""


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _cell(target: Path, index: int | None) -> str:
    """``cell N (`first line`)`` of the executed notebook's cell ``index``, numbered as in the
    source notebook (papermill's injected cell left out); with ``index`` None, the last cell
    that started (the one that was running)."""
    try:
        cells = nbformat.read(target, as_version=4).cells
    except Exception:  # nothing written yet
        return "a cell"
    # the banner cells papermill adds on an error; error.cell_index counts without them
    cells = [c for c in cells if ERROR_MARKER_TAG not in c.metadata.get("tags", [])]
    if index is None:
        started = [
            i for i, c in enumerate(cells) if c.metadata.get("papermill", {}).get("start_time")
        ]
        if not started:
            return "the kernel's start"
        index = started[-1]
    injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in cells[:index])
    lines = [line for line in cells[index].source.splitlines() if line.strip()]
    return f"cell {index - injected} (`{lines[0] if lines else ''}`)"


def run_notebook(
    source: Path,
    target: Path,
    parameters: dict[str, object],
    *,
    timeout: int = CELL_TIMEOUT,
    start_timeout: int = START_TIMEOUT,
) -> None:
    """Execute ``source`` into ``target`` with papermill; raise :class:`NotebookFailed` naming
    the notebook and the cell when a cell raises or runs past ``timeout`` seconds (0: no limit).
    papermill has written ``target`` with every output up to the failure by then."""
    try:
        papermill.execute_notebook(
            str(source),
            str(target),
            parameters=parameters,
            cwd=str(source.parent),
            progress_bar=False,
            kernel_name="python3",
            execution_timeout=timeout or None,
            start_timeout=start_timeout,
        )
    except PapermillExecutionError as error:
        where = _cell(target, error.cell_index)
        why = f"{error.ename}: {error.evalue}"
        raise NotebookFailed(
            f"{_shown(source)}, {where} raised {why}; output in {_shown(target)}{error}"
        ) from error
    except CellTimeoutError as error:
        why = " ".join(str(error).splitlines()[:2])
        raise NotebookFailed(
            f"{_shown(source)}, {_cell(target, None)}: {why} (--timeout sets the limit); partial output in "
            f"{_shown(target)}"
        ) from error
    except Exception as error:  # a dead kernel, a kernel that did not start, ...
        raise NotebookFailed(
            f"{_shown(source)}, {_cell(target, None)}: {type(error).__name__}: {error}; partial "
            f"output in {_shown(target)}"
        ) from error


def execute(
    name: str, profile: str, *, timeout: int = CELL_TIMEOUT, start_timeout: int = START_TIMEOUT
) -> float:
    source, parameters = source_of(name)
    target = OUTPUT / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    run_notebook(
        source,
        target,
        {"profile": profile, **parameters},
        timeout=timeout,
        start_timeout=start_timeout,
    )
    hide_parameter_cells(target)
    if name in RESULT_TITLES:
        add_title(target, RESULT_TITLES[name])
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["smoke", "default"], default="smoke")
    parser.add_argument(
        "--timeout",
        type=int,
        default=CELL_TIMEOUT,
        metavar="SECONDS",
        help=f"fail a cell that runs longer (default {CELL_TIMEOUT}; 0: no limit)",
    )
    parser.add_argument(
        "--start-timeout",
        type=int,
        default=START_TIMEOUT,
        metavar="SECONDS",
        help=f"fail a kernel that takes longer to start (default {START_TIMEOUT})",
    )
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all in _toc.yml)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # a non-inline MPLBACKEND (e.g. Agg set for headless tests) would reach the kernels and
    # leave every figure out of the executed notebooks
    os.environ.pop("MPLBACKEND", None)
    names = args.names or book_notebooks()
    for name in names:
        try:
            seconds = execute(
                name, args.profile, timeout=args.timeout, start_timeout=args.start_timeout
            )
        except NotebookFailed as error:
            log.error("%s", error)
            return 1
        log.info("executed %s (%s profile) in %.1f s", name, args.profile, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
