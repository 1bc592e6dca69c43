"""The active-learning engine: one round, one experiment, a study (supplementary Sections 5, 7).

::

    round r:  AnnotationState_r --targets (STeW / interpolate / frame)--> train (warm start;
                 from round 1 on, the cluster loss towards the clusters fitted after round r-1)
                 --> evaluate on the test split (f-mAP / v-mAP)
                 --> score the train pool (MC dropout)
                 --> fit k-means on the trained latents of the training videos, assign the pool
                 --> select (Algorithm 1 or a baseline) --> AnnotationState_{r+1}
    experiment: initial random selection (round 0) + ``rounds`` selection rounds; the last
                round trains and evaluates only.

Every round is persisted by :mod:`claus_core.store` and reused when its hash matches; a killed
process resumes at the first unfinished round. Randomness: numpy Generators and torch
Generators seeded from (seed, round); model initialization runs under ``torch.random.fork_rng``
so that the global torch RNG is neither read nor changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from claus_core import distributed
from claus_core.clustering import DeepClusters
from claus_core.config import (
    ConfigError,
    ExperimentConfig,
    StudyConfig,
    check_runnable,
    weights_path,
)
from claus_core.cost import annotation_cost, full_cost
from claus_core.data.types import AnnotationState, DataError, VideoPool
from claus_core.engine.round_step import select_step
from claus_core.engine.sources import make_sources
from claus_core.engine.training import TrainStats, train_round, training_device
from claus_core.evaluation import EvaluationConfig, evaluate_detector
from claus_core.files import (
    StoreError,
    atomic_write,
    file_sha256,
    read_keys,
    read_npz,
    write_json,
    write_npz,
)
from claus_core.model.checkpoint import load_detector, load_i3d_checkpoint, save_detector
from claus_core.model.config import DetectorConfig
from claus_core.model.detector import CapsuleDetector
from claus_core.model.factory import detector_config, new_detector
from claus_core.model.i3d import I3DEncoder
from claus_core.score_table import ScoreTable
from claus_core.selection import (
    STRATEGIES,
    initial_selection,
)
from claus_core.store import METRICS_KEYS, RunDir, RunKey, TrainedRounds, config_hash, metrics_dict

logger = logging.getLogger(__name__)


def initial_detector(config: ExperimentConfig, detector: DetectorConfig) -> CapsuleDetector:
    """A round's fresh detector: weights from the run's seed, then the pretrained encoder
    (``detector.encoder_weights``) when the config names one, every key checked for its shape."""
    model = new_detector(detector, config.seed)
    _load_encoder_weights(config, model.encoder)
    return model


def _load_encoder_weights(config: ExperimentConfig, encoder: I3DEncoder) -> None:
    weights = config.detector.encoder_weights
    if weights is None:
        return
    try:
        report = load_i3d_checkpoint(encoder, weights_path(weights), strict=True)
    except (ValueError, DataError) as err:
        raise ConfigError(f"detector.encoder_weights: {err}") from err
    logger.info("encoder weights %s: %d tensors loaded", weights, len(report.loaded))


def check_encoder_weights(config: ExperimentConfig, detector: DetectorConfig) -> None:
    """Load the config's encoder weights into an encoder of ``detector``'s width, so that a file
    of another layout is refused before any run folder is written (the encoder alone: a paper
    detector has 48 M parameters, its encoder a fraction)."""
    encoder = I3DEncoder(width=detector.i3d_width, bn_momentum=detector.batch_norm_momentum)
    _load_encoder_weights(config, encoder)


def detector_for(config: ExperimentConfig, num_classes: int) -> DetectorConfig:
    """An experiment's detector: its preset; on synthetic data, input at the rendered frame size."""
    synthetic = config.dataset.startswith("synth")
    return detector_config(
        preset=config.detector.preset, num_classes=num_classes,
        frame_size=config.synth.frame_size if synthetic else None,
    )  # fmt: skip


# ---- one experiment -------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundSummary:
    round: int
    videos: int
    frames: int
    cost: int
    cost_percent: float
    metrics: dict[str, float]  # "f-mAP@0.5" -> value in [0, 1]


def _weights_digest(config: ExperimentConfig) -> dict[str, str]:
    """The SHA-256 of the encoder weights file, for the round hashes: another file at the same
    path is not the same run (empty without weights, so earlier hashes are unchanged)."""
    weights = config.detector.encoder_weights
    return {} if weights is None else {"encoder_weights_sha256": file_sha256(weights_path(weights))}


def _round_hash(config: ExperimentConfig, round_index: int, previous: str) -> str:
    data = {"config": config.to_dict(), "round": round_index, "previous": previous,
            **_weights_digest(config)}  # fmt: skip
    if uses_clusters(config):  # rounds of clustered runs made before issue 24 are not reused
        data["clustering"] = "fitted after every round (issue 24)"
    return config_hash(data)


def uses_clusters(config: ExperimentConfig) -> bool:
    """Whether training keeps deep clusters (and adds the cluster loss) in this run: its strategy
    uses them (the registry says so) and ``train.cluster_loss`` is on."""
    return STRATEGIES[config.strategy].clusters != "unused" and config.train.cluster_loss


def round0_key(config: ExperimentConfig) -> str:
    """The hash of everything round 0's training and evaluation read (issue 13 (h)).

    Round 0 trains on the initial selection, which depends on the seed, the data, the initial
    budget and the selection config, never on the strategy, and without the cluster loss: the
    clusters are first fitted on round 0's trained model (issue 24). Left out, because round 0's
    training and evaluation never read them: the run's name, the strategy, the number of rounds,
    the round budget, the scoring and cluster configs, ``train.cluster_loss`` and the selection
    fields the initial random selection never reads (cluster limit, quota, saturation, increment:
    it always adds videos and frames). The number of
    processes is in the key, since a distributed round draws its clips per rank.
    """
    data = config.to_dict()
    for name in ("name", "strategy", "rounds", "round_budget", "scoring", "cluster"):
        del data[name]
    del data["train"]["cluster_loss"]
    for name in ("cluster_limit", "quota", "on_saturation", "increment"):  # later rounds only
        data["selection"].pop(name, None)
    return config_hash(
        {"round0": data, "world_size": distributed.world_size(), **_weights_digest(config)}
    )


class Experiment:
    """One run (strategy x seed) of an :class:`ExperimentConfig` in a run directory.

    ``trained``: where round 0 is shared with the other runs of a study (``run_study`` passes
    the study's); None trains every round here.
    """

    def __init__(
        self,
        config: ExperimentConfig,
        run_dir: Path,
        *,
        progress: bool = True,
        trained: TrainedRounds | None = None,
    ) -> None:
        check_runnable(config)  # its device and weights file, before anything is written
        self.config = config
        self.run = RunDir(run_dir)
        self.trained = trained
        self.progress = progress and distributed.is_main()
        self.train_source, self.test_source = make_sources(config)
        self.pool: VideoPool = self.train_source.pool
        distributed.check_world_size(distributed.world_size(), len(self.pool), where=str(run_dir))
        self.detector = detector_for(config, self.pool.num_classes)
        check_encoder_weights(config, self.detector)  # their shapes, before round 0 trains
        self.evaluation = replace(
            config.evaluation, input_size=(self.detector.input_size, self.detector.input_size)
        )
        self.scoring = replace(
            config.scoring, size=(self.detector.input_size, self.detector.input_size)
        )

    @property
    def num_rounds(self) -> int:
        return self.config.num_rounds

    def run_all(
        self, *, on_round: Callable[[RoundSummary], None] | None = None
    ) -> list[RoundSummary]:
        """Run (or reuse) every round; returns one summary per round."""
        with contextlib.ExitStack() as stack:
            if distributed.is_main():  # the run store is written by rank 0 only, under its lock
                stack.enter_context(self.run.lock())
                self.run.bind(self.config.to_dict())
                self._add_log_file()
            distributed.barrier()
            return self._run_rounds(on_round)

    def _run_rounds(self, on_round: Callable[[RoundSummary], None] | None) -> list[RoundSummary]:
        summaries, previous_hash = [], "start"
        model: CapsuleDetector | None = None
        clusters: DeepClusters | None = None
        state: AnnotationState | None = None
        for r in range(self.num_rounds):
            round_hash = _round_hash(self.config, r, previous_hash)
            if self.run.finished(r, round_hash):
                self.run.verify_round(r)
                logger.info("%s: round %d finished earlier, reused", self.run.root, r)
                model, clusters, state = None, None, None
            else:
                if model is None and r > 0:
                    model, clusters, state = self._restore(r - 1)
                with distributed.round_guard(self.run.root, r):
                    model, clusters, state = self._run_round(r, round_hash, model, clusters, state)
            summaries.append(self.summary(r))
            if on_round is not None:
                on_round(summaries[-1])
            previous_hash = round_hash
        return summaries

    def _add_log_file(self) -> None:
        self.run.root.mkdir(parents=True, exist_ok=True)
        path = self.run.root / "log.txt"
        root = logging.getLogger("claus_core")
        if not any(getattr(h, "baseFilename", None) == str(path.resolve()) for h in root.handlers):
            handler = logging.FileHandler(path)
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
            )
            root.addHandler(handler)
            root.setLevel(min(root.level or logging.INFO, logging.INFO))

    def _restore(self, r: int) -> tuple[CapsuleDetector, DeepClusters | None, AnnotationState]:
        folder = self.run.round_dir(r)
        model, _ = load_detector(
            folder / "checkpoint.pt", map_location=training_device(self.config)
        )
        clusters = (
            DeepClusters.load(folder / "clusters.npz")
            if (folder / "clusters.npz").exists()
            else None
        )
        state_path = folder / "next_state.json"
        try:
            state = AnnotationState.from_json(state_path.read_text(), source=str(state_path))
        except FileNotFoundError:
            raise StoreError(f"{state_path}: missing; round {r} did not select") from None
        except UnicodeDecodeError as err:
            raise StoreError(f"{state_path}: not UTF-8 text; the file is corrupt") from err
        try:
            state.validate(self.pool)
        except DataError as err:
            raise StoreError(
                f"{state_path}: {err} (the run's pool has {len(self.pool)} videos)"
            ) from err
        return model, clusters, state

    def _initial_state(self) -> AnnotationState:
        if self.config.fully_supervised:
            frames = {
                v.name: tuple(np.flatnonzero(v.annotated_frames()).tolist()) for v in self.pool
            }
            return AnnotationState(0, tuple(frames), frames)
        rng = np.random.default_rng([self.config.seed, 0, 0])
        return initial_selection(
            self.pool, self.config.initial_budget, rng, config=self.config.selection
        ).state

    def _run_round(
        self,
        r: int,
        round_hash: str,
        model: CapsuleDetector | None,
        clusters: DeepClusters | None,
        state: AnnotationState | None,
    ) -> tuple[CapsuleDetector, DeepClusters | None, AnnotationState]:
        """Round ``r``: train, then (rank 0) save, evaluate, select and record it.

        In one process this is the whole round. Under torchrun every rank trains; the other
        ranks then leave for :meth:`_follow_round`, which makes the collective calls of rank 0's
        scoring and selection, so every multi-process branch of a round is in those two places.
        """
        state = replace(self._initial_state() if state is None else state, round=r)
        key, entry = self._shared_round0(r)
        model, clusters, stats = self._train(r, model, clusters, state, entry)
        if not distributed.is_main():
            return model, *self._follow_round(r, model, state)
        folder = self.run.start_round(r)
        timings: dict[str, float] = {} if entry is not None else {"train": stats.seconds}
        write_json(folder / "state.json", json.loads(state.to_json()))
        save_detector(folder / "checkpoint.pt", model, extra={"round": r, "hash": round_hash})
        if entry is not None:  # round 0 trained and evaluated by an identical run of the study
            atomic_write(
                folder / "evaluation.json",
                lambda tmp: shutil.copyfile(entry / "evaluation.json", tmp),
            )
            values = read_keys(entry / TrainedRounds.MARKER, "metrics")["metrics"]
        else:
            t0 = time.perf_counter()
            result = evaluate_detector(
                model, self.test_source, config=self.evaluation, progress=self.progress
            )
            timings["evaluate"] = time.perf_counter() - t0
            atomic_write(folder / "evaluation.json", lambda tmp: tmp.write_text(result.to_json()))
            values = metrics_dict(result.table)
            if key is not None and self.trained is not None:
                files = [folder / "checkpoint.pt", folder / "evaluation.json"]
                self.trained.save(key, files, {"stats": dataclasses.asdict(stats), "metrics": values,
                                               "trained_by": str(self.run.root)})  # fmt: skip
        cost = annotation_cost(self.pool, state)
        metrics = {
            "round": r,
            "videos": len(state.videos),
            "frames": state.num_frames(),
            "cost": cost,
            "full_cost": full_cost(self.pool),
            "train_loss": stats.losses,
            "train_loss_terms": stats.terms,
            "spread_margin": stats.margins,
            "metrics": values,
        }
        if key is not None:
            metrics["round0"] = {"key": key, "reused": entry is not None}
        if r + 1 < self.num_rounds:
            next_state, clusters, facts = self._select(r, model, state, folder, timings)
            write_json(folder / "next_state.json", json.loads(next_state.to_json()))
            if facts is not None:
                metrics["clusters"] = facts
        else:
            next_state = state
        metrics["seconds"] = timings
        write_json(folder / "metrics.json", metrics)
        self._finish_round(r, round_hash)
        logger.info("%s round %d: cost %d, %s", self.run.root, r, cost, metrics["metrics"])
        return model, clusters, next_state

    def _shared_round0(self, r: int) -> tuple[str | None, Path | None]:
        """Round 0's key in the study's shared trainings, and its entry when one exists."""
        if r != 0 or self.trained is None:
            return None, None
        key = round0_key(self.config)
        entry = self.trained.find(key) if distributed.is_main() else None
        return key, distributed.broadcast_from_main(
            entry
        )  # every rank reuses, or every rank trains

    def _train(
        self,
        r: int,
        model: CapsuleDetector | None,
        clusters: DeepClusters | None,
        state: AnnotationState,
        entry: Path | None,
    ) -> tuple[CapsuleDetector, DeepClusters | None, TrainStats]:
        """Round ``r``'s training on every rank, or the shared round 0 of ``entry`` read back."""
        config = self.config
        if entry is not None:
            model, _ = load_detector(entry / "checkpoint.pt", map_location=training_device(config))
            logger.info("%s round 0: trained model reused from %s", self.run.root, entry)
            return (
                model,
                None,
                TrainStats.from_dict(read_keys(entry / TrainedRounds.MARKER, "stats")["stats"]),
            )
        if model is None or not config.train.warm_start:  # clusters of another model do not fit it
            model, clusters = (
                initial_detector(config, self.detector).to(training_device(config)),
                None,
            )
        stats = train_round(
            model, self.train_source, state, config,
            clusters=clusters if uses_clusters(config) else None, round_index=r, progress=self.progress,
        )  # fmt: skip
        return model, clusters, stats

    def _select(
        self,
        r: int,
        model: CapsuleDetector,
        state: AnnotationState,
        folder: Path,
        timings: dict[str, float],
    ) -> tuple[AnnotationState, DeepClusters | None, dict[str, Any] | None]:
        """Round ``r``'s selection step (:func:`claus_core.engine.round_step.select_step`), persisted:
        the next state, the clusters the next round trains with, what the clusters did."""
        config = self.config
        step = select_step(
            pool=self.pool, state=state, strategy=config.strategy, budget=config.round_budget,
            selection=config.selection, score=lambda names: self._score_pool(r, model),
            cluster=replace(config.cluster, seed=config.seed) if uses_clusters(config) else None,
            round_index=r, rng_key=[config.seed, r, 2],
        )  # fmt: skip
        timings.update(step.seconds)
        if step.scored:
            write_npz(folder / "scores.npz", step.score_arrays())
        if step.clusters is not None:
            step.clusters.save(folder / "clusters.npz")
        if step.assignments is not None:
            write_json(folder / "clusters.json", step.assignments)
        result = step.result
        write_json(folder / "selection.json",
                   {"cost": result.cost, "notes": list(result.notes), "records": list(result.records)})  # fmt: skip
        next_state, clusters = distributed.broadcast_from_main((result.state, step.clusters))
        return next_state, clusters, step.facts

    # ---- several processes (claus_core.distributed); no-ops in one process ----

    def _score_pool(self, r: int, model: CapsuleDetector) -> dict[str, dict[str, np.ndarray]]:
        """Every rank scores its shard of the pool; rank 0 gets all videos, the others {}."""
        return distributed.score_sharded(
            model,
            self.train_source,
            self.pool.names,
            config=self.scoring,
            seed=self.config.seed,
            round_index=r,
            progress=self.progress,
        )

    def _follow_round(
        self, r: int, model: CapsuleDetector, state: AnnotationState
    ) -> tuple[DeepClusters | None, AnnotationState]:
        """A rank other than 0 after training: score its shard, receive rank 0's next state and
        the clusters the next round trains with."""
        next_state, clusters = state, None
        if r + 1 < self.num_rounds:
            if STRATEGIES[self.config.strategy].scores:
                self._score_pool(r, model)
            next_state, clusters = distributed.broadcast_from_main(None)
        self._finish_round(r, None)
        return clusters, next_state

    def _finish_round(self, r: int, round_hash: str | None) -> None:
        """Rank 0 writes ``round.json`` only once every rank is done with round ``r``."""
        distributed.barrier()
        if distributed.is_main():
            assert round_hash is not None
            self.run.finish_round(r, round_hash)
        distributed.barrier()  # the other ranks read round r's files only once it is finished

    def summary(self, r: int) -> RoundSummary:
        folder = self.run.round_dir(r)
        metrics = read_keys(folder / "metrics.json", *METRICS_KEYS)
        return RoundSummary(
            round=r,
            videos=metrics["videos"],
            frames=metrics["frames"],
            cost=metrics["cost"],
            cost_percent=100.0 * metrics["cost"] / metrics["full_cost"],
            metrics=metrics["metrics"],
        )


def run_dir_for(root: Path, config: ExperimentConfig) -> Path:
    """``runs/<experiment>/<strategy>/seed<k>`` (the layout of :mod:`claus_core.store`)."""
    return RunKey(config.name, config.strategy, config.seed).folder(root)


def run_study(study: StudyConfig, root: Path, *, progress: bool = True) -> list[Path]:
    """Run every experiment of ``study`` under ``root``; finished rounds are reused."""
    folders = []
    experiments = study.experiments()
    for i, config in enumerate(experiments):
        folder = run_dir_for(root, config)
        logger.info("[%d/%d] %s", i + 1, len(experiments), folder)
        Experiment(config, folder, progress=progress, trained=TrainedRounds(root)).run_all()
        folders.append(folder)
    return folders


def load_round_metrics(folder: Path) -> list[dict[str, Any]]:
    """Every finished round's metrics.json of one run folder, in round order."""
    run = RunDir(folder)
    rounds = run.finished_rounds()
    for r in rounds:
        run.verify_round(r)
    return [read_keys(run.round_dir(r) / "metrics.json", *METRICS_KEYS) for r in rounds]


def load_scores(folder: Path, round_index: int) -> dict[str, ScoreTable]:
    """``scores[kind]`` of one round, a table of each video's ``[frame]`` scores (as the
    selection saw them)."""
    arrays = read_npz(RunDir(folder).round_dir(round_index) / "scores.npz")
    per_kind: dict[str, list[tuple[str, np.ndarray]]] = {}
    for key, values in arrays.items():
        kind, name = key.split("/", 1)
        per_kind.setdefault(kind, []).append((name, values))
    return {
        kind: ScoreTable.from_arrays(rows, what=f"{kind!r} scores")
        for kind, rows in per_kind.items()
    }


__all__ = [
    "EvaluationConfig",
    "Experiment",
    "RoundSummary",
    "TrainStats",
    "load_round_metrics",
    "load_scores",
    "make_sources",
    "run_dir_for",
    "round0_key",
    "run_study",
    "train_round",
    "uses_clusters",
]
