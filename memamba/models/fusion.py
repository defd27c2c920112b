"""Late fusion of a slide embedding and a genomic embedding by gated Kronecker (bilinear) pooling: PORPOISE's MMF
and CMTA's ``BilinearFusion`` (Chen et al., Pathomic Fusion, 2020)."""

from __future__ import annotations

import torch
from torch import nn

from memamba.models.settings import FUSIONS


class BilinearFusion(nn.Module):
    """Gated Kronecker fusion of two embeddings (b, dim1) and (b, dim2) -> (b, out).

    Each modality is reduced to ``dim / scale`` by Linear -> ReLU, gated (with ``gates``) by a sigmoid of a Linear of
    both modalities concatenated, and passed through Linear -> ReLU -> Dropout; a 1 is appended to each and their outer
    product, flattened ((dim1/scale + 1) x (dim2/scale + 1)), goes through dropout, Linear(., 256) -> ReLU and, after
    the two inputs are appended (``skip``), Linear(., out) -> ReLU. ``encoder_dropout``: CMTA's copy adds a dropout
    after each of the last two layers, PORPOISE's has none. The gate layers exist even with ``gates`` off, as in both
    references (their parameters are then unused)."""

    def __init__(self, dim1: int, dim2: int, scale1: int = 8, scale2: int = 8, out: int = 256, gates: bool = True,
                 skip: bool = False, dropout: float = 0.25, encoder_dropout: bool = False) -> None:
        super().__init__()
        self.gates, self.skip = gates, skip
        small1, small2 = dim1 // scale1, dim2 // scale2
        self.reduce1 = nn.Sequential(nn.Linear(dim1, small1), nn.ReLU())
        self.gate1 = nn.Linear(dim1 + dim2, small1)
        self.out1 = nn.Sequential(nn.Linear(small1, small1), nn.ReLU(), nn.Dropout(dropout))
        self.reduce2 = nn.Sequential(nn.Linear(dim2, small2), nn.ReLU())
        self.gate2 = nn.Linear(dim1 + dim2, small2)
        self.out2 = nn.Sequential(nn.Linear(small2, small2), nn.ReLU(), nn.Dropout(dropout))
        self.product_dropout = nn.Dropout(dropout)
        tail = [nn.Dropout(dropout)] if encoder_dropout else []
        self.encoder1 = nn.Sequential(nn.Linear((small1 + 1) * (small2 + 1), 256), nn.ReLU(), *tail)
        self.encoder2 = nn.Sequential(nn.Linear(256 + (dim1 + dim2 if skip else 0), out), nn.ReLU(), *tail)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        h1, h2 = self.reduce1(first), self.reduce2(second)
        if self.gates:
            both = torch.cat([first, second], dim=-1)
            h1, h2 = torch.sigmoid(self.gate1(both)) * h1, torch.sigmoid(self.gate2(both)) * h2
        o1, o2 = self.out1(h1), self.out2(h2)
        ones = o1.new_ones((*o1.shape[:-1], 1))
        product = (torch.cat([o1, ones], -1)[..., :, None] * torch.cat([o2, ones], -1)[..., None, :]).flatten(-2)
        fused = self.encoder1(self.product_dropout(product))
        if self.skip:
            fused = torch.cat([fused, first, second], dim=-1)
        return self.encoder2(fused)


class ConcatFusion(nn.Sequential):
    """MCAT's, PORPOISE's and CMTA's ``fusion='concat'``: the two embeddings side by side through Linear -> ReLU ->
    Linear -> ReLU; ``forward(first, second)``."""

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.cat([first, second], dim=-1))


def concat_fusion(dim1: int, dim2: int, out: int) -> ConcatFusion:
    """The concatenation fusion of embeddings of widths ``dim1`` and ``dim2`` to ``out``."""
    return ConcatFusion(nn.Linear(dim1 + dim2, out), nn.ReLU(), nn.Linear(out, out), nn.ReLU())


def fusion_layer(fusion: str, dim1: int, dim2: int, out: int, **bilinear: int | bool | float) -> nn.Module:
    """The fusion module named ``fusion`` (``bilinear`` or ``concat``); a ValueError names the choices."""
    if fusion == "bilinear":
        return BilinearFusion(dim1, dim2, out=out, **bilinear)
    if fusion == "concat":
        return concat_fusion(dim1, dim2, out)
    raise ValueError(f"fusion {fusion!r} is not one of {list(FUSIONS)}")
