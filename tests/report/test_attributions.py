import numpy as np
import pytest
import torch

from memamba.models import ModelInputs, build_model, single
from memamba.report.attributions import attribution_table, integrated_gradients, per_family, summary_norms

INPUTS = ModelInputs(patch_dim=8, token_sizes=[4, 0, 3], n_bins=4)
TOKENS = [{"name": "a", "features": ["a1", "a2", "a3", "a4"]}, {"name": "empty", "features": []},
          {"name": "c", "features": ["c1", "c2", "c3"]}]


@pytest.mark.parametrize("model,params", [
    ("snn", {"hidden": 8, "depth": 2}), ("mcat", {"dim": 8}), ("abmil-snn", {"hidden": 8, "attention": 8, "omic_hidden": 8}),
])
def test_attributions_add_up_to_the_risk_minus_the_baseline_risk(model: str, params: dict) -> None:
    torch.manual_seed(0)
    network = build_model(model, INPUTS, params).double()
    batch = single(torch.randn(20, 8, dtype=torch.float64), torch.randn(7, dtype=torch.float64))
    attributions, at_patient, at_baseline = integrated_gradients(network, batch, steps=64)
    assert attributions.shape == (7,)
    assert attributions.sum() == pytest.approx(at_patient - at_baseline, abs=2e-3 * max(1.0, abs(at_patient - at_baseline)))


def test_a_family_whose_features_the_model_ignores_gets_nothing() -> None:
    torch.manual_seed(0)
    network = build_model("snn", INPUTS, {"hidden": 8, "depth": 1}).double()
    with torch.no_grad():
        network.genomics.layers[0][0].weight[:, 4:] = 0                  # the first layer ignores family c
    attributions, _, _ = integrated_gradients(network, single(None, torch.randn(7, dtype=torch.float64)))
    families = per_family(attributions, TOKENS)
    assert families[2] == 0 and families[1] == 0 and families[0] != 0


def test_memamba_summary_norms_and_the_long_table() -> None:
    torch.manual_seed(0)
    network = build_model("memamba", INPUTS, {"d_model": 8}).eval()
    norms = summary_norms(network, single(torch.randn(12, 8), torch.randn(7)), len(TOKENS))
    assert np.isnan(norms[1]) and (norms[[0, 2]] > 0).all()
    table = attribution_table(["p1", "p2"], ["a", "empty", "c"], np.arange(6.0).reshape(2, 3), np.array([[1.0, 0.5], [2.0, 0.5]]),
                              np.stack([norms, norms]))
    assert table.columns.tolist() == ["patient_id", "family", "attribution", "risk", "baseline_risk", "summary_norm"]
    assert table.loc[table.patient_id == "p2", "risk"].tolist() == [2.0, 2.0, 2.0]
    assert table.loc[(table.patient_id == "p2") & (table.family == "c"), "attribution"].item() == 5.0
