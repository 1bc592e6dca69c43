"""What a labeling round asked for, on the real frames: the tutorial's figures (book chapter
"Label your own videos"). Drawing is :func:`claus_core.plots.frames_with_boxes`; this module
only gathers the frames, the imported (human) boxes and the model's boxes of one round."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from claus_core import plots
from claus_core.data.video import read_frames
from claus_core.labeling.annotations import training_record
from claus_core.labeling.project import LabelProject
from claus_core.labeling.rounds import prediction_pool


def round_frames(
    project: LabelProject, index: int, *, videos: int = 4, per_video: int = 3
) -> Figure:
    """Up to ``per_video`` asked frames (evenly spread) of the first ``videos`` videos of round
    ``index``: the boxes imported for it (yellow; none before the import), the boxes of the
    model that selected it (dashed magenta; none in round 0). Titles: video, 0-based frame."""
    asked = project.asked(index)
    imported = project.annotations(index)
    predicted = prediction_pool(project, index)
    items, titles, models = [], [], []
    for name in list(asked)[:videos]:
        human = project.record(name)
        if imported is not None and name in imported.videos:
            human = (
                training_record(human, [imported.videos[name]], project.config.classes)[0] or human
            )
        picks = np.array(asked[name])[
            np.linspace(0, len(asked[name]) - 1, min(per_video, len(asked[name])))
            .round()
            .astype(int)
        ]
        frames = read_frames(project.video_path(name), picks)  # {frame: [H, W, 3]}
        for frame in picks:
            items.append((human, frames, int(frame)))
            titles.append(f"{name.split('/')[-1]} f{int(frame)}")
            models.append(None if predicted is None else predicted[name])
    return plots.frames_with_boxes(items, titles=titles, columns=per_video, predicted=models)
