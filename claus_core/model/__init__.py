"""The capsule detector of CLAUS (supplementary Section 7.1, Table 11) and its checkpoints.

Read ``detector.py`` top to bottom for the data flow; ``config.py`` holds the two presets
(``DetectorConfig.paper()`` = Table 11, ``DetectorConfig.tiny()`` for a 2-core CPU).
"""

from claus_core.model.checkpoint import (
    I3DLoadReport,
    load_detector,
    load_i3d_checkpoint,
    save_detector,
)
from claus_core.model.config import DetectorConfig
from claus_core.model.detector import CapsuleDetector, DetectorOutput, EncodedClip
from claus_core.model.macs import MacsReport, count_macs

__all__ = [
    "CapsuleDetector",
    "DetectorConfig",
    "DetectorOutput",
    "EncodedClip",
    "I3DLoadReport",
    "MacsReport",
    "count_macs",
    "load_detector",
    "load_i3d_checkpoint",
    "save_detector",
]
