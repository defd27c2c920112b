"""Multimodal co-attention baselines: MCAT (Chen et al., 2021) and MOTCat (Xu and Chen, 2023).

Genomic tokens (one SNN per gene family) query the patch tokens: by multi-head co-attention in MCAT,
by an unbalanced optimal-transport plan in MOTCat. Each modality then goes through a transformer
encoder and gated-attention pooling, and the two embeddings are concatenated for the hazard head.
Published "small" configuration: 256-d, 2-layer transformers with 8 heads and 512-d feed-forward,
dropout 0.25. One patient at a time, as both papers train (batch 1).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from memamba.models.baselines import GatedAttentionPool, snn_block
from memamba.models.batch import Batch
from memamba.models.fusion import concat_fusion
from memamba.models.registry import ModelInputs


@torch.no_grad()
def motcat_plan(genomic_tokens: torch.Tensor, patch_tokens: torch.Tensor, epsilon: float, tau: float) -> torch.Tensor:
    """MOTCat's transport plan (M genomic tokens, N patch tokens), as its ``OT_Attn_assem`` computes it: each token
    minus its own minimum, squared Euclidean cost (patches x tokens) divided by its maximum, uniform marginals, and
    POT's ``sinkhorn_knopp_unbalanced`` called as MOTCat calls it (``reg=epsilon``, ``reg_m=tau``, POT's default
    iterations and threshold) in float64 on the tensors' device, with ``reg_type="entropy"``: the regulariser of the
    POT releases MOTCat was written for (0.9.5 made ``"kl"`` the default, which gives another plan). No gradient. The
    plan is used as it is: row i's mass (about 1/M, less where transport is dear) weights the patch tokens of summary i."""
    import ot

    path = patch_tokens.double() - patch_tokens.double().min(dim=-1, keepdim=True).values
    genomic = genomic_tokens.double() - genomic_tokens.double().min(dim=-1, keepdim=True).values
    cost = torch.cdist(path, genomic).pow(2)
    with warnings.catch_warnings():           # POT notes that the entropy regulariser ignores its reference matrix c
        warnings.filterwarnings("ignore", message="If reg_type = entropy", category=UserWarning)
        flow = ot.unbalanced.sinkhorn_knopp_unbalanced(ot.unif(len(path), type_as=cost), ot.unif(len(genomic), type_as=cost),
                                                       cost / cost.max().clamp_min(1e-12), reg=epsilon, reg_m=tau,
                                                       reg_type="entropy")
    return flow.T


class CoAttentionSurvival(nn.Module):
    """MCAT's pipeline with the genomic-guided summary of the patches chosen by ``coupling``
    (``attention`` for MCAT, ``transport`` for MOTCat)."""

    def __init__(self, inputs: ModelInputs, coupling: str, dim: int = 256, dropout: float = 0.25,
                 ot_epsilon: float = 0.1, ot_tau: float = 0.5) -> None:
        super().__init__()
        self.coupling, self.ot_epsilon, self.ot_tau = coupling, ot_epsilon, ot_tau
        self.present = [i for i, size in enumerate(inputs.token_sizes) if size > 0]
        self.token_sizes = list(inputs.token_sizes)
        self.patch_embed = nn.Sequential(nn.Linear(inputs.patch_dim, dim), nn.ReLU(), nn.Dropout(dropout))
        self.token_embed = nn.ModuleList(nn.Sequential(snn_block(inputs.token_sizes[i], dim, dropout), snn_block(dim, dim, dropout))
                                         for i in self.present)
        self.coattention = nn.MultiheadAttention(dim, num_heads=1, batch_first=True) if coupling == "attention" else None

        def encoder() -> nn.TransformerEncoder:
            layer = nn.TransformerEncoderLayer(dim, nhead=8, dim_feedforward=512, dropout=dropout, batch_first=True)
            return nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)

        self.path_encoder, self.genomic_encoder = encoder(), encoder()
        self.path_pool, self.genomic_pool = (GatedAttentionPool(dim, dim, dropout, score_bias=True)
                                              for _ in range(2))
        self.path_rho = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout))
        self.genomic_rho = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout))
        self.fusion = concat_fusion(dim, dim, dim)
        self.head = nn.Linear(dim, inputs.n_bins)

    def _summaries(self, genomic_tokens: torch.Tensor, patch_tokens: torch.Tensor) -> torch.Tensor:
        if self.coattention is not None:
            return self.coattention(genomic_tokens[None], patch_tokens[None], patch_tokens[None], need_weights=False)[0][0]
        return motcat_plan(genomic_tokens, patch_tokens, self.ot_epsilon, self.ot_tau).to(patch_tokens.dtype) @ patch_tokens

    def patient(self, patches: torch.Tensor, genomics: torch.Tensor) -> torch.Tensor:
        parts = torch.split(genomics, self.token_sizes)
        genomic_tokens = torch.stack([embed(parts[i]) for embed, i in zip(self.token_embed, self.present)])
        summaries = self._summaries(genomic_tokens, self.patch_embed(patches))
        path = self.path_rho(self.path_pool(self.path_encoder(summaries[None])))
        genomic = self.genomic_rho(self.genomic_pool(self.genomic_encoder(genomic_tokens[None])))
        return self.head(self.fusion(path, genomic))[0]

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        logits = torch.stack([self.patient(batch.bag(row), batch.genomics[row]) for row in range(len(batch))])
        return logits, logits.new_zeros(())


def mcat(inputs: ModelInputs, dim: int = 256, dropout: float = 0.25) -> nn.Module:
    """MCAT: genomic-guided co-attention (one head) over the patch tokens, small configuration."""
    return CoAttentionSurvival(inputs, "attention", dim, dropout)


def motcat(inputs: ModelInputs, dim: int = 256, dropout: float = 0.25, ot_epsilon: float = 0.1, ot_tau: float = 0.5) -> nn.Module:
    """MOTCat: unbalanced OT from genomic tokens to patch tokens in place of co-attention (whole bag, no micro-batches)."""
    return CoAttentionSurvival(inputs, "transport", dim, dropout, ot_epsilon, ot_tau)
