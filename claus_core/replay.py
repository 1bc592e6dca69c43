"""One selection step replayed from the run store: every strategy on the same scored pool.

Supplementary Figures 2 (selected videos per class) and 3 (frames of the selected videos vs the
frames CLAUS annotated) compare strategies on one selection step. A run's round ``r`` holds what
its selection saw: the annotation state (``state.json``), the MC-dropout scores of the pool
(``scores.npz``) and the cluster of every pool video (``clusters.json``). :func:`replay_selection`
reads them and lets each strategy of the registry spend the run's round budget on them, with
the generator the loop uses, so the replayed CLAUS step is the run's own selection
(``next_state.json``), and the other strategies are what they would have chosen instead::

    runs/<study>/<group>/claus/seed<k>/round<r>/ --state, scores, clusters--> every strategy
        --> SelectionStep: summary, per-class counts (Fig. 2), frames (Fig. 3), reasons

No model is trained or run here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from claus_core.config import ExperimentConfig
from claus_core.data.types import AnnotationState, VideoPool
from claus_core.engine.experiment import load_scores
from claus_core.engine.sources import make_sources
from claus_core.files import StoreError, read_json
from claus_core.selection import STRATEGIES, SelectionConfig, SelectionContext, SelectionResult
from claus_core.store import RunDir
from claus_core.study_report import missing_runs

FIGURE_STRATEGIES = ("claus", "uncertainty", "entropy", "random", "equidistant")


@dataclass(frozen=True)
class SelectionStep:
    """Round ``round_index`` of one run and what each strategy selected from it."""

    pool: VideoPool
    state: AnnotationState  # what the round trained on, before its selection
    clusters: dict[str, int]  # video -> cluster id
    results: dict[str, SelectionResult]  # strategy -> its selection
    round_index: int

    def new_videos(self, strategy: str) -> list[str]:
        return [v for v in self.results[strategy].state.videos if v not in self.state.frames]

    def summary(self) -> pd.DataFrame:
        """One row per strategy: new videos, new frames, cost, clusters the new videos come from."""
        rows = {}
        for name, result in self.results.items():
            new = self.new_videos(name)
            rows[name] = {"new videos": len(new), "new frames": result.state.num_frames() - self.state.num_frames(),
                          "cost": result.cost, "clusters hit": len({self.clusters[v] for v in new})}  # fmt: skip
        return pd.DataFrame(rows).T

    def class_counts(self) -> pd.DataFrame:
        """New videos per class (rows: every class of the pool) and strategy (columns)."""
        counts = {
            name: pd.Series(
                [self.pool.classes[self.pool[v].label] for v in self.new_videos(name)]
            ).value_counts()
            for name in self.results
        }
        return pd.DataFrame(counts).reindex(self.pool.classes).fillna(0).astype(int)

    def frames_per_class(self, strategy: str, real_pool: VideoPool) -> pd.DataFrame:
        """Per class, the mean over ``strategy``'s new videos of the real video's frames, the
        synthetic clip's frames and the frames annotated in it (Figure 3)."""
        rows = [
            {"class": self.pool.classes[self.pool[v].label], "real video frames (UCF-101-24)": real_pool[v].num_frames,
             "SynthUCF24 clip frames": self.pool[v].num_frames,
             f"annotated frames ({strategy})": len(self.results[strategy].state.frames[v])}
            for v in self.new_videos(strategy)
        ]  # fmt: skip
        return pd.DataFrame(rows).groupby("class").mean()

    def reasons(self, strategy: str) -> pd.DataFrame:
        """Why each of ``strategy``'s frames was chosen: video (without its class folder), frame
        (0-based), cluster, video score, frame score, reason."""
        why = self.results[strategy].to_dataframe()[
            ["video", "frame", "cluster", "video_score", "frame_score", "reason"]
        ]
        why = why.assign(video=why["video"].str.split("/").str[-1])
        return why.rename(columns=lambda c: c.replace("_", " "))


def replay_selection(
    run_dir: str | Path,
    *,
    round_index: int = 0,
    strategies: Sequence[str] = FIGURE_STRATEGIES,
    selection: SelectionConfig | None = None,
) -> SelectionStep:
    """Replay round ``round_index``'s selection of the run in ``run_dir`` with each of ``strategies``.

    The run must be one that scores and clusters its pool (CLAUS, sample); its round must have
    finished (else :class:`claus_core.study_report.MissingRunsError` names the command). Each strategy gets the run's round budget, selection config (or ``selection``)
    and the loop's generator ``default_rng([seed, round, 2])``.
    """
    run = RunDir(Path(run_dir))
    if round_index not in run.finished_rounds():
        if run.config_path.exists():
            raise StoreError(f"{run.round_dir(round_index)}: not a finished round of {run.root} (`claus status "
                             f"{run.root}` lists its rounds, `claus resume {run.root}` finishes them)")  # fmt: skip
        parents = run.root.parents  # a study's run: <study>/<group>/<strategy>/seed<k>
        study = parents[2] if len(parents) > 2 else run.root
        raise missing_runs(study, f"{run.root}: no such run", (run.root.parent.parent.name,))
    run.verify_round(round_index)  # the files of the round are those it finished with
    config = ExperimentConfig.from_dict(read_json(run.config_path, dict))
    folder = run.round_dir(round_index)
    for name in ("scores.npz", "clusters.json", "state.json"):
        if not (folder / name).exists():
            raise StoreError(f"{folder / name}: missing; replaying needs a run that scores and clusters its pool "
                             f"(strategy {config.strategy!r} does not)")  # fmt: skip
    pool = make_sources(config)[0].pool
    state_path = folder / "state.json"
    state = AnnotationState.from_json(state_path.read_text(), source=str(state_path))
    clusters = {str(k): int(v) for k, v in read_json(folder / "clusters.json", dict).items()}
    context = SelectionContext(pool, state, scores=load_scores(run.root, round_index), clusters=clusters,
                               round_index=round_index)  # fmt: skip
    results = {
        name: STRATEGIES[name](
            context,
            config.round_budget,
            config.selection if selection is None else selection,
            np.random.default_rng([config.seed, round_index, 2]),
        )  # fmt: skip
        for name in strategies
    }
    return SelectionStep(pool, state, clusters, results, round_index)
