"""CMTA (Zhou and Chen, ICCV 2023: cross-modal translation and alignment), as in FT-ZHOU-ZZZ/CMTA
``models/cmta/network.py``, its ``util.py`` and the loss of its ``engine.py``.

Patches (Linear -> ReLU -> Dropout, twice, to 256) and genomic tokens (one SNN per token, 1024 then 256) each go
through an encoder transformer (TransMIL's: [CLS], two Nystrom layers; the pathology one squares the bag and has a
PPEG). One-head attention translates each modality into the other: the patch tokens query the genomic tokens, the
genomic tokens query the patch tokens; a decoder transformer of the same kind reads each translation. For each
modality the encoder's and the decoder's [CLS] are averaged, the two fused (concat or gated bilinear) and read by
the hazard head. The alignment loss ``alignment_weight * (L1(P_enc, P_dec) + L1(G_enc, G_dec))``, the encoders'
[CLS] detached, is the auxiliary loss. Every Linear (the attention's output projections included) is Xavier-normal
with zero bias and every LayerNorm 1, 0, as CMTA's ``initialize_weights``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from memamba.models.baselines import TokenSNNs
from memamba.models.batch import Batch
from memamba.models.fusion import fusion_layer
from memamba.models.mil import NystromTransformer, xavier_init
from memamba.models.registry import ModelInputs


class CMTA(nn.Module):
    """CMTA 'small' (256-d; genomic SNNs of 1024 then 256) with ``fusion`` concat (its default) or bilinear."""

    def __init__(self, inputs: ModelInputs, dim: int = 256, omic_hidden: int = 1024, dropout: float = 0.25,
                 fusion: str = "concat", alignment_weight: float = 1.0) -> None:
        super().__init__()
        self.alignment_weight = alignment_weight
        self.patch_embed = nn.Sequential(nn.Linear(inputs.patch_dim, dim), nn.ReLU(), nn.Dropout(dropout),
                                         nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout))
        self.token_embed = TokenSNNs(inputs.token_sizes, [omic_hidden, dim], 0.25)
        self.pathology_encoder, self.pathology_decoder = (NystromTransformer(dim, square=True, cls_std=1e-6) for _ in range(2))
        self.patches_in_genomics = nn.MultiheadAttention(dim, num_heads=1, batch_first=True)
        self.genomics_in_patches = nn.MultiheadAttention(dim, num_heads=1, batch_first=True)
        self.genomic_encoder, self.genomic_decoder = (NystromTransformer(dim, square=False, cls_std=1e-6) for _ in range(2))
        self.fusion = fusion_layer(fusion, dim, dim, dim, encoder_dropout=True)
        self.head = nn.Linear(dim, inputs.n_bins)
        xavier_init(self)

    def translations(self, patches: torch.Tensor, genomic_tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """One patient's encoder tokens and cross-modal translations: ``patch_tokens`` (1, S, dim) after the pathology
        encoder (S = the squared bag), ``genomic_tokens`` (1, M, dim), the two encoders' [CLS], and the genomic tokens'
        attention weights over the S patch tokens (1, M, S)."""
        pathology = self.pathology_encoder(self.patch_embed(patches)[None])
        genomics = self.genomic_encoder(genomic_tokens[None])
        patch_tokens, tokens = pathology[:, 1:], genomics[:, 1:]
        in_patches, weights = self.genomics_in_patches(tokens, patch_tokens, patch_tokens)
        in_genomics = self.patches_in_genomics(patch_tokens, tokens, tokens, need_weights=False)[0]
        return {"pathology_cls": pathology[:, 0], "genomic_cls": genomics[:, 0], "in_genomics": in_genomics,
                "in_patches": in_patches, "weights": weights}

    def patient(self, patches: torch.Tensor, genomic_tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        parts = self.translations(patches, genomic_tokens)
        pathology_decoded = self.pathology_decoder(parts["in_genomics"])[:, 0]
        genomic_decoded = self.genomic_decoder(parts["in_patches"])[:, 0]
        fused = self.fusion((parts["pathology_cls"] + pathology_decoded) / 2, (parts["genomic_cls"] + genomic_decoded) / 2)
        alignment = (F.l1_loss(pathology_decoded, parts["pathology_cls"].detach())
                     + F.l1_loss(genomic_decoded, parts["genomic_cls"].detach()))
        return self.head(fused)[0], alignment

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        genomic_tokens = self.token_embed(batch.genomics)
        logits, alignment = zip(*(self.patient(batch.bag(row), genomic_tokens[row]) for row in range(len(batch))))
        return torch.stack(logits), self.alignment_weight * torch.stack(alignment).mean()


def cmta(inputs: ModelInputs, dim: int = 256, omic_hidden: int = 1024, dropout: float = 0.25, fusion: str = "concat",
         alignment_weight: float = 1.0) -> nn.Module:
    """CMTA as released ('small', concat fusion, alignment weight 1.0: its run.sh value for BLCA, GBMLGG and UCEC)."""
    return CMTA(inputs, dim, omic_hidden, dropout, fusion, alignment_weight)
