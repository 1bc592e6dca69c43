"""2D matrix capsules with EM routing: Table 11's ``Primary_caps``, ``Conv_caps``, ``Class_caps``.

Supplementary Section 7.1 replaces VideoCapsuleNet's 3D capsules (Duarte et al. 2018) with 2D
capsules on the ``Mixed_4f`` map. A capsule is a ``P x P`` pose matrix and an activation in
[0, 1] (Hinton, Sabour & Frosst 2018, *Matrix capsules with EM routing*).

- ``PrimaryCapsules``: one valid ``K x K`` convolution gives, per grid position, ``types`` poses
  and ``types`` sigmoid activations (paper: 832 -> 32 x 17 = 544 channels, 28 x 28 -> 20 x 20).
- ``ConvCapsules``: 1 x 1 convolutional capsules (kernel 1, as in the authors' release, so the
  grid stays 20 x 20). Each input capsule i votes ``V_ij = M_i W_ij`` for each output type j with
  a learned ``P x P`` transform shared over positions; EM routing (3 iterations) turns the votes
  into output poses (the means) and activations. One output type per class: their activations
  averaged over the grid are the class capsules.

EM routing (Hinton et al. 2018, Procedure 1) with two numerical guards: the variance has a floor
(``VARIANCE_FLOOR``) and the activation cost is normalized across output types (mean and
standard deviation, as in VideoCapsuleNet's release), ``a_j = sigmoid(lambda (beta_a + (mean_k
cost_k - cost_j) / (std_k cost_k + eps)))``, so activations neither saturate with the number of
votes nor become NaN when every input is zero. Routing always runs in float32, also under
autocast.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor, nn

EPS = 1e-6  # guards every division
VARIANCE_FLOOR = 1e-4  # added to each routed variance: poses are O(1), so std >= 0.01


@dataclass(frozen=True)
class CapsuleGrid:
    """Capsules on a 2D grid: a pose matrix and an activation per type and position."""

    poses: Tensor  # [N, types, P*P, G, G]
    activations: Tensor  # [N, types, G, G] in [0, 1]


class PrimaryCapsules(nn.Module):
    """Valid ``kernel x kernel`` conv -> ``types`` poses (P*P each) and sigmoid activations."""

    def __init__(self, in_channels: int, types: int, *, kernel: int, pose_size: int) -> None:
        super().__init__()
        self.types = types
        self.pose_dim = pose_size * pose_size
        self.conv = nn.Conv2d(in_channels, types * (self.pose_dim + 1), kernel)

    def forward(self, x: Tensor) -> CapsuleGrid:  # x: [N, C, F, F]
        out = self.conv(x)  # [N, types * (P*P + 1), G, G], G = F - kernel + 1
        n, _, g, _ = out.shape
        poses = out[:, : self.types * self.pose_dim].reshape(n, self.types, self.pose_dim, g, g)
        activations = torch.sigmoid(out[:, self.types * self.pose_dim :])  # [N, types, G, G]
        return CapsuleGrid(poses=poses, activations=activations)


def em_routing(
    votes: Tensor,
    activations_in: Tensor,
    beta_u: Tensor,
    beta_a: Tensor,
    *,
    iterations: int = 3,
    inverse_temperature: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """EM routing of ``votes`` [n, C, B, H] weighted by ``activations_in`` [n, B].

    n routing problems (grid positions) of B input capsules voting for C output capsules with
    H = P*P pose entries; ``votes[:, j, i]`` is input i's vote for output j. ``beta_u``,
    ``beta_a``: [C]. Returns the output poses [n, C, H] (the routed means) and activations
    [n, C] in [0, 1]. Finite for any finite input, including all zeros (then every output
    activation is ``sigmoid(lambda beta_a)``). The sums over inputs are element-wise products
    summed over B: on a CPU at the tiny preset's sizes (B = 8, H = 16) about twice as fast as
    batched products of many tiny matrices, with the same outputs to float32 rounding.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    n, c, b, h = votes.shape
    assignments = votes.new_full((n, c, b), 1.0 / c)  # R_ij, sums to 1 over the outputs j
    log_2pi = math.log(2.0 * math.pi)
    for iteration in range(iterations):
        # M-step: a Gaussian per output capsule from the votes, weighted by R_ij a_i.
        weights = assignments * activations_in.unsqueeze(1)  # [n, C, B]
        mass = weights.sum(dim=-1)  # [n, C]
        coeff = (weights / (mass.unsqueeze(-1) + EPS)).unsqueeze(-1)  # [n, C, B, 1]
        mean = (coeff * votes).sum(dim=-2, keepdim=True)  # [n, C, 1, H]
        sq_dev = (votes - mean).square()  # [n, C, B, H]
        variance = (coeff * sq_dev).sum(dim=-2) + VARIANCE_FLOOR  # [n, C, H]
        log_std = 0.5 * variance.log()  # [n, C, H]
        cost = ((beta_u.unsqueeze(-1) + log_std) * mass.unsqueeze(-1)).sum(dim=-1)  # [n, C]
        cost_mean = cost.mean(dim=-1, keepdim=True)  # [n, 1]
        cost_std = (cost - cost_mean).square().mean(dim=-1, keepdim=True).add(EPS).sqrt()
        activations = torch.sigmoid(
            inverse_temperature * (beta_a + (cost_mean - cost) / (cost_std + EPS))
        )  # [n, C]
        if iteration == iterations - 1:
            break
        # E-step: reassign each vote by its likelihood under each output Gaussian.
        scaled_sq_dev = (sq_dev * (0.5 / variance).unsqueeze(-2)).sum(dim=-1)  # [n, C, B]
        log_norm = log_std.sum(dim=-1) + 0.5 * h * log_2pi  # [n, C]
        log_likelihood = -scaled_sq_dev - log_norm.unsqueeze(-1)  # [n, C, B]
        log_posterior = (activations + EPS).log().unsqueeze(-1) + log_likelihood  # [n, C, B]
        assignments = torch.softmax(log_posterior, dim=1)
    return mean.squeeze(-2), activations


class ConvCapsules(nn.Module):
    """1 x 1 convolutional capsules: per-position votes ``M_i W_ij`` and EM routing."""

    def __init__(
        self,
        in_types: int,
        out_types: int,
        *,
        pose_size: int,
        iterations: int = 3,
        inverse_temperature: float = 1.0,
    ) -> None:
        super().__init__()
        self.in_types = in_types
        self.out_types = out_types
        self.pose_size = pose_size
        self.iterations = iterations
        self.inverse_temperature = inverse_temperature
        # std 1/sqrt(P): a vote entry sums P products, so votes keep the scale of the poses.
        self.transform = nn.Parameter(
            torch.randn(in_types, out_types, pose_size, pose_size) / math.sqrt(pose_size)
        )  # [B, C, P, P]
        self.beta_u = nn.Parameter(torch.zeros(out_types))  # [C]
        self.beta_a = nn.Parameter(torch.zeros(out_types))  # [C]

    def forward(self, capsules: CapsuleGrid) -> CapsuleGrid:
        n, b, h, g, _ = capsules.poses.shape  # [N, B, P*P, G, G]
        p = self.pose_size
        device_type = capsules.poses.device.type
        float32_only = (
            torch.autocast(device_type, enabled=False)
            if torch.amp.is_autocast_available(device_type)
            else nullcontext()
        )
        with float32_only:
            poses = capsules.poses.float().permute(0, 3, 4, 1, 2).reshape(n * g * g, b, p, p)
            acts = capsules.activations.float().permute(0, 2, 3, 1).reshape(n * g * g, b)
            votes = torch.einsum("nbik,bckj->ncbij", poses, self.transform.float())
            mean, activations = em_routing(
                votes.reshape(n * g * g, self.out_types, b, h),
                acts,
                self.beta_u.float(),
                self.beta_a.float(),
                iterations=self.iterations,
                inverse_temperature=self.inverse_temperature,
            )  # [n g g, C, H], [n g g, C]
        poses_out = mean.reshape(n, g, g, self.out_types, h).permute(0, 3, 4, 1, 2)
        activations_out = activations.reshape(n, g, g, self.out_types).permute(0, 3, 1, 2)
        return CapsuleGrid(poses=poses_out, activations=activations_out)

    def vote_and_routing_macs(self, positions: int) -> int:
        """Multiply-adds of the votes (P^3 per vote) and of the routing's weighted sums.

        Routing per iteration: the weighted mean and variance in the M-step and the squared
        deviations in the E-step, about 3 multiply-adds per vote entry (exp/log not counted).
        """
        votes = positions * self.in_types * self.out_types
        return votes * self.pose_size**3 + self.iterations * 3 * votes * self.pose_size**2
