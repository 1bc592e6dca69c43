"""Read CVAT 1.1 XML files with datumaro's ``cvat`` importer (CVAT's dataset framework); print
what it found as JSON. Runs in datumaro's own virtual environment (``make test-datumaro``)::

    .venv-datumaro/bin/python scripts/datumaro_read_cvat.py FOLDER...

Each FOLDER holds one ``annotations.xml`` and no frame images. One JSON object per folder:
``items`` (frame item ids) and ``boxes``: ``[item, label, outside, keyframe, track_id, x, y, w, h]``.
"""

from __future__ import annotations

import json
import sys

from datumaro.components.annotation import AnnotationType
from datumaro.components.dataset import Dataset


def main(folders: list[str]) -> int:
    for folder in folders:
        dataset = Dataset.import_from(folder, "cvat")
        labels = [label.name for label in dataset.categories()[AnnotationType.label]]
        boxes = [
            [item.id, labels[a.label], bool(a.attributes.get("outside")),
             bool(a.attributes.get("keyframe")), a.attributes.get("track_id"), *a.get_bbox()]
            for item in dataset
            for a in item.annotations
            if a.type == AnnotationType.bbox
        ]  # fmt: skip
        items = sorted(item.id for item in dataset)
        sys.stdout.write(json.dumps({"folder": folder, "items": items, "boxes": boxes}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
