"""The building blocks of ME-Mamba: dual-scan Mamba layers, the three experts, OT and MMD."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from memamba.models.baselines import GatedAttentionPool, snn_block
from memamba.models.mamba import MambaBlock


class DualScanLayer(nn.Module):
    """Pre-norm residual layer that scans the tokens twice and adds both results.

    Conventional scan: the tokens in their given order. Attention-based scan: a gated-attention
    score per token sorts the tokens (highest first), a second Mamba block scans that order, and
    the outputs are scattered back to the original positions. Sorting has no gradient, so the
    re-ordered outputs are multiplied by sigmoid(score): that is how the score learns.
    """

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2, dropout: float = 0.1,
                 ssm_backend: str = "auto") -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.conventional = MambaBlock(d_model, d_state, d_conv, expand, ssm_backend=ssm_backend)
        self.attention_ordered = MambaBlock(d_model, d_state, d_conv, expand, ssm_backend=ssm_backend)
        self.score = nn.Sequential(nn.Linear(d_model, d_model // 2), nn.Tanh(), nn.Linear(d_model // 2, 1))
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.norm(tokens)
        score = self.score(x).squeeze(-1)                                     # (b, L)
        order = torch.argsort(score, dim=1, descending=True)
        gather_index = order[..., None].expand_as(x)
        reordered = self.attention_ordered(torch.gather(x, 1, gather_index))
        restored = torch.empty_like(reordered).scatter(1, gather_index, reordered)
        mixed = self.conventional(x) + restored * torch.sigmoid(score)[..., None]
        return tokens + self.dropout(mixed)


class PathologyExpert(nn.Module):
    """Patch features (N, D) -> patch tokens (N, d_model): projection then dual-scan layers."""

    def __init__(self, patch_dim: int, d_model: int, layers: int, dropout: float, **mamba: int | str) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(patch_dim, d_model), nn.GELU(), nn.Dropout(dropout))
        self.layers = nn.ModuleList(DualScanLayer(d_model, dropout=dropout, **mamba) for _ in range(layers))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        tokens = self.project(patches)[None]
        for layer in self.layers:
            tokens = layer(tokens)
        return tokens[0]


class GenomicsExpert(nn.Module):
    """Concatenated genomic features -> one token per non-empty family (its own SNN), then dual-scan layers.

    Tokens whose family has no feature in this cohort (size 0) are left out of the sequence.
    """

    def __init__(self, token_sizes: list[int], d_model: int, layers: int, dropout: float, **mamba: int | str) -> None:
        super().__init__()
        self.token_sizes = list(token_sizes)
        self.present = [i for i, size in enumerate(token_sizes) if size > 0]
        if not self.present:
            raise ValueError("every genomic token is empty. Fix: check the gene-family table against the genomic tables.")
        self.embed = nn.ModuleList(
            nn.Sequential(snn_block(token_sizes[i], d_model, dropout), snn_block(d_model, d_model, dropout))
            for i in self.present
        )
        self.layers = nn.ModuleList(DualScanLayer(d_model, dropout=dropout, **mamba) for _ in range(layers))

    def forward(self, genomics: torch.Tensor) -> torch.Tensor:
        parts = torch.split(genomics, self.token_sizes)
        tokens = torch.stack([snn(parts[i]) for snn, i in zip(self.embed, self.present)])[None]
        for layer in self.layers:
            tokens = layer(tokens)
        return tokens[0]


def unbalanced_sinkhorn_plan(cost: torch.Tensor, epsilon: float, tau: float, iterations: int = 100,
                             tolerance: float = 1e-5) -> torch.Tensor:
    """Entropic unbalanced optimal-transport plan (KL-relaxed marginals), log-domain Sinkhorn.

    Uniform marginals over rows and columns; ``epsilon`` is the entropic regularisation and
    ``tau`` the marginal relaxation (the scaling exponent is tau / (tau + epsilon)). Stops after
    ``iterations`` or once the row potentials move less than ``tolerance`` over ten iterations.
    """
    rows, cols = cost.shape
    log_a = torch.full((rows,), -torch.log(torch.tensor(float(rows))).item(), device=cost.device, dtype=cost.dtype)
    log_b = torch.full((cols,), -torch.log(torch.tensor(float(cols))).item(), device=cost.device, dtype=cost.dtype)
    log_kernel = -cost / epsilon
    exponent = tau / (tau + epsilon)
    log_u = torch.zeros_like(log_a)
    log_v = torch.zeros_like(log_b)
    previous = log_u
    for iteration in range(1, iterations + 1):
        log_u = exponent * (log_a - torch.logsumexp(log_kernel + log_v[None, :], dim=1))
        log_v = exponent * (log_b - torch.logsumexp(log_kernel + log_u[:, None], dim=0))
        if iteration % 10 == 0:
            if (log_u - previous).abs().max() < tolerance:
                break
            previous = log_u
    return torch.exp(log_u[:, None] + log_kernel + log_v[None, :])


def rbf_mmd(x: torch.Tensor, y: torch.Tensor, bandwidth_multipliers: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)) -> torch.Tensor:
    """Squared Maximum Mean Discrepancy with a sum of RBF kernels (biased estimate, >= 0).

    The bandwidths are multiples of the mean pairwise squared distance of the pooled samples.
    """
    pooled = torch.cat([x, y])
    distances = torch.cdist(pooled, pooled).pow(2)
    scale = distances.detach().mean().clamp_min(1e-6)
    kernel = sum(torch.exp(-distances / (scale * m)) for m in bandwidth_multipliers)
    n = len(x)
    return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()


class SynergisticExpert(nn.Module):
    """Optimal-transport correspondence from genomic tokens to patch tokens, plus the MMD loss.

    The plan is computed without gradient (as MOTCat does) on the squared-Euclidean cost normalised
    by its maximum; each genomic token receives the plan-weighted mean of the patch tokens. The MMD's
    kernel matrix is quadratic in the number of patch tokens, so it is estimated on at most
    ``mmd_max_patches`` of them (a fresh random subset each training step, evenly spaced ones in
    evaluation), which keeps the whole model linear in the bag size.
    """

    def __init__(self, epsilon: float = 0.1, tau: float = 0.5, iterations: int = 100, mmd_max_patches: int = 1024) -> None:
        super().__init__()
        self.epsilon, self.tau, self.iterations = epsilon, tau, iterations
        self.mmd_max_patches = mmd_max_patches

    def forward(self, patch_tokens: torch.Tensor, genomic_tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            cost = torch.cdist(genomic_tokens, patch_tokens).pow(2)
            plan = unbalanced_sinkhorn_plan(cost / cost.max().clamp_min(1e-12), self.epsilon, self.tau, self.iterations)
            weights = plan / plan.sum(dim=1, keepdim=True).clamp_min(1e-12)
        return weights @ patch_tokens, rbf_mmd(self._mmd_sample(patch_tokens), genomic_tokens)

    def _mmd_sample(self, patch_tokens: torch.Tensor) -> torch.Tensor:
        count = len(patch_tokens)
        if count <= self.mmd_max_patches:
            return patch_tokens
        if self.training:
            index = torch.randperm(count, device=patch_tokens.device)[: self.mmd_max_patches]
        else:
            index = torch.linspace(0, count - 1, self.mmd_max_patches, device=patch_tokens.device).long()
        return patch_tokens[index]


class MambaBackbone(nn.Module):
    """Pre-norm residual Mamba layers over the fused tokens, then gated-attention pooling."""

    def __init__(self, d_model: int, layers: int, dropout: float, **mamba: int | str) -> None:
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(layers))
        self.blocks = nn.ModuleList(MambaBlock(d_model, **mamba) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.pool = GatedAttentionPool(d_model, d_model)
        self.final_norm = nn.LayerNorm(d_model)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = tokens[None]
        for norm, block in zip(self.norms, self.blocks):
            x = x + self.dropout(block(norm(x)))
        return self.pool(F.gelu(self.final_norm(x[0])))
