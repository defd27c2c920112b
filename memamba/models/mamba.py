"""The Mamba-1 block, with parameter names and shapes of ``mamba_ssm.modules.mamba_simple.Mamba``."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from memamba.models.ssm import SCAN_BACKENDS, selective_scan


def ssm_parameters(d_inner: int, dt_rank: int, d_state: int, d_conv: int, dt_min: float = 0.001, dt_max: float = 0.1,
                   dt_init_floor: float = 1e-4) -> tuple[nn.Conv1d, nn.Linear, nn.Linear, nn.Parameter, nn.Parameter]:
    """One selective-SSM path, initialised as mamba-ssm does: causal depthwise ``conv1d``, ``x_proj`` (to dt, B, C),
    ``dt_proj`` (weights uniform in +-dt_rank^-0.5, bias the inverse softplus of dt log-uniform in [dt_min, dt_max]),
    ``A_log`` (S4D-real: log 1..d_state) and ``D`` (ones); A_log and D carry mamba-ssm's ``_no_weight_decay`` mark."""
    conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1)
    x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False)
    dt_proj = nn.Linear(dt_rank, d_inner, bias=True)
    dt_std = dt_rank ** -0.5
    nn.init.uniform_(dt_proj.weight, -dt_std, dt_std)
    dt = torch.exp(torch.rand(d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=dt_init_floor)
    with torch.no_grad():
        dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
    A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)))
    D = nn.Parameter(torch.ones(d_inner))
    A_log._no_weight_decay = True   # mamba-ssm's mark: the optimiser leaves these out of weight decay
    D._no_weight_decay = True
    return conv1d, x_proj, dt_proj, A_log, D


def gated_scan(x: torch.Tensor, z: torch.Tensor, conv1d: nn.Conv1d, x_proj: nn.Linear, dt_proj: nn.Linear,
               A_log: torch.Tensor, D: torch.Tensor, backend: str) -> torch.Tensor:
    """Mamba's inner path on projected (b, d_inner, L) ``x`` and gate ``z``: causal convolution + SiLU, the selective
    scan with input-dependent dt, B and C, the skip D and the SiLU(z) gate; returns (b, d_inner, L)."""
    length, d_state = x.shape[-1], A_log.shape[1]
    x = F.silu(conv1d(x)[..., :length])
    dt, B, C = x_proj(x.transpose(1, 2)).split([dt_proj.in_features, d_state, d_state], dim=-1)
    delta = (dt @ dt_proj.weight.T).transpose(1, 2)                              # (b, d_inner, L)
    return selective_scan(x, delta, -torch.exp(A_log), B.transpose(1, 2).contiguous(), C.transpose(1, 2).contiguous(),
                          D, z.contiguous(), dt_proj.bias, delta_softplus=True, backend=backend)


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
        self.conv1d, self.x_proj, self.dt_proj, self.A_log, self.D = ssm_parameters(
            self.d_inner, self.dt_rank, d_state, d_conv, dt_min, dt_max, dt_init_floor)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x, z = self.in_proj(hidden).transpose(1, 2).chunk(2, dim=1)            # (b, d_inner, L) each
        y = gated_scan(x, z, self.conv1d, self.x_proj, self.dt_proj, self.A_log, self.D, self.ssm_backend)
        return self.out_proj(y.transpose(1, 2))
