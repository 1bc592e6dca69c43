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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from claus_core import distributed
from claus_core.clustering import ClusterConfig, DeepClusters, fit_clusters, occupancy
from claus_core.config import ExperimentConfig, StudyConfig, TrainConfig
from claus_core.cost import annotation_cost, full_cost
from claus_core.data.clips import clip_targets, clip_tensor, sample_clip, sliding_clips
from claus_core.data.types import AnnotationState, DataError, FrameSource, VideoPool, VideoRecord
from claus_core.evaluation import EvaluationConfig, evaluate_detector
from claus_core.losses import (
    LossConfig,
    cluster_loss,
    localization_loss,
    localization_targets,
    spread_loss,
    spread_margin,
)
from claus_core.losses_released import (
    released_clip_weights,
    released_pseudo_label_masks,
    released_tube_frames,
)
from claus_core.model.checkpoint import load_detector, save_detector
from claus_core.model.config import DetectorConfig
from claus_core.model.detector import CapsuleDetector
from claus_core.score_table import ScoreTable
from claus_core.selection import (
    SCORE_KINDS,
    STRATEGIES,
    SelectionContext,
    SelectionResult,
    initial_selection,
)
from claus_core.store import (
    METRICS_KEYS,
    RunDir,
    RunKey,
    StoreError,
    TrainedRounds,
    atomic_write,
    config_hash,
    metric_name,
    read_keys,
    read_npz,
    write_json,
    write_npz,
)

logger = logging.getLogger(__name__)


# ---- data and model -------------------------------------------------------------------------


class CachedSource:
    """A FrameSource that keeps every decoded / rendered video in memory."""

    def __init__(self, source: FrameSource) -> None:
        self.source = source
        self.pool = source.pool
        self._frames: dict[str, np.ndarray] = {}

    def frames(self, name: str) -> np.ndarray:  # [frame, H, W, 3] uint8
        if name not in self._frames:
            self._frames[name] = self.source.frames(name)
        return self._frames[name]


@lru_cache(maxsize=8)
def _sources(dataset: str, synth: Any, videos_dir: str | None) -> tuple[CachedSource, CachedSource]:
    if dataset == "synth_ucf24":
        from claus_core.data.synthetic import make_synth_ucf24 as make
    elif dataset == "synth_jhmdb21":
        from claus_core.data.synthetic import make_synth_jhmdb21 as make
    else:
        return tuple(
            CachedSource(_real_source(dataset, split, videos_dir)) for split in ("train", "test")
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


def detector_config(config: ExperimentConfig, num_classes: int) -> DetectorConfig:
    """The detector preset; on synthetic data the input is the rendered frame size."""
    preset = DetectorConfig.paper if config.detector == "paper" else DetectorConfig.tiny
    detector = preset(num_classes=num_classes)
    if config.dataset.startswith("synth") and detector.input_size != config.synth.frame_size:
        size = config.synth.frame_size
        kernel = min(detector.primary_kernel, size // 8)
        detector = replace(detector, input_size=size, primary_kernel=kernel)
    return detector


def new_detector(config: DetectorConfig, seed: int) -> CapsuleDetector:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CapsuleDetector(config)


class TrainingSetup(Protocol):
    """What :func:`train_round` reads of a config (an ExperimentConfig, or a labeling project's
    LabelingConfig)."""

    seed: int
    train: TrainConfig
    loss: LossConfig
    cluster: ClusterConfig


def training_device(config: TrainingSetup) -> torch.device:
    """``train.device`` of a config: ``"auto"`` is CUDA when there is one, else the CPU."""
    if config.train.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(config.train.device)


# ---- training -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainStats:
    """What one round of training did. ``terms`` splits ``losses`` into its weighted parts
    (``localization``, ``classification``, and ``cluster`` when the cluster loss is on), which
    sum to it; ``margins`` is the spread-loss margin at the end of each epoch (Section 7.3)."""

    steps: int
    seconds: float
    final_loss: float
    losses: tuple[float, ...]  # [epoch] mean total loss
    terms: dict[str, tuple[float, ...]] = field(default_factory=dict)  # name -> [epoch] mean
    margins: tuple[float, ...] = ()  # [epoch]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainStats:
        """What ``dataclasses.asdict`` wrote, read back from JSON (lists become tuples)."""
        terms = {name: tuple(values) for name, values in data["terms"].items()}
        return cls(
            data["steps"],
            data["seconds"],
            data["final_loss"],
            tuple(data["losses"]),
            terms,
            tuple(data["margins"]),
        )


def clip_latents(
    model: CapsuleDetector,
    source: FrameSource,
    names: Sequence[str],
    size: int,
    *,
    batch_size: int = 8,
) -> dict[str, np.ndarray]:
    """The latent of every sliding clip of each video ``[clip, D]``, without dropout, for videos
    that are not scored (a labeling project's training videos): points to fit the clusters on
    (:func:`claus_core.clustering.fit_clusters`)."""
    model.eval()
    device = next(model.parameters()).device
    latents = {}
    with torch.no_grad():
        for name in names:
            frames = source.frames(name)
            index = sliding_clips(len(frames), model.config.clip_length)  # [clip, T]
            rows = []
            for first in range(0, len(index), batch_size):
                clips = [
                    clip_tensor(frames, i, (size, size)) for i in index[first : first + batch_size]
                ]
                rows.append(model(torch.stack(clips).to(device)).latent.float().cpu().numpy())
            latents[name] = np.concatenate(rows)  # [clip, D]
    return latents


def released_targets(
    video: VideoRecord, frames: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:  # [frame, H, W] bool, [frame, H, W] float32
    """The released pseudo-labels of a video and unit weights (replaced per clip)."""
    masks = released_pseudo_label_masks(video, frames)  # [frame, H, W]
    return masks, np.ones(masks.shape, dtype=np.float32)


def train_round(
    model: CapsuleDetector,
    source: FrameSource,
    state: AnnotationState,
    config: TrainingSetup,
    *,
    clusters: DeepClusters | None,
    round_index: int,
    progress: bool = True,
) -> TrainStats:
    """Train on the annotations of ``state`` (Section 7.3). With ``clusters``, the cluster loss
    pulls each clip towards its video's cluster and the centroids follow online (Section 7.2)."""
    pool = source.pool
    device = next(model.parameters()).device
    size = model.config.input_size
    rank, world = distributed.rank(), distributed.world_size()  # (0, 1) in one process
    rng = np.random.default_rng(
        [config.seed, round_index, 1]
    )  # the epochs' order: same on every rank
    clip_rng = rng if world == 1 else np.random.default_rng([config.seed, round_index, 1, rank])
    generator = torch.Generator(device=device)
    generator.manual_seed(int(rng.integers(2**62)) + rank)
    if config.loss.released:  # the released pseudo-labels; their weights per clip, below
        targets = {n: released_targets(pool[n], state.frames[n]) for n in state.videos}
    else:
        targets = {
            n: localization_targets(pool[n], state.frames[n], config.loss) for n in state.videos
        }
    labels = {n: pool[n].label for n in state.videos}
    items = [n for n in state.videos for _ in range(config.train.clips_per_video)]
    net = distributed.wrap_model(model)  # DistributedDataParallel when distributed
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.learning_rate)
    decay = config.train.ema_decay  # None: evaluate the last weights
    ema = (
        None
        if decay is None
        else {k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()}
    )
    per_rank = int(np.ceil(len(items) / world))
    total_steps = config.train.epochs * int(np.ceil(per_rank / config.train.batch_size))
    step, epoch_losses, start = 0, [], time.perf_counter()
    epoch_terms: dict[str, list[float]] = {}
    margins: list[float] = []
    margin = spread_margin(0.0, config.loss)
    bar = tqdm(
        total=total_steps, desc=f"train round {round_index}", unit="step", disable=not progress
    )
    net.train()
    for _epoch in range(config.train.epochs):
        order = distributed.rank_indices(rng.permutation(len(items)), rank, world)
        running, running_parts = [], {}
        for first in range(0, len(order), config.train.batch_size):
            names = [items[i] for i in order[first : first + config.train.batch_size]]
            clips, masks, weights = [], [], []
            for name in names:
                frames = source.frames(name)
                index = sample_clip(
                    len(frames),
                    model.config.clip_length,
                    clip_rng,
                    skips=config.train.skip_rates,
                    anchor_frames=state.frames[name],
                )
                clips.append(clip_tensor(frames, index, (size, size)))
                mask, weight = clip_targets(*targets[name], index, (size, size))
                if config.loss.released:
                    frames_of_tube = released_tube_frames(pool[name], state.frames[name], clip_rng)
                    skip = int(index[1] - index[0]) if len(index) > 1 else 1
                    weight = torch.from_numpy(
                        released_clip_weights(mask.numpy(), index, frames_of_tube, skip)
                    )
                masks.append(mask)
                weights.append(weight)
            clip_batch = torch.stack(clips).to(device)  # [B, 3, T, H, W]
            label_batch = torch.tensor([labels[n] for n in names], device=device)  # [B]
            out = net(clip_batch, labels=label_batch, generator=generator)
            parts = {
                "localization": config.train.localization_weight
                * localization_loss(
                    out.mask_logits,
                    torch.stack(masks).to(device),
                    torch.stack(weights).to(device),
                    config.loss,
                )
            }
            fraction = step / max(total_steps - 1, 1) if config.loss.margin_schedule else 0.0
            margin = spread_margin(fraction, config.loss)
            parts["classification"] = config.train.classification_weight * spread_loss(
                out.class_scores, label_batch, margin
            )
            if clusters is not None and config.train.cluster_loss:
                # every rank updates the centroids with the latents of all ranks: [world * B, D]
                latents = distributed.all_gather_rows(out.latent.detach().float()).cpu().numpy()
                names_all = distributed.all_gather_objects(names)
                assigned_all = clusters.assign_batch(names_all, latents)
                assigned = assigned_all[rank * len(names) : (rank + 1) * len(names)]
                centroids = torch.as_tensor(clusters.centroids, dtype=torch.float32, device=device)
                parts["cluster"] = cluster_loss(
                    out.latent,
                    centroids,
                    torch.as_tensor(assigned, device=device),
                    beta=config.cluster.beta,
                )
                clusters.update(latents, assigned_all)
            loss = sum(parts.values())
            if not torch.isfinite(loss):
                raise FloatingPointError(f"round {round_index}: training loss became {loss.item()}")
            if config.train.lr_schedule == "cosine":  # from the base rate to 0 over the round
                for group in optimizer.param_groups:
                    group["lr"] = (
                        0.5
                        * config.train.learning_rate
                        * (1 + np.cos(np.pi * step / max(total_steps, 1)))
                    )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:  # warmed up: the decay grows to ema_decay over the first steps
                rate = min(decay, (1.0 + step) / (10.0 + step))
                with torch.no_grad():
                    for name, value in model.state_dict().items():
                        if name in ema:
                            ema[name].mul_(rate).add_(value.detach(), alpha=1.0 - rate)
            running.append(float(loss.item()))
            for name, part in parts.items():
                running_parts.setdefault(name, []).append(float(part.item()))
            step += 1
            bar.update(1)
        epoch_losses.append(distributed.mean_over_ranks(float(np.mean(running))))
        for name, values in running_parts.items():
            epoch_terms.setdefault(name, []).append(
                distributed.mean_over_ranks(float(np.mean(values)))
            )
        margins.append(margin)
    bar.close()
    if ema is not None:  # the round's result is the exponential moving average of its weights
        model.load_state_dict({**model.state_dict(), **ema})
    model.eval()
    return TrainStats(
        step, time.perf_counter() - start, epoch_losses[-1], tuple(epoch_losses),
        {name: tuple(values) for name, values in epoch_terms.items()}, tuple(margins),
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


def _round_hash(config: ExperimentConfig, round_index: int, previous: str) -> str:
    data = {"config": config.to_dict(), "round": round_index, "previous": previous}
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
    return config_hash({"round0": data, "world_size": distributed.world_size()})


def _metrics_dict(table: Any) -> dict[str, float]:
    return {metric_name(r.metric, r.threshold): float(r.value) for r in table.itertuples()}


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
        self.config = config
        self.run = RunDir(run_dir)
        self.trained = trained
        self.progress = progress and distributed.is_main()
        self.train_source, self.test_source = make_sources(config)
        self.pool: VideoPool = self.train_source.pool
        distributed.check_world_size(distributed.world_size(), len(self.pool), where=str(run_dir))
        self.detector = detector_config(config, self.pool.num_classes)
        self.evaluation = replace(
            config.evaluation, input_size=(self.detector.input_size, self.detector.input_size)
        )
        self.scoring = replace(
            config.scoring, size=(self.detector.input_size, self.detector.input_size)
        )

    @property
    def num_rounds(self) -> int:
        return 1 if self.config.fully_supervised else self.config.rounds + 1

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
            values = _metrics_dict(result.table)
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
                new_detector(self.detector, config.seed).to(training_device(config)),
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
        """Score the pool, fit the clusters (clustered runs) and select: the next state, the
        clusters the next round trains with, and what the clusters did (``metrics["clusters"]``)."""
        config = self.config
        scores: dict[str, ScoreTable] = {}
        assignments, clusters, facts = None, None, None
        if STRATEGIES[config.strategy].scores:
            t0 = time.perf_counter()
            scored = self._score_pool(r, model)
            timings["score"] = time.perf_counter() - t0
            write_npz(
                folder / "scores.npz",
                {
                    f"{kind}/{name}": per[kind]
                    for kind in SCORE_KINDS
                    for name, per in scored.items()
                    if kind in per
                },
            )
            for kind in SCORE_KINDS:
                in_pool_order = [
                    (n, scored[n][kind]) for n in self.pool.names if kind in scored.get(n, {})
                ]
                scores[kind] = ScoreTable.from_arrays(in_pool_order, what=f"{kind!r} scores")
            if uses_clusters(config):
                t0 = time.perf_counter()
                clusters, assignments, facts = self._cluster(r, state, scored)
                timings["cluster"] = time.perf_counter() - t0
                clusters.save(folder / "clusters.npz")
                write_json(folder / "clusters.json", assignments)
        t0 = time.perf_counter()
        context = SelectionContext(
            self.pool, state, scores=scores, clusters=assignments, round_index=r
        )
        rng = np.random.default_rng([config.seed, r, 2])
        result: SelectionResult = STRATEGIES[config.strategy](
            context, config.round_budget, config.selection, rng
        )
        timings["select"] = time.perf_counter() - t0
        write_json(
            folder / "selection.json",
            {
                "cost": result.cost,
                "notes": list(result.notes),
                "records": list(result.records),
            },
        )
        if facts is not None:
            facts |= self._picks_changed(r, context, result)
        next_state, clusters = distributed.broadcast_from_main((result.state, clusters))
        return next_state, clusters, facts

    def _cluster(
        self, r: int, state: AnnotationState, scored: dict[str, dict[str, np.ndarray]]
    ) -> tuple[DeepClusters, dict[str, int], dict[str, Any]]:
        """k-means on the trained model's latents of the training videos' clips (Section 7.2, from
        this round's scoring), every pool video's cluster (the one most of its clips fall in:
        what Algorithm 1's limit reads and what a video keeps while the next round trains), and
        how the clusters are filled."""
        latents = {n: scored[n]["clip_latents"] for n in self.pool.names}  # [clip, D] each
        cluster_config = replace(self.config.cluster, seed=self.config.seed)
        training = {n: latents[n] for n in state.videos}
        clusters, fit = fit_clusters(training, cluster_config, round_index=r)
        pool = clusters.assign_videos(latents)
        clusters.members = dict(pool)
        facts = {
            "k": clusters.k,
            "reseeds": fit.reseeds,
            "pool": occupancy(pool, clusters.k),
            "training": occupancy([pool[n] for n in state.videos], clusters.k),
        }
        return clusters, pool, facts

    def _picks_changed(
        self, r: int, context: SelectionContext, result: SelectionResult
    ) -> dict[str, Any]:
        """How many of the new videos the clusters changed: the strategy's selection beside the
        one its registry entry names as the same ranking without clusters, on the same scored
        pool, budget and generator (issue 24)."""
        plain_name = STRATEGIES[self.config.strategy].without_clusters
        selection = self.config.selection
        if (
            plain_name is None
            or selection.variant == "released"
            or selection.increment != "sample+frame"
        ):
            return {}  # released: it differs from uncertainty in more; only_frame: no limit
        rng = np.random.default_rng([self.config.seed, r, 2])
        plain = STRATEGIES[plain_name](
            replace(context, clusters=None), self.config.round_budget, self.config.selection, rng
        )
        before = set(context.state.videos)
        new = set(result.state.videos) - before
        return {
            "new_videos": len(new),
            "without_clusters": plain_name,
            "changed_by_clusters": len(new - set(plain.state.videos)),
        }

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
