"""Label your own videos with CLAUS: a labeling project, round by round, in Label Studio or CVAT.

::

    claus label init PROJECT --videos DIR --classes FILE    project.py: probe and store
    claus label select PROJECT --videos N --frames M        rounds.py: train, score, select, export
    claus label import PROJECT --round R FILE...            label_studio.py, cvat.py -> annotations.py
    claus label status PROJECT                              project.py
    claus label transcode PROJECT                           transcode.py: H.264 copies for browsers
"""

from claus_core.labeling.annotations import RoundAnnotations, Track, VideoAnnotations
from claus_core.labeling.project import LabelingConfig, LabelProject, read_classes
from claus_core.labeling.rounds import export_round, import_round, select_round

__all__ = [
    "LabelProject",
    "LabelingConfig",
    "RoundAnnotations",
    "Track",
    "VideoAnnotations",
    "export_round",
    "import_round",
    "read_classes",
    "select_round",
]
