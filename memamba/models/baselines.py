"""Baselines: SNN (genomics), gated-attention MIL (slides) and their late fusion.

Every model maps one patient to hazard logits of shape (n_bins,):
``forward(patches: Tensor (N, D) | None, genomics: Tensor (F,) | None)``.
"""

from __future__ import annotations

import torch
from torch import nn

from memamba.models.registry import ModelInputs, register_model


def snn_block(dim_in: int, dim_out: int, dropout: float) -> nn.Sequential:
    """Self-normalising block: Linear -> SELU -> AlphaDropout (Klambauer et al., 2017)."""
    return nn.Sequential(nn.Linear(dim_in, dim_out), nn.SELU(), nn.AlphaDropout(dropout))


class SNN(nn.Module):
    """Self-normalising network over the concatenated genomic features."""

    def __init__(self, dim_in: int, n_bins: int, hidden: int = 64, depth: int = 2, dropout: float = 0.25) -> None:
        super().__init__()
        dims = [dim_in] + [hidden] * depth
        self.encoder = nn.Sequential(*(snn_block(a, b, dropout) for a, b in zip(dims[:-1], dims[1:])))
        self.head = nn.Linear(hidden, n_bins)

    def embed(self, genomics: torch.Tensor) -> torch.Tensor:
        """(F,) genomic features -> (hidden,) embedding."""
        return self.encoder(genomics)

    def forward(self, patches: torch.Tensor | None, genomics: torch.Tensor | None) -> torch.Tensor:
        return self.head(self.embed(genomics))


class GatedAttentionPool(nn.Module):
    """Gated attention pooling (Ilse et al., 2018): softmax over patches of tanh(Va) * sigmoid(Ua)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.tanh_branch = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh())
        self.sigmoid_branch = nn.Sequential(nn.Linear(dim, hidden), nn.Sigmoid())
        self.score = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(self.tanh_branch(x) * self.sigmoid_branch(x)).squeeze(-1), dim=0)
        return weights @ x


class ABMIL(nn.Module):
    """Attention-based MIL over a patient's patch features."""

    def __init__(self, dim_in: int, n_bins: int, hidden: int = 64, dropout: float = 0.25) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(dim_in, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.pool = GatedAttentionPool(hidden, hidden)
        self.head = nn.Linear(hidden, n_bins)

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """(N, D) patch features -> (hidden,) slide embedding."""
        return self.pool(self.encoder(patches))

    def forward(self, patches: torch.Tensor | None, genomics: torch.Tensor | None) -> torch.Tensor:
        return self.head(self.embed(patches))


class LateFusion(nn.Module):
    """ABMIL slide embedding and SNN genomic embedding, concatenated, then a linear hazard head."""

    def __init__(self, patch_dim: int, genomic_dim: int, n_bins: int, hidden: int = 64, dropout: float = 0.25) -> None:
        super().__init__()
        self.slides = ABMIL(patch_dim, n_bins, hidden, dropout)
        self.genomics = SNN(genomic_dim, n_bins, hidden, 2, dropout)
        self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_bins))

    def forward(self, patches: torch.Tensor | None, genomics: torch.Tensor | None) -> torch.Tensor:
        return self.head(torch.cat([self.slides.embed(patches), self.genomics.embed(genomics)]))


@register_model("snn", modalities=("genomics",))
def snn(inputs: ModelInputs, hidden: int = 64, depth: int = 2, dropout: float = 0.25) -> nn.Module:
    """SNN on all genomic features (MCAT's genomics-only baseline)."""
    return SNN(sum(inputs.token_sizes), inputs.n_bins, hidden, depth, dropout)


@register_model("abmil", modalities=("slides",))
def abmil(inputs: ModelInputs, hidden: int = 64, dropout: float = 0.25) -> nn.Module:
    """Gated attention MIL on patch features (slides only)."""
    return ABMIL(inputs.patch_dim, inputs.n_bins, hidden, dropout)


@register_model("abmil-snn", modalities=("slides", "genomics"))
def abmil_snn(inputs: ModelInputs, hidden: int = 64, dropout: float = 0.25) -> nn.Module:
    """Late fusion of ABMIL and SNN embeddings (a simple multimodal baseline)."""
    return LateFusion(inputs.patch_dim, sum(inputs.token_sizes), inputs.n_bins, hidden, dropout)
