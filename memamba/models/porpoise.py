"""PORPOISE's MMF (Chen et al., Cancer Cell 2022), as ``PorpoiseMMF`` of mahmoodlab/PORPOISE ``models/model_porpoise.py``.

The slides: input dropout (``dropinput``), Linear(D, 512) -> ReLU -> Dropout, gated attention (256) over the patches,
rho Linear(512, 256) -> ReLU -> Dropout. The genomics: all genomic features through two SNN blocks of 256. The two
embeddings are fused by gated Kronecker pooling (``bilinear``, the reference's default: both gates, 1/8 reductions,
the inputs appended after the product) or concatenation (``concat``), then the hazard head. PyTorch's default
initialisation, as the reference (its initialiser call is commented out). ``l1_weight``: PORPOISE's
``--reg_type pathomic`` L1 penalty on the genomic SNN and the fusion (``--lambda_reg``), as the auxiliary loss.
"""

from __future__ import annotations

import torch
from torch import nn

from memamba.models.baselines import AttentionMILEncoder, SNNEncoder
from memamba.models.batch import Batch
from memamba.models.fusion import fusion_layer
from memamba.models.registry import ModelInputs


class PorpoiseMMF(nn.Module):
    """MMF: attention MIL and SNN embeddings fused late; ``slides`` is the attention MIL (its pool gives patch scores)."""

    def __init__(self, inputs: ModelInputs, hidden: int = 512, attention: int = 256, omic_hidden: int = 256,
                 dropout: float = 0.25, dropinput: float = 0.1, fusion: str = "bilinear", gates: bool = True,
                 skip: bool = True, scale: int = 8, l1_weight: float = 0.0) -> None:
        super().__init__()
        self.l1_weight = l1_weight
        self.dropinput = nn.Dropout(dropinput)
        self.slides = AttentionMILEncoder(inputs.patch_dim, hidden, attention, dropout)
        self.genomics = SNNEncoder(sum(inputs.token_sizes), omic_hidden, 2, dropout)
        self.fusion = fusion_layer(fusion, attention, omic_hidden, attention, scale1=scale, scale2=scale, gates=gates,
                                   skip=skip, dropout=dropout)
        self.head = nn.Linear(attention, inputs.n_bins)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        fused = self.fusion(self.slides(self.dropinput(batch.patches), batch.patch_mask), self.genomics(batch.genomics))
        logits = self.head(fused)
        if not self.l1_weight:
            return logits, logits.new_zeros(())
        penalty = sum(p.abs().sum() for module in (self.genomics, self.fusion) for p in module.parameters())
        return logits, self.l1_weight * penalty


def porpoise(inputs: ModelInputs, hidden: int = 512, attention: int = 256, omic_hidden: int = 256, dropout: float = 0.25,
             dropinput: float = 0.1, fusion: str = "bilinear", gates: bool = True, skip: bool = True, scale: int = 8,
             l1_weight: float = 0.0) -> nn.Module:
    """PORPOISE's MMF at the defaults of its ``PorpoiseMMF`` class ('small', bilinear fusion with both gates and skip,
    input dropout 0.1, scale 8); ``fusion: concat`` is its concatenation variant."""
    return PorpoiseMMF(inputs, hidden, attention, omic_hidden, dropout, dropinput, fusion, gates, skip, scale, l1_weight)
