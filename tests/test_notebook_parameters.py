"""Every notebook parameter the README and the book's introduction name exists in that notebook's
``parameters`` cell, with the default they give, and every parameter a notebook has is documented
(issue 28: ``epochs`` was documented for the selection notebook, which has none)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parameters(notebook: str) -> dict[str, object]:
    """The names and values the ``parameters`` cell of ``notebooks/<notebook>`` assigns."""
    cells = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))["cells"]
    (cell,) = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    tree = ast.parse("".join(cell["source"]))
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }


def intro_table() -> dict[tuple[str, str], str]:
    """(notebook, parameter) -> default, from the introduction's parameter table."""
    rows, notebook = {}, None
    for line in (ROOT / "book" / "intro.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`") and cells[0] != "notebook":
            notebook = cells[0].strip("`") or notebook
            rows[(notebook, cells[1].strip("`"))] = cells[2].strip("`")
    return rows


def test_the_introduction_documents_every_parameter_with_its_default() -> None:
    documented = intro_table()
    actual = {
        (path.name, name): value
        for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
        for name, value in parameters(path.name).items()
    }
    assert set(documented) == set(actual), "documented vs. actual (notebook, parameter) pairs"
    for key, value in actual.items():
        assert ast.literal_eval(documented[key]) == value, key


def test_the_readme_names_only_parameters_that_exist() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Rerunning a notebook with other parameters")[1].split("\n## ")[0]
    every = {
        name for path in (ROOT / "notebooks").glob("*.ipynb") for name in parameters(path.name)
    }
    named = set(re.findall(r"`(\w+)` (?:everywhere|for|and)", section))
    named |= set(re.findall(r"-p (\w+) ", section))
    assert named and named <= every, named - every
    for notebook, name in re.findall(r"notebooks/(\w+\.ipynb) \S+ ((?:-p \w+ \S+ ?)+)", section):
        for parameter in re.findall(r"-p (\w+)", name):
            assert parameter in parameters(notebook), (notebook, parameter)
