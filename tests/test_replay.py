"""Replaying a stored round's selection (claus_core.replay): the notebooks' Figures 2 and 3."""

from __future__ import annotations

import pytest
import torch

from claus_core.data.types import AnnotationState
from claus_core.engine.experiment import Experiment
from claus_core.files import StoreError
from claus_core.replay import replay_selection

pytestmark = pytest.mark.slow


def test_replayed_claus_step_is_the_runs_own_selection(tmp_path, smoke_config) -> None:
    torch.set_num_threads(1)
    config = smoke_config("e2e", rounds=1)
    Experiment(config, tmp_path / "run", progress=False).run_all()
    step = replay_selection(tmp_path / "run", round_index=0)
    stored = AnnotationState.from_json(
        (tmp_path / "run" / "round0" / "next_state.json").read_text()
    )
    assert step.results["claus"].state == stored
    summary = step.summary()
    assert list(summary.index) == ["claus", "uncertainty", "entropy", "random", "equidistant"]
    assert (summary["new videos"] <= config.round_budget.videos).all()
    assert (summary["cost"] <= config.round_budget.frame_cost).all()
    counts = step.class_counts()
    assert list(counts.index) == list(step.pool.classes)
    assert (counts.sum() == summary["new videos"]).all()
    reasons = step.reasons("claus")
    assert len(reasons) == stored.num_frames() - step.state.num_frames()


def test_a_run_without_scores_cannot_be_replayed(tmp_path, smoke_config) -> None:
    Experiment(
        smoke_config("e2e", rounds=1, strategy="random"), tmp_path / "run", progress=False
    ).run_all()
    with pytest.raises(StoreError, match="scores.npz"):
        replay_selection(tmp_path / "run", round_index=0)
    with pytest.raises(StoreError, match="round5"):
        replay_selection(tmp_path / "run", round_index=5)
