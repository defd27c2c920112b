from pathlib import Path

import pytest
import torch
from torch import nn

from memamba.errors import MemambaError
from memamba.provenance import sha256_of
from memamba.slides.conch import (
    CONCH_V1_TEXT_HALF,
    LinearAttentionPooler,
    MultiheadAttentionPooler,
    grid_positions,
)
from memamba.slides.encoders import build_encoder

PUBLISHED_SHAPES = {  # conch_ViT-B-16.json with CONCH's vision_tower.py; CONCH v1.5's vision tower (TITAN)
    "conch": {"visual.trunk.cls_token": (1, 1, 768), "visual.trunk.pos_embed": (1, 785, 768),
              "visual.trunk.patch_embed.proj.weight": (768, 3, 16, 16), "visual.trunk.blocks.0.mlp.fc1.weight": (3072, 768),
              "visual.attn_pool_contrast.query": (1, 512), "visual.attn_pool_contrast.attn.k_proj_weight": (512, 768),
              "visual.attn_pool_contrast.attn.in_proj_bias": (1536,), "visual.ln_contrast.weight": (512,),
              "visual.proj_contrast": (512, 512), "visual.attn_pool_caption.query": (256, 768),
              "visual.attn_pool_caption.attn.in_proj_weight": (2304, 768)},
    "conch-v1.5": {"trunk.cls_token": (1, 1, 1024), "trunk.pos_embed": (1, 197, 1024),
                   "trunk.patch_embed.proj.weight": (1024, 3, 16, 16), "trunk.blocks.0.ls1.gamma": (1024,),
                   "trunk.blocks.0.mlp.fc1.weight": (4096, 1024), "attn_pool_contrast.query": (1, 768),
                   "attn_pool_contrast.ln_k.weight": (1024,), "attn_pool_contrast.to_q.weight": (768, 768),
                   "attn_pool_contrast.to_kv.weight": (1536, 1024), "attn_pool_contrast.to_out.weight": (768, 768),
                   "ln_contrast.weight": (768,)},
}


def _released_checkpoint(name: str, tower: nn.Module) -> dict[str, torch.Tensor]:
    """A random checkpoint laid out as released: CONCH v1's whole CoCa model (image tower under ``visual.``, its
    captioning pooler and projection, a text half); CONCH v1.5's image tower alone."""
    state = dict(tower.state_dict())
    if name == "conch-v1.5":
        return state
    caption = MultiheadAttentionPooler(768, 768, queries=256).state_dict()
    return {**{f"visual.{key}": value for key, value in state.items()},
            **{f"visual.attn_pool_caption.{key}": value for key, value in caption.items()},
            "visual.ln_caption.weight": torch.ones(768), "visual.ln_caption.bias": torch.zeros(768),
            "visual.proj_contrast": torch.randn(512, 512), "logit_scale": torch.tensor(2.0),
            "text.cls_emb": torch.randn(768), "text.positional_embedding": torch.randn(128, 768),
            "text.ln_final.weight": torch.ones(768), "text.text_projection": torch.randn(768, 512)}


def _normalised(images: torch.Tensor, encoder) -> torch.Tensor:
    return (images - torch.tensor(encoder.mean).view(3, 1, 1)) / torch.tensor(encoder.std).view(3, 1, 1)


@pytest.mark.parametrize("name,dim", [("conch", 512), ("conch-v1.5", 768)])
def test_conch_towers_load_the_released_layout_strictly_and_give_the_documented_width(name: str, dim: int,
                                                                                     tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = build_encoder(name, random_weights=True, depth=1)
    small = _released_checkpoint(name, source.model)
    assert {key: tuple(small[key].shape) for key in PUBLISHED_SHAPES[name]} == PUBLISHED_SHAPES[name]
    assert all(key.startswith(CONCH_V1_TEXT_HALF) or key.removeprefix("visual.") in source.model.state_dict()
               for key in small)
    torch.save(small, tmp_path / "weights.bin")
    loaded = build_encoder(name, tmp_path / "weights.bin", depth=1)
    assert loaded.weights_sha256 == sha256_of(tmp_path / "weights.bin") and loaded.input_size == 448
    images = torch.rand(2, 3, 448, 448)
    with torch.no_grad():
        features = loaded.model(_normalised(images, loaded))
        torch.testing.assert_close(features, source.model(_normalised(images, source)))
    assert features.shape == (2, dim) == (2, loaded.dim)

    missing = {key: value for key, value in small.items() if not key.endswith("blocks.0.mlp.fc1.weight")}
    torch.save(missing, tmp_path / "missing.bin")
    with pytest.raises(MemambaError, match=r"1 missing key\(s\) \['trunk.blocks.0.mlp.fc1.weight'\]"):
        build_encoder(name, tmp_path / "missing.bin", depth=1)
    prefix = "visual." if name == "conch" else ""
    torch.save({**small, f"{prefix}trunk.head.weight": torch.zeros(2, 8)}, tmp_path / "extra.bin")
    with pytest.raises(MemambaError, match=r"1 unexpected key\(s\) \['trunk.head.weight'\]"):
        build_encoder(name, tmp_path / "extra.bin", depth=1)


def test_conch_uses_clip_normalisation_and_conch_v15_imagenets() -> None:
    conch, conch_v15 = build_encoder("conch", random_weights=True, depth=1), build_encoder("conch-v1.5", random_weights=True, depth=1)
    assert conch.mean == (0.48145466, 0.4578275, 0.40821073) and conch.std == (0.26862954, 0.26130258, 0.27577711)
    assert conch_v15.mean == (0.485, 0.456, 0.406) and conch_v15.std == (0.229, 0.224, 0.225)


def test_the_trunk_tokens_are_timms_at_the_stored_grid() -> None:
    torch.manual_seed(0)
    for name, side in (("conch", 448), ("conch-v1.5", 224)):
        tower = build_encoder(name, random_weights=True, depth=1).model
        images = torch.randn(2, 3, side, side)
        with torch.no_grad():
            torch.testing.assert_close(tower.tokens(images), tower.trunk.forward_features(images))


def test_position_grid_is_interpolated_as_dino_does() -> None:
    torch.manual_seed(0)
    stored = torch.randn(1, 1 + 14 * 14, 8)
    assert grid_positions(stored, 14, 14) is stored
    wider = grid_positions(stored, 28, 28)
    assert wider.shape == (1, 1 + 28 * 28, 8) and torch.equal(wider[:, 0], stored[:, 0])
    constant = torch.full((1, 1 + 14 * 14, 4), 0.25)
    torch.testing.assert_close(grid_positions(constant, 28, 20), torch.full((1, 1 + 28 * 20, 4), 0.25))
    grid = stored[:, 1:].reshape(1, 14, 14, 8).permute(0, 3, 1, 2)
    exact = nn.functional.interpolate(grid, size=(28, 28), mode="bicubic").permute(0, 2, 3, 1).reshape(1, -1, 8)
    assert not torch.allclose(wider[:, 1:], exact)     # the + 0.1 in the scale factor is DINO's, and it matters


def test_v15_checkpoint_on_another_square_grid_is_resampled_like_its_authors_loader(tmp_path: Path) -> None:
    from timm.layers import resample_abs_pos_embed

    torch.manual_seed(0)
    source = build_encoder("conch-v1.5", random_weights=True, depth=1).model
    state = dict(source.state_dict())
    state["trunk.pos_embed"] = torch.randn(1, 1 + 28 * 28, 1024)
    torch.save(state, tmp_path / "448.bin")
    loaded = build_encoder("conch-v1.5", tmp_path / "448.bin", depth=1).model
    expected = resample_abs_pos_embed(state["trunk.pos_embed"], new_size=[14, 14], num_prefix_tokens=1,
                                      interpolation="bilinear", antialias=False, verbose=False)
    torch.testing.assert_close(loaded.trunk.pos_embed.data, expected)
    state["trunk.pos_embed"] = torch.randn(1, 200, 1024)
    torch.save(state, tmp_path / "odd.bin")
    with pytest.raises(MemambaError, match=r"key\(s\) of another shape \['trunk.pos_embed'\]"):
        build_encoder("conch-v1.5", tmp_path / "odd.bin", depth=1)


def test_multihead_pooler_is_conchs_sequence_first_attention() -> None:
    torch.manual_seed(0)
    pooler = MultiheadAttentionPooler(16, 24, heads=4, queries=2)
    tokens = torch.randn(3, 10, 24)
    reference = nn.MultiheadAttention(16, 4, kdim=24, vdim=24)        # CONCH's: sequence first, no batch_first
    reference.load_state_dict(pooler.attn.state_dict())
    context = pooler.ln_k(tokens).permute(1, 0, 2)
    query = pooler.ln_q(pooler.query).unsqueeze(1).repeat(1, 3, 1)
    with torch.no_grad():
        expected = reference(query, context, context, need_weights=False)[0].permute(1, 0, 2)
        torch.testing.assert_close(pooler(tokens), expected)


def test_linear_pooler_is_softmax_attention_per_head() -> None:
    torch.manual_seed(0)
    pooler = LinearAttentionPooler(16, 24, heads=4, queries=1)
    tokens = torch.randn(3, 10, 24)
    with torch.no_grad():
        query = pooler.to_q(pooler.ln_q(pooler.query))                         # 1 x 16
        key, value = pooler.to_kv(pooler.ln_k(tokens)).chunk(2, dim=-1)         # 3 x 10 x 16 each
        heads = []
        for head in range(4):
            part = slice(4 * head, 4 * head + 4)
            weights = torch.softmax(query[:, part] @ key[..., part].transpose(1, 2) / 2.0, dim=-1)  # sqrt(4)
            heads.append(weights @ value[..., part])
        expected = pooler.to_out(torch.cat(heads, dim=-1))
        torch.testing.assert_close(pooler(tokens), expected)
