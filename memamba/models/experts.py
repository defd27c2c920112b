"""The building blocks of ME-Mamba: dual-scan Mamba layers, the three experts, OT and MMD."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from memamba.models.baselines import GatedAttentionPool, TokenSNNs
from memamba.models.mamba import MambaBlock

SCAN_ORDERS = ("dual", "conventional", "attention")


class DualScanLayer(nn.Module):
    """Pre-norm residual layer that scans the tokens twice and adds both results.

    Conventional scan: the tokens in their given order. Attention-based scan: a score per token (a two-layer tanh
    MLP, Linear -> Tanh -> Linear; not gated) sorts the tokens (highest first, ties kept in order), a second Mamba
    block scans that order, and the outputs are scattered back to the original positions. Sorting has no gradient,
    so the re-ordered outputs are multiplied by sigmoid(score): that is how the score learns. The score is computed
    in float32 whatever autocast is active, so that training (under bf16 autocast on a GPU) and evaluation scan the
    same order.

    ``forward(tokens (b, L, d), mask (b, L) or None)``: padded positions must sit after a row's real
    tokens (as :func:`~memamba.models.batch.collate` puts them) and are sorted last, so that both
    causal scans reach every real token before any padding: real tokens' outputs do not depend on
    the padding or on the other patients of the batch. ``scan_orders`` (``dual``, ``conventional``,
    ``attention``) keeps both scans or one of them (an ablation).
    """

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2, dropout: float = 0.1,
                 ssm_backend: str = "auto", scan_orders: str = "dual") -> None:
        super().__init__()
        if scan_orders not in SCAN_ORDERS:
            raise ValueError(f"scan_orders must be one of {SCAN_ORDERS}, not {scan_orders!r}")
        self.norm = nn.LayerNorm(d_model)
        self.conventional = MambaBlock(d_model, d_state, d_conv, expand, ssm_backend=ssm_backend) \
            if scan_orders != "attention" else None
        self.attention_ordered = MambaBlock(d_model, d_state, d_conv, expand, ssm_backend=ssm_backend) \
            if scan_orders != "conventional" else None
        self.score = nn.Sequential(nn.Linear(d_model, d_model // 2), nn.Tanh(), nn.Linear(d_model // 2, 1)) \
            if self.attention_ordered is not None else None
        self.dropout = nn.Dropout(dropout)

    def scan_order(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The score of each normalised token (b, L), in the score's own precision (float32 unless the model is
        float64) outside any autocast, and the order the attention-based scan reads them in (highest first, padding
        last)."""
        with torch.autocast(x.device.type, enabled=False):
            score = self.score(x.to(self.score[0].weight.dtype)).squeeze(-1)
        sort_key = score.detach() if mask is None else score.detach().masked_fill(~mask, float("-inf"))
        return score, torch.argsort(sort_key, dim=1, descending=True, stable=True)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm(tokens)
        if self.attention_ordered is None:
            return tokens + self.dropout(self.conventional(x))
        score, order = self.scan_order(x, mask)                               # (b, L) each
        gather_index = order[..., None].expand_as(x)
        reordered = self.attention_ordered(torch.gather(x, 1, gather_index))
        restored = torch.empty_like(reordered).scatter(1, gather_index, reordered)
        mixed = restored * torch.sigmoid(score)[..., None]
        if self.conventional is not None:
            mixed = mixed + self.conventional(x)
        return tokens + self.dropout(mixed)


class PathologyExpert(nn.Module):
    """Patch features (b, N, D) and their mask -> patch tokens (b, N, d_model): projection then dual-scan layers."""

    def __init__(self, patch_dim: int, d_model: int, layers: int, dropout: float, **mamba: int | str) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(patch_dim, d_model), nn.GELU(), nn.Dropout(dropout))
        self.layers = nn.ModuleList(DualScanLayer(d_model, dropout=dropout, **mamba) for _ in range(layers))

    def forward(self, patches: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        tokens = self.project(patches)
        for layer in self.layers:
            tokens = layer(tokens, mask)
        return tokens


class GenomicsExpert(nn.Module):
    """Concatenated genomic features (b, F) -> one token per non-empty family (its own SNN), then dual-scan layers.

    Tokens whose family has no feature in this cohort (size 0) are left out of the sequence, which
    is the same for every patient of a cohort, so the genomic side needs no mask.
    """

    def __init__(self, token_sizes: list[int], d_model: int, layers: int, dropout: float, **mamba: int | str) -> None:
        super().__init__()
        self.embed = TokenSNNs(token_sizes, [d_model, d_model], dropout)
        self.token_sizes, self.present = self.embed.token_sizes, self.embed.present
        self.layers = nn.ModuleList(DualScanLayer(d_model, dropout=dropout, **mamba) for _ in range(layers))

    def forward(self, genomics: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(genomics)
        for layer in self.layers:
            tokens = layer(tokens)
        return tokens


COST_SCALES = ("median", "max")


def unbalanced_sinkhorn_plan(cost: torch.Tensor, epsilon: float, tau: float, iterations: int = 100,
                             tolerance: float = 1e-5, column_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Entropic unbalanced optimal-transport plans (KL-relaxed marginals), log-domain Sinkhorn.

    ``cost`` is (rows, cols) or a batch (b, rows, cols); ``column_mask`` (b, cols) marks the real
    columns, and masked columns get zero mass. Uniform marginals over rows and real columns;
    ``epsilon`` is the entropic regularisation and ``tau`` the marginal relaxation (the scaling
    exponent is tau / (tau + epsilon)). Stops after ``iterations`` or once every row potential
    moves less than ``tolerance`` over ten iterations.
    """
    batched = cost.dim() == 3
    cost = cost if batched else cost[None]
    b, rows, cols = cost.shape
    real = torch.ones((b, cols), dtype=torch.bool, device=cost.device) if column_mask is None else column_mask
    log_a = torch.full((b, rows), -math.log(rows), device=cost.device, dtype=cost.dtype)
    counts = real.sum(dim=1, keepdim=True).to(cost.dtype)
    log_b = torch.where(real, -torch.log(counts), torch.full_like(counts, float("-inf")))
    log_kernel = -cost.masked_fill(~real[:, None, :], 0.0) / epsilon
    exponent = tau / (tau + epsilon)
    log_u = torch.zeros_like(log_a)
    log_v = torch.zeros_like(log_b)
    previous = log_u
    for iteration in range(1, iterations + 1):
        log_u = exponent * (log_a - torch.logsumexp(log_kernel + log_v[:, None, :], dim=2))
        log_v = exponent * (log_b - torch.logsumexp(log_kernel + log_u[:, :, None], dim=1))
        if iteration % 10 == 0:
            if (log_u - previous).abs().max() < tolerance:
                break
            previous = log_u
    plan = torch.exp(log_u[:, :, None] + log_kernel + log_v[:, None, :])
    return plan if batched else plan[0]


def rbf_mmd(x: torch.Tensor, y: torch.Tensor, x_mask: torch.Tensor | None = None,
            bandwidth_multipliers: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)) -> torch.Tensor:
    """Squared Maximum Mean Discrepancy with a sum of RBF kernels: the unbiased estimate (U-statistic; Gretton et al.
    2012, eq. 3), whose expectation is 0 when ``x`` and ``y`` come from one distribution (it can be slightly negative).
    The biased V-statistic is not used: between a bag's patch tokens and six genomic tokens its within-sample
    diagonal terms alone make it about 0.5 for two samples of one distribution (docs/pages/models.md, "ME-Mamba: what comes from the
    paper, what is ours").

    ``x`` (n, d) and ``y`` (m, d) give a scalar; batches ``x`` (b, n, d), ``y`` (b, m, d) with ``x_mask`` (b, n)
    marking the real rows of ``x`` give one value per patient (b,). The bandwidths are multiples of the mean pairwise
    squared distance of each patient's pooled real samples. A side with a single sample contributes no within-side term.
    """
    batched = x.dim() == 3
    x, y = (x, y) if batched else (x[None], y[None])
    real_x = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device) if x_mask is None else x_mask.to(x.dtype)
    real_y = torch.ones(y.shape[:2], dtype=y.dtype, device=y.device)
    pooled = torch.cat([x, y], dim=1)
    distances = torch.cdist(pooled, pooled).pow(2)
    real = torch.cat([real_x, real_y], dim=1)
    pair_weights = real[:, :, None] * real[:, None, :]
    scale = ((distances.detach() * pair_weights).sum((1, 2)) / pair_weights.sum((1, 2))).clamp_min(1e-6)[:, None, None]
    kernel = sum(torch.exp(-distances / (scale * m)) for m in bandwidth_multipliers)
    n, m = x.shape[1], y.shape[1]
    count_x, count_y = real_x.sum(1), real_y.sum(1)
    off_diagonal = 1.0 - torch.eye(n + m, dtype=kernel.dtype, device=kernel.device)
    within = kernel * pair_weights * off_diagonal
    within_x = within[:, :n, :n].sum((1, 2)) / (count_x * (count_x - 1)).clamp_min(1.0)
    within_y = within[:, n:, n:].sum((1, 2)) / (count_y * (count_y - 1)).clamp_min(1.0)
    between = (kernel[:, :n, n:] * pair_weights[:, :n, n:]).sum((1, 2)) / (count_x * count_y)
    mmd = within_x + within_y - 2.0 * between
    return mmd if batched else mmd[0]


def effective_patches(weights: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of each row of row-normalised transport weights (b, T, N) -> (b, T): N when a genomic token's
    summary is the plain mean of N patches, 1 when it is a single patch."""
    log_weights = torch.where(weights > 0, weights.clamp_min(1e-30).log(), torch.zeros_like(weights))
    return torch.exp(-(weights * log_weights).sum(dim=-1))


class SynergisticExpert(nn.Module):
    """Optimal-transport correspondence from genomic tokens to patch tokens, plus the MMD loss.

    The plan is computed without gradient (as MOTCat does) on the squared-Euclidean cost divided by its median over
    the patient's real (token, patch) pairs (``cost_scale="median"``: the plan's concentration does not change with
    the bag's size or with a few far-off patches; ``"max"`` divides by the maximum, as MOTCat does, so that one
    far-off patch, e.g. an artefact, flattens every plan of the patient); each genomic token receives the
    plan-weighted mean of the patch tokens. The MMD's kernel matrix is quadratic in the number of patch tokens, so it
    is estimated on at most ``mmd_max_patches`` of them (a fresh random subset each training step, evenly spaced ones
    in evaluation), which keeps the whole model linear in the bag size. In evaluation it records each patient's
    effective number of patches per summary (:func:`effective_patches`; :meth:`transport_summary`). ``forward``
    returns the summaries (b, T, d) and the MMD per patient (b,). Ablations: with ``use_ot`` False every summary is
    the plain mean of the real patch tokens; with ``use_mmd`` False the MMD is not computed (zeros).
    """

    def __init__(self, epsilon: float = 0.1, tau: float = 0.5, iterations: int = 100, mmd_max_patches: int = 1024,
                 use_ot: bool = True, use_mmd: bool = True, cost_scale: str = "median") -> None:
        super().__init__()
        if cost_scale not in COST_SCALES:
            raise ValueError(f"ot_cost_scale must be one of {COST_SCALES}, not {cost_scale!r}")
        self.epsilon, self.tau, self.iterations, self.cost_scale = epsilon, tau, iterations, cost_scale
        self.mmd_max_patches = mmd_max_patches
        self.use_ot, self.use_mmd = use_ot, use_mmd
        self.spread: list[float] = []

    def forward(self, patch_tokens: torch.Tensor, patch_mask: torch.Tensor,
                genomic_tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = self.transport_weights(patch_tokens, patch_mask, genomic_tokens)
        with torch.no_grad():
            if self.use_ot and not self.training:
                spread = effective_patches(weights).mean(dim=1) / patch_mask.sum(dim=1).clamp_min(1)
                self.spread.extend(spread.tolist())
        if not self.use_mmd:
            return weights @ patch_tokens, patch_tokens.new_zeros(len(patch_tokens))
        sample, sample_mask = self.mmd_sample(patch_tokens, patch_mask)
        return weights @ patch_tokens, rbf_mmd(sample, genomic_tokens, sample_mask)

    @torch.no_grad()
    def transport_weights(self, patch_tokens: torch.Tensor, patch_mask: torch.Tensor, genomic_tokens: torch.Tensor) -> torch.Tensor:
        """The row-normalised plan (b, T, N): how much of each genomic token's summary each patch makes up (the plain
        mean of the real patches with ``use_ot`` False); no gradient."""
        if self.use_ot:
            cost = torch.cdist(genomic_tokens, patch_tokens).pow(2).masked_fill(~patch_mask[:, None, :], 0.0)
            cost = cost / self.cost_unit(cost, patch_mask).clamp_min(1e-12)
            plan = unbalanced_sinkhorn_plan(cost, self.epsilon, self.tau, self.iterations, column_mask=patch_mask)
        else:
            plan = patch_mask[:, None, :].expand(-1, genomic_tokens.shape[1], -1).to(patch_tokens.dtype)
        return plan / plan.sum(dim=2, keepdim=True).clamp_min(1e-12)

    def cost_unit(self, cost: torch.Tensor, patch_mask: torch.Tensor) -> torch.Tensor:
        """Each patient's cost unit (b, 1, 1): the median or the maximum over its real (token, patch) pairs."""
        if self.cost_scale == "max":
            return cost.amax(dim=(1, 2), keepdim=True)
        real = cost.masked_fill(~patch_mask[:, None, :], float("nan"))
        return real.flatten(1).nanmedian(dim=1).values[:, None, None]

    def transport_summary(self) -> str | None:
        """How concentrated the plans of the evaluation passes since the last call were, then forget them: the median
        over patients of (effective number of patches per genomic token, exp of the weights' entropy) / (real
        patches). 1 means every summary is the mean patch; None without evaluation passes."""
        if not self.spread:
            return None
        values, self.spread = np.asarray(self.spread), []
        return (f"median {np.median(values):.3f} of the patches per genomic token (range {values.min():.3f}-"
                f"{values.max():.3f} over {len(values)} patients; 1 = the plain mean)")

    def mmd_sample(self, patch_tokens: torch.Tensor, patch_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """At most ``mmd_max_patches`` real patch tokens per patient (b, k, d) and which of them are real (b, k)."""
        b, length, _ = patch_tokens.shape
        k = min(self.mmd_max_patches, length)
        if k == length:
            return patch_tokens, patch_mask
        if self.training:
            keys = torch.rand(patch_mask.shape, device=patch_mask.device).masked_fill(~patch_mask, -1.0)
            index = keys.topk(k, dim=1).indices
        else:
            counts = patch_mask.sum(dim=1, keepdim=True)
            positions = torch.arange(k, device=patch_mask.device)[None]
            spaced = positions * (counts - 1) // max(k - 1, 1)
            index = torch.where(counts > k, spaced, positions)
        return torch.gather(patch_tokens, 1, index[..., None].expand(b, k, patch_tokens.shape[2])), torch.gather(patch_mask, 1, index)


READOUTS = ("attention", "concat")
"""The backbone's read-outs (:class:`~memamba.models.memamba_model.MEMamba` also takes ``auto``)."""


class MambaBackbone(nn.Module):
    """Pre-norm residual Mamba layers over the fused tokens (b, L, d), then the read-out: ``attention``, gated-attention
    pooling of the normalised tokens to (b, d) (masked positions, at the end of a row, are never pooled); ``concat``,
    the L tokens side by side (b, L * d), for a sequence of fixed length (each token keeps its own weights in the head,
    so the tokens' contributions add up instead of being averaged)."""

    def __init__(self, d_model: int, layers: int, dropout: float, readout: str = "attention", **mamba: int | str) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, not {readout!r}")
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(layers))
        self.blocks = nn.ModuleList(MambaBlock(d_model, **mamba) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.readout = readout
        self.pool = GatedAttentionPool(d_model, d_model) if readout == "attention" else None
        self.final_norm = nn.LayerNorm(d_model) if readout == "attention" else None

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = tokens
        for norm, block in zip(self.norms, self.blocks):
            x = x + self.dropout(block(norm(x)))
        if self.pool is None:
            return x.flatten(1)
        return self.pool(F.gelu(self.final_norm(x)), mask)
