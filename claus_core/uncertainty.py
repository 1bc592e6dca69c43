"""Per-frame uncertainty from MC dropout, and scoring a whole pool (Algorithm 1, lines 1-6).

MC dropout (Gal & Ghahramani 2016) keeps dropout active at inference: the detector's head runs
``T`` times (``T = 10``) with different dropout masks. Algorithm 1, line 4 (with Eq. 1 of the
main paper) scores frame ``f`` by the mean over the ``T`` runs of ``P(f, i)``: the mean of
``-log p`` over the pixels the run predicts as foreground (``p >= 0.4``; the released code's
``get_thresholded_arr`` takes ``p > 0.4``, ``ucf101_CLAUS.py`` l.184, which differs only on
pixels at exactly 0.4). An entropy variant (the ``entropy`` baseline of Table 5) scores the binary entropy
of the mean foreground probability.

:func:`score_pool` scores every video of a pool with sliding clips
(:func:`claus_core.data.clips.sliding_clips`): the encoder runs once per clip
(``model.encode``), the ``T`` dropout samples run batched on the head
(``model.head(features, n_samples=T)``). It also returns one latent vector per video for the
deep clustering (:mod:`claus_core.clustering`). Dropout masks come from a per-video
``torch.Generator`` seeded by :func:`video_seed`, so a video's scores do not depend on which
process scores it or in which order.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

from claus_core.data.clips import clip_tensor, is_padding, sliding_clips
from claus_core.data.types import DataError, FrameSource

logger = logging.getLogger(__name__)

ScoreKind = Literal["uncertainty", "entropy", "both"]
ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)

UNCERTAINTY_THRESHOLD = 0.4  # released code: foreground where p > 0.4
_LOG_FLOOR = 1e-8  # released code: p == 0 is replaced by 1e-8 before the log


@dataclass(frozen=True)
class ScoringConfig:
    """How the pool is scored: MC samples, clips, batching, threshold, which scores.

    ``n_samples`` is Algorithm 1's ``T``; clips of ``clip_length`` frames every ``skip``
    frames start every ``stride`` frames (default: no overlap, see
    :func:`~claus_core.data.clips.sliding_clips`); ``size = (H, W)`` resizes frames to the
    detector's input (None: frames are used at their own size); ``batch_size`` clips go
    through the encoder together. The detector draws dropout masks when it runs more than one
    sample (``n_samples = 1`` is its deterministic pass in eval mode).
    """

    n_samples: int = 10
    clip_length: int = 8
    skip: int = 1
    stride: int | None = None
    batch_size: int = 8
    threshold: float = UNCERTAINTY_THRESHOLD
    kind: ScoreKind = "both"
    size: tuple[int, int] | None = None
    samples_per_batch: int | None = None  # cap on samples per head batch (None: all S at once)
    precision: Literal["float32", "bfloat16"] = "float32"  # bfloat16: CPU/GPU autocast

    def __post_init__(self) -> None:
        for name in ("n_samples", "clip_length", "skip", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.samples_per_batch is not None and self.samples_per_batch < 1:
            raise ValueError(f"samples_per_batch must be >= 1, got {self.samples_per_batch}")
        if self.precision not in ("float32", "bfloat16"):
            raise ValueError(f"precision must be 'float32' or 'bfloat16', got {self.precision!r}")
        if self.kind not in ("uncertainty", "entropy", "both"):
            raise ValueError(f"kind must be 'uncertainty', 'entropy' or 'both', got {self.kind!r}")


def _as_probabilities(fg_probs: np.ndarray | torch.Tensor) -> torch.Tensor:  # [S, B, T, H, W]
    probs = torch.as_tensor(fg_probs)
    if probs.ndim != 5:
        raise ValueError(
            f"foreground probabilities must be [samples, batch, T, H, W], got {tuple(probs.shape)}"
        )
    if not probs.is_floating_point():
        raise ValueError(f"foreground probabilities must be floating point, got {probs.dtype}")
    if torch.isnan(probs).any():
        raise ValueError("foreground probabilities contain NaN (did the model diverge?)")
    if probs.numel() and (probs.min() < 0 or probs.max() > 1):
        raise ValueError(
            f"foreground probabilities must lie in [0, 1], got {probs.min().item()}.."
            f"{probs.max().item()} (pass sigmoid(logits), not logits)"
        )
    return probs


def _like_input(result: torch.Tensor, fg_probs: np.ndarray | torch.Tensor) -> ArrayOrTensor:
    if isinstance(fg_probs, torch.Tensor):
        return result
    return result.cpu().numpy().astype(np.float32)


def _foreground_nll(probs: torch.Tensor, threshold: float) -> torch.Tensor:  # [..., T]
    """Mean ``-log p`` over the pixels with ``p >= threshold`` of each frame; 0 when none."""
    foreground = probs >= threshold  # [..., T, H, W]
    nll = -torch.log(probs.clamp_min(_LOG_FLOOR))
    total = torch.where(foreground, nll, torch.zeros_like(nll)).sum(dim=(-2, -1))
    count = foreground.sum(dim=(-2, -1))
    return torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total))


def frame_uncertainty(
    fg_probs: ArrayOrTensor,
    threshold: float = UNCERTAINTY_THRESHOLD,
    *,
    average: Literal["samples", "probabilities"] = "samples",
) -> ArrayOrTensor:  # [B, T]
    """Per-frame uncertainty (Algorithm 1, line 4) of foreground probabilities ``[S, B, T, H, W]``.

    ``average="samples"`` (Algorithm 1): for each of the ``S`` MC samples, the mean of
    ``-log p`` over the pixels with ``p >= threshold``, then the mean over the samples.
    ``average="probabilities"`` (the released code): the same score of the mean probability
    over the samples. A frame (of a sample) with no foreground pixel scores 0, the lowest
    possible score: the model sees no actor there, so the frame is not worth annotating.
    (The released code gives such frames -10, also below every real score.) Accepts numpy or
    torch and returns the same kind; NaN input raises ValueError.
    """
    probs = _as_probabilities(fg_probs)
    if average == "samples":
        result = _foreground_nll(probs, threshold).mean(dim=0)
    elif average == "probabilities":
        result = _foreground_nll(probs.mean(dim=0), threshold)
    else:
        raise ValueError(f"average must be 'samples' or 'probabilities', got {average!r}")
    return _like_input(result, fg_probs)


def frame_entropy(fg_probs: ArrayOrTensor) -> ArrayOrTensor:  # [B, T]
    """Per-frame entropy of foreground probabilities ``[S, B, T, H, W]``.

    The binary entropy (in nats) of each pixel's mean foreground probability over the ``S``
    MC samples (the predictive entropy of Gal & Ghahramani), averaged over all pixels of the
    frame; ``0 log 0 = 0``. Accepts numpy or torch and returns the same kind; NaN input raises
    ValueError.
    """
    mean = _as_probabilities(fg_probs).mean(dim=0)  # [B, T, H, W]
    entropy = -(torch.special.xlogy(mean, mean) + torch.special.xlogy(1.0 - mean, 1.0 - mean))
    return _like_input(entropy.mean(dim=(-2, -1)), fg_probs)


def video_seed(seed: int, round_index: int, name: str) -> int:
    """A stable 63-bit seed for one video's dropout masks (sha256, not Python's ``hash``)."""
    digest = hashlib.sha256(f"{int(seed)}/{int(round_index)}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _model_device(model: torch.nn.Module) -> torch.device:
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def score_video(
    model: torch.nn.Module,
    frames: np.ndarray,
    *,
    config: ScoringConfig,
    generator: torch.Generator,
) -> dict[str, np.ndarray]:
    """Scores of one video's ``[frame, H, W, 3]`` uint8 frames; see :func:`score_pool`.

    ``model`` has the detector's API (``claus_core.model.CapsuleDetector``): ``encode(clips)``
    on ``[B, 3, T, H, W]`` clips, and ``head(features, n_samples=S, generator=...)`` whose
    output has ``mask_logits`` ``[S, B, T, H, W]`` and ``latent`` ``[S, B, D]``.

    Call under ``torch.no_grad()`` with the model in eval mode (``score_pool`` does both).
    """
    num_frames = int(frames.shape[0])
    device = _model_device(model)
    clips = sliding_clips(num_frames, config.clip_length, skip=config.skip, stride=config.stride)
    real = ~is_padding(clips, skip=config.skip)  # [clip, T]
    want_uncertainty = config.kind in ("uncertainty", "both")
    want_entropy = config.kind in ("entropy", "both")
    sums = {name: np.zeros(num_frames) for name in ("uncertainty", "entropy")}  # [frame]
    covered = np.zeros(num_frames)  # [frame]
    latents = []  # [batch] of [B, D]
    for first in range(0, len(clips), config.batch_size):
        batch = clips[first : first + config.batch_size]  # [B, T]
        batch_real = real[first : first + config.batch_size]  # [B, T]
        inputs = torch.stack([clip_tensor(frames, idx, config.size) for idx in batch]).to(device)
        with torch.autocast(
            device.type, dtype=torch.bfloat16, enabled=config.precision == "bfloat16"
        ):
            options = (
                {}
                if config.samples_per_batch is None
                else {"samples_per_batch": config.samples_per_batch}
            )
            output = model.head(
                model.encode(inputs), n_samples=config.n_samples, generator=generator, **options
            )
        probs = torch.sigmoid(output.mask_logits.float())  # [S, B, T, H, W]
        frame_index = batch[batch_real]  # [real positions]
        if want_uncertainty:
            scores = frame_uncertainty(probs, config.threshold).cpu().numpy()  # [B, T]
            np.add.at(sums["uncertainty"], frame_index, scores[batch_real])
        if want_entropy:
            scores = frame_entropy(probs).cpu().numpy()  # [B, T]
            np.add.at(sums["entropy"], frame_index, scores[batch_real])
        np.add.at(covered, frame_index, 1.0)
        latents.append(output.latent.float().mean(dim=0).cpu().numpy())  # [B, D], MC mean
    clip_latents = np.concatenate(latents).astype(np.float32)  # [clip, D]
    result = {"clip_latents": clip_latents}
    if want_uncertainty:
        result["uncertainty"] = (sums["uncertainty"] / covered).astype(np.float32)  # [frame]
    if want_entropy:
        result["entropy"] = (sums["entropy"] / covered).astype(np.float32)  # [frame]
    return result


def score_pool(
    model: torch.nn.Module,
    source: FrameSource,
    names: Sequence[str],
    *,
    config: ScoringConfig,
    seed: int,
    round_index: int = 0,
    progress: bool = True,
) -> dict[str, dict[str, np.ndarray]]:
    """MC-dropout scores of the videos ``names`` of ``source`` (Algorithm 1, lines 1-6).

    Returns, per video, ``"uncertainty"`` and/or ``"entropy"`` (per ``config.kind``): ``[frame]``
    float32, a frame covered by several clips getting the mean of its scores (clip padding is
    left out); ``"clip_latents"``: ``[clip, D]`` float32, the head's latent features of each
    clip averaged over the MC samples, the points of the deep clustering (a video's cluster is
    the one most of its clips fall in, as in the released code).

    The model is put in eval mode (restored afterwards) and run under ``torch.no_grad()``;
    ``model.head`` draws its dropout masks from a ``torch.Generator`` seeded with
    ``video_seed(seed, round_index, name)``.
    """
    device = _model_device(model)
    was_training = model.training
    model.train(False)
    results: dict[str, dict[str, np.ndarray]] = {}
    try:
        with torch.no_grad():
            for name in tqdm(names, desc="scoring pool", unit="video", disable=not progress):
                frames = source.frames(name)  # [frame, H, W, 3] uint8
                if frames.ndim != 4 or frames.shape[0] == 0:
                    raise DataError(
                        f"{name}: frame source returned shape {frames.shape}, no frames"
                    )
                generator = torch.Generator(device=device)
                generator.manual_seed(video_seed(seed, round_index, name))
                try:
                    results[name] = score_video(model, frames, config=config, generator=generator)
                except DataError:
                    raise
                except ValueError as err:
                    raise ValueError(f"scoring {name}: {err}") from err
    finally:
        model.train(was_training)
    logger.info(
        "scored %d videos (round %d, %d MC samples)", len(results), round_index, config.n_samples
    )
    return results
