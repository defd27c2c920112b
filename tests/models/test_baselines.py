import pytest
import torch

from memamba.models import ModelInputs, build_model, list_models, single
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


def test_bag_size_does_not_matter_for_attention_mil() -> None:
    model = build_model("abmil", INPUTS, {}).eval()
    assert model(single(torch.randn(1, 16)))[0].shape == model(single(torch.randn(500, 16)))[0].shape


def test_unknown_model_and_bad_params_say_how_to_fix() -> None:
    with pytest.raises(KeyError, match="snn"):
        build_model("nope", INPUTS)
    with pytest.raises(TypeError, match="models.snn"):
        build_model("snn", INPUTS, {"widht": 3})
