"""The CMG network: a mixture-of-experts MLP predicting the next frame from the current one and a command.

Input x = [motion_t (58, normalized), command_t (3, normalized)]. A gating network (Linear-ELU-Linear-softmax)
computes expert coefficients c (batch, K) once per step; every MoE layer holds K experts (W_k, b_k) and outputs
sum_k c_k (x W_k + b_k): the experts' *outputs* are blended, which is the same function as blending the weights
(x (sum_k c_k W_k) + sum_k c_k b_k) but needs O(batch * K * out) memory instead of O(batch * in * out).
Layers 61 -> 512 -> 512 -> 58 with ELU between; the output is the normalized absolute next frame.
:class:`NormalizedCmg` wraps it with the normalization, in physical units, for export.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn


@dataclasses.dataclass
class CmgConfig:
    """Network size."""

    motion_dim: int = 58
    command_dim: int = 3
    hidden: int = 512
    experts: int = 4
    layers: int = 3
    gate_hidden: int = 512


class MoELayer(nn.Module):
    """K experts of a linear layer, blended by per-sample coefficients."""

    def __init__(self, in_features: int, out_features: int, experts: int) -> None:
        """He-normal weights, zero biases."""
        super().__init__()
        self.weight = nn.Parameter(torch.randn(experts, in_features, out_features) * math.sqrt(2.0 / in_features))
        self.bias = nn.Parameter(torch.zeros(experts, out_features))

    def forward(self, x: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
        """Sum over experts of c_k (x W_k + b_k): (B, in), (B, K) -> (B, out)."""
        outputs = torch.einsum("bi,kio->bko", x, self.weight) + self.bias
        return torch.einsum("bk,bko->bo", coefficients, outputs)

    def forward_blended_weights(self, x: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
        """The same function computed by blending the weights per sample (memory-hungry; for tests)."""
        weight = torch.einsum("bk,kio->bio", coefficients, self.weight)
        return torch.einsum("bi,bio->bo", x, weight) + coefficients @ self.bias


class CmgNet(nn.Module):
    """The mixture-of-experts generator in normalized units."""

    def __init__(self, config: CmgConfig) -> None:
        """Build the gate and the MoE layers."""
        super().__init__()
        self.config = config
        inputs = config.motion_dim + config.command_dim
        self.gate = nn.Sequential(nn.Linear(inputs, config.gate_hidden), nn.ELU(),
                                  nn.Linear(config.gate_hidden, config.experts))
        sizes = [inputs] + [config.hidden] * (config.layers - 1) + [config.motion_dim]
        self.layers = nn.ModuleList(MoELayer(a, b, config.experts) for a, b in zip(sizes[:-1], sizes[1:]))

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """Return the expert weights, shape (B, K), shared by every layer."""
        return torch.softmax(self.gate(x), dim=-1)

    def forward(self, motion: torch.Tensor, command: torch.Tensor, blended_weights: bool = False) -> torch.Tensor:
        """Normalized next frame from the normalized frame and command."""
        x = torch.cat([motion, command], dim=-1)
        c = self.coefficients(x)
        for i, layer in enumerate(self.layers):
            x = layer.forward_blended_weights(x, c) if blended_weights else layer(x, c)
            if i < len(self.layers) - 1:
                x = nn.functional.elu(x)
        return x


class NormalizedCmg(nn.Module):
    """The generator in physical units: z-score motion and min-max command normalization inside the graph."""

    def __init__(self, net: CmgNet, motion_mean: torch.Tensor, motion_std: torch.Tensor,
                 command_min: torch.Tensor, command_max: torch.Tensor) -> None:
        """Wrap ``net`` with the dataset statistics (stored as buffers)."""
        super().__init__()
        self.net = net
        self.register_buffer("motion_mean", torch.as_tensor(motion_mean, dtype=torch.float32))
        self.register_buffer("motion_std", torch.as_tensor(motion_std, dtype=torch.float32))
        self.register_buffer("command_min", torch.as_tensor(command_min, dtype=torch.float32))
        self.register_buffer("command_max", torch.as_tensor(command_max, dtype=torch.float32))

    def forward(self, motion: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
        """Next frame (B, 58) [rad, rad/s] from the frame (B, 58) and command (B, 3) [m/s, m/s, rad/s]."""
        span = torch.clamp(self.command_max - self.command_min, min=1e-6)
        command_n = 2.0 * (command - self.command_min) / span - 1.0
        out = self.net((motion - self.motion_mean) / self.motion_std, command_n)
        return out * self.motion_std + self.motion_mean
