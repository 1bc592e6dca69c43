"""Building a detector: the preset's config, then its weights from a seed (Sections 6, 7.3).

Every caller (the study's experiments, a labeling project, the scripts and benchmarks) builds
its detector here, so that a preset means the same network everywhere::

    preset ("tiny" | "paper"), classes, frame size --detector_config--> DetectorConfig
    DetectorConfig, seed --new_detector--> CapsuleDetector (initial weights from the seed only)
"""

from __future__ import annotations

from dataclasses import replace

import torch

from claus_core.model.config import DetectorConfig
from claus_core.model.detector import CapsuleDetector

PRESETS = ("tiny", "paper")


def detector_config(
    *, preset: str, num_classes: int, frame_size: int | None = None
) -> DetectorConfig:
    """The ``preset``'s config for ``num_classes``. ``frame_size``: the side of frames rendered
    at another size than the preset's input (the synthetic benchmarks); the primary capsules'
    kernel shrinks with it so that it fits the encoder's output."""
    if preset not in PRESETS:
        raise ValueError(f"detector preset must be one of {PRESETS}, got {preset!r}")
    detector = (DetectorConfig.paper if preset == "paper" else DetectorConfig.tiny)(
        num_classes=num_classes
    )
    if frame_size is not None and frame_size != detector.input_size:
        kernel = min(detector.primary_kernel, frame_size // 8)
        detector = replace(detector, input_size=frame_size, primary_kernel=kernel)
    return detector


def new_detector(config: DetectorConfig, seed: int) -> CapsuleDetector:
    """A detector with initial weights drawn from ``seed`` alone: the global torch RNG is neither
    read nor changed (``torch.random.fork_rng``)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CapsuleDetector(config)
