"""The run store: one folder per round, written atomically, reused when its config hash matches.

Layout (``docs/architecture.md``)::

    runs/<study>/<experiment>/<strategy>/seed<k>/
        config.json                  the experiment config this run was made with
        log.txt                      the run's log
        round<r>/
            state.json               AnnotationState that round r trains on
            checkpoint.pt            detector weights trained in round r (config inside)
            clusters.npz             the clusters fitted after round r's training: centroids,
                                     counts and every pool video's cluster, which round r+1
                                     trains with (clustered strategies)
            evaluation.json          the test split's evaluation: every metric, per class
            scores.npz               per-video frame uncertainty / entropy of the unlabeled pool
            clusters.json            the cluster of every pool video (clustered strategies)
            selection.json           why each new video and frame was chosen
            next_state.json          AnnotationState after round r's selection was added
            metrics.json             f-mAP / v-mAP on the test split, cost, timings
            round.json               written last: round index, config hash, file list
    runs/<study>/.trained/<key>/     round 0 trained once, shared by identical runs (TrainedRounds)

A round counts as finished only when ``round.json`` exists and names the current config hash;
it also records the SHA-256 of every file of the round, checked whenever the round is reused,
resumed from, reported or exported (:meth:`RunDir.verify_round`).
Files are written to a temporary name in the same folder and renamed into place
(``os.replace`` is atomic on POSIX), so a killed process leaves either the old file or the new
one, never half of one; an unfinished round folder is cleared and redone on resume.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claus_core.files import (
    StoreError,
    file_sha256,
    read_json,
    read_keys,
    write_json,
)

ROUND_MARKER = "round.json"
METRICS_KEYS = (
    "round",
    "videos",
    "frames",
    "cost",
    "full_cost",
    "metrics",
)  # in every metrics.json
LOCK_NAME = ".lock"  # held with fcntl.flock by the process that writes the run; holds its pid


def config_hash(payload: dict[str, Any]) -> str:
    """A stable short hash of a JSON-compatible config."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_digests(folder: Path, digests: dict[str, str], *, missing: str, changed: str) -> None:
    """Check the files of ``folder`` against their recorded SHA-256 (``digests``: name -> hex);
    raise :class:`StoreError` naming the first file that is missing or differs, with the
    ``missing`` or ``changed`` explanation."""
    for name, expected in sorted(digests.items()):
        path = folder / name
        if not path.is_file():
            raise StoreError(f"{path}: {missing}")
        if file_sha256(path) != expected:
            raise StoreError(f"{path}: {changed}")


def metric_name(metric: str, threshold: float) -> str:
    """The key of one metric in ``metrics.json``: ``metric_name("v-mAP", 0.5) == "v-mAP@0.5"``."""
    return f"{metric}@{threshold:g}"


def metrics_dict(table: Any) -> dict[str, float]:
    """``{"v-mAP@0.5": value, ...}`` from an evaluation's table (rows: metric, threshold, value)."""
    return {metric_name(r.metric, r.threshold): float(r.value) for r in table.itertuples()}


def parse_metric_name(name: str) -> tuple[str, float]:
    """``(metric, threshold)`` of a ``metrics.json`` key (the inverse of :func:`metric_name`)."""
    metric, sep, threshold = name.rpartition("@")
    try:
        return metric, float(threshold)
    except ValueError:
        raise StoreError(f"metric key {name!r}: expected '<metric>@<threshold>'") from None


@dataclass(frozen=True)
class RunKey:
    """Where a run sits in a study: ``runs/<study>/<experiment>/<strategy>/seed<k>``."""

    experiment: str  # the study group's name (ExperimentConfig.name)
    strategy: str
    seed: int

    def folder(self, study_root: Path) -> Path:
        return Path(study_root) / self.experiment / self.strategy / f"seed{self.seed}"


def study_runs(
    study_root: Path, experiment: str = "*", strategy: str = "*"
) -> Iterator[tuple[RunKey, RunDir]]:
    """Every run folder of a study (those with a ``config.json``), in path order."""
    for config_path in sorted(Path(study_root).glob(f"{experiment}/{strategy}/seed*/config.json")):
        folder = config_path.parent
        seed = folder.name.removeprefix("seed")
        if seed.isdigit():
            yield RunKey(folder.parent.parent.name, folder.parent.name, int(seed)), RunDir(folder)


class RunDir:
    """One experiment run (strategy x seed): its config and its rounds."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    def round_dir(self, index: int) -> Path:
        return self.root / f"round{index}"

    @staticmethod
    def round_index(folder: Path) -> int | None:
        """The round of a ``round<r>`` folder, or None for any other name."""
        index = folder.name.removeprefix("round")
        return int(index) if index != folder.name and index.isdigit() else None

    def bind(self, config: dict[str, Any], *, allow_new: bool = True) -> None:
        """Tie this folder to ``config``; a folder made with another config is refused."""
        if self.config_path.exists():
            stored = read_json(self.config_path, dict)
            if config_hash(stored) != config_hash(config):
                changed = sorted(
                    k for k in set(stored) | set(config) if stored.get(k) != config.get(k)
                )
                raise StoreError(
                    f"{self.root}: made with another config (fields that differ: {changed}); "
                    "use a new run directory or delete this one"
                )
            return
        if not allow_new:
            raise StoreError(f"{self.config_path}: missing; not a run directory")
        if self.root.is_dir() and any(p.name != LOCK_NAME for p in self.root.iterdir()):
            raise StoreError(
                f"{self.root}: exists, is not empty and is not a run folder (it has no config.json); "
                "nothing was written to it: choose a new or empty folder"
            )
        write_json(self.config_path, config)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on this run folder for as long as the block runs.

        The lock is ``fcntl.flock`` on ``.lock``, which holds the holder's pid; a second process
        gets a :class:`StoreError` naming it. The operating system releases the lock when its
        holder dies, so a killed run never leaves the folder locked.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK_NAME
        created = not path.exists()
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise StoreError(
                    f"{self.root}: in use by another claus process (pid {holder}); wait for it to finish "
                    "or stop it, then run again"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            try:
                yield
            finally:
                if created and not self.config_path.exists():  # a folder refused by bind: as it was
                    path.unlink(missing_ok=True)
                fcntl.flock(handle, fcntl.LOCK_UN)

    def finished(self, index: int, round_hash: str) -> bool:
        marker = self.round_dir(index) / ROUND_MARKER
        if not marker.exists():
            return False
        return read_keys(marker, "hash")["hash"] == round_hash

    def finished_rounds(self) -> list[int]:
        indices = (
            self.round_index(path)
            for path in self.root.glob("round*")
            if (path / ROUND_MARKER).exists()
        )
        return sorted(i for i in indices if i is not None)

    def start_round(self, index: int) -> Path:
        """A clean folder for round ``index`` (leftovers of an interrupted attempt removed)."""
        path = self.round_dir(index)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def finish_round(
        self, index: int, round_hash: str, extra: dict[str, Any] | None = None
    ) -> None:
        """Write ``round.json``: the round, its config hash, and the SHA-256 of each of its files."""
        path = self.round_dir(index)
        files = sorted(
            p.name for p in path.iterdir() if not p.name.startswith(".") and p.name != ROUND_MARKER
        )
        digests = {name: file_sha256(path / name) for name in files}
        write_json(path / ROUND_MARKER, {"round": index, "hash": round_hash, "files": files, "sha256": digests,
                                         **(extra or {})})  # fmt: skip

    def verify_round(self, index: int) -> None:
        """Check every file of finished round ``index`` against the SHA-256 in its ``round.json``.

        A changed, corrupt or missing file raises :class:`StoreError` naming it and saying what
        to do. Rounds finished before checksums were recorded have nothing to check.
        """
        folder = self.round_dir(index)
        digests = read_json(folder / ROUND_MARKER, dict).get("sha256", {})
        if not isinstance(digests, dict):
            raise StoreError(f"{folder / ROUND_MARKER}: 'sha256' must map file names to digests")
        fix = (
            f"delete {folder} and every later round folder of {self.root}, then run "
            f"`claus resume {self.root}` to redo them"
        )
        check_digests(
            folder,
            digests,
            missing=f"missing, though round {index} finished with it; {fix}",
            changed=f"changed or corrupt since round {index} finished (SHA-256 differs); {fix}",
        )


class TrainedRounds:
    """Round 0 trained once and reused by every run of a study whose round 0 is identical by
    construction (issue 13 (h); the key is :func:`claus_core.engine.experiment.round0_key`).

    Layout::

        runs/<study>/.trained/<key>/
            checkpoint.pt     the trained detector
            evaluation.json   its evaluation on the test split
            trained.json      written last: training statistics, metrics, each file's SHA-256

    An entry is built in a temporary folder and renamed into place, so it is either complete or
    absent. Two workers that train the same round at once both try; the first rename wins and
    the second entry, identical by construction, is dropped.
    """

    MARKER = "trained.json"

    def __init__(self, study_root: Path) -> None:
        self.root = Path(study_root) / ".trained"

    def find(self, key: str) -> Path | None:
        """The complete entry of ``key``, or None; a file of it that changed since it was saved
        raises :class:`StoreError` naming it (each run copies the entry, so it is checked first)."""
        folder = self.root / key
        if not (folder / self.MARKER).exists():
            return None
        why = (
            "missing, changed or corrupt since this shared round 0 was saved; "
            f"delete {folder} and run again to retrain it"
        )
        digests = read_json(folder / self.MARKER, dict).get("sha256", {})
        check_digests(folder, digests, missing=why, changed=why)
        return folder

    def save(self, key: str, files: list[Path], summary: dict[str, Any]) -> None:
        """Copy ``files`` into the entry of ``key`` and write ``summary`` as its marker."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.root))
        try:
            for source in files:
                shutil.copyfile(source, tmp / source.name)
            digests = {source.name: file_sha256(tmp / source.name) for source in files}
            write_json(tmp / self.MARKER, {**summary, "sha256": digests})
            target = self.root / key
            if target.exists() and self.find(key) is None:  # left by a write that never finished
                shutil.rmtree(target)
            try:
                os.rename(tmp, target)
            except OSError:
                if self.find(key) is None:
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
