import pytest
import torch

from memamba.models import ModelInputs, build_model, collate, list_models, single
from memamba.models.registry import model_entry

INPUTS = ModelInputs(patch_dim=16, token_sizes=[5, 0, 7], n_bins=4)


@pytest.mark.parametrize("name", [m for m in list_models() if model_entry(m).trainer == "torch"])
def test_every_model_maps_a_patient_to_hazard_logits_and_learns(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, INPUTS, {})
    patches = torch.randn(30, 16) if "slides" in model_entry(name).modalities else None
    logits, auxiliary = model(single(patches, torch.randn(12)))
    assert logits.shape == (1, 4) and auxiliary.shape == ()
    (logits.sum() + auxiliary).backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", [m for m in list_models() if model_entry(m).trainer == "torch"])
def test_every_model_trains_under_bf16_autocast_and_in_float64(name: str) -> None:
    torch.manual_seed(0)
    uses_slides = "slides" in model_entry(name).modalities
    batch = collate([torch.randn(40, 16), torch.randn(25, 16)] if uses_slides else None, torch.randn(2, 12))
    model = build_model(name, INPUTS, {})
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, auxiliary = model(batch)
    (logits.float().sum() + auxiliary).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)
    wide = build_model(name, INPUTS, {}).double()
    wide.load_state_dict(model.state_dict())
    batch64 = collate(None if batch.patches is None else [batch.bag(0).double(), batch.bag(1).double()], batch.genomics.double())
    logits64, auxiliary64 = wide(batch64)
    (logits64.sum() + auxiliary64).backward()
    assert logits64.dtype == torch.float64
    assert all(p.grad is not None and p.grad.dtype == torch.float64 for p in wide.parameters() if p.requires_grad)
    model.float().eval(), wide.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(batch)[0].double(), wide(batch64)[0], rtol=1e-4, atol=1e-4)


def test_bag_size_does_not_matter_for_attention_mil() -> None:
    model = build_model("abmil", INPUTS, {}).eval()
    assert model(single(torch.randn(1, 16)))[0].shape == model(single(torch.randn(500, 16)))[0].shape


def test_unknown_model_and_bad_params_say_how_to_fix() -> None:
    with pytest.raises(KeyError, match="snn"):
        build_model("nope", INPUTS)
    with pytest.raises(TypeError, match="models.snn"):
        build_model("snn", INPUTS, {"widht": 3})


BLCA = ModelInputs(patch_dim=1024, token_sizes=[94, 334, 521, 468, 1496, 479], n_bins=4)   # MCAT's BLCA tokens


@pytest.mark.parametrize(("name", "reference", "parameters"), [
    ("snn", "MCAT SNN(model_size_omic='small')", 1_067_012),
    ("abmil", "MCAT MIL_Attention_FC_surv(size_arg='small')", 920_069),
    ("abmil-snn", "MCAT MIL_Attention_FC_surv(fusion='concat')", 2_051_589),
    ("mcat", "MCAT MCAT_Surv(fusion='concat')", 4_492_038),
    ("motcat", "MOTCat MOTCAT_Surv", 4_228_870),
    ("transmil", "TransMIL", 2_673_172),
    ("mambamil", "MambaMIL(act='gelu', layer=2, rate=10, type='SRMamba'), counted from its network.py", 4_228_869),
])
def test_defaults_have_the_reference_models_parameter_count(name: str, reference: str, parameters: int) -> None:
    model = build_model(name, BLCA, {})
    assert sum(p.numel() for p in model.parameters()) == parameters, reference


def test_the_snn_block_is_linear_elu_alpha_dropout_with_mcats_init() -> None:
    from memamba.models.baselines import init_max_weights, snn_block

    block = snn_block(2, 2, dropout=0.25).eval()
    with torch.no_grad():
        block[0].weight.copy_(torch.eye(2))
        block[0].bias.zero_()
    torch.testing.assert_close(block(torch.tensor([[-1.0, 2.0]])), torch.tensor([[torch.e ** -1 - 1, 2.0]]))
    assert isinstance(block[2], torch.nn.AlphaDropout) and block[2].p == 0.25
    torch.manual_seed(0)
    model = build_model("snn", BLCA, {})
    first = model.genomics.layers[0][0]
    assert abs(float(first.weight.std()) * 3392 ** 0.5 - 1) < 0.01 and not first.bias.any()
    layer = torch.nn.Linear(400, 300)
    init_max_weights(layer)
    assert abs(float(layer.weight.std()) * 20 - 1) < 0.02 and not layer.bias.any()


def test_attention_mil_of_identical_patches_is_rho_of_the_projection() -> None:
    model = build_model("abmil", INPUTS, {"hidden": 12, "attention": 8}).eval()
    patch = torch.randn(16)
    encoder = model.slides
    expected = model.head(encoder.rho(encoder.project(patch)))
    torch.testing.assert_close(model(single(patch.repeat(37, 1)))[0][0], expected)


def test_motcat_transports_as_motcat_does_with_pot() -> None:
    import numpy as np
    import ot

    from memamba.models.coattention import motcat_plan

    generator = torch.Generator().manual_seed(0)
    patches, tokens = torch.randn(9, 4, generator=generator), torch.randn(3, 4, generator=generator)
    path, genomic = (x.double() - x.double().min(-1, keepdim=True).values for x in (patches, tokens))
    cost = (torch.cdist(path, genomic) ** 2).numpy()                                  # MOTCat: (N patches, M tokens)
    as_motcat = ot.unbalanced.sinkhorn_knopp_unbalanced(a=ot.unif(9), b=ot.unif(3), M=cost / cost.max(), reg=0.1, reg_m=0.5,
                                                        reg_type="entropy")           # MOTCat's call, on its POT's regulariser
    converged = ot.unbalanced.sinkhorn_knopp_unbalanced(ot.unif(9), ot.unif(3), cost / cost.max(), reg=0.1, reg_m=0.5,
                                                        reg_type="entropy", numItermax=100_000, stopThr=1e-15)
    plan = motcat_plan(tokens, patches, epsilon=0.1, tau=0.5)
    np.testing.assert_allclose(plan.numpy(), as_motcat.T, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(plan.numpy(), converged.T, rtol=1e-4, atol=1e-8)
    assert (plan.sum(1) < 0.6).all()                  # raw mass (about 1/M per token), not rows normalised to 1
    model = build_model("motcat", ModelInputs(4, [2, 2, 2], 4), {"dim": 8}).eval()
    torch.testing.assert_close(model._summaries(tokens, patches), plan.float() @ patches)


def test_sr_mamba_with_rate_1_is_two_scans_of_the_same_order() -> None:
    from memamba.models.mamba import MambaBlock
    from memamba.models.mil import SRMamba

    torch.manual_seed(0)
    layer, block = SRMamba(8, rate=1, ssm_backend="torch"), MambaBlock(8, ssm_backend="torch")
    with torch.no_grad():
        for copy, original in ((layer.conv1d_b, layer.conv1d), (layer.x_proj_b, layer.x_proj), (layer.dt_proj_b, layer.dt_proj)):
            copy.load_state_dict(original.state_dict())
        layer.A_b_log.copy_(layer.A_log)
        layer.D_b.copy_(layer.D)
    block.load_state_dict({key: value for key, value in layer.state_dict().items() if key in block.state_dict()})
    x = torch.randn(2, 7, 8)
    torch.testing.assert_close(layer(x), 2 * block(x), rtol=1e-5, atol=1e-6)


def test_sr_mamba_reads_the_bag_with_stride_rate_after_zero_padding() -> None:
    from memamba.models.mil import SRMamba

    torch.manual_seed(0)
    layer = SRMamba(8, rate=3, ssm_backend="torch").eval()
    x = torch.randn(1, 8, 8)                     # 8 tokens, rows 3, padded to 9: stride order 0 3 6 | 1 4 7 | 2 5 (8)
    changed = x.clone()
    changed[0, 6] += 1.0                         # token 6 precedes token 1 in the stride order, follows it in the bag
    before, after = layer(x)[0], layer(changed)[0]
    torch.testing.assert_close(before[0], after[0])
    assert not torch.allclose(before[1], after[1])
    assert not torch.allclose(before[2], after[2]) and not torch.allclose(before[5], after[5])
