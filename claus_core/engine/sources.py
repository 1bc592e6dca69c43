"""Where an experiment's frames come from: the synthetic benchmarks or real video folders.

::

    ExperimentConfig.dataset --make_sources--> (train, test) CachedSource
        synth_ucf24 / synth_jhmdb21   rendered from real annotation geometry (data/synthetic.py)
        ucf101_24 / jhmdb21           decoded from ``videos_dir`` (data/video.py)
        ucf101_24_mini                the 16 shipped real videos, their own split (data card)

Sources are cached per (dataset, synthetic config, videos folder), so the runs of a study
render or decode every video once per process. Decoded real videos are kept up to
:data:`REAL_VIDEO_CACHE_BYTES` (least recently used out first): the 2,284 UCF-101-24 train
videos take 85 GiB decoded at 320 x 240, which no cache of whole videos can hold.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import Any

import numpy as np

from claus_core.config import ExperimentConfig
from claus_core.data.types import DataError, FrameSource

REAL_VIDEO_CACHE_BYTES = 4 * 2**30  # decoded real videos kept in memory per source


class CachedSource:
    """A FrameSource that keeps decoded / rendered videos in memory: all of them, or with
    ``max_bytes`` the most recently read ones up to that many bytes (at least the last one)."""

    def __init__(self, source: FrameSource, *, max_bytes: int | None = None) -> None:
        self.source = source
        self.pool = source.pool
        self.max_bytes = max_bytes
        self._frames: OrderedDict[str, np.ndarray] = OrderedDict()  # oldest read first
        self._bytes = 0

    def frames(self, name: str) -> np.ndarray:  # [frame, H, W, 3] uint8
        if name in self._frames:
            self._frames.move_to_end(name)
            return self._frames[name]
        pixels = self.source.frames(name)
        self._frames[name] = pixels
        self._bytes += pixels.nbytes
        while self.max_bytes is not None and self._bytes > self.max_bytes and len(self._frames) > 1:
            self._bytes -= self._frames.popitem(last=False)[1].nbytes
        return pixels

    @property
    def cached_bytes(self) -> int:
        return self._bytes


@lru_cache(maxsize=8)
def _sources(dataset: str, synth: Any, videos_dir: str | None) -> tuple[CachedSource, CachedSource]:
    if dataset == "synth_ucf24":
        from claus_core.data.synthetic import make_synth_ucf24 as make
    elif dataset == "synth_jhmdb21":
        from claus_core.data.synthetic import make_synth_jhmdb21 as make
    else:
        return tuple(
            CachedSource(_real_source(dataset, split, videos_dir), max_bytes=REAL_VIDEO_CACHE_BYTES)
            for split in ("train", "test")
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
