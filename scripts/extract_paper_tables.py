"""Transcribe the supplementary material's result tables into a tidy JSON asset.

Run once by a developer (it reads the supplementary markdown, which the project does not ship):

    python scripts/extract_paper_tables.py ../shared/paper/claus_supplementary.md \
        claus_core/assets/paper_tables.json

Every row is one number of the paper: table, dataset, group (method / variant), percent
(annotated-frame %), cost, metric (``v-mAP`` / ``f-mAP``), threshold (IoU), value (in %).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

THRESHOLDS = (0.1, 0.2, 0.3, 0.5)
DATASETS = {
    2: None,
    3: "ucf101_24",
    4: "jhmdb21",
    5: "ucf101_24",
    6: "ucf101_24",
    7: "jhmdb21",
    8: "ucf101_24",
    9: "ucf101_24",
    10: "ucf101_24",
    1: "ava",
}


def caption_positions(lines: list[str]) -> dict[int, int]:
    found = {}
    for i, line in enumerate(lines):
        m = re.match(r"Table (\d+)\.", line)
        if m:
            found[int(m.group(1))] = i
    return found


def tab_rows_before(lines: list[str], end: int) -> list[list[str]]:
    """The tab-separated block that ends right before line ``end`` (blank lines skipped)."""
    rows: list[list[str]] = []
    i = end - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    while i >= 0 and "\t" in lines[i]:
        rows.append(lines[i].split("\t"))
        i -= 1
    return rows[::-1]


def grouped_map_table(number: int, rows: list[list[str]]) -> list[dict]:
    out, group = [], "CLAUS"
    for cells in rows[2:]:
        head = cells[0].strip()
        if head.startswith("<b>"):
            group = re.sub(r"</?b>", "", head)
            continue
        values = [float(c) for c in cells[1:9]]
        for k, value in enumerate(values):
            out.append(
                {
                    "table": number,
                    "dataset": DATASETS[number],
                    "group": group,
                    "percent": float(head),
                    "cost": None,
                    "metric": "v-mAP" if k < 4 else "f-mAP",
                    "threshold": THRESHOLDS[k % 4],
                    "value": value,
                }
            )
    return out


def cost_table(number: int, rows: list[list[str]]) -> list[dict]:
    out = []
    for cells in rows[2:]:
        values = [float(c) for c in cells[2:10]]
        for k, value in enumerate(values):
            out.append(
                {
                    "table": number,
                    "dataset": DATASETS[number],
                    "group": "CLAUS",
                    "percent": float(cells[0]),
                    "cost": int(cells[1]),
                    "metric": "v-mAP" if k < 4 else "f-mAP",
                    "threshold": THRESHOLDS[k % 4],
                    "value": value,
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("supplementary", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()
    lines = args.supplementary.read_text().splitlines()
    captions = caption_positions(lines)
    records: list[dict] = []
    for number in (3, 4, 5, 8, 10):
        records += grouped_map_table(number, tab_rows_before(lines, captions[number]))
    for number in (6, 7):
        records += cost_table(number, tab_rows_before(lines, captions[number]))
    for cells in tab_rows_before(lines, captions[2])[2:]:
        for dataset, offset, percent in (("ucf101_24", 1, 5.0), ("jhmdb21", 3, 5.4)):
            for k, metric in enumerate(("v-mAP", "f-mAP")):
                records.append(
                    {
                        "table": 2,
                        "dataset": dataset,
                        "group": cells[0],
                        "percent": percent,
                        "cost": None,
                        "metric": metric,
                        "threshold": 0.5,
                        "value": float(cells[offset + k]),
                    }
                )
    for cells in tab_rows_before(lines, captions[9])[1:]:
        records.append(
            {
                "table": 9,
                "dataset": "ucf101_24",
                "group": cells[0],
                "percent": float(cells[1].rstrip("%")),
                "cost": None,
                "metric": "v-mAP",
                "threshold": 0.5,
                "value": float(cells[2]),
            }
        )
    for cells in tab_rows_before(lines, captions[1])[1:]:
        for backbone, value in zip(("R-18", "SN-v2"), cells[2:4], strict=True):
            records.append(
                {
                    "table": 1,
                    "dataset": "ava",
                    "group": f"{cells[0]} ({backbone})",
                    "percent": float(cells[1].rstrip("%")),
                    "cost": None,
                    "metric": "f-mAP",
                    "threshold": 0.5,
                    "value": float(value),
                }
            )
    payload = {
        "source": "Rana & Rawat, CVPR 2023, supplementary material, Tables 1-10",
        "values_in": "percent",
        "rows": records,
    }
    args.output.write_text(json.dumps(payload, indent=0))


if __name__ == "__main__":
    main()
