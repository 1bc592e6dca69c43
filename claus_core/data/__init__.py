"""Data layer: the video/tube/annotation model, loaders for the real datasets, the synthetic
benchmarks, and video decoding. See ``claus_core.data.types`` for the conventions."""

from claus_core.data.act import load_act_pickle
from claus_core.data.jhmdb21 import JHMDB21_CLASSES, load_jhmdb21
from claus_core.data.masks import RunLengthMasks
from claus_core.data.raster import box_mask, video_masks
from claus_core.data.safe_pickle import safe_load
from claus_core.data.tube_checks import BoxOutsideFrameWarning
from claus_core.data.types import (
    AnnotationState,
    DataError,
    FrameSource,
    MaskSequence,
    Tube,
    VideoPool,
    VideoRecord,
)
from claus_core.data.ucf101_24 import load_ucf101_24, load_ucf101_24_mini, ucf101_24_class_names
from claus_core.data.video import (
    VideoError,
    VideoFolder,
    VideoInfo,
    find_video_file,
    probe_video,
    read_video,
)

__all__ = [
    "AnnotationState",
    "BoxOutsideFrameWarning",
    "DataError",
    "JHMDB21_CLASSES",
    "RunLengthMasks",
    "FrameSource",
    "MaskSequence",
    "Tube",
    "VideoError",
    "VideoFolder",
    "VideoInfo",
    "VideoPool",
    "VideoRecord",
    "box_mask",
    "find_video_file",
    "load_act_pickle",
    "load_jhmdb21",
    "load_ucf101_24",
    "load_ucf101_24_mini",
    "probe_video",
    "read_video",
    "safe_load",
    "ucf101_24_class_names",
    "video_masks",
]
