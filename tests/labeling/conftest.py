"""Shared fixtures of the labeling tests: a labeling project on the real mini videos, at round 0.

Creating a project probes every video of ``data/ucf101_24_mini`` (16 real videos, ~3 s), so it
is built once per session and every test gets its own copy, with round 0's request written as
``tests/fixtures/labelstudio/round0_request.json`` (the round the real Label Studio 1.23.2
exports in that folder answer).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from labeling_support import CLASSES, LS_FIXTURES, MINI

from claus_core.data.types import VideoPool
from claus_core.data.ucf101_24 import load_ucf101_24_mini
from claus_core.labeling import LabelingConfig, LabelProject


@pytest.fixture(scope="session")
def project_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project on the mini videos, created once (never written: tests use ``project``)."""
    root = tmp_path_factory.mktemp("template") / "project"
    LabelProject.create(root, MINI, LabelingConfig(classes=CLASSES))
    return root


@pytest.fixture
def project(project_template: Path, tmp_path: Path) -> LabelProject:
    """A fresh copy of the template project with round 0 requested and nothing imported."""
    root = tmp_path / "project"
    shutil.copytree(project_template, root)
    (root / "round0").mkdir()
    shutil.copyfile(LS_FIXTURES / "round0_request.json", root / "round0" / "request.json")
    return LabelProject(root)


@pytest.fixture(scope="session")
def mini_pool() -> VideoPool:
    """The mini videos with their real UCF-101-24 boxes (the ground truth), in video pixels."""
    return load_ucf101_24_mini()
