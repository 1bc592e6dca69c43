"""Shared fixtures: the smoke-sized experiment the engine tests run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from claus_core.config import ExperimentConfig, TrainConfig
from claus_core.data.synthetic import SynthConfig
from claus_core.selection import Budget
from claus_core.uncertainty import ScoringConfig


def _smoke_config(name: str, **changes: object) -> ExperimentConfig:
    config = ExperimentConfig(
        name=name,
        synth=SynthConfig.smoke(),
        rounds=1,
        initial_budget=Budget(videos=6, frame_cost=12),
        round_budget=Budget(videos=6, frame_cost=12),
        train=TrainConfig(epochs=1, learning_rate=2e-3),
        scoring=ScoringConfig(n_samples=2),
    )
    return config.replace(**changes) if changes else config


@pytest.fixture
def smoke_config() -> Callable[..., ExperimentConfig]:
    """``smoke_config(name, **dotted_changes)``: a two-round experiment that runs in seconds."""
    return _smoke_config
