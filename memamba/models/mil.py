"""Slide-only MIL baselines: TransMIL (Shao et al., 2021) and MambaMIL with SR-Mamba (Yang et al., 2024).

Both read one patient at a time (their square padding and reordering are defined per bag), so a
batch is handled patient by patient.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from memamba.models.batch import Batch
from memamba.models.mamba import gated_scan, ssm_parameters
from memamba.models.registry import ModelInputs


def moore_penrose_pinv(x: torch.Tensor, iterations: int = 6) -> torch.Tensor:
    """Iterative Moore-Penrose pseudo-inverse of a batch of square matrices (as in Nystromformer)."""
    absolute = x.abs()
    z = x.transpose(-1, -2) / (absolute.sum(-1).amax() * absolute.sum(-2).amax())
    identity = torch.eye(x.shape[-1], device=x.device, dtype=x.dtype)
    for _ in range(iterations):
        xz = x @ z
        z = 0.25 * z @ (13 * identity - xz @ (15 * identity - xz @ (7 * identity - xz)))
    return z


class NystromAttention(nn.Module):
    """Nystrom self-attention (Xiong et al., 2021): softmax attention approximated through ``landmarks``
    segment means, plus a depthwise convolution residual over the values; linear in the sequence."""

    def __init__(self, dim: int, heads: int = 8, landmarks: int = 256, pinv_iterations: int = 6, residual_kernel: int = 33,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.heads, self.landmarks, self.pinv_iterations = heads, landmarks, pinv_iterations
        self.scale = (dim // heads) ** -0.5
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.to_out = nn.Sequential(nn.Linear(dim, dim), nn.Dropout(dropout))
        self.residual = nn.Conv2d(heads, heads, (residual_kernel, 1), padding=(residual_kernel // 2, 0), groups=heads, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        pad = (-length) % self.landmarks
        x = F.pad(x, (0, 0, pad, 0))
        b, n, _ = x.shape
        q, k, v = (t.view(b, n, self.heads, -1).transpose(1, 2) for t in self.to_qkv(x).chunk(3, dim=-1))
        q = q * self.scale
        segment = n // self.landmarks
        q_landmarks = q.view(b, self.heads, self.landmarks, segment, -1).mean(-2)
        k_landmarks = k.view(b, self.heads, self.landmarks, segment, -1).mean(-2)
        kernel_1 = torch.softmax(q @ k_landmarks.transpose(-1, -2), dim=-1)
        kernel_2 = torch.softmax(q_landmarks @ k_landmarks.transpose(-1, -2), dim=-1)
        kernel_3 = torch.softmax(q_landmarks @ k.transpose(-1, -2), dim=-1)
        out = (kernel_1 @ moore_penrose_pinv(kernel_2, self.pinv_iterations)) @ (kernel_3 @ v) + self.residual(v)
        out = out.transpose(1, 2).reshape(b, n, -1)
        return self.to_out(out)[:, pad:]


class PPEG(nn.Module):
    """Pyramid position encoding generator: 7/5/3 depthwise convolutions over the tokens laid on a square."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(dim, dim, k, padding=k // 2, groups=dim) for k in (7, 5, 3))

    def forward(self, x: torch.Tensor, side: int) -> torch.Tensor:
        cls, tokens = x[:, :1], x[:, 1:]
        grid = tokens.transpose(1, 2).reshape(x.shape[0], -1, side, side)
        grid = grid + sum(conv(grid) for conv in self.convs)
        return torch.cat([cls, grid.flatten(2).transpose(1, 2)], dim=1)


class NystromTransformer(nn.Module):
    """TransMIL's token transformer, which CMTA reuses: [CLS] + the tokens, a pre-norm residual Nystrom layer (``heads``
    heads, dim/2 landmarks), with ``square`` the bag squared by repeating its first tokens and a PPEG, a second
    Nystrom layer, a final LayerNorm. ``forward(tokens (1, n, dim)) -> (1, 1 + n', dim)``, n' = n, or the next square
    with ``square``. ``cls_std``: the [CLS] token's initial standard deviation (TransMIL 1, CMTA 1e-6)."""

    def __init__(self, dim: int, heads: int = 8, dropout: float = 0.1, square: bool = True, cls_std: float = 1.0) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * cls_std)
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(2))
        self.attention = nn.ModuleList(NystromAttention(dim, heads, landmarks=dim // 2, dropout=dropout) for _ in range(2))
        self.ppeg = PPEG(dim) if square else None
        self.final_norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        side = math.ceil(math.sqrt(tokens.shape[1]))
        padding = [tokens[:, : side * side - tokens.shape[1]]] if self.ppeg is not None else []   # side^2 - N <= N for every N
        h = torch.cat([self.cls.expand(len(tokens), -1, -1), tokens, *padding], dim=1)
        h = h + self.attention[0](self.norms[0](h))
        if self.ppeg is not None:
            h = self.ppeg(h, side)
        h = h + self.attention[1](self.norms[1](h))
        return self.final_norm(h)


class TransMIL(nn.Module):
    """TransMIL: projection, the squared Nystrom transformer, hazard head on the [CLS] token."""

    def __init__(self, inputs: ModelInputs, dim: int = 512, heads: int = 8, dropout: float = 0.1) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(inputs.patch_dim, dim), nn.ReLU())
        self.encoder = NystromTransformer(dim, heads, dropout)
        self.head = nn.Linear(dim, inputs.n_bins)

    def patient(self, patches: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.project(patches)[None])[:, 0])[0]

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        logits = torch.stack([self.patient(batch.bag(row)) for row in range(len(batch))])
        return logits, logits.new_zeros(())


class SRMamba(nn.Module):
    """MambaMIL's sequence-reordering Mamba (``SRMamba``): one input and one output projection; the projected sequence is
    scanned in its order, and, with its own convolution, x/dt projections, A and D (the ``_b`` parameters), in the
    reordered order: zero-padded to a multiple of ``rate`` and read with stride ``rate`` (position k*rate + w visited
    as w*rows + k); the two gated outputs, the second put back in order, are added before the output projection."""

    def __init__(self, d_model: int, rate: int = 10, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 ssm_backend: str = "auto") -> None:
        super().__init__()
        self.rate, self.ssm_backend = rate, ssm_backend
        d_inner, dt_rank = expand * d_model, math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
        self.conv1d, self.x_proj, self.dt_proj, self.A_log, self.D = ssm_parameters(d_inner, dt_rank, d_state, d_conv)
        self.conv1d_b, self.x_proj_b, self.dt_proj_b, self.A_b_log, self.D_b = ssm_parameters(d_inner, dt_rank, d_state, d_conv)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        length = hidden.shape[1]
        x, z = self.in_proj(hidden).transpose(1, 2).chunk(2, dim=1)                 # (b, d_inner, L) each
        y = gated_scan(x, z, self.conv1d, self.x_proj, self.dt_proj, self.A_log, self.D, self.ssm_backend)
        rows = math.ceil(length / self.rate)
        pad = rows * self.rate - length
        order = torch.arange(rows * self.rate, device=hidden.device).view(rows, self.rate).T.reshape(-1)
        x_b, z_b = (F.pad(t, (0, pad))[..., order] for t in (x, z))
        y_b = gated_scan(x_b, z_b, self.conv1d_b, self.x_proj_b, self.dt_proj_b, self.A_b_log, self.D_b, self.ssm_backend)
        restored = torch.empty_like(y_b)
        restored[..., order] = y_b
        return self.out_proj((y + restored[..., :length]).transpose(1, 2))


def xavier_init(module: nn.Module) -> None:
    """MambaMIL's ``initialize_weights``, applied as it applies it, to every Linear of the model, its Mamba layers'
    included: Xavier-normal weights, zero biases (so dt_proj's bias, dt's inverse softplus, becomes 0); LayerNorm 1, 0."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_normal_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.LayerNorm):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


class MambaMIL(nn.Module):
    """MambaMIL's survival setting: Linear -> GELU -> Dropout, residual pre-norm SR-Mamba layers, LayerNorm, attention
    pooling (Linear 128, Tanh, Linear 1), hazard head; MambaMIL's initialisation."""

    def __init__(self, inputs: ModelInputs, dim: int = 512, layers: int = 2, rate: int = 10, dropout: float = 0.25,
                 d_state: int = 16, ssm_backend: str = "auto") -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(inputs.patch_dim, dim), nn.GELU(), nn.Dropout(dropout))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.layers = nn.ModuleList(SRMamba(dim, rate, d_state=d_state, ssm_backend=ssm_backend) for _ in range(layers))
        self.final_norm = nn.LayerNorm(dim)
        self.attention = nn.Sequential(nn.Linear(dim, 128), nn.Tanh(), nn.Linear(128, 1))
        self.head = nn.Linear(dim, inputs.n_bins)
        xavier_init(self)

    def pooled(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The attention pool's weights over the patient's patches (N,) and the tokens they weight (N, dim)."""
        h = self.project(patches)[None]
        for norm, layer in zip(self.norms, self.layers):
            h = h + layer(norm(h))
        h = self.final_norm(h)[0]
        return torch.softmax(self.attention(h).squeeze(-1), dim=0), h

    def patient(self, patches: torch.Tensor) -> torch.Tensor:
        weights, h = self.pooled(patches)
        return self.head(weights @ h)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        logits = torch.stack([self.patient(batch.bag(row)) for row in range(len(batch))])
        return logits, logits.new_zeros(())


def transmil(inputs: ModelInputs, dim: int = 512, heads: int = 8, dropout: float = 0.1) -> nn.Module:
    """TransMIL with its published configuration (512-d, 8 heads, 256 landmarks, PPEG 7/5/3)."""
    return TransMIL(inputs, dim, heads, dropout)


def mambamil(inputs: ModelInputs, dim: int = 512, layers: int = 2, rate: int = 10, dropout: float = 0.25,
             d_state: int = 16, ssm_backend: str = "auto") -> nn.Module:
    """MambaMIL's survival model as released (512-d, 2 SR-Mamba layers, reordering rate 10, GELU, dropout 0.25)."""
    return MambaMIL(inputs, dim, layers, rate, dropout, d_state, ssm_backend)
