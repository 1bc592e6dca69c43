"""Multiply-add counts of the detector per part: what MC-dropout scoring can share (Algorithm 1).

Pool scoring draws T dropout samples per clip. Everything before the first dropout (the I3D
encoder and the ``Conv3d_2c`` / ``Conv3d_1a`` skip branches: ``CapsuleDetector.encode``) is the
same for all samples, so it runs once; the head (capsules and decoder) runs T times. With h the
head's share of one full pass's multiply-adds, T full passes cost T, the shared encoder
``1 + (T - 1) h``: the speed-up is at most ``T / (1 + (T - 1) h)``.

Counted with forward hooks on a model built on the ``meta`` device (no memory, no arithmetic):
``Conv2d`` / ``Conv3d`` (output elements x input channels x kernel), ``ConvTranspose3d``
(input elements x output channels x kernel), ``Linear``, and the capsule votes and routing sums
(``ConvCapsules.vote_and_routing_macs``). Batch norm, pooling, ReLU and other element-wise work
are not counted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from claus_core.model.capsules import CapsuleGrid, ConvCapsules
from claus_core.model.config import DetectorConfig
from claus_core.model.detector import CapsuleDetector


@dataclass(frozen=True)
class MacsReport:
    """Multiply-adds for one clip: the encoder once, the head once per dropout sample."""

    encoder: int
    head: int
    per_module: dict[str, int]  # qualified module name -> multiply-adds for one clip

    @property
    def total(self) -> int:
        return self.encoder + self.head

    @property
    def head_share(self) -> float:
        """h: the head's share of one full forward pass."""
        return self.head / self.total

    def scoring_speedup_bound(self, n_samples: int) -> float:
        """T full passes over (one encoder pass + T heads): ``T / (1 + (T - 1) h)``."""
        return n_samples / (1.0 + (n_samples - 1) * self.head_share)


def _module_macs(module: nn.Module, inputs: tuple[object, ...], output: object) -> int:
    first = inputs[0] if inputs else None
    if isinstance(module, nn.ConvTranspose3d | nn.ConvTranspose2d) and isinstance(first, Tensor):
        per_input = module.out_channels // module.groups * math.prod(module.kernel_size)
        return first.numel() * per_input
    if isinstance(module, nn.Conv3d | nn.Conv2d) and isinstance(output, Tensor):
        per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        return output.numel() * per_output
    if isinstance(module, nn.Linear) and isinstance(output, Tensor):
        return output.numel() * module.in_features
    if isinstance(module, ConvCapsules) and isinstance(first, CapsuleGrid):
        n, _, _, g, _ = first.poses.shape
        return module.vote_and_routing_macs(n * g * g)
    return 0


def count_macs(config: DetectorConfig) -> MacsReport:
    """Count the multiply-adds of ``CapsuleDetector(config)`` on one clip, per part."""
    with torch.device("meta"):
        model = CapsuleDetector(config).eval()
        clip = torch.zeros(1, 3, config.clip_length, config.input_size, config.input_size)
    counts: dict[str, int] = defaultdict(int)
    names = {module: name for name, module in model.named_modules()}

    def hook(module: nn.Module, inputs: tuple[object, ...], output: object) -> None:
        macs = _module_macs(module, inputs, output)
        if macs:
            counts[names[module]] += macs

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            features = model.encode(clip)
            encoder = sum(counts.values())
            model.head(features, 1, dropout=False)
            head = sum(counts.values()) - encoder
    finally:
        for handle in handles:
            handle.remove()
    return MacsReport(encoder=encoder, head=head, per_module=dict(counts))
