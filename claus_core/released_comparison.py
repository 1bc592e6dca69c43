"""The paper's Algorithm 1 and STeW beside the authors' released code, measured (issue 18).

Three measurements for the book page "The paper's Algorithm 1 versus the released code":

- :func:`selection_agreement`: every selection step of the study's CLAUS runs replayed with the
  paper's Algorithm 1 (the run's own config) and with ``SelectionConfig.released_code()``, on the
  same scored pool and clusters (:func:`claus_core.replay.replay_selection`): how many videos and
  frames the two choose alike;
- :func:`weight_profiles`: one video's STeW weights per frame, the paper's
  (:func:`claus_core.losses.stew_weights`) and the released code's per clip at skip 1 and 2
  (:func:`claus_core.losses_released.released_clip_weights`, clips tiling the video);
- the paired difference of v-mAP@0.5 between the study's ``ucf_main`` CLAUS and its
  ``ucf_released`` group (the released selection, pseudo-labels and weights, same seeds), which
  :mod:`claus_core.book_pages` evaluates like every claim.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from claus_core.claims import Claim, ClaimResult, Group, evaluate
from claus_core.config import ExperimentConfig
from claus_core.data.types import AnnotationState, VideoRecord
from claus_core.engine.experiment import load_scores
from claus_core.engine.sources import make_sources
from claus_core.files import StoreError, read_json
from claus_core.losses import STEW_SIGMA, pseudo_label_masks, stew_weights
from claus_core.losses_released import (
    released_clip_weights,
    released_pseudo_label_masks,
)
from claus_core.replay import replay_selection
from claus_core.selection import SelectionConfig
from claus_core.stats import Comparison
from claus_core.store import RunDir, RunKey, study_runs

RELEASED_CLAIM = Claim(
    key="released",
    page="released",
    text="Algorithm 1 and STeW as the paper writes them, against the released code's, UCF",
    a=(Group.UCF_MAIN, "claus"),
    b=(Group.UCF_RELEASED, "claus"),
    summary="mean_after_round0",
    paper=None,
)


def selection_agreement(root: str | Path, *, group: str = Group.UCF_MAIN) -> pd.DataFrame:
    """One row per (seed, round) of ``group``'s CLAUS runs that selected: the videos and frames
    Algorithm 1 and the released selection choose, how many of them both choose, the cost, and
    the share of the pool's frames whose uncertainty is exactly 0 (no foreground predicted):
    scores tie there, and the two break ties the other way round (pool order, H6)."""
    rows = []
    for key, run in study_runs(Path(root), group, "claus"):
        folder = run.root
        for r in run.finished_rounds():
            if not (run.round_dir(r) / "scores.npz").exists():
                continue  # the last round trains and evaluates only
            try:
                paper = replay_selection(folder, round_index=r, strategies=("claus",))
                released = replay_selection(folder, round_index=r, strategies=("claus",),
                                            selection=SelectionConfig.released_code())  # fmt: skip
            except (StoreError, ValueError) as err:
                raise StoreError(f"{folder} round {r}: {err}") from err
            a, b = paper.results["claus"], released.results["claus"]
            scores = load_scores(folder, r)["uncertainty"]
            pool_scores = np.concatenate([scores[n] for n in paper.pool.names])  # [frame]
            new_a, new_b = set(paper.new_videos("claus")), set(released.new_videos("claus"))
            frames_a = {(v, f) for v in new_a for f in a.state.frames[v]}
            frames_b = {(v, f) for v in new_b for f in b.state.frames[v]}
            rows.append({
                "seed": key.seed, "round": r,
                "Algorithm 1 videos": len(new_a), "released videos": len(new_b), "videos in both": len(new_a & new_b),
                "Algorithm 1 frames": len(frames_a), "released frames": len(frames_b),
                "frames in both": len(frames_a & frames_b),
                "Algorithm 1 cost": a.cost, "released cost": b.cost, "same selection": frames_a == frames_b,
                "pool frames scored 0 (%)": round(100.0 * float(np.mean(pool_scores == 0)), 1),
            })  # fmt: skip
    return pd.DataFrame(rows)


def weight_profiles(video: VideoRecord, annotated: list[int]) -> pd.DataFrame:
    """Per frame of ``video``: its mean STeW weight over the pseudo-label's foreground, the
    paper's (whole video) and the released code's (clips of 8 positions tiling the video at skip
    1 and 2, each clip's annotated frames those of the one tube the video has)."""
    is_annotated = np.zeros(video.num_frames, dtype=bool)  # [frame]
    is_annotated[annotated] = True
    paper_masks = pseudo_label_masks(video, annotated)  # [frame, H, W]
    paper = stew_weights(paper_masks, is_annotated, sigma=STEW_SIGMA)
    released_masks = released_pseudo_label_masks(video, annotated)  # [frame, H, W]
    table = {"frame": np.arange(video.num_frames), "annotated": is_annotated,
             "paper": _foreground_mean(paper, paper_masks)}  # fmt: skip
    for skip in (1, 2):
        weights = np.zeros(paper.shape, dtype=np.float32)  # [frame, H, W]
        covered = np.zeros(video.num_frames, dtype=bool)
        for start in range(0, video.num_frames - 8 * skip + 1, 8 * skip):
            span = start + skip * np.arange(8)  # [T]
            weights[span] = released_clip_weights(released_masks[span], span, annotated, skip)
            covered[span] = True
        mean = _foreground_mean(weights, released_masks)
        mean[~covered] = np.nan
        table[f"released, skip {skip}"] = mean
    return pd.DataFrame(table)


def _foreground_mean(weights: np.ndarray, masks: np.ndarray) -> np.ndarray:  # [frame]
    area = masks.sum(axis=(1, 2))
    total = (weights * masks).sum(axis=(1, 2))
    return np.where(area > 0, total / np.maximum(area, 1), np.nan)


def null_verdict(ours: Comparison | None) -> str:
    """The verdict on "the released code is the paper's method": the paper describes Algorithm 1
    and STeW and names the released code as its implementation, so it claims no difference. An
    interval that excludes 0 contradicts that; one that holds 0 cannot confirm it (the smallest
    effect the design detects says what it could have missed): inconclusive."""
    if ours is None or ours.seeds < 2 or np.isnan(ours.low):
        return "no interval"
    return "contradicts" if ours.low > 0 or ours.high < 0 else "inconclusive"


def released_outcome(results: pd.DataFrame, per_class: pd.DataFrame) -> tuple[ClaimResult, str]:
    """The paired difference (Algorithm 1 - released) over the study's seeds, and its verdict."""
    outcome = evaluate(RELEASED_CLAIM, results, per_class)
    return outcome, null_verdict(outcome.ours)


def example_profiles(root: str | Path) -> pd.DataFrame | None:
    """:func:`weight_profiles` of the first video with two or more annotated frames in the last
    round of ``ucf_main``'s CLAUS run of seed 0 (None when the study has no such run)."""
    folder = RunKey(Group.UCF_MAIN, "claus", 0).folder(Path(root))
    run = RunDir(folder)
    finished = run.finished_rounds() if run.config_path.exists() else []
    if not finished:
        return None
    config = ExperimentConfig.from_dict(read_json(run.config_path, dict))
    path = run.round_dir(finished[-1]) / "state.json"
    state = AnnotationState.from_json(path.read_text(), source=str(path))
    pool = make_sources(config)[0].pool
    for name in state.videos:
        if len(state.frames[name]) >= 2 and len(pool[name].tubes) == 1:
            return weight_profiles(pool[name], list(state.frames[name])).assign(video=name)
    return None
