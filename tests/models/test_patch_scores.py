import pytest
import torch

from memamba.errors import MemambaError
from memamba.models import ModelInputs, build_model, single
from memamba.models.patch_scores import patch_scores

INPUTS = ModelInputs(patch_dim=16, token_sizes=[5, 0, 7, 3], n_bins=4)
FAMILIES = ["tumour suppressors", "oncogenes", "kinases", "cytokines"]


def _patient(n: int = 37) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return torch.randn(n, 16), torch.randn(15)


@pytest.mark.parametrize("model,params,heads", [
    ("abmil", {"hidden": 16, "attention": 8}, ["attention_scores"]),
    ("abmil-snn", {"hidden": 16, "attention": 8, "omic_hidden": 8}, ["attention_scores"]),
    ("mambamil", {"dim": 16}, ["attention_scores"]),
    ("mcat", {"dim": 16}, ["coattention/tumour suppressors", "coattention/kinases", "coattention/cytokines"]),
    ("motcat", {"dim": 16}, ["transport/tumour suppressors", "transport/kinases", "transport/cytokines"]),
    ("memamba", {"d_model": 16, "pathology_layers": 2}, ["attention_scan_layer_0", "attention_scan_layer_1",
                                                          "transport/tumour suppressors", "transport/kinases", "transport/cytokines"]),
])
def test_every_head_scores_every_patch_of_the_bag(model: str, params: dict, heads: list[str]) -> None:
    patches, genomics = _patient()
    scores = patch_scores(build_model(model, INPUTS, params), single(patches, genomics), FAMILIES)
    assert list(scores) == heads
    for head, score in scores.items():
        assert score.shape == (37,) and torch.isfinite(score).all() and (score >= 0).all()
        if head == "attention_scores" or head.startswith("coattention/") or (model == "memamba" and head.startswith("transport/")):
            assert score.sum().item() == pytest.approx(1.0, abs=1e-5)


def test_abmil_scores_are_the_weights_its_pool_averages_with() -> None:
    patches, genomics = _patient()
    model = build_model("abmil", INPUTS, {"hidden": 16, "attention": 8}).eval()
    scores = patch_scores(model, single(patches, genomics), FAMILIES)["attention_scores"]
    with torch.no_grad():
        projected = model.slides.project(patches[None])
        pooled = model.slides.pool(projected, torch.ones(1, 37, dtype=torch.bool))[0]
    torch.testing.assert_close(scores @ projected[0], pooled, rtol=1e-5, atol=1e-6)


def test_memamba_transport_scores_are_the_weights_of_its_summaries() -> None:
    patches, genomics = _patient()
    model = build_model("memamba", INPUTS, {"d_model": 16}).eval()
    batch = single(patches, genomics)
    scores = patch_scores(model, batch, FAMILIES)
    with torch.no_grad():
        patch_tokens = model.pathology(batch.patches, batch.patch_mask)
        summaries, _ = model.synergy(patch_tokens, batch.patch_mask, model.genomics(batch.genomics))
    torch.testing.assert_close(scores["transport/kinases"] @ patch_tokens[0], summaries[0, 1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model,params", [("transmil", {"dim": 16, "heads": 2}), ("snn", {"hidden": 8})])
def test_models_without_a_patch_score_say_so(model: str, params: dict) -> None:
    patches, genomics = _patient()
    with pytest.raises(MemambaError, match="computes no per-patch score of its own"):
        patch_scores(build_model(model, INPUTS, params), single(patches if model != "snn" else None, genomics), FAMILIES)
