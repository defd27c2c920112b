"""The Mamba-1 block, with parameter names and shapes of ``mamba_ssm.modules.mamba_simple.Mamba``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from memamba.models.ssm import SCAN_BACKENDS, selective_scan


class MambaBlock(nn.Module):
    """Input projection, causal depthwise convolution, selective SSM, gate, output projection.

    ``forward(x)`` maps (batch, length, d_model) to the same shape. The state dict keys
    (in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj) match mamba-ssm's Mamba module, so weights move
    between the ``torch`` and ``mamba_ssm`` scan backends (``ssm_backend``, see :mod:`memamba.models.ssm`).
    """

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 dt_min: float = 0.001, dt_max: float = 0.1, dt_init_floor: float = 1e-4, ssm_backend: str = "auto") -> None:
        super().__init__()
        if ssm_backend not in SCAN_BACKENDS:
            raise ValueError(f"ssm_backend must be one of {SCAN_BACKENDS}, not {ssm_backend!r}")
        self.ssm_backend = ssm_backend
        self.d_inner = expand * d_model
        self.d_state = d_state
        self.dt_rank = math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        dt_std = self.dt_rank ** -0.5
        nn.init.uniform_(self.dt_proj.weight, -dt_std, dt_std)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_init_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.A_log._no_weight_decay = True   # mamba-ssm's mark: the optimiser leaves these out of weight decay
        self.D._no_weight_decay = True
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        length = hidden.shape[1]
        x, z = self.in_proj(hidden).transpose(1, 2).chunk(2, dim=1)            # (b, d_inner, L) each
        x = F.silu(self.conv1d(x)[..., :length])
        projected = self.x_proj(x.transpose(1, 2))                              # (b, L, dt_rank + 2n)
        dt, B, C = projected.split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = (dt @ self.dt_proj.weight.T).transpose(1, 2)                     # (b, d_inner, L)
        y = selective_scan(x, delta, -torch.exp(self.A_log), B.transpose(1, 2).contiguous(),
                           C.transpose(1, 2).contiguous(), self.D, z.contiguous(), self.dt_proj.bias,
                           delta_softplus=True, backend=self.ssm_backend)
        return self.out_proj(y.transpose(1, 2))
