"""Frame uncertainty and entropy (Algorithm 1, line 4) and MC-dropout pool scoring."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from claus_core.data.clips import sliding_clips
from claus_core.data.types import Tube, VideoPool, VideoRecord
from claus_core.uncertainty import (
    ScoringConfig,
    frame_entropy,
    frame_uncertainty,
    score_pool,
    video_seed,
)

# --- frame scores -------------------------------------------------------------------------

# [S=2, B=1, T=2, H=1, W=2]
PROBS = np.array(
    [
        [[[[0.5, 0.2]], [[0.1, 0.1]]]],
        [[[[0.8, 0.4]], [[0.9, 0.0]]]],
    ],
    dtype=np.float32,
)


def _binary_entropy(p: float) -> float:
    return -sum(q * math.log(q) for q in (p, 1 - p) if q > 0)


def test_frame_uncertainty_hand_computed() -> None:
    result = frame_uncertainty(PROBS)
    assert isinstance(result, np.ndarray) and result.shape == (1, 2)
    frame0 = (-math.log(0.5) + (-math.log(0.8) - math.log(0.4)) / 2) / 2
    frame1 = (0.0 + -math.log(0.9)) / 2  # sample 0 has no foreground pixel: scores 0
    np.testing.assert_allclose(result, [[frame0, frame1]], rtol=1e-6)
    # a stricter threshold drops the 0.5 and 0.4 pixels
    strict = frame_uncertainty(torch.from_numpy(PROBS), threshold=0.6)
    assert isinstance(strict, torch.Tensor)
    np.testing.assert_allclose(
        strict.numpy(), [[-math.log(0.8) / 2, -math.log(0.9) / 2]], rtol=1e-6
    )
    # the released code's variant scores the mean probability (0.65, 0.3) and (0.5, 0.05)
    released = frame_uncertainty(PROBS, average="probabilities")
    np.testing.assert_allclose(released, [[-math.log(0.65), -math.log(0.5)]], rtol=1e-6)


def test_frame_entropy_hand_computed() -> None:
    result = frame_entropy(PROBS)
    expected = [
        (_binary_entropy(0.65) + _binary_entropy(0.3)) / 2,
        (_binary_entropy(0.5) + _binary_entropy(0.05)) / 2,
    ]
    np.testing.assert_allclose(result, [expected], rtol=1e-6)
    certain = np.zeros((3, 1, 1, 2, 2), dtype=np.float32)
    certain[..., 0, :] = 1.0
    np.testing.assert_array_equal(frame_entropy(certain), [[0.0]])


def test_nan_and_bad_shapes_are_rejected() -> None:
    broken = PROBS.copy()
    broken[1, 0, 0, 0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        frame_uncertainty(broken)
    with pytest.raises(ValueError, match="NaN"):
        frame_entropy(torch.from_numpy(broken))
    with pytest.raises(ValueError, match=r"\[samples, batch, T, H, W\]"):
        frame_uncertainty(PROBS[0])
    with pytest.raises(ValueError, match="sigmoid"):
        frame_entropy(PROBS * 3)


# --- pool scoring with a fake detector ----------------------------------------------------


@dataclass
class _Output:
    mask_logits: torch.Tensor  # [S, B, T, H, W]
    class_scores: torch.Tensor  # [S, B, N]
    latent: torch.Tensor  # [S, B, D]


class _FakeDetector(nn.Module):
    """The detector's encode/head API: a 1x1x1 conv, then channel dropout per MC sample."""

    def __init__(self, drop: float = 0.5) -> None:
        super().__init__()
        self.drop = drop
        self.conv = nn.Conv3d(3, 2, kernel_size=1)
        with torch.no_grad():
            self.conv.weight.copy_(
                torch.tensor([[4.0, -2.0, 1.0], [-1.0, 3.0, 2.0]])[..., None, None, None]
            )
            self.conv.bias.copy_(torch.tensor([-1.0, -2.0]))
        self.encode_calls = 0
        self.head_samples: list[int] = []

    def encode(self, clips: torch.Tensor) -> torch.Tensor:
        if clips.ndim != 5 or clips.shape[1] != 3:
            raise ValueError(f"clips must be [B, 3, T, H, W], got {list(clips.shape)}")
        self.encode_calls += 1
        return self.conv(clips)  # [B, 2, T, H, W]

    def head(
        self,
        features: torch.Tensor,
        n_samples: int = 1,
        *,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> _Output:
        self.head_samples.append(n_samples)
        batch, channels = features.shape[:2]
        keep = torch.rand((n_samples, batch, channels), generator=generator) >= self.drop
        scale = keep.to(features.dtype) / (1.0 - self.drop)
        dropped = features.unsqueeze(0) * scale[..., None, None, None]  # [S, B, 2, T, H, W]
        mask_logits = dropped[:, :, 0] - dropped[:, :, 1]  # [S, B, T, H, W]
        latent = dropped.mean(dim=(3, 4, 5))  # [S, B, 2]
        return _Output(mask_logits, torch.sigmoid(latent), latent)


class _Source:
    """A FrameSource of random frames, deterministic per video name."""

    def __init__(self, lengths: dict[str, int], height: int = 6, width: int = 5) -> None:
        videos = tuple(
            VideoRecord(name, 0, n, width, height, (Tube(0, 0, n, np.ones((n, 4))),))
            for name, n in lengths.items()
        )
        self.pool = VideoPool("fake", "train", ("action",), videos)

    def frames(self, name: str) -> np.ndarray:  # [frame, H, W, 3] uint8
        video = self.pool[name]
        rng = np.random.default_rng(zlib.crc32(name.encode()))
        shape = (video.num_frames, video.height, video.width, 3)
        return rng.integers(0, 256, size=shape, dtype=np.uint8)


LENGTHS = {"A/v_a": 13, "B/v_b": 7, "C/v_c": 20}
CONFIG = ScoringConfig(n_samples=4, clip_length=4, skip=2, batch_size=3)


def test_score_pool_shapes_batching_and_mode() -> None:
    model = _FakeDetector()
    model.train()
    source = _Source(LENGTHS)
    scores = score_pool(model, source, list(LENGTHS), config=CONFIG, seed=0, progress=False)
    assert list(scores) == list(LENGTHS)
    for name, n in LENGTHS.items():
        assert set(scores[name]) == {"uncertainty", "entropy", "clip_latents"}
        assert scores[name]["uncertainty"].shape == (n,)
        assert scores[name]["entropy"].shape == (n,)
        clips = len(sliding_clips(n, 4, skip=2))  # one latent per clip, MC samples averaged
        assert scores[name]["clip_latents"].shape == (clips, 2)
        assert all(v.dtype == np.float32 for v in scores[name].values())
        assert np.isfinite(scores[name]["uncertainty"]).all()
    batches = sum(-(-len(sliding_clips(n, 4, skip=2)) // 3) for n in LENGTHS.values())
    assert model.encode_calls == batches  # the encoder runs once per batch of clips
    assert set(model.head_samples) == {4}  # the MC samples run batched on the head
    assert model.training  # the caller's mode is restored
    only = score_pool(
        model,
        source,
        ["B/v_b"],
        config=ScoringConfig(kind="entropy", clip_length=4),
        seed=0,
        progress=False,
    )
    assert set(only["B/v_b"]) == {"entropy", "clip_latents"}


def test_scores_depend_on_seed_not_on_order() -> None:
    source = _Source(LENGTHS)
    names = list(LENGTHS)
    first = score_pool(_FakeDetector(), source, names, config=CONFIG, seed=5, progress=False)
    again = score_pool(_FakeDetector(), source, names, config=CONFIG, seed=5, progress=False)
    shuffled = score_pool(
        _FakeDetector(), source, names[::-1], config=CONFIG, seed=5, progress=False
    )
    other_seed = score_pool(_FakeDetector(), source, names, config=CONFIG, seed=6, progress=False)
    for name in names:
        for key in ("uncertainty", "entropy", "clip_latents"):
            np.testing.assert_array_equal(first[name][key], again[name][key])
            np.testing.assert_array_equal(first[name][key], shuffled[name][key])
    assert any(
        not np.array_equal(first[n]["uncertainty"], other_seed[n]["uncertainty"]) for n in names
    )
    other_round = score_pool(
        _FakeDetector(), source, names, config=CONFIG, seed=5, round_index=1, progress=False
    )
    assert any(
        not np.array_equal(first[n]["uncertainty"], other_round[n]["uncertainty"]) for n in names
    )


def test_overlapping_clips_average_to_the_per_frame_score() -> None:
    # without dropout the fake detector's output on a frame depends on that frame only, so
    # every clip covering it gives the same score and their mean is that score
    model = _FakeDetector(drop=0.0)
    source = _Source({"A/v_a": 11})
    frames = source.frames("A/v_a")
    config = ScoringConfig(n_samples=2, clip_length=4, skip=2, stride=1, batch_size=4)
    scores = score_pool(model, source, ["A/v_a"], config=config, seed=0, progress=False)
    clip = torch.from_numpy(frames).permute(3, 0, 1, 2).float().div(255)[None]  # [1, 3, F, H, W]
    with torch.no_grad():
        probs = torch.sigmoid(model.head(model.encode(clip), 2).mask_logits)  # [2, 1, F, H, W]
    np.testing.assert_allclose(
        scores["A/v_a"]["uncertainty"], frame_uncertainty(probs)[0].numpy(), rtol=1e-5
    )
    np.testing.assert_allclose(
        scores["A/v_a"]["entropy"], frame_entropy(probs)[0].numpy(), rtol=1e-5
    )


def test_video_seed_is_stable_and_distinct() -> None:
    seed = video_seed(3, 1, "Biking/v_Biking_g01_c01")
    assert seed == video_seed(3, 1, "Biking/v_Biking_g01_c01")
    assert 0 <= seed < 2**63
    others = {
        video_seed(3, 1, "Biking/v_Biking_g01_c02"),
        video_seed(4, 1, "x"),
        video_seed(3, 2, "x"),
    }
    assert seed not in others and len(others) == 3


def test_score_pool_names_the_video_on_nan() -> None:
    model = _FakeDetector()
    with torch.no_grad():
        model.conv.bias.fill_(float("nan"))
    with pytest.raises(ValueError, match=r"scoring B/v_b: .*NaN"):
        score_pool(model, _Source(LENGTHS), ["B/v_b"], config=CONFIG, seed=0, progress=False)


@pytest.mark.slow
def test_score_pool_with_the_real_tiny_detector() -> None:
    try:
        from claus_core.model.config import DetectorConfig
        from claus_core.model.detector import CapsuleDetector
    except ImportError as err:
        pytest.skip(f"claus_core.model is not available: {err}")
    config = DetectorConfig.tiny(num_classes=3)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = CapsuleDetector(config)
    scoring = ScoringConfig(
        n_samples=2,
        clip_length=config.clip_length,
        batch_size=2,
        size=(config.input_size, config.input_size),
    )
    source = _Source({"A/v_a": 9, "B/v_b": 5}, height=24, width=32)
    first = score_pool(model, source, ["A/v_a", "B/v_b"], config=scoring, seed=1, progress=False)
    alone = score_pool(model, source, ["B/v_b"], config=scoring, seed=1, progress=False)
    for name, n in (("A/v_a", 9), ("B/v_b", 5)):
        assert first[name]["uncertainty"].shape == (n,)
        assert first[name]["clip_latents"].shape[1] == config.latent_dim
        assert np.isfinite(first[name]["entropy"]).all()
    for key in first["B/v_b"]:  # a video's scores do not depend on the others scored with it
        np.testing.assert_array_equal(first["B/v_b"][key], alone["B/v_b"][key])
