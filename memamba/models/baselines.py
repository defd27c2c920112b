"""Baselines: SNN (genomics), gated-attention MIL (slides) and their late fusion.

Every model maps a :class:`~memamba.models.batch.Batch` of b patients to hazard logits (b, n_bins) and
an auxiliary loss (a scalar, zero for these baselines).
"""

from __future__ import annotations

import torch
from torch import nn

from memamba.models.batch import Batch
from memamba.models.fusion import concat_fusion
from memamba.models.registry import ModelInputs


def snn_block(dim_in: int, dim_out: int, dropout: float) -> nn.Sequential:
    """MCAT's ``SNN_Block``: Linear -> ELU -> AlphaDropout (its self-normalising block keeps ELU, not SELU)."""
    return nn.Sequential(nn.Linear(dim_in, dim_out), nn.ELU(), nn.AlphaDropout(dropout))


def init_max_weights(module: nn.Module) -> None:
    """MCAT's ``init_max_weights``: every Linear weight ~ N(0, 1 / fan_in) (std 1/sqrt(fan_in)), biases zero."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, layer.weight.shape[1] ** -0.5)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class SNNEncoder(nn.Module):
    """Self-normalising network: (b, F) genomic features -> (b, hidden) embeddings, ``depth`` blocks of ``hidden``."""

    def __init__(self, dim_in: int, hidden: int = 256, depth: int = 4, dropout: float = 0.25) -> None:
        super().__init__()
        dims = [dim_in] + [hidden] * depth
        self.layers = nn.Sequential(*(snn_block(a, b, dropout) for a, b in zip(dims[:-1], dims[1:])))

    def forward(self, genomics: torch.Tensor) -> torch.Tensor:
        return self.layers(genomics)


class TokenSNNs(nn.ModuleList):
    """One SNN per genomic token (MCAT's, SurvPath's and CMTA's ``sig_networks``, ME-Mamba's token embedding): SNN
    blocks to the ``widths`` in turn, each with AlphaDropout ``dropout``. Tokens without a feature (size 0) have none
    and are left out: ``forward(genomics (..., F)) -> (..., M, widths[-1])`` for the M tokens with features, in order."""

    def __init__(self, token_sizes: list[int], widths: list[int], dropout: float = 0.25) -> None:
        present = [i for i, size in enumerate(token_sizes) if size > 0]
        if not present:
            raise ValueError("every genomic token is empty (no token has a feature). Fix: check the gene-family or pathway "
                             "table against the genomic tables.")
        super().__init__(nn.Sequential(*(snn_block(a, b, dropout) for a, b in zip([token_sizes[i], *widths[:-1]], widths)))
                         for i in present)
        self.token_sizes, self.present = list(token_sizes), present

    def forward(self, genomics: torch.Tensor) -> torch.Tensor:
        parts = torch.split(genomics, self.token_sizes, dim=-1)
        return torch.stack([network(parts[i]) for network, i in zip(self, self.present)], dim=-2)


class GatedAttentionPool(nn.Module):
    """Gated attention pooling (Ilse et al., 2018; CLAM/MCAT's ``Attn_Net_Gated``): softmax over patches of
    w^T (tanh(Vx) * sigmoid(Ux)) + b, with dropout after each branch.

    ``forward(x (b, N, d), mask (b, N) or None) -> (b, d)``; masked positions get zero weight. ``score_bias``: the
    reference models have a bias ``b``, kept in the baselines for parity, though a constant added to every score
    leaves the softmax unchanged (it never learns); ME-Mamba's pools go without it.
    """

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0, score_bias: bool = False) -> None:
        super().__init__()
        self.tanh_branch = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Dropout(dropout))
        self.sigmoid_branch = nn.Sequential(nn.Linear(dim, hidden), nn.Sigmoid(), nn.Dropout(dropout))
        self.score = nn.Linear(hidden, 1, bias=score_bias)

    def scores(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attention logits (b, N) before the softmax; masked positions -inf."""
        scores = self.score(self.tanh_branch(x) * self.sigmoid_branch(x)).squeeze(-1)
        return scores if mask is None else scores.masked_fill(~mask, float("-inf"))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return (torch.softmax(self.scores(x, mask), dim=-1)[:, None] @ x)[:, 0]


class AttentionMILEncoder(nn.Module):
    """MCAT's attention MIL (``MIL_Attention_FC_surv``, size 'small'): Linear(D, hidden) -> ReLU -> Dropout, gated
    attention of width ``attention`` over the patches, then rho: Linear(hidden, attention) -> ReLU -> Dropout.
    (b, N, D) padded patch features and their mask -> (b, attention) embeddings."""

    def __init__(self, dim_in: int, hidden: int = 512, attention: int = 256, dropout: float = 0.25) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(dim_in, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.pool = GatedAttentionPool(hidden, attention, dropout, score_bias=True)
        self.rho = nn.Sequential(nn.Linear(hidden, attention), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, patches: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.rho(self.pool(self.project(patches), mask))


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


def snn(inputs: ModelInputs, hidden: int = 256, depth: int = 4, dropout: float = 0.25) -> nn.Module:
    """MCAT's genomics-only SNN ('small': four ELU blocks of 256, AlphaDropout 0.25, its init) on all genomic features."""
    model = EmbeddingSurvivalModel(None, SNNEncoder(sum(inputs.token_sizes), hidden, depth, dropout),
                                   nn.Linear(hidden, inputs.n_bins))
    init_max_weights(model)
    return model


def abmil(inputs: ModelInputs, hidden: int = 512, attention: int = 256, dropout: float = 0.25) -> nn.Module:
    """MCAT's attention MIL on patch features (slides only): 512-d projection, gated attention and rho of 256."""
    return EmbeddingSurvivalModel(AttentionMILEncoder(inputs.patch_dim, hidden, attention, dropout), None,
                                  nn.Linear(attention, inputs.n_bins))


def abmil_snn(inputs: ModelInputs, hidden: int = 512, attention: int = 256, omic_hidden: int = 256,
              dropout: float = 0.25) -> nn.Module:
    """MCAT's attention MIL with ``fusion='concat'``: the slide embedding and a two-block SNN embedding, concatenated,
    through Linear -> ReLU -> Linear -> ReLU of width ``attention``, then the hazard head."""
    head = nn.Sequential(*concat_fusion(attention, omic_hidden, attention), nn.Linear(attention, inputs.n_bins))
    return EmbeddingSurvivalModel(AttentionMILEncoder(inputs.patch_dim, hidden, attention, dropout),
                                  SNNEncoder(sum(inputs.token_sizes), omic_hidden, 2, dropout), head)
