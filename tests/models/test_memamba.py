import pytest
import torch

from memamba.models import ModelInputs, build_model, single
from memamba.models.experts import DualScanLayer, SynergisticExpert, effective_patches, rbf_mmd, unbalanced_sinkhorn_plan

INPUTS = ModelInputs(patch_dim=16, token_sizes=[5, 0, 7, 3], n_bins=4)


def test_memamba_forward_skips_empty_tokens_and_trains_every_parameter() -> None:
    torch.manual_seed(0)
    model = build_model("memamba", INPUTS, {"d_model": 16})
    logits, auxiliary = model(single(torch.randn(40, 16), torch.randn(15)))
    assert logits.shape == (1, 4) and auxiliary.item() >= 0
    (logits.sum() + auxiliary).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def test_memamba_is_deterministic_with_a_seed() -> None:
    outputs = []
    for _ in range(2):
        torch.manual_seed(7)
        model = build_model("memamba", INPUTS, {"d_model": 16}).eval()
        torch.manual_seed(1)
        outputs.append(model(single(torch.randn(25, 16), torch.randn(15)))[0])
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=0)


def test_unbalanced_plan_has_near_uniform_marginals_and_prefers_cheap_pairs() -> None:
    torch.manual_seed(0)
    cost = torch.rand(6, 40)
    cost[2, 5] = 0.0
    plan = unbalanced_sinkhorn_plan(cost, epsilon=0.05, tau=10.0, iterations=300)
    torch.testing.assert_close(plan.sum(1), torch.full((6,), 1 / 6), atol=0.02, rtol=0)
    torch.testing.assert_close(plan.sum(0), torch.full((40,), 1 / 40), atol=0.01, rtol=0)
    assert plan[2, 5] > 0.9 * plan[:, 5].sum()


def test_the_batched_masked_plan_equals_pots_unbalanced_sinkhorn_patient_by_patient() -> None:
    import numpy as np
    import ot

    generator = torch.Generator().manual_seed(1)
    cost = torch.rand(3, 4, 9, generator=generator, dtype=torch.float64)
    mask = torch.ones(3, 9, dtype=torch.bool)
    mask[1, 6:] = False
    mask[2, 2:] = False
    plans = unbalanced_sinkhorn_plan(cost, 0.1, 0.5, iterations=20_000, tolerance=1e-13, column_mask=mask)
    for patient in range(3):
        real = int(mask[patient].sum())
        expected = ot.unbalanced.sinkhorn_knopp_unbalanced(ot.unif(4), ot.unif(real), cost[patient, :, :real].numpy(), reg=0.1,
                                                           reg_m=0.5, reg_type="entropy", numItermax=100_000, stopThr=1e-15)
        np.testing.assert_allclose(plans[patient, :, :real].numpy(), expected, rtol=1e-7, atol=1e-13)
        assert not plans[patient, :, real:].any()


def test_the_mmd_is_the_u_statistic_zero_in_expectation_for_one_distribution_and_grows_with_a_shift() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(7, 3), torch.randn(5, 3) + 0.3
    pooled = torch.cat([x, y])
    squared = torch.cdist(pooled, pooled).pow(2)
    kernel = sum(torch.exp(-squared / (squared.mean() * m)) for m in (0.25, 0.5, 1.0, 2.0, 4.0))
    within_x = sum(kernel[i, j] for i in range(7) for j in range(7) if i != j) / 42
    within_y = sum(kernel[7 + i, 7 + j] for i in range(5) for j in range(5) if i != j) / 20
    between = sum(kernel[i, 7 + j] for i in range(7) for j in range(5)) / 35
    torch.testing.assert_close(rbf_mmd(x, y), within_x + within_y - 2 * between)
    same = torch.stack([rbf_mmd(torch.randn(1024, 16), torch.randn(6, 16)) for _ in range(200)])
    assert same.mean().abs() < 3 * same.std() / 200 ** 0.5              # unbiased (the V-statistic's mean was 0.51)
    shifted = torch.stack([rbf_mmd(torch.randn(1024, 16), torch.randn(6, 16) + 1.0) for _ in range(50)])
    assert shifted.mean() > 10 * same.std() / 200 ** 0.5 and shifted.mean() > 0


def test_synergy_summaries_live_in_the_span_of_patch_tokens() -> None:
    patches = torch.eye(4)[None]
    summaries, _ = SynergisticExpert()(patches, torch.ones(1, 4, dtype=torch.bool), torch.eye(4)[None, :2] * 0.9)
    torch.testing.assert_close(summaries[0].sum(1), torch.ones(2))
    assert summaries[0, 0].argmax() == 0 and summaries[0, 1].argmax() == 1


def test_masked_columns_get_no_transport_mass_and_leave_the_plan_unchanged() -> None:
    torch.manual_seed(0)
    cost = torch.rand(5, 30)
    alone = unbalanced_sinkhorn_plan(cost, 0.1, 0.5)
    padded = torch.cat([cost, torch.rand(5, 12)], dim=1)[None]
    mask = torch.arange(42)[None] < 30
    plan = unbalanced_sinkhorn_plan(padded, 0.1, 0.5, column_mask=mask)[0]
    assert plan[:, 30:].abs().max() == 0
    torch.testing.assert_close(plan[:, :30], alone, rtol=1e-5, atol=1e-7)


def test_masked_mmd_equals_the_mmd_of_the_real_rows() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(20, 8), torch.randn(6, 8) + 1.0
    padded = torch.cat([x, torch.randn(9, 8) * 50])[None]
    mask = torch.arange(29)[None] < 20
    torch.testing.assert_close(rbf_mmd(padded, y[None], mask)[0], rbf_mmd(x, y), rtol=1e-5, atol=1e-7)


def test_dual_scan_attention_order_is_permutation_equivariant_but_conventional_order_matters() -> None:
    torch.manual_seed(0)
    layer = DualScanLayer(8, dropout=0.0).eval()
    x = torch.randn(1, 12, 8)
    permutation = torch.randperm(12)
    with torch.no_grad():
        base = layer(x)
        permuted = layer(x[:, permutation])
        layer.conventional.out_proj.weight.zero_()
        equivariant_base = layer(x)
        equivariant_permuted = layer(x[:, permutation])
    assert not torch.allclose(base[:, permutation], permuted, atol=1e-4)
    torch.testing.assert_close(equivariant_base[:, permutation], equivariant_permuted, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("patches", [1, 3])
def test_tiny_bags_work(patches: int) -> None:
    model = build_model("memamba", INPUTS, {"d_model": 8}).eval()
    assert model(single(torch.randn(patches, 16), torch.randn(15)))[0].shape == (1, 4)


def test_mmd_uses_a_bounded_sample_of_real_patch_tokens() -> None:
    torch.manual_seed(0)
    expert = SynergisticExpert(mmd_max_patches=50)
    patches, genes = torch.randn(2, 400, 8), torch.randn(2, 6, 8)
    mask = torch.ones(2, 400, dtype=torch.bool)
    mask[1, 30:] = False
    expert.eval()
    assert torch.equal(expert(patches, mask, genes)[1], expert(patches, mask, genes)[1])
    sample, sample_mask = expert.mmd_sample(patches, mask)
    assert sample.shape == (2, 50, 8) and sample_mask[0].all() and sample_mask[1].sum() == 30
    torch.testing.assert_close(sample[1, :30], patches[1, :30])
    expert.train()
    first, second = expert.mmd_sample(patches, mask), expert.mmd_sample(patches, mask)
    assert not torch.equal(first[0][0], second[0][0])
    assert second[1][1].sum() == 30 and torch.equal(second[0][1][second[1][1]].sort(0).values, patches[1, :30].sort(0).values)


@pytest.mark.parametrize("ablation,auxiliary_is_zero", [
    ({"use_ot": False}, False), ({"mmd_weight": 0.0}, True), ({"scan_orders": "conventional"}, False),
    ({"scan_orders": "attention"}, False), ({"ot_cost_scale": "max"}, False), ({"experts": "genomics"}, True), ({"experts": "pathology"}, True),
    ({"readout": "attention"}, False), ({"readout": "attention", "experts": "genomics"}, True),
])
def test_ablations_are_config_variants_that_train_every_parameter(ablation: dict, auxiliary_is_zero: bool) -> None:
    torch.manual_seed(0)
    model = build_model("memamba-ablation", INPUTS, {"base": "memamba", "d_model": 16, **ablation})
    patches = None if ablation.get("experts") == "genomics" else torch.randn(30, 16)
    logits, auxiliary = model(single(patches, torch.randn(15)))
    assert logits.shape == (1, 4) and (auxiliary.item() == 0) == auxiliary_is_zero
    (logits.sum() + auxiliary).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_without_ot_every_summary_is_the_mean_patch_token() -> None:
    patches = torch.randn(1, 9, 4)
    mask = torch.ones(1, 9, dtype=torch.bool)
    mask[0, 6:] = False
    summaries, _ = SynergisticExpert(use_ot=False)(patches, mask, torch.randn(1, 3, 4))
    torch.testing.assert_close(summaries[0], patches[0, :6].mean(0).expand(3, 4))


def _spread(expert: SynergisticExpert, patches: torch.Tensor, genes: torch.Tensor) -> float:
    """Median fraction of the patches each genomic token's summary draws on, from one evaluation pass."""
    expert.eval()(patches, torch.ones(patches.shape[:2], dtype=torch.bool), genes)
    return float(expert.transport_summary().split()[1])


def test_one_far_off_patch_flattens_maxnormalised_plans_but_not_mediannormalised_ones() -> None:
    torch.manual_seed(0)
    patches, genes = torch.randn(1, 1000, 16), torch.randn(1, 6, 16)
    artefact = torch.cat([patches, torch.full((1, 1, 16), 40.0)], dim=1)
    median_scaled, max_scaled = SynergisticExpert(cost_scale="median"), SynergisticExpert(cost_scale="max")
    assert _spread(median_scaled, patches, genes) < 0.7
    assert abs(_spread(median_scaled, artefact, genes) - _spread(median_scaled, patches, genes)) < 0.03
    assert _spread(max_scaled, artefact, genes) > 0.99            # every summary ~ the mean patch


def test_mediannormalised_plans_are_as_concentrated_for_a_bag_twice_as_large() -> None:
    torch.manual_seed(0)
    patches, genes = torch.randn(1, 500, 16), torch.randn(1, 6, 16)
    expert = SynergisticExpert()
    mask = torch.ones(1, 500, dtype=torch.bool)
    twice = torch.cat([patches, patches], dim=1)
    torch.testing.assert_close(expert(twice, torch.ones(1, 1000, dtype=torch.bool), genes)[0],
                               expert(patches, mask, genes)[0], rtol=1e-4, atol=1e-5)
    assert _spread(expert, twice, genes) == pytest.approx(_spread(expert, patches, genes), abs=1e-3)


def test_unknown_ablation_values_are_refused() -> None:
    with pytest.raises(ValueError, match="experts must be one of"):
        build_model("memamba", INPUTS, {"experts": "both"})
    with pytest.raises(ValueError, match="scan_orders must be one of"):
        build_model("memamba", INPUTS, {"scan_orders": "reverse"})
    with pytest.raises(ValueError, match="ot_cost_scale must be one of"):
        build_model("memamba", INPUTS, {"ot_cost_scale": "mean"})
    with pytest.raises(ValueError, match="readout must be one of"):
        build_model("memamba", INPUTS, {"readout": "max"})
    with pytest.raises(ValueError, match="readout 'concat' needs a sequence of fixed length"):
        build_model("memamba-pathology", INPUTS, {"readout": "concat"})


def test_the_default_readout_is_concat_where_the_fused_sequence_has_a_fixed_length_and_attention_otherwise() -> None:
    for name, readout in (("memamba", "concat"), ("memamba-genomics", "concat"), ("memamba-pathology", "attention")):
        assert build_model(name, INPUTS, {"d_model": 8}).backbone.readout == readout
    variant = build_model("memamba-pathology-only", INPUTS, {"base": "memamba", "d_model": 8, "experts": "pathology"})
    assert variant.backbone.readout == "attention" and variant.head.in_features == 8


def test_concat_readout_gives_each_fused_token_its_own_head_weights() -> None:
    torch.manual_seed(0)
    model = build_model("memamba-genomics", INPUTS, {"d_model": 8}).eval()
    assert model.head.in_features == 3 * 8 and model.backbone.pool is None       # three non-empty families
    full = build_model("memamba", INPUTS, {"d_model": 8})
    assert full.head.in_features == 2 * 3 * 8                                      # (genomic token, summary) pairs
    genes = torch.randn(3, 15)
    with torch.no_grad():
        tokens = model.genomics(genes)
        torch.testing.assert_close(model(single(None, genes[0]))[0], model.head(model.backbone(tokens[:1])))
        assert model.backbone(tokens).shape == (3, 24)


def test_effective_patches_count_the_patches_a_summary_draws_on_and_evaluation_records_them() -> None:
    uniform, single_patch = torch.full((1, 2, 8), 1 / 8), torch.zeros(1, 2, 8)
    single_patch[..., 3] = 1
    torch.testing.assert_close(effective_patches(uniform), torch.full((1, 2), 8.0))
    torch.testing.assert_close(effective_patches(single_patch), torch.ones(1, 2))
    expert = SynergisticExpert().eval()
    patches, mask = torch.randn(2, 9, 4), torch.ones(2, 9, dtype=torch.bool)
    mask[1, 5:] = False
    expert(patches, mask, torch.randn(2, 3, 4))
    summary = expert.transport_summary()
    assert summary is not None and "over 2 patients" in summary and expert.transport_summary() is None
    expert.train()(patches, mask, torch.randn(2, 3, 4))
    assert expert.transport_summary() is None                  # training steps are not recorded


def test_the_attention_scan_reads_the_same_order_under_bf16_autocast_as_in_float32() -> None:
    torch.manual_seed(0)
    layer = DualScanLayer(64).eval()
    tokens = layer.norm(torch.randn(2, 2000, 64))
    mask = torch.ones(2, 2000, dtype=torch.bool)
    mask[1, 1500:] = False
    full_score, full_order = layer.scan_order(tokens, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast_score, autocast_order = layer.scan_order(tokens, mask)
        assert layer.score(tokens).dtype == torch.bfloat16            # what the order was computed from before
    assert autocast_score.dtype == torch.float32 and torch.equal(autocast_order, full_order)
    assert torch.equal(autocast_score, full_score) and len(torch.unique(autocast_score[0])) == 2000
