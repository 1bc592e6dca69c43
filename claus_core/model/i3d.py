"""Inflated Inception-V1 (I3D, Carreira & Zisserman 2017) up to ``Mixed_4f``, Table 11's encoder.

Module structure and parameter names follow the public PyTorch port (pytorch-i3d,
``InceptionI3d``), so its ``rgb_imagenet.pt`` / ``rgb_charades.pt`` state dicts load key for key
(``Conv3d_1a_7x7.conv3d.weight``, ``Conv3d_1a_7x7.bn.running_mean``, ``Mixed_3b.b1b.conv3d.weight``,
...; see ``checkpoint.load_i3d_checkpoint``). Like the port (and TensorFlow's ``SAME``), every
convolution and max-pool pads its input on the fly so that each output size is
``ceil(input / stride)``; an odd total padding puts the extra row at the end.

Strides follow Table 11, which departs from vanilla I3D so that an 8-frame 224 x 224 clip ends
at 1 x 28 x 28: ``Conv3d_2c_3x3`` has temporal stride 2, and ``MaxPool3d_4a_3x3`` pools
3 x 3 x 3 with stride 2 x 1 x 1 (vanilla: 2 x 2 x 2). Kernel shapes are unchanged, so pretrained
weights still fit. Shapes at the paper preset (input 8 x 224 x 224 x 3, D x H x W x C)::

    Conv3d_1a_7x7     7x7x7 /2x2x2   4 x 112 x 112 x  64   -> skip branch (Concat_3)
    MaxPool3d_2a_3x3  1x3x3 /1x2x2   4 x  56 x  56 x  64
    Conv3d_2b_1x1     1x1x1          4 x  56 x  56 x  64
    Conv3d_2c_3x3     3x3x3 /2x1x1   2 x  56 x  56 x 192   -> skip branch (Concat_2)
    MaxPool3d_3a_3x3  1x3x3 /1x2x2   2 x  28 x  28 x 192
    Mixed_3b, Mixed_3c               2 x  28 x  28 x 256, 480
    MaxPool3d_4a_3x3  3x3x3 /2x1x1   1 x  28 x  28 x 480
    Mixed_4b .. Mixed_4f             1 x  28 x  28 x 512, 512, 512, 528, 832

``width`` multiplies every channel count (rounded, at least 1): the tiny preset uses 1/8.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Inception branch widths of I3D (the port's InceptionModule out_channels): b0 (1x1),
# b1a (1x1) -> b1b (3x3x3), b2a (1x1) -> b2b (3x3x3), b3a (3x3x3 max-pool) -> b3b (1x1).
INCEPTION_WIDTHS: dict[str, tuple[int, int, int, int, int, int]] = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
}

Triple = tuple[int, int, int]


def scaled_channels(channels: int, width: float) -> int:
    """``channels * width``, rounded, at least 1."""
    return max(1, int(round(channels * width)))


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(front, back) zero padding so that the output has ``ceil(size / stride)`` entries."""
    if size % stride == 0:
        total = max(kernel - stride, 0)
    else:
        total = max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def pad_same(x: Tensor, kernel: Triple, stride: Triple) -> Tensor:
    """Zero-pad a [B, C, T, H, W] tensor for a 'same' conv or pool; no copy when none is needed."""
    pads: list[int] = []
    for dim, k, s in zip((4, 3, 2), kernel[::-1], stride[::-1], strict=True):  # F.pad: W, H, T
        pads.extend(same_padding(x.shape[dim], k, s))
    if not any(pads):
        return x
    return F.pad(x, pads)


class MaxPool3dSamePadding(nn.MaxPool3d):
    """Max-pool with per-input 'same' padding (zeros: inputs are post-ReLU, so >= 0).

    On a CPU the pool runs on a ``channels_last_3d`` copy and returns the standard layout:
    PyTorch's CPU max-pool is several times faster in that layout (at the tiny preset's sizes
    5-8x, copies included, on AVX2 and AVX-512 alike; ``benchmarks/bench_round.py``) and picks
    the same maxima.
    """

    def forward(self, x: Tensor) -> Tensor:  # [B, C, T, H, W] -> [B, C, T', H', W']
        x = pad_same(x, self.kernel_size, self.stride)
        if x.device.type != "cpu":
            return super().forward(x)
        return super().forward(x.contiguous(memory_format=torch.channels_last_3d)).contiguous()


class Unit3D(nn.Module):
    """Conv3d (no bias) -> BatchNorm3d (eps 1e-3, momentum 0.01 as the port) -> ReLU.

    With stride 1 and odd kernels the 'same' padding is symmetric whatever the input size, so
    the convolution pads by itself (the same zeros, without the copy that ``pad_same`` makes).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: Triple = (1, 1, 1),
        stride: Triple = (1, 1, 1),
        *,
        bn_momentum: float = 0.01,
    ) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride
        self.symmetric = all(s == 1 and k % 2 == 1 for k, s in zip(kernel, stride, strict=True))
        padding = tuple(k // 2 for k in kernel) if self.symmetric else 0
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm3d(out_channels, eps=0.001, momentum=bn_momentum)

    def forward(self, x: Tensor) -> Tensor:  # [B, C_in, T, H, W] -> [B, C_out, T', H', W']
        x = self.conv3d(x if self.symmetric else pad_same(x, self.kernel, self.stride))
        return F.relu(self.bn(x), inplace=True)


class InceptionModule(nn.Module):
    """Four parallel branches concatenated on channels (the port's b0, b1a/b1b, b2a/b2b, b3b)."""

    def __init__(
        self, in_channels: int, widths: Sequence[int], *, bn_momentum: float = 0.01
    ) -> None:
        super().__init__()
        if len(widths) != 6:
            raise ValueError(f"an inception module takes 6 branch widths, got {len(widths)}")
        w0, w1a, w1b, w2a, w2b, w3b = widths
        m = bn_momentum
        self.b0 = Unit3D(in_channels, w0, bn_momentum=m)
        self.b1a = Unit3D(in_channels, w1a, bn_momentum=m)
        self.b1b = Unit3D(w1a, w1b, kernel=(3, 3, 3), bn_momentum=m)
        self.b2a = Unit3D(in_channels, w2a, bn_momentum=m)
        self.b2b = Unit3D(w2a, w2b, kernel=(3, 3, 3), bn_momentum=m)
        self.b3a = MaxPool3dSamePadding(kernel_size=(3, 3, 3), stride=(1, 1, 1))
        self.b3b = Unit3D(in_channels, w3b, bn_momentum=m)
        self.out_channels = w0 + w1b + w2b + w3b

    def forward(self, x: Tensor) -> Tensor:  # [B, C_in, T, H, W] -> [B, C_out, T, H, W]
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))],
            dim=1,
        )


@dataclass(frozen=True)
class I3DFeatures:
    """The encoder outputs the detector uses: two skip sources and the Mixed_4f map."""

    conv3d_1a: Tensor  # [B, 64 w, T/2, H/2, W/2]
    conv3d_2c: Tensor  # [B, 192 w, T/4, H/4, W/4]
    mixed_4f: Tensor  # [B, 832 w, T/8, H/8, W/8]


class I3DEncoder(nn.Module):
    """I3D from ``Conv3d_1a_7x7`` to ``Mixed_4f`` with Table 11's strides.

    Input: [B, 3, T, H, W] in [-1, 1] (the pytorch-i3d convention). Submodules are attributes
    named like the port's endpoints, so ``state_dict()`` keys match its checkpoints.
    ``bn_momentum``: the running-statistics momentum of every batch norm (the port's 0.01 suits
    fine-tuning pretrained statistics; from scratch, 0.01 leaves the running statistics at their
    initial values for hundreds of steps, so the eval-mode network is not the trained one).
    """

    def __init__(
        self, *, width: float = 1.0, in_channels: int = 3, bn_momentum: float = 0.01
    ) -> None:
        super().__init__()
        self.bn_momentum = bn_momentum

        def ch(c: int) -> int:
            return scaled_channels(c, width)

        m = bn_momentum
        self.Conv3d_1a_7x7 = Unit3D(
            in_channels, ch(64), kernel=(7, 7, 7), stride=(2, 2, 2), bn_momentum=m
        )
        self.MaxPool3d_2a_3x3 = MaxPool3dSamePadding(kernel_size=(1, 3, 3), stride=(1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(ch(64), ch(64), bn_momentum=m)
        self.Conv3d_2c_3x3 = Unit3D(
            ch(64), ch(192), kernel=(3, 3, 3), stride=(2, 1, 1), bn_momentum=m
        )
        self.MaxPool3d_3a_3x3 = MaxPool3dSamePadding(kernel_size=(1, 3, 3), stride=(1, 2, 2))
        channels = ch(192)
        self.Mixed_3b, channels = self._inception("Mixed_3b", channels, width, m)
        self.Mixed_3c, channels = self._inception("Mixed_3c", channels, width, m)
        self.MaxPool3d_4a_3x3 = MaxPool3dSamePadding(kernel_size=(3, 3, 3), stride=(2, 1, 1))
        self.Mixed_4b, channels = self._inception("Mixed_4b", channels, width, m)
        self.Mixed_4c, channels = self._inception("Mixed_4c", channels, width, m)
        self.Mixed_4d, channels = self._inception("Mixed_4d", channels, width, m)
        self.Mixed_4e, channels = self._inception("Mixed_4e", channels, width, m)
        self.Mixed_4f, channels = self._inception("Mixed_4f", channels, width, m)
        self.conv3d_1a_channels = ch(64)
        self.conv3d_2c_channels = ch(192)
        self.out_channels = channels  # 832 at width 1

    @staticmethod
    def _inception(
        name: str, in_channels: int, width: float, bn_momentum: float
    ) -> tuple[InceptionModule, int]:
        widths = [scaled_channels(c, width) for c in INCEPTION_WIDTHS[name]]
        module = InceptionModule(in_channels, widths, bn_momentum=bn_momentum)
        return module, module.out_channels

    def forward(self, x: Tensor) -> I3DFeatures:  # x: [B, 3, T, H, W] in [-1, 1]
        conv3d_1a = self.Conv3d_1a_7x7(x)  # [B, 64, T/2, H/2, W/2]
        x = self.Conv3d_2b_1x1(self.MaxPool3d_2a_3x3(conv3d_1a))  # [B, 64, T/2, H/4, W/4]
        conv3d_2c = self.Conv3d_2c_3x3(x)  # [B, 192, T/4, H/4, W/4]
        x = self.MaxPool3d_3a_3x3(conv3d_2c)  # [B, 192, T/4, H/8, W/8]
        x = self.Mixed_3c(self.Mixed_3b(x))  # [B, 480, T/4, H/8, W/8]
        x = self.MaxPool3d_4a_3x3(x)  # [B, 480, T/8, H/8, W/8]
        for block in (self.Mixed_4b, self.Mixed_4c, self.Mixed_4d, self.Mixed_4e, self.Mixed_4f):
            x = block(x)
        return I3DFeatures(conv3d_1a=conv3d_1a, conv3d_2c=conv3d_2c, mixed_4f=x)
