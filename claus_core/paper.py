"""The paper's own numbers (supplementary Tables 1-10), for every table that sets ours beside them.

The values were transcribed from the supplementary material by ``scripts/extract_paper_tables.py``
into ``claus_core/assets/paper_tables.json``; they are in percent, as printed. Nothing in this
module is measured: it is the reference the book compares against.
"""

from __future__ import annotations

import json
from importlib import resources

import pandas as pd

COLUMNS = ["table", "dataset", "group", "percent", "cost", "metric", "threshold", "value"]


def _all_rows() -> pd.DataFrame:
    """Every row of the shipped tables, read afresh on each call (a few ms; no cache to go stale
    in a live kernel)."""
    text = resources.files("claus_core.assets").joinpath("paper_tables.json").read_text()
    return pd.DataFrame(json.loads(text)["rows"], columns=COLUMNS)


def paper_table(number: int) -> pd.DataFrame:
    """Tidy rows of supplementary Table ``number`` (columns: ``COLUMNS``; values in %)."""
    rows = _all_rows()
    table = rows[rows["table"] == number]
    if table.empty:
        known = sorted(rows["table"].unique())
        raise ValueError(f"the supplementary has no result table {number}; known: {known}")
    return table.reset_index(drop=True).copy()


def paper_cost_column(number: int) -> pd.DataFrame:
    """The ``%Frame Annot`` and ``Cost`` columns of Table 6 (UCF-101-24) or 7 (J-HMDB-21)."""
    if number not in (6, 7):
        raise ValueError("only Tables 6 and 7 have a Cost column")
    table = paper_table(number)
    return table[["percent", "cost"]].drop_duplicates().astype({"cost": int}).reset_index(drop=True)


# Section 4.3, "Error margins": the average error over 3 runs of each selection method (v-mAP
# points; the text does not say which statistic). Random and equidistant: +-1.03 and 0.84;
# CLAUS +-0.20, entropy +-0.19, uncertainty +-0.35.
PAPER_ERROR_MARGINS = {
    "claus": 0.20,
    "entropy": 0.19,
    "uncertainty": 0.35,
    "equidistant": 0.84,
    "random": 1.03,
}


def paper_full_cost(number: int) -> int:
    """The fully supervised cost (the 100 % row of the Cost column) of Table 6 or 7."""
    costs = paper_cost_column(number)
    return int(costs.loc[costs["percent"] == 100.0, "cost"].iloc[0])
