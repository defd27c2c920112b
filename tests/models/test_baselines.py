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
