"""A simulated annotator: a round's Label Studio tasks answered from real ground truth.

For the tutorial and the tests: given the tasks ``claus label select`` wrote and a pool with
ground truth (the real UCF-101-24 boxes of the mini videos), :func:`answer_tasks` returns the
JSON export a Label Studio 1.23.2 server writes after a person drew those boxes, with the same
keys and shapes as the server's export in ``tests/fixtures/labelstudio/export_json.json``. The
"person" draws, for every tube with an asked frame inside it, one ``videorectangle`` region with
a key frame on each asked frame in the tube (1-based, percent boxes), and ends the region's
lifespan on its last key frame (``enabled: false``, which Label Studio writes when the annotator
turns the lifespan off; a freshly drawn region is enabled); asked frames outside every tube get no box
("no action").
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claus_core.data.types import DataError, VideoPool
from claus_core.export import to_label_studio_json

_CLOCK = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _stamp(seconds: int) -> str:
    return (_CLOCK + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def answer_tasks(
    tasks: Sequence[dict[str, Any]], truth: VideoPool, *, project_id: int = 1, first_id: int = 1
) -> list[dict[str, Any]]:
    """The Label Studio JSON export of ``tasks`` (as imported) annotated from ``truth``."""
    export = []
    for offset, task in enumerate(tasks):
        data = dict(task["data"])
        name = data["video_name"]
        if name not in truth:
            raise DataError(f"simulated annotator: no ground truth for video {name!r}")
        frames = [f - 1 for f in data["frames_to_annotate"]]
        (answer,) = to_label_studio_json(
            truth, {name: frames}, fps=float(data.get("framerate", 25.0)), include_boxes=True
        )
        result = answer.get("predictions", [{"result": []}])[0]["result"]
        task_id = first_id + offset
        created, updated = _stamp(10 * offset), _stamp(10 * offset + 5)
        annotation = {
            "id": task_id,
            "completed_by": 1,
            "result": result,
            "was_cancelled": False,
            "ground_truth": False,
            "created_at": created,
            "updated_at": updated,
            "draft_created_at": None,
            "lead_time": 30.0,
            "prediction": {},
            "result_count": len(result),
            "unique_id": str(uuid.UUID(int=task_id)),
            "import_id": None,
            "last_action": None,
            "bulk_created": False,
            "task": task_id,
            "project": project_id,
            "updated_by": 1,
            "parent_prediction": None,
            "parent_annotation": None,
            "last_created_by": None,
        }
        export.append(
            {
                "id": task_id,
                "annotations": [annotation],
                "drafts": [],
                "predictions": [p.get("id", 0) for p in task.get("predictions", [])],
                "data": data,
                "meta": {},
                "created_at": created,
                "updated_at": updated,
                "allow_skip": True,
                "inner_id": task_id,
                "total_annotations": 1,
                "cancelled_annotations": 0,
                "total_predictions": len(task.get("predictions", [])),
                "comment_count": 0,
                "unresolved_comment_count": 0,
                "last_comment_updated_at": None,
                "project": project_id,
                "updated_by": 1,
                "comment_authors": [],
            }
        )
    return export


def answer_round(tasks_file: Path, truth: VideoPool, out: Path) -> Path:
    """Answer the tasks in ``tasks_file`` (what ``claus label select`` wrote) and write the
    export to ``out``, as a person would export them from Label Studio."""
    tasks = json.loads(Path(tasks_file).read_text(encoding="utf-8"))
    Path(out).write_text(json.dumps(answer_tasks(tasks, truth), indent=1), encoding="utf-8")
    return Path(out)
