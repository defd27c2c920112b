"""CONCH's image towers (Lu et al., 2024; v1.5 from TITAN, Ding et al., 2024): a timm ViT trunk, an attentional
pooler with one learned query over every token, and a LayerNorm. Module names are the published checkpoints' keys.

The embedding is the pooler's normalised output before CONCH's image-text projection (``encode_image(...,
proj_contrast=False, normalize=False)``), the setting the authors give for using CONCH as a vision encoder.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

CONCH_DIM = 512
CONCH_V15_DIM = 768
CONCH_INPUT_SIZE = 448

CONCH_V1_TEXT_HALF = ("text.", "text_decoder.", "logit_scale", "visual.proj_contrast", "visual.attn_pool_caption.",
                      "visual.ln_caption.")
"""Keys of CONCH v1's released CoCa checkpoint that the image embedding does not use: the text tower, the
temperature, the image-text projection and the captioning pooler."""


class MultiheadAttentionPooler(nn.Module):
    """CONCH v1's pooler: learned queries attend to LayerNorm-ed tokens through ``nn.MultiheadAttention``."""

    def __init__(self, width: int, context_width: int, heads: int = 8, queries: int = 1) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(queries, width))
        self.attn = nn.MultiheadAttention(width, heads, kdim=context_width, vdim=context_width, batch_first=True)
        self.ln_q = nn.LayerNorm(width)
        self.ln_k = nn.LayerNorm(context_width)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        context = self.ln_k(tokens)
        query = self.ln_q(self.query).unsqueeze(0).expand(len(tokens), -1, -1)
        return self.attn(query, context, context, need_weights=False)[0]


class LinearAttentionPooler(nn.Module):
    """CONCH v1.5's pooler: learned queries, bias-free query / key-value / output projections, scaled dot-product
    attention per head."""

    def __init__(self, width: int, context_width: int, heads: int = 8, queries: int = 1) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Parameter(torch.randn(queries, width))
        self.ln_k = nn.LayerNorm(context_width)
        self.ln_q = nn.LayerNorm(width)
        self.to_q = nn.Linear(width, width, bias=False)
        self.to_kv = nn.Linear(context_width, 2 * width, bias=False)
        self.to_out = nn.Linear(width, width, bias=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        batch = len(tokens)
        query = self.to_q(self.ln_q(self.query)).expand(batch, -1, -1)
        key, value = self.to_kv(self.ln_k(tokens)).chunk(2, dim=-1)
        split = [part.unflatten(-1, (self.heads, -1)).transpose(1, 2) for part in (query, key, value)]
        pooled = F.scaled_dot_product_attention(*split).transpose(1, 2).flatten(2)
        return self.to_out(pooled)


def grid_positions(pos_embed: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """A class-token-first position embedding for a ``rows`` x ``cols`` patch grid, interpolated as DINO / iBOT
    (and CONCH v1.5's trunk) do: bicubic by the scale factor (grid + 0.1) / stored grid; unchanged at the stored
    square grid."""
    stored = pos_embed.shape[1] - 1
    side = math.isqrt(stored)
    if rows == cols == side:
        return pos_embed
    grid = pos_embed[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, scale_factor=((rows + 0.1) / side, (cols + 0.1) / side), mode="bicubic")
    return torch.cat([pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, rows * cols, -1)], dim=1)


class ConchImageTower(nn.Module):
    """A CONCH image tower: ViT trunk (all tokens, final LayerNorm) -> attentional pooler (first query) ->
    ``ln_contrast``."""

    def __init__(self, trunk: nn.Module, attn_pool_contrast: nn.Module, width: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.attn_pool_contrast = attn_pool_contrast
        self.ln_contrast = nn.LayerNorm(width)

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        """The trunk's tokens (class token first) after its final LayerNorm."""
        patches = self.trunk.patch_embed(images)
        batch, rows, cols, width = patches.shape
        tokens = torch.cat([self.trunk.cls_token.expand(batch, -1, -1), patches.reshape(batch, rows * cols, width)], 1)
        tokens = tokens + grid_positions(self.trunk.pos_embed, rows, cols)
        return self.trunk.norm(self.trunk.blocks(self.trunk.norm_pre(tokens)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.ln_contrast(self.attn_pool_contrast(self.tokens(images))[:, 0])


def _trunk(published: dict[str, Any], architecture: dict[str, Any]) -> nn.Module:
    from timm.models.vision_transformer import VisionTransformer

    return VisionTransformer(**{**published, "num_classes": 0, "global_pool": "", "dynamic_img_size": True, **architecture})


def conch_v1_tower(**architecture: Any) -> ConchImageTower:
    """CONCH v1 (``conch_ViT-B-16``): ViT-B/16 at 448 px (785 positions), pooler 8 heads 768 -> 512; 512-d."""
    trunk = _trunk({"embed_dim": 768, "depth": 12, "num_heads": 12, "mlp_ratio": 4.0, "img_size": CONCH_INPUT_SIZE,
                    "patch_size": 16}, architecture)
    return ConchImageTower(trunk, MultiheadAttentionPooler(CONCH_DIM, trunk.embed_dim), CONCH_DIM)


def conch_v15_tower(**architecture: Any) -> ConchImageTower:
    """CONCH v1.5: ViT-L/16 with layer scale, 224-px position grid (197 positions) interpolated to the input,
    pooler 8 heads 1024 -> 768; 768-d."""
    trunk = _trunk({"embed_dim": 1024, "depth": 24, "num_heads": 16, "mlp_ratio": 4.0, "img_size": 224,
                    "patch_size": 16, "init_values": 1.0}, architecture)
    return ConchImageTower(trunk, LinearAttentionPooler(CONCH_V15_DIM, trunk.embed_dim), CONCH_V15_DIM)


def _stored_grid(state: dict[str, torch.Tensor], tower: ConchImageTower) -> dict[str, torch.Tensor]:
    """The checkpoint with ``trunk.pos_embed`` resampled (bilinear) to the tower's grid when its square grid differs,
    as CONCH's loaders do; a non-square or absent one is left for the strict load to refuse."""
    from timm.layers import resample_abs_pos_embed

    stored, expected = state.get("trunk.pos_embed"), tower.trunk.pos_embed
    if stored is None or stored.ndim != 3 or stored.shape[1:] == expected.shape[1:] or \
            math.isqrt(stored.shape[1] - 1) ** 2 != stored.shape[1] - 1 or stored.shape[2] != expected.shape[2]:
        return state
    resized = resample_abs_pos_embed(stored, new_size=list(tower.trunk.patch_embed.grid_size), num_prefix_tokens=1,
                                     interpolation="bilinear", antialias=False, verbose=False)
    return {**state, "trunk.pos_embed": resized}


def conch_v1_image_keys(state: dict[str, torch.Tensor], tower: ConchImageTower) -> dict[str, torch.Tensor]:
    """CONCH v1's released CoCa checkpoint reduced to the image tower's keys: ``visual.`` removed, the keys in
    :data:`CONCH_V1_TEXT_HALF` left out; any other key stays, for the strict load to name."""
    kept = {key.removeprefix("visual."): value for key, value in state.items()
            if not key.startswith(CONCH_V1_TEXT_HALF)}
    return _stored_grid(kept, tower)


def conch_v15_image_keys(state: dict[str, torch.Tensor], tower: ConchImageTower) -> dict[str, torch.Tensor]:
    """CONCH v1.5's ``pytorch_model_vision.bin`` as loaded by its authors' code (only the position grid resampled)."""
    return _stored_grid(state, tower)
