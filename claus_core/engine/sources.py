"""Where an experiment's frames come from: the synthetic benchmarks or real video folders.

::

    ExperimentConfig.dataset --make_sources--> (train, test) CachedSource
        synth_ucf24 / synth_jhmdb21   rendered from real annotation geometry (data/synthetic.py)
        ucf101_24 / jhmdb21           decoded from ``videos_dir`` (data/video.py)
        ucf101_24_mini                the 16 shipped real videos, their own split (data card)

Sources are cached per (dataset, synthetic config, videos folder), so the runs of a study
render or decode every video once per process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from claus_core.config import ExperimentConfig
from claus_core.data.types import DataError, FrameSource


class CachedSource:
    """A FrameSource that keeps every decoded / rendered video in memory."""

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.pool = source.pool
        self._frames: dict[str, np.ndarray] = {}

    def frames(self, name: str) -> np.ndarray:  # [frame, H, W, 3] uint8
        if name not in self._frames:
            self._frames[name] = self.source.frames(name)
        return self._frames[name]


@lru_cache(maxsize=8)
def _sources(dataset: str, synth: Any, videos_dir: str | None) -> tuple[CachedSource, CachedSource]:
    if dataset == "synth_ucf24":
        from claus_core.data.synthetic import make_synth_ucf24 as make
    elif dataset == "synth_jhmdb21":
        from claus_core.data.synthetic import make_synth_jhmdb21 as make
    else:
        return tuple(
            CachedSource(_real_source(dataset, split, videos_dir)) for split in ("train", "test")
        )  # type: ignore[return-value]
    return CachedSource(make("train", synth)), CachedSource(make("test", synth))


def _real_source(dataset: str, split: str, videos_dir: str | None) -> FrameSource:
    from claus_core.data.video import VideoFolder

    if dataset == "ucf101_24_mini":  # its own split of the 16 shipped videos (data card)
        from claus_core.data.ucf101_24 import load_ucf101_24_mini

        return VideoFolder(load_ucf101_24_mini(videos_dir, split=split))
    if videos_dir is None:
        raise ValueError(f"dataset {dataset!r} needs videos_dir (the folder of real videos)")
    if dataset == "ucf101_24":
        from claus_core.data.ucf101_24 import load_ucf101_24

        try:
            pool = load_ucf101_24(split=split, videos_dir=videos_dir, require_videos=True)
        except DataError as err:
            raise DataError(
                f"{err} (split {split!r}; the 16 videos of data/ucf101_24_mini are all split-1 test "
                "videos: run them as dataset ucf101_24_mini, which has its own train/test split)"
            ) from err
    else:
        from claus_core.data.jhmdb21 import load_jhmdb21

        pool = load_jhmdb21(split=split, videos_dir=videos_dir)
    return VideoFolder(pool)


def make_sources(config: ExperimentConfig) -> tuple[CachedSource, CachedSource]:
    """The (train, test) frame sources of an experiment (cached across experiments)."""
    return _sources(config.dataset, config.synth, config.videos_dir)
