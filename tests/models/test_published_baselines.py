"""SurvPath, CMTA and PORPOISE's MMF against their authors' code: parameter counts at the published sizes, worked out
layer by layer from the reference files, and known answers of their distinctive parts."""

from pathlib import Path

import pandas as pd
import pytest
import torch

from memamba.models import ModelInputs, build_model, collate, single
from memamba.models.patch_scores import patch_scores

BLCA = ModelInputs(patch_dim=1024, token_sizes=[94, 334, 521, 468, 1496, 479], n_bins=4)   # MCAT's BLCA tokens
COMBINE = Path(__file__).parents[2].parent / "shared" / "data" / "tcga" / "signatures" / "survpath_combine_comps.csv.gz"


def linear(fan_in: int, fan_out: int, bias: bool = True) -> int:
    return fan_in * fan_out + (fan_out if bias else 0)


def survpath_reference(sizes: list[int], wsi: int = 1024) -> int:
    """``SurvPath(omic_sizes, wsi_embedding_dim)`` of mahmoodlab/SurvPath models/model_SurvPath.py, layer by layer."""
    pathways = sum(linear(size, 256) + linear(256, 256) for size in sizes)          # sig_networks: two SNN_Blocks each
    attention = 2 * 256 + linear(256, 3 * 128, bias=False)                            # MMAttentionLayer: norm, to_qkv
    feed_forward = 2 * 128 + 2 * linear(128, 128)                                     # FeedForward(128): norm, two Linear
    return linear(wsi, 256) + pathways + attention + feed_forward + 2 * 128 + linear(256, 64) + linear(64, 4)


def nystrom_layer(dim: int = 256) -> int:
    """CMTA's TransLayer: LayerNorm + NystromAttention(heads 8, residual conv 33, to_out)."""
    return 2 * dim + linear(dim, 3 * dim, bias=False) + linear(dim, dim) + 8 * 33


def cmta_reference(sizes: list[int], fusion: str = "concat", wsi: int = 1024) -> int:
    """``CMTA(omic_sizes, fusion, model_size='small')`` of FT-ZHOU-ZZZ/CMTA models/cmta/network.py."""
    pathomics_fc = linear(wsi, 256) + linear(256, 256)
    genomics_fc = sum(linear(size, 1024) + linear(1024, 256) for size in sizes)
    ppeg = 256 * (49 + 25 + 9) + 3 * 256
    transformer_g = 256 + 2 * nystrom_layer() + 2 * 256                               # cls, two layers, norm
    transformer_p = transformer_g + ppeg
    attention = 3 * 256 * 256 + 3 * 256 + linear(256, 256)                            # MultiheadAttention(256, 1)
    mm = linear(512, 256) + linear(256, 256) if fusion == "concat" else bilinear_reference(skip=False)
    return pathomics_fc + genomics_fc + 2 * transformer_p + 2 * transformer_g + 2 * attention + mm + linear(256, 4)


def bilinear_reference(skip: bool) -> int:
    """``BilinearFusion(dim1=256, dim2=256, scale_dim1=8, scale_dim2=8, mmhid=256, skip)`` (PORPOISE's and CMTA's)."""
    gate = linear(256, 32) + linear(512, 32) + linear(32, 32)                         # linear_h, linear_z, linear_o
    return 2 * gate + linear(33 * 33, 256) + linear(256 + (512 if skip else 0), 256)


def porpoise_reference(omic_input_dim: int, fusion: str = "bilinear", wsi: int = 1024) -> int:
    """``PorpoiseMMF(omic_input_dim, fusion)`` of mahmoodlab/PORPOISE models/model_porpoise.py (class defaults: both
    gates, skip, dropinput 0.1, size 'small')."""
    attention_net = linear(wsi, 512) + 2 * linear(512, 256) + linear(256, 1)
    fc_omic = linear(omic_input_dim, 256) + linear(256, 256)
    mm = bilinear_reference(skip=True) if fusion == "bilinear" else linear(512, 256) + linear(256, 256)
    return attention_net + linear(512, 256) + fc_omic + mm + linear(256, 4)


def parameters(name: str, inputs: ModelInputs, settings: dict | None = None) -> int:
    return sum(p.numel() for p in build_model(name, inputs, settings or {}).parameters())


@pytest.mark.parametrize(("name", "settings", "reference", "count"), [
    ("survpath", {}, survpath_reference(BLCA.token_sizes), 1_676_100),
    ("cmta", {}, cmta_reference(BLCA.token_sizes), 8_259_140),
    ("cmta", {"fusion": "bilinear"}, cmta_reference(BLCA.token_sizes, "bilinear"), 8_458_244),
    ("porpoise", {}, porpoise_reference(sum(BLCA.token_sizes)), 2_381_765),
    ("porpoise", {"fusion": "concat"}, porpoise_reference(sum(BLCA.token_sizes), "concat"), 2_051_589),
])
def test_the_published_sizes_have_the_reference_parameter_count(name: str, settings: dict, reference: int, count: int) -> None:
    assert parameters(name, BLCA, settings) == reference == count


@pytest.mark.skipif(not COMBINE.is_file(), reason="needs ../shared/data (SurvPath's combine_comps.csv)")
def test_survpath_on_its_331_combine_pathways_has_the_reference_count() -> None:
    sizes = pd.read_csv(COMBINE).iloc[:, 1:].sum().astype(int).tolist()
    assert len(sizes) == 331 and sum(sizes) > 4999
    inputs = ModelInputs(patch_dim=1024, token_sizes=sizes, n_bins=4)
    assert parameters("survpath", inputs) == survpath_reference(sizes)


def test_survpath_attention_is_masked_full_attention_without_patch_to_patch() -> None:
    torch.manual_seed(0)
    model = build_model("survpath", ModelInputs(6, [3, 0, 4], 4), {"dim": 16}).eval()
    pathways, patches = torch.randn(2, 16), torch.randn(5, 16)
    out_pathways, out_patches, weights = model.attention(pathways, patches)
    q, k, v = model.to_qkv(model.norm(torch.cat([pathways, patches]))).chunk(3, dim=-1)
    scores = q @ k.T / 8 ** 0.5
    scores[2:, 2:] = float("-inf")                                    # SurvPath computes no patch-to-patch similarity
    expected = torch.softmax(scores, dim=-1) @ v
    torch.testing.assert_close(torch.cat([out_pathways, out_patches]), expected)
    torch.testing.assert_close(weights, torch.softmax(scores, dim=-1)[:2, 2:])
    moved = patches.clone()
    moved[4] += 10
    torch.testing.assert_close(model.attention(pathways, moved)[1][:4], out_patches[:4])   # a patch never sees another


def test_survpath_patch_scores_are_the_pathways_mean_attention_on_each_patch() -> None:
    torch.manual_seed(0)
    model = build_model("survpath", ModelInputs(6, [3, 4], 4), {"dim": 16})
    batch = single(torch.randn(9, 6), torch.randn(7))
    scores = patch_scores(model, batch, ["a", "b"])["pathway_attention"]
    pathway_tokens = model.pathways(batch.genomics[0])
    q, k, _ = model.to_qkv(model.norm(torch.cat([pathway_tokens, model.patch_project(batch.bag(0))]))).chunk(3, dim=-1)
    expected = torch.softmax(q[:2] @ k.T / 8 ** 0.5, dim=-1)[:, 2:].mean(0)
    torch.testing.assert_close(scores, expected.detach())
    assert float(scores.sum()) < 1                                    # the pathways keep some attention for themselves


def test_bilinear_fusion_feeds_the_kronecker_product_of_the_gated_embeddings_with_a_one_appended() -> None:
    from memamba.models.fusion import BilinearFusion

    torch.manual_seed(0)
    fusion = BilinearFusion(4, 6, scale1=2, scale2=3, out=5, gates=True, skip=True).eval()
    first, second = torch.randn(3, 4), torch.randn(3, 6)
    both = torch.cat([first, second], -1)
    o1 = fusion.out1(torch.sigmoid(fusion.gate1(both)) * fusion.reduce1(first))
    o2 = fusion.out2(torch.sigmoid(fusion.gate2(both)) * fusion.reduce2(second))
    kron = torch.stack([torch.kron(torch.cat([a, a.new_ones(1)]), torch.cat([b, b.new_ones(1)])) for a, b in zip(o1, o2)])
    expected = fusion.encoder2(torch.cat([fusion.encoder1(kron), first, second], -1))
    torch.testing.assert_close(fusion(first, second), expected)


def test_porpoise_of_identical_patches_fuses_rho_of_the_projection_with_the_snn() -> None:
    torch.manual_seed(0)
    model = build_model("porpoise", ModelInputs(16, [5, 7], 4), {"hidden": 12, "attention": 8, "omic_hidden": 8}).eval()
    patch, genomics = torch.randn(16), torch.randn(12)
    slides = model.slides.rho(model.slides.project(patch))[None]
    expected = model.head(model.fusion(slides, model.genomics(genomics[None])))[0]
    torch.testing.assert_close(model(single(patch.repeat(23, 1), genomics))[0][0], expected)
    torch.testing.assert_close(patch_scores(model, single(patch.repeat(23, 1), genomics), ["a", "b"])["attention_scores"],
                               torch.full((23,), 1 / 23))


def test_porpoise_l1_weight_penalises_the_genomic_snn_and_the_fusion_only() -> None:
    torch.manual_seed(0)
    model = build_model("porpoise", ModelInputs(16, [5, 7], 4), {"hidden": 12, "attention": 8, "omic_hidden": 8,
                                                                    "l1_weight": 1e-3})
    _, penalty = model(single(torch.randn(10, 16), torch.randn(12)))
    weights = [p for module in (model.genomics, model.fusion) for p in module.parameters()]
    torch.testing.assert_close(penalty, 1e-3 * sum(p.abs().sum() for p in weights))
    penalty.backward()
    assert all(p.grad is None for p in model.slides.parameters())
    assert float(build_model("porpoise", ModelInputs(16, [5, 7], 4), {})(single(torch.randn(3, 16), torch.randn(12)))[1]) == 0


def test_cmta_alignment_loss_is_the_weighted_l1_between_encoder_and_decoder_class_tokens() -> None:
    import torch.nn.functional as F

    torch.manual_seed(0)
    inputs = ModelInputs(6, [3, 4], 4)
    model = build_model("cmta", inputs, {"dim": 16, "omic_hidden": 8, "alignment_weight": 2.5}).eval()
    patches, genomics = torch.randn(7, 6), torch.randn(7)
    parts = model.translations(patches, model.token_embed(genomics))
    expected = 2.5 * (F.l1_loss(model.pathology_decoder(parts["in_genomics"])[:, 0], parts["pathology_cls"])
                      + F.l1_loss(model.genomic_decoder(parts["in_patches"])[:, 0], parts["genomic_cls"]))
    torch.testing.assert_close(model(single(patches, genomics))[1], expected)
    two = collate([patches, torch.randn(3, 6)], torch.stack([genomics, torch.randn(7)]))
    _, both = model(two)
    singles = [model(single(two.bag(row), two.genomics[row]))[1] for row in range(2)]
    torch.testing.assert_close(both, (singles[0] + singles[1]) / 2)          # the mean over the batch's patients


def test_cmta_alignment_trains_the_decoders_and_leaves_the_fusion_and_head_alone() -> None:
    torch.manual_seed(0)
    model = build_model("cmta", ModelInputs(6, [3, 4], 4), {"dim": 16, "omic_hidden": 8})
    model(single(torch.randn(7, 6), torch.randn(7)))[1].backward()
    assert model.pathology_decoder.cls.grad.abs().sum() > 0 and model.genomic_decoder.cls.grad.abs().sum() > 0
    assert model.head.weight.grad is None and all(p.grad is None for p in model.fusion.parameters())
    model.zero_grad(set_to_none=True)
    off = build_model("cmta", ModelInputs(6, [3, 4], 4), {"dim": 16, "omic_hidden": 8, "alignment_weight": 0.0})
    assert float(off(single(torch.randn(7, 6), torch.randn(7)))[1].detach()) == 0


def test_cmta_patch_scores_fold_the_squared_bags_copies_back_onto_their_patches() -> None:
    torch.manual_seed(0)
    model = build_model("cmta", ModelInputs(6, [3, 0, 4], 4), {"dim": 16, "omic_hidden": 8})
    batch = single(torch.randn(7, 6), torch.randn(7))                 # 7 patches: squared to 9, patches 0 and 1 copied
    scores = patch_scores(model, batch, ["a", "b", "c"])
    assert sorted(scores) == ["coattention/a", "coattention/c"]
    model.eval()
    with torch.no_grad():
        weights = model.translations(batch.bag(0), model.token_embed(batch.genomics[0]))["weights"][0]
    for row, name in enumerate(["coattention/a", "coattention/c"]):
        assert scores[name].shape == (7,)
        torch.testing.assert_close(scores[name].sum(), torch.tensor(1.0))
        torch.testing.assert_close(scores[name][:2], weights[row, :2] + weights[row, 7:])
        torch.testing.assert_close(scores[name][2:], weights[row, 2:7])


def test_cmta_initialises_every_linear_xavier_normal_with_zero_bias() -> None:
    torch.manual_seed(0)
    model = build_model("cmta", BLCA, {})
    layer = model.patch_embed[0]
    assert abs(float(layer.weight.std()) / (2 / (1024 + 256)) ** 0.5 - 1) < 0.02 and not layer.bias.any()
    assert not model.genomics_in_patches.out_proj.bias.any() and float(model.pathology_encoder.cls.abs().max()) < 1e-4
