"""The capsule detector of CLAUS (supplementary Section 7.1, Table 11), read top to bottom.

An I3D encoder, 2D capsules that classify the clip, and a decoder of 3D transposed convolutions
with skip connections that segments the actor in every frame. Shapes at the paper preset
(``DetectorConfig.paper()``; B clips, S dropout samples, channels last as in Table 11)::

    clips [B, 3, 8, 224, 224], float in [0, 1]
      |  x * 2 - 1 (pytorch-i3d expects [-1, 1])
      v
    ==== encode(): once per clip, everything before the first dropout ====================
    I3D (i3d.py)
      Conv3d_1a_7x7 ....... 4 x 112 x 112 x  64 -> skip_1a: 3x3x3 conv, ReLU -> 4x112x112x64 (S1)
      MaxPool3d_2a, Conv3d_2b
      Conv3d_2c_3x3 ....... 2 x  56 x  56 x 192 -> skip_2c: 3x3x3 conv, ReLU -> 2x56x56x64   (S2)
      MaxPool3d_3a, Mixed_3b, Mixed_3c, MaxPool3d_4a, Mixed_4b .. Mixed_4e
      Mixed_4f ............ 1 x  28 x  28 x 832                                            (M)
    ==== head(): S dropout samples, batched as S * B rows (features repeated) ============
    M -> drop the time axis (length 1) -> channel dropout -> 28 x 28 x 832                 (M')
    M' -> skip_4f: 3x3 conv, ReLU ................................ 1 x 28 x 28 x 64       (S0)
    M' -> Primary_caps: 9x9 valid conv ........... 20 x 20 x (32 capsules x 17)
       -> Conv_caps: 1x1, EM routing x 3 ......... 20 x 20 x (24 capsules x 17)
            |-> Class_caps: activations averaged over the grid ........ 24, in [0, 1]
            |-> Latent_feats: poses and activations averaged .......... 408
            '-> Poses (optionally masked by class) ..................... 1 x 20 x 20 x 384
    ConvTr_1 1x9x9    -> 1 x  28 x  28 x  64 ++ S0 = Concat_1 1 x  28 x  28 x 128
    ConvTr_2 3x3x3 /2 -> 2 x  56 x  56 x  64 ++ S2 = Concat_2 2 x  56 x  56 x 128
    ConvTr_3 3x3x3 /2 -> 4 x 112 x 112 x  64 ++ S1 = Concat_3 4 x 112 x 112 x 128
    ConvTr_4 3x3x3 /2 -> 8 x 224 x 224 x 128 -> channel dropout
    Conv3d_out 3x3x3  -> 8 x 224 x 224 x 1
      v
    DetectorOutput: mask_logits [S, B, 8, 224, 224], class_scores [S, B, 24],
                    latent [S, B, 408], capsule_activations [S, B, 24, 20, 20]

Choices where Table 11 leaves room, following the authors' released model:

- the skip branches are 3x3(x3) convolutions with ReLU to 64 channels (its ``conv28``,
  ``conv56``, ``conv112``) on ``Mixed_4f``, ``Conv3d_2c`` and ``Conv3d_1a``; the ``Mixed_4f``
  branch comes after the dropout, so it belongs to the head, the other two to ``encode``;
- Mixed_4f's time axis has length 1 (Table 11; ``DetectorConfig`` fixes T = 8), and the head
  collapses it with a mean, which is then a reshape; Table 11's "9 x 9 x 9" ConvTr_1 acts on
  that length-1 axis, i.e. it is 1 x 9 x 9;
- dropout (rate 0.5) is channel dropout (``nn.Dropout3d``'s kind: a whole channel of a sample
  is zeroed) on ``Mixed_4f`` and before ``Conv3d_out``; ReLU follows every ConvTr (the release
  has none after ConvTr_4, which would make ConvTr_4 and Conv3d_out one linear map);
- ``Conv3d_out``'s bias starts at the log-odds of ``DetectorConfig.foreground_prior`` (0.1),
  not at PyTorch's default uniform draw, so early training does not settle on all-background;
- the decoder sees the poses of all class capsules (the release); ``mask_poses_by_class`` keeps
  only the ground-truth class's poses (``labels``) or, without labels, the predicted class's
  (VideoCapsuleNet). The study uses the default, unmasked.

On a CPU the decoder's inputs are laid out ``channels_last_3d``, where PyTorch's transposed
3D convolutions run about 3x faster (paper preset ``ConvTr_4``: 0.34 s against 1.11 s per clip,
one thread); the values are the same up to float rounding. There, too, ``Conv3d_out`` (one
output channel) runs as one 2D convolution over the frames (``OneChannelConv3d``) and the
decoder's channel dropout multiplies with the channel axis last (``_scale_channels``): the same
values, measured 2x and 3.5x faster at the tiny preset (issue 23). On other devices the layout
is left as it is.

MC dropout (Gal & Ghahramani 2016; Algorithm 1 line 4): ``head(features, n_samples=S)`` runs the
S samples batched on one encoding. Dropout is active when the model is training or when
``n_samples > 1`` (batch norm, only in the encoder, then stays in eval mode); ``dropout=`` forces
it on or off. Masks are explicit Bernoulli draws, from ``generator`` when one is given, in this
order: for each sample s = 0 .. S-1, first the Mixed_4f mask [B, C_4f], then the decoder mask
[B, C_ConvTr_4]. So S single-sample passes that share one generator draw exactly the masks of
one S-sample head call. ``samples_per_batch`` splits the S samples into smaller batches (the
same masks, the same outputs) to bound memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from claus_core.model.capsules import ConvCapsules, PrimaryCapsules
from claus_core.model.config import DetectorConfig
from claus_core.model.i3d import I3DEncoder


def _cpu_layout(t: Tensor) -> Tensor:  # [R, C, T, H, W]
    """``t`` as a 3D convolution input: ``channels_last_3d`` on a CPU (see above)."""
    return t.contiguous(memory_format=torch.channels_last_3d) if t.device.type == "cpu" else t


class OneChannelConv3d(nn.Conv3d):
    """``Conv3d_out``: a 3 x 3 x 3 convolution to one channel with padding 1.

    On a CPU it is computed as one 2D convolution over the frames: output frame t is
    ``z[t - 1, 0] + z[t, 1] + z[t + 1, 2] + bias``, where ``z[f, d]`` is frame f convolved in
    (H, W) with the kernel's time slice d (frames outside the clip count zero, as the 3D
    convolution's padding does). A ``channels_last_3d`` clip batch read frame by frame is a
    ``channels_last`` batch of 2D frames, so no copy is made. The same multiply-adds in another
    order: PyTorch's CPU 3D convolution to one output channel is several times slower
    (``benchmarks/bench_round.py`` measures the round).
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__(in_channels, 1, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:  # [R, C, T, H, W] -> [R, 1, T, H, W]
        if x.device.type != "cpu":
            return super().forward(x)
        rows, channels, length, height, width = x.shape
        frames = x.transpose(1, 2).reshape(rows * length, channels, height, width)  # [R*T, C, H, W]
        kernel = self.weight[0].transpose(0, 1)  # [3 (time offset), C, 3, 3]
        z = F.conv2d(frames, kernel, padding=1).unflatten(0, (rows, length))  # [R, T, 3, H, W]
        edge = z.new_zeros(rows, 1, height, width)  # [R, 1, H, W]: the padding frame
        before = torch.cat([edge, z[:, :-1, 0]], dim=1)  # [R, T, H, W]: z[t - 1, 0]
        after = torch.cat([z[:, 1:, 2], edge], dim=1)  # [R, T, H, W]: z[t + 1, 2]
        return (z[:, :, 1] + before + after + self.bias).unsqueeze(1)


def _scale_channels(y: Tensor, scale: Tensor, *, in_place: bool) -> Tensor:
    """``y`` [R, C, T, H, W] with channel c of row r times ``scale[r, c]`` ([R, C]).

    Written with the channel axis last, where ``channels_last_3d`` stores it: on a CPU this
    runs forward and backward about 3.5x faster than broadcasting ``scale[:, :, None, None,
    None]`` over that layout, with the same values.
    """
    last = y.permute(0, 2, 3, 4, 1)  # [R, T, H, W, C]
    factor = scale[:, None, None, None, :]  # [R, 1, 1, 1, C]
    scaled = last.mul_(factor) if in_place else last * factor
    return scaled.permute(0, 4, 1, 2, 3)  # [R, C, T, H, W]


@dataclass(frozen=True)
class EncodedClip:
    """Everything ``head`` needs from the encoder (all of it computed before any dropout)."""

    mixed_4f: Tensor  # [B, C_4f, T/8, H/8, W/8]
    skip_2c: Tensor  # [B, skip, T/4, H/4, W/4]
    skip_1a: Tensor  # [B, skip, T/2, H/2, W/2]

    @property
    def batch_size(self) -> int:
        return self.mixed_4f.shape[0]

    def repeat(self, n_samples: int) -> EncodedClip:
        """Tile along the batch, sample-major: row ``s * B + b`` is clip b of sample s."""
        if n_samples == 1:
            return self

        def tile(x: Tensor) -> Tensor:
            return x.repeat(n_samples, *([1] * (x.ndim - 1)))

        return EncodedClip(tile(self.mixed_4f), tile(self.skip_2c), tile(self.skip_1a))


@dataclass(frozen=True)
class DetectorOutput:
    """What the detector predicts; ``head`` gives a leading sample axis S, ``forward`` none."""

    mask_logits: Tensor  # [S, B, T, H, W] foreground logits
    class_scores: Tensor  # [S, B, N] class-capsule activations in [0, 1]
    latent: Tensor  # [S, B, D] Latent_feats (D = N * (P*P + 1))
    capsule_activations: Tensor  # [S, B, N, G, G] conv-capsule activations per grid position

    def sample(self, index: int) -> DetectorOutput:
        """The outputs of one dropout sample, without the sample axis."""
        return DetectorOutput(
            mask_logits=self.mask_logits[index],
            class_scores=self.class_scores[index],
            latent=self.latent[index],
            capsule_activations=self.capsule_activations[index],
        )


class CapsuleDetector(nn.Module):
    """I3D encoder + 2D capsules + skip-connected 3D decoder (Table 11)."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__()
        self.config = config
        skip = config.skip_channels
        d1, d2, d3, d4 = config.decoder_channels

        # ---- encoder (runs once per clip) ----
        self.encoder = I3DEncoder(width=config.i3d_width, bn_momentum=config.batch_norm_momentum)
        mixed_4f_channels = self.encoder.out_channels
        self.skip_2c = nn.Conv3d(self.encoder.conv3d_2c_channels, skip, 3, padding=1)
        self.skip_1a = nn.Conv3d(self.encoder.conv3d_1a_channels, skip, 3, padding=1)

        # ---- head: capsules ----
        self.primary_caps = PrimaryCapsules(
            mixed_4f_channels,
            config.primary_capsules,
            kernel=config.primary_kernel,
            pose_size=config.pose_size,
        )
        self.conv_caps = ConvCapsules(
            config.primary_capsules,
            config.conv_capsules,
            pose_size=config.pose_size,
            iterations=config.routing_iterations,
            inverse_temperature=config.routing_inverse_temperature,
        )

        # ---- head: decoder ----
        self.skip_4f = nn.Conv2d(mixed_4f_channels, skip, 3, padding=1)
        k = config.primary_kernel
        self.conv_tr_1 = nn.ConvTranspose3d(config.conv_capsules * config.pose_dim, d1, (1, k, k))
        self.conv_tr_2 = nn.ConvTranspose3d(d1 + skip, d2, 3, stride=2, padding=1, output_padding=1)
        self.conv_tr_3 = nn.ConvTranspose3d(d2 + skip, d3, 3, stride=2, padding=1, output_padding=1)
        self.conv_tr_4 = nn.ConvTranspose3d(d3 + skip, d4, 3, stride=2, padding=1, output_padding=1)
        self.conv3d_out = OneChannelConv3d(d4)
        prior = config.foreground_prior
        nn.init.constant_(self.conv3d_out.bias, math.log(prior / (1.0 - prior)))  # no RNG draw

    # ------------------------------------------------------------------------------------
    def expected_clip_shape(self) -> str:
        c = self.config
        return f"[B, 3, {c.clip_length}, {c.input_size}, {c.input_size}]"

    def _check_clips(self, clips: Tensor) -> None:
        c = self.config
        if not isinstance(clips, Tensor):
            raise ValueError(f"clips must be a torch.Tensor, got {type(clips).__name__}")
        if clips.ndim != 5 or tuple(clips.shape[1:]) != (
            3,
            c.clip_length,
            c.input_size,
            c.input_size,
        ):
            raise ValueError(
                f"clips must have shape {self.expected_clip_shape()} (RGB, float in [0, 1]), "
                f"got {list(clips.shape)}"
            )
        if not clips.is_floating_point():
            raise ValueError(f"clips must be a float tensor in [0, 1], got dtype {clips.dtype}")

    def encode(self, clips: Tensor) -> EncodedClip:
        """Encoder and the Conv3d_2c / Conv3d_1a skip branches: ``clips`` [B, 3, T, H, W]."""
        self._check_clips(clips)
        features = self.encoder(clips * 2.0 - 1.0)
        skip_2c = F.relu(self.skip_2c(features.conv3d_2c), inplace=True)
        skip_1a = F.relu(self.skip_1a(features.conv3d_1a), inplace=True)
        return EncodedClip(
            mixed_4f=features.mixed_4f,  # [B, C_4f, T/8, H/8, W/8]
            skip_2c=skip_2c,  # [B, skip, T/4, H/4, W/4]
            skip_1a=skip_1a,  # [B, skip, T/2, H/2, W/2]
        )

    def _dropout_masks(
        self,
        n_samples: int,
        batch: int,
        like: Tensor,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, Tensor]:
        """Scaled channel masks [S*B, C_4f] and [S*B, C_ConvTr_4], drawn sample by sample."""
        keep = 1.0 - self.config.dropout
        device = generator.device if generator is not None else like.device
        mixed_masks: list[Tensor] = []
        decoder_masks: list[Tensor] = []
        for _ in range(n_samples):
            shape = (batch, self.encoder.out_channels)
            mixed_masks.append(torch.rand(shape, generator=generator, device=device) < keep)
            shape = (batch, self.config.decoder_channels[3])
            decoder_masks.append(torch.rand(shape, generator=generator, device=device) < keep)

        def scaled(masks: list[Tensor]) -> Tensor:
            return torch.cat(masks).to(device=like.device, dtype=like.dtype) / keep

        return scaled(mixed_masks), scaled(decoder_masks)

    def head(
        self,
        features: EncodedClip,
        n_samples: int = 1,
        *,
        labels: Tensor | None = None,
        generator: torch.Generator | None = None,
        dropout: bool | None = None,
        samples_per_batch: int | None = None,
    ) -> DetectorOutput:
        """Capsules and decoder for ``n_samples`` dropout samples, batched (see module doc).

        ``samples_per_batch`` caps how many samples share one batch (default: all of them).
        The masks are drawn up front, so the outputs do not depend on it; smaller batches
        bound the memory (the paper preset's ConvTr_4 output is 205 MB per clip and sample)
        and, on a CPU, keep more of the work in cache.
        """
        if not isinstance(features, EncodedClip):
            raise ValueError(f"features must be an EncodedClip, got {type(features).__name__}")
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        if samples_per_batch is not None and samples_per_batch < 1:
            raise ValueError(f"samples_per_batch must be >= 1, got {samples_per_batch}")
        batch = features.batch_size
        labels = self._check_labels(labels, batch)
        use_dropout = (self.training or n_samples > 1) if dropout is None else dropout
        masks = None
        if use_dropout and self.config.dropout > 0:
            masks = self._dropout_masks(n_samples, batch, features.mixed_4f, generator)

        per_batch = n_samples if samples_per_batch is None else samples_per_batch
        parts = []
        for first in range(0, n_samples, per_batch):
            count = min(per_batch, n_samples - first)
            rows = slice(first * batch, (first + count) * batch)
            parts.append(
                self._head_batch(
                    features.repeat(count),
                    None if masks is None else (masks[0][rows], masks[1][rows]),
                    None if labels is None else labels.repeat(count),
                )
            )
        outputs = parts[0] if len(parts) == 1 else [torch.cat(t) for t in zip(*parts, strict=True)]
        logits, class_scores, latent, activations = (
            t.reshape(n_samples, batch, *t.shape[1:]) for t in outputs
        )
        return DetectorOutput(
            mask_logits=logits,
            class_scores=class_scores,
            latent=latent,
            capsule_activations=activations,
        )

    def _head_batch(
        self,
        x: EncodedClip,
        masks: tuple[Tensor, Tensor] | None,
        labels: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The head on R = samples x clips rows; ``masks``: scaled [R, C_4f], [R, C_ConvTr_4]."""
        cfg = self.config
        rows = x.batch_size
        mixed = x.mixed_4f.mean(dim=2)  # [R, C_4f, F, F]: Table 11's time axis is 1
        if masks is not None:
            mixed = mixed * masks[0][:, :, None, None]

        capsules = self.conv_caps(self.primary_caps(mixed))  # poses [R, N, P*P, G, G]
        class_scores = capsules.activations.mean(dim=(2, 3))  # [R, N]
        pooled_poses = capsules.poses.mean(dim=(3, 4))  # [R, N, P*P]
        latent = torch.cat([pooled_poses, class_scores.unsqueeze(-1)], dim=-1).flatten(1)

        poses = capsules.poses  # [R, N, P*P, G, G]
        if cfg.mask_poses_by_class:
            chosen = labels if labels is not None else class_scores.argmax(-1)  # [R]
            class_mask = F.one_hot(chosen, cfg.num_classes).to(poses.dtype)  # [R, N]
            poses = poses * class_mask[:, :, None, None, None]
        grid = cfg.capsule_grid
        y = poses.reshape(rows, cfg.conv_capsules * cfg.pose_dim, 1, grid, grid)

        y = F.relu(self.conv_tr_1(_cpu_layout(y)), inplace=True)  # [R, d1, 1, F, F]
        skip_4f = F.relu(self.skip_4f(mixed), inplace=True).unsqueeze(2)  # [R, skip, 1, F, F]
        y = _cpu_layout(torch.cat([y, skip_4f], dim=1))  # Concat_1
        y = F.relu(self.conv_tr_2(y), inplace=True)
        y = _cpu_layout(torch.cat([y, x.skip_2c], dim=1))  # Concat_2
        y = F.relu(self.conv_tr_3(y), inplace=True)
        y = _cpu_layout(torch.cat([y, x.skip_1a], dim=1))  # Concat_3
        y = F.relu(self.conv_tr_4(y), inplace=True)  # [R, d4, T, H, W]
        if masks is not None:  # in place when scoring: this is the largest tensor
            y = _scale_channels(y, masks[1], in_place=not torch.is_grad_enabled())
        logits = self.conv3d_out(_cpu_layout(y))[:, 0]  # [R, T, H, W]
        return logits, class_scores, latent, capsules.activations

    def _check_labels(self, labels: Tensor | None, batch: int) -> Tensor | None:
        if labels is None:
            if self.config.mask_poses_by_class and self.training:
                raise ValueError("mask_poses_by_class needs ground-truth labels [B] in training")
            return None
        if labels.shape != (batch,) or labels.is_floating_point():
            raise ValueError(
                f"labels must be an integer tensor of shape [{batch}], got {labels.dtype} "
                f"{list(labels.shape)}"
            )
        n = self.config.num_classes
        if labels.numel() and not (0 <= int(labels.min()) and int(labels.max()) < n):
            raise ValueError(f"labels must be in [0, {n}), got {labels.tolist()}")
        return labels.long()

    def forward(
        self,
        clips: Tensor,
        *,
        labels: Tensor | None = None,
        generator: torch.Generator | None = None,
        dropout: bool | None = None,
    ) -> DetectorOutput:
        """One pass on ``clips`` [B, 3, T, H, W]: outputs without the sample axis ([B, ...])."""
        features = self.encode(clips)
        return self.head(features, 1, labels=labels, generator=generator, dropout=dropout).sample(0)
