"""Data layer: the video/tube/annotation model, loaders for the real datasets, the synthetic
benchmarks, and video decoding. See ``claus_core.data.types`` for the conventions."""

from claus_core.data.raster import box_mask, video_masks
from claus_core.data.types import (
    AnnotationState,
    DataError,
    FrameSource,
    MaskSequence,
    Tube,
    VideoPool,
    VideoRecord,
)

__all__ = [
    "AnnotationState",
    "DataError",
    "FrameSource",
    "MaskSequence",
    "Tube",
    "VideoPool",
    "VideoRecord",
    "box_mask",
    "video_masks",
]
