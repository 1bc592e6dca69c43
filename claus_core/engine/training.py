"""Training one round (supplementary Section 7.3), with the deep-clustering loss (Section 7.2).

::

    AnnotationState --targets (STeW / interpolate / frame, or the released pseudo-labels)-->
        epochs of clips (sample_clip, anchored on annotated frames) --> CapsuleDetector
        loss = localization + spread (margin schedule) [+ cluster, towards each video's cluster]
        Adam, learning_rate(step) (constant or cosine), optional EMA of the weights

The study (:mod:`claus_core.engine.experiment`) and a labeling project (:mod:`claus_core.labeling.rounds`)
both train through :func:`train_round`. Randomness: numpy and torch Generators seeded from
(seed, round); under torchrun the model is DistributedDataParallel and every rank updates the
same centroids from the latents of all ranks (:mod:`claus_core.distributed`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from claus_core import distributed
from claus_core.clustering import ClusterConfig, DeepClusters
from claus_core.config import TrainConfig
from claus_core.data.clips import clip_targets, clip_tensor, sample_clip, sliding_clips
from claus_core.data.types import AnnotationState, FrameSource, VideoRecord
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
from claus_core.model.detector import CapsuleDetector


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


def learning_rate(step: int, total_steps: int, train: TrainConfig) -> float:
    """The learning rate at ``step`` of a round of ``total_steps``: ``train.learning_rate``, or
    with ``lr_schedule: cosine`` from it down to 0 over the round."""
    if train.lr_schedule == "cosine":
        return 0.5 * train.learning_rate * (1 + np.cos(np.pi * step / max(total_steps, 1)))
    return train.learning_rate


class WeightAverage:
    """An exponential moving average of a model's floating-point weights (``train.ema_decay``),
    warmed up: the decay at step t is ``min(decay, (1 + t) / (10 + t))``, so a short round is not
    dominated by its starting weights."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.weights = {
            k: v.detach().clone() for k, v in model.state_dict().items() if v.is_floating_point()
        }

    def update(self, model: torch.nn.Module, step: int) -> None:
        rate = min(self.decay, (1.0 + step) / (10.0 + step))
        with torch.no_grad():
            for name, value in model.state_dict().items():
                if name in self.weights:
                    self.weights[name].mul_(rate).add_(value.detach(), alpha=1.0 - rate)

    def copy_to(self, model: torch.nn.Module) -> None:
        model.load_state_dict({**model.state_dict(), **self.weights})


def _targets(pool: Any, state: AnnotationState, loss: LossConfig) -> dict[str, tuple]:
    """Every labeled video's per-frame masks and weights (the released pseudo-labels with unit
    weights, replaced per clip, when ``loss.released``)."""
    if loss.released:
        return {n: released_targets(pool[n], state.frames[n]) for n in state.videos}
    return {n: localization_targets(pool[n], state.frames[n], loss) for n in state.videos}


def _clip_batch(
    names: Sequence[str],
    source: FrameSource,
    state: AnnotationState,
    targets: dict[str, tuple],
    config: TrainingSetup,
    *,
    clip_length: int,
    size: int,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # [B, 3, T, H, W], [B, T, H, W] x 2
    """One training clip per name, anchored on its annotated frames, with its masks and weights."""
    clips, masks, weights = [], [], []
    for name in names:
        frames = source.frames(name)
        index = sample_clip(
            len(frames),
            clip_length,
            rng,
            skips=config.train.skip_rates,
            anchor_frames=state.frames[name],
        )
        clips.append(clip_tensor(frames, index, (size, size)))
        mask, weight = clip_targets(*targets[name], index, (size, size))
        if config.loss.released:
            frames_of_tube = released_tube_frames(source.pool[name], state.frames[name], rng)
            skip = int(index[1] - index[0]) if len(index) > 1 else 1
            weight = torch.from_numpy(
                released_clip_weights(mask.numpy(), index, frames_of_tube, skip)
            )
        masks.append(mask)
        weights.append(weight)
    return torch.stack(clips), torch.stack(masks), torch.stack(weights)


def _cluster_term(
    latent: torch.Tensor, names: Sequence[str], clusters: DeepClusters, beta: float
) -> torch.Tensor:
    """The cluster loss of a batch's latents ``[B, D]`` towards their videos' clusters; then the
    centroids follow the batch (every rank with the latents of all ranks: ``[world * B, D]``)."""
    rank = distributed.rank()
    latents = distributed.all_gather_rows(latent.detach().float()).cpu().numpy()
    assigned_all = clusters.assign_batch(distributed.all_gather_objects(names), latents)
    assigned = assigned_all[rank * len(names) : (rank + 1) * len(names)]
    centroids = torch.as_tensor(clusters.centroids, dtype=torch.float32, device=latent.device)
    term = cluster_loss(
        latent, centroids, torch.as_tensor(assigned, device=latent.device), beta=beta
    )
    clusters.update(latents, assigned_all)
    return term


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
    device = next(model.parameters()).device
    rank, world = distributed.rank(), distributed.world_size()  # (0, 1) in one process
    rng = np.random.default_rng([config.seed, round_index, 1])  # the epochs' order: every rank
    clip_rng = rng if world == 1 else np.random.default_rng([config.seed, round_index, 1, rank])
    generator = torch.Generator(device=device)
    generator.manual_seed(int(rng.integers(2**62)) + rank)
    targets = _targets(source.pool, state, config.loss)
    labels = {n: source.pool[n].label for n in state.videos}
    items = [n for n in state.videos for _ in range(config.train.clips_per_video)]
    net = distributed.wrap_model(model)  # DistributedDataParallel when distributed
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.learning_rate)
    average = (
        None if config.train.ema_decay is None else WeightAverage(model, config.train.ema_decay)
    )
    use_clusters = clusters is not None and config.train.cluster_loss
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
            clips, masks, weights = _clip_batch(
                names, source, state, targets, config,
                clip_length=model.config.clip_length, size=model.config.input_size, rng=clip_rng,
            )  # fmt: skip
            label_batch = torch.tensor([labels[n] for n in names], device=device)  # [B]
            out = net(clips.to(device), labels=label_batch, generator=generator)
            parts = {
                "localization": config.train.localization_weight
                * localization_loss(
                    out.mask_logits, masks.to(device), weights.to(device), config.loss
                )
            }
            fraction = step / max(total_steps - 1, 1) if config.loss.margin_schedule else 0.0
            margin = spread_margin(fraction, config.loss)
            parts["classification"] = config.train.classification_weight * spread_loss(
                out.class_scores, label_batch, margin
            )
            if use_clusters:
                parts["cluster"] = _cluster_term(out.latent, names, clusters, config.cluster.beta)
            loss = sum(parts.values())
            if not torch.isfinite(loss):
                raise FloatingPointError(f"round {round_index}: training loss became {loss.item()}")
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, total_steps, config.train)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if average is not None:
                average.update(model, step)
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
    if average is not None:  # the round's result is the moving average of its weights
        average.copy_to(model)
    model.eval()
    return TrainStats(
        step, time.perf_counter() - start, epoch_losses[-1], tuple(epoch_losses),
        {name: tuple(values) for name, values in epoch_terms.items()}, tuple(margins),
    )  # fmt: skip
