"""Coverage-guided fuzzing of the two labeling importers: Label Studio JSON / JSON_MIN and CVAT 1.1
XML (``claus_core.labeling.label_studio``, ``claus_core.labeling.cvat``; issue 26).

Every input is written to an export file and imported into round 0 of a labeling project on the
16 shipped mini videos, exactly as ``claus label import`` reads it
(:func:`claus_core.labeling.rounds.read_round_files`: size and type checks, UTF-8, format
detection, then the importer). The only allowed outcomes are the round's annotations or a
:class:`~claus_core.data.types.DataError` naming what is wrong; any other exception, a crash or
a hang is a finding, which libFuzzer reports with the input that caused it (``crash-*`` files in
the working directory). A finding becomes a regression test in ``tests/labeling/``.

Run (``make fuzz`` does, for a bounded time)::

    .venv/bin/python fuzz/fuzz_importers.py -max_total_time=60 CORPUS_DIR

The corpus starts from the real exports in ``tests/fixtures`` (Label Studio 1.23.2 JSON and
JSON_MIN, CVAT for video 1.1 and CVAT for images 1.1), written into ``CORPUS_DIR`` when it is
empty.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["claus_core"]):  # not torch: starts in seconds
    from claus_core.data.types import DataError
    from claus_core.labeling import LabelingConfig, LabelProject, rounds

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
MINI = ROOT / "data" / "ucf101_24_mini"
CLASSES = tuple(sorted(p.name for p in MINI.iterdir() if p.is_dir()))  # as the tests' project


def seeds() -> list[Path]:
    """The real exports the tests read (see ``tests/fixtures/*/README.md``)."""
    return sorted((FIXTURES / "labelstudio").glob("round0_export_*.json")) + sorted(
        (FIXTURES / "cvat").glob("*.xml")
    )


def round0_project(folder: Path) -> LabelProject:
    """A project on the mini videos with round 0 asked as in the Label Studio fixtures."""
    project = LabelProject.create(folder / "project", MINI, LabelingConfig(classes=CLASSES))
    (project.root / "round0").mkdir()
    shutil.copyfile(
        FIXTURES / "labelstudio" / "round0_request.json", project.root / "round0" / "request.json"
    )
    return LabelProject(project.root)


def main() -> None:
    corpus = next((Path(a) for a in sys.argv[1:] if not a.startswith("-")), None)
    if corpus is not None:
        corpus.mkdir(parents=True, exist_ok=True)
        if not any(corpus.iterdir()):
            for seed in seeds():
                shutil.copyfile(seed, corpus / seed.name)
    work = Path(tempfile.mkdtemp(prefix="fuzz_importers."))
    project = round0_project(work)
    export = work / "export"

    def test_one_input(data: bytes) -> None:
        export.write_bytes(data)
        try:
            rounds.read_round_files(project, 0, [export])
        except DataError:
            return

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
