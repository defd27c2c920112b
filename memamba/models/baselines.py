"""Baselines: SNN (genomics), gated-attention MIL (slides) and their late fusion.

Every model maps a :class:`~memamba.models.batch.Batch` of b patients to hazard logits (b, n_bins) and
an auxiliary loss (a scalar, zero for these baselines).
"""

from __future__ import annotations

import torch
from torch import nn

from memamba.models.batch import Batch
from memamba.models.registry import ModelInputs, register_model


def snn_block(dim_in: int, dim_out: int, dropout: float) -> nn.Sequential:
    """Self-normalising block: Linear -> SELU -> AlphaDropout (Klambauer et al., 2017)."""
    return nn.Sequential(nn.Linear(dim_in, dim_out), nn.SELU(), nn.AlphaDropout(dropout))


class SNNEncoder(nn.Module):
    """Self-normalising network: (b, F) genomic features -> (b, hidden) embeddings."""

    def __init__(self, dim_in: int, hidden: int = 64, depth: int = 2, dropout: float = 0.25) -> None:
        super().__init__()
        dims = [dim_in] + [hidden] * depth
        self.layers = nn.Sequential(*(snn_block(a, b, dropout) for a, b in zip(dims[:-1], dims[1:])))

    def forward(self, genomics: torch.Tensor) -> torch.Tensor:
        return self.layers(genomics)


class GatedAttentionPool(nn.Module):
    """Gated attention pooling (Ilse et al., 2018): softmax over patches of w^T (tanh(Vx) * sigmoid(Ux)).

    ``forward(x (b, N, d), mask (b, N) or None) -> (b, d)``; masked positions get zero weight.
    ``w`` has no bias: a constant added to every score leaves the softmax unchanged, so it could never learn.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.tanh_branch = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh())
        self.sigmoid_branch = nn.Sequential(nn.Linear(dim, hidden), nn.Sigmoid())
        self.score = nn.Linear(hidden, 1, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        scores = self.score(self.tanh_branch(x) * self.sigmoid_branch(x)).squeeze(-1)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return (torch.softmax(scores, dim=-1)[:, None] @ x)[:, 0]


class AttentionMILEncoder(nn.Module):
    """Attention-based MIL: (b, N, D) padded patch features and their mask -> (b, hidden) embeddings."""

    def __init__(self, dim_in: int, hidden: int = 64, dropout: float = 0.25) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(dim_in, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.pool = GatedAttentionPool(hidden, hidden)

    def forward(self, patches: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.pool(self.project(patches), mask)


class EmbeddingSurvivalModel(nn.Module):
    """Embeds the slides and/or the genomics, concatenates the embeddings, and predicts hazard logits."""

    def __init__(self, slides: nn.Module | None, genomics: nn.Module | None, head: nn.Module) -> None:
        super().__init__()
        self.slides = slides
        self.genomics = genomics
        self.head = head

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        parts = []
        if self.slides is not None:
            parts.append(self.slides(batch.patches, batch.patch_mask))
        if self.genomics is not None:
            parts.append(self.genomics(batch.genomics))
        logits = self.head(torch.cat(parts, dim=-1))
        return logits, logits.new_zeros(())


@register_model("snn", modalities=("genomics",))
def snn(inputs: ModelInputs, hidden: int = 64, depth: int = 2, dropout: float = 0.25) -> nn.Module:
    """SNN on all genomic features (MCAT's genomics-only baseline)."""
    return EmbeddingSurvivalModel(None, SNNEncoder(sum(inputs.token_sizes), hidden, depth, dropout),
                                  nn.Linear(hidden, inputs.n_bins))


@register_model("abmil", modalities=("slides",))
def abmil(inputs: ModelInputs, hidden: int = 64, dropout: float = 0.25) -> nn.Module:
    """Gated attention MIL on patch features (slides only)."""
    return EmbeddingSurvivalModel(AttentionMILEncoder(inputs.patch_dim, hidden, dropout), None,
                                  nn.Linear(hidden, inputs.n_bins))


@register_model("abmil-snn", modalities=("slides", "genomics"))
def abmil_snn(inputs: ModelInputs, hidden: int = 64, dropout: float = 0.25) -> nn.Module:
    """Late fusion of ABMIL and SNN embeddings (a simple multimodal baseline)."""
    head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, inputs.n_bins))
    return EmbeddingSurvivalModel(AttentionMILEncoder(inputs.patch_dim, hidden, dropout),
                                  SNNEncoder(sum(inputs.token_sizes), hidden, 2, dropout), head)
