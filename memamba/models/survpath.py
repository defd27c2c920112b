"""SurvPath (Jaume et al., CVPR 2024): biological-pathway tokens and patch tokens in one transformer layer whose
attention is modality-aware, as in mahmoodlab/SurvPath ``models/model_SurvPath.py`` and
``models/layers/cross_attention.py``.

Each pathway token is its genes' features through its own two-block SNN (256, 256); each patch is projected to 256
by one Linear. After a LayerNorm, one single-head attention (query/key/value 128-d, no bias, no output projection):
a pathway attends to every pathway and every patch (one softmax over both), a patch attends to the pathways only
(patch-to-patch attention is left out, so the cost is linear in the bag). Then SurvPath's feed-forward (LayerNorm,
Linear, GELU, Dropout, Linear; no residual) and a LayerNorm; the pathway tokens and the patch tokens are averaged
separately, concatenated and read by Linear(256, 64) -> ReLU -> Linear(64, bins). PyTorch's default initialisation,
as the reference (it calls no initialiser).
"""

from __future__ import annotations

import torch
from torch import nn

from memamba.models.baselines import TokenSNNs
from memamba.models.batch import Batch
from memamba.models.registry import ModelInputs


class SurvPath(nn.Module):
    """SurvPath at width ``dim`` (the reference's ``wsi_projection_dim``, 256); ``dropout`` is its feed-forward's (0.1),
    the pathway SNNs keep AlphaDropout 0.25 as in the reference."""

    def __init__(self, inputs: ModelInputs, dim: int = 256, dropout: float = 0.1) -> None:
        super().__init__()
        inner = dim // 2
        self.pathways = TokenSNNs(inputs.token_sizes, [dim, dim], 0.25)
        self.patch_project = nn.Linear(inputs.patch_dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.to_qkv = nn.Linear(dim, 3 * inner, bias=False)
        self.scale = inner ** -0.5
        self.feed_forward = nn.Sequential(nn.LayerNorm(inner), nn.Linear(inner, inner), nn.GELU(), nn.Dropout(dropout),
                                          nn.Linear(inner, inner))
        self.out_norm = nn.LayerNorm(inner)
        self.head = nn.Sequential(nn.Linear(dim, dim // 4), nn.ReLU(), nn.Linear(dim // 4, inputs.n_bins))

    def attention(self, pathways: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """SurvPath's modality-aware attention of one patient's P pathway tokens (P, dim) and N patch tokens (N, dim):
        (pathway outputs (P, dim/2), patch outputs (N, dim/2), the pathways' weights on the patches (P, N))."""
        count = len(pathways)
        q, k, v = self.to_qkv(self.norm(torch.cat([pathways, patches]))).chunk(3, dim=-1)
        q = q * self.scale
        pathway_weights = torch.softmax(q[:count] @ k.T, dim=-1)                   # pathways -> pathways and patches
        patch_weights = torch.softmax(q[count:] @ k[:count].T, dim=-1)              # patches -> pathways only
        return pathway_weights @ v, patch_weights @ v[:count], pathway_weights[:, count:]

    def patient(self, patches: torch.Tensor, pathway_tokens: torch.Tensor) -> torch.Tensor:
        out_pathways, out_patches, _ = self.attention(pathway_tokens, self.patch_project(patches))
        mixed = self.out_norm(self.feed_forward(torch.cat([out_pathways, out_patches])))
        count = len(pathway_tokens)
        return self.head(torch.cat([mixed[:count].mean(0), mixed[count:].mean(0)]))

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        pathway_tokens = self.pathways(batch.genomics)                              # (b, P, dim)
        logits = torch.stack([self.patient(batch.bag(row), pathway_tokens[row]) for row in range(len(batch))])
        return logits, logits.new_zeros(())


def survpath(inputs: ModelInputs, dim: int = 256, dropout: float = 0.1) -> nn.Module:
    """SurvPath as released: 256-d tokens, one modality-aware attention layer (1 head of 128), feed-forward dropout 0.1."""
    return SurvPath(inputs, dim, dropout)
