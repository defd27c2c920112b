from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from memamba.data.bags import PatchBags
from memamba.data.cohort import Cohort
from memamba.errors import MemambaError
from memamba.models import ModelInputs, build_model
from memamba.survival.metrics import harrell_c
from memamba.train.loop import compute_settings, parameter_groups, train_fold
from memamba.train.transforms import CountsVst, GenomicTransform, RunningMoments, Standardiser, fit_counts_vst, genomic_matrix, rna_to_log

TRAIN = {"epochs": 8, "lr": 1e-3, "weight_decay": 1e-4, "alpha": 0.15, "n_bins": 4, "seed": 0, "batch_size": 1,
         "accumulate": 1, "optimizer": "adam", "weighted_sampling": False, "amp": False, "inner_val_fraction": 0.0,
         "early_stopping_patience": 0}


def _survival(rng: np.random.Generator, risk: np.ndarray, effect: float, censor_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Exponential event times with hazard 0.02 exp(effect * risk) and uniform censoring: (time, event)."""
    event_time = rng.exponential(1 / (0.02 * np.exp(effect * risk)))
    censor = rng.uniform(*censor_range, len(risk))
    return np.minimum(event_time, censor), (event_time <= censor).astype(int)


def _cohort(folder: Path, survival: tuple[np.ndarray, np.ndarray], genes: dict[str, np.ndarray], bags: list[np.ndarray]) -> Cohort:
    """A Cohort of these patients with two CNV tokens, each half of the genes, and their bags in feature files in ``folder``."""
    patients = [f"P{i:03d}" for i in range(len(bags))]
    for patient, bag in zip(patients, bags):
        with h5py.File(folder / f"{patient}.h5", "w") as h5:
            h5["features"] = bag
    names = list(genes)
    half = len(names) // 2
    return Cohort(patients=patients, time=survival[0], event=survival[1],
                  bags=PatchBags.from_files([[folder / f"{p}.h5"] for p in patients]), genomics=pd.DataFrame(genes, index=patients),
                  tokens=[{"name": "a", "features": names[:half]}, {"name": "b", "features": names[half:]}],
                  genomic_kinds={"cnv": "gistic"})


def planted_cohort(folder: Path, n: int = 240, seed: int = 0) -> tuple[Cohort, np.ndarray]:
    """Genomic features and patch features carry a latent risk that sets exponential survival times."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    survival = _survival(rng, risk, 1.5, (6, 120))
    genes = {f"G{j}_cnv": risk * (1 if j < 5 else 0) + rng.normal(0, 0.7, n) for j in range(10)}
    bags = [rng.normal(0.8 * r, 1.0, (int(rng.integers(5, 30)), 8)).astype(np.float32) for r in risk]
    return _cohort(folder, survival, genes, bags), risk


def planted_mil_cohort(folder: Path, n: int, seed: int = 0) -> tuple[Cohort, np.ndarray]:
    """A strong latent risk (hazard exp(3 r)) shown by the share of 'tumour' patches in each bag and by 4 of 12 genes."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    survival = _survival(rng, risk, 3.0, (12, 240))
    genes = {f"G{j}_cnv": risk * (j < 4) + rng.normal(0, 1.0, n) for j in range(12)}
    bags = []
    for r in risk:
        bag = rng.normal(0, 1.0, (int(rng.integers(20, 80)), 8)).astype(np.float32)
        bag[rng.random(len(bag)) < 1 / (1 + np.exp(-1.5 * r)), :2] += 1.5
        bags.append(bag)
    return _cohort(folder, survival, genes, bags), risk


def test_memamba_learns_a_planted_signal_to_c_index_above_0_8_on_held_out_patients(tmp_path: Path) -> None:
    cohort, risk = planted_mil_cohort(tmp_path, 400)
    params = {**TRAIN, "epochs": 10, "lr": 2e-3, "batch_size": 8}
    result = train_fold(cohort, _split(cohort, 100), "memamba", {"d_model": 16}, params, GenomicTransform(), progress=False)
    val = result.predictions[result.predictions["role"] == "val"]
    achieved = harrell_c(val["survival_months"], val["event"], val["risk"])
    oracle = harrell_c(val["survival_months"], val["event"], risk[:100])
    print(f"ME-Mamba held-out c-index {achieved:.3f} (oracle {oracle:.3f})")
    assert achieved > 0.8, (achieved, oracle)


def test_imputed_patients_get_finite_predictions_and_are_marked(tmp_path: Path) -> None:
    cohort, _ = planted_cohort(tmp_path, 40)
    _drop_bag(cohort, 3)
    cohort.genomics.iloc[5] = np.nan
    cohort.imputed = ["slides" if i == 3 else "genomics" if i == 5 else "" for i in range(40)]
    result = train_fold(cohort, _split(cohort, 10), "abmil-snn", {}, {**TRAIN, "epochs": 1, "batch_size": 4}, GenomicTransform(),
                        progress=False)
    assert np.isfinite(result.predictions["risk"]).all()
    assert result.predictions["imputed"].iloc[[3, 5]].tolist() == ["slides", "genomics"]


def _drop_bag(cohort: Cohort, row: int) -> None:
    """The patient at ``row`` loses its slides (as one without slides that ``missing_modality: impute`` keeps)."""
    cohort.bags.files[row], cohort.bags.sizes[row] = [], 0


def _split(cohort: Cohort, n_val: int) -> pd.DataFrame:
    roles = ["val" if i < n_val else "train" for i in range(len(cohort.patients))]
    return pd.DataFrame({"patient_id": cohort.patients, "role": roles})


@pytest.mark.parametrize("model,params,patients,epochs", [
    ("snn", {"hidden": 16}, 240, 8),
    ("abmil", {"hidden": 16}, 240, 8),
    ("abmil-snn", {"hidden": 16}, 240, 8),
    ("coxnet", {}, 240, 1),
])
def test_models_recover_a_planted_signal_on_held_out_patients(tmp_path: Path, model: str, params: dict, patients: int, epochs: int) -> None:
    cohort, risk = planted_cohort(tmp_path, patients)
    result = train_fold(cohort, _split(cohort, 60), model, params, {**TRAIN, "epochs": epochs}, transform=GenomicTransform(),
                        progress=False)
    val = result.predictions[result.predictions["role"] == "val"]
    oracle = harrell_c(val["survival_months"], val["event"], risk[:60])
    achieved = harrell_c(val["survival_months"], val["event"], val["risk"])
    assert achieved > 0.65 and oracle - achieved < 0.12, (achieved, oracle)
    assert len(result.history) == epochs and result.history["selected"].iloc[-1]
    if epochs > 1:
        assert result.history["train_loss"].iloc[-1] < result.history["train_loss"].iloc[0]


def test_validation_patients_never_shape_the_fitted_state(tmp_path: Path) -> None:
    cohort, _ = planted_cohort(tmp_path, 120)
    first = train_fold(cohort, _split(cohort, 40), "snn", {}, {**TRAIN, "epochs": 1}, 10.0, progress=False)
    cohort.time[:40] *= 100
    cohort.genomics.iloc[:40] += 50
    second = train_fold(cohort, _split(cohort, 40), "snn", {}, {**TRAIN, "epochs": 1}, 10.0, progress=False)
    np.testing.assert_array_equal(first.state["bin_edges"], second.state["bin_edges"])
    np.testing.assert_array_equal(first.state["genomic_mean"], second.state["genomic_mean"])
    train_rows = first.predictions["role"] == "train"
    np.testing.assert_allclose(first.predictions.loc[train_rows, "risk"], second.predictions.loc[train_rows, "risk"])


SMALL = {"snn": {"hidden": 8}, "abmil": {"hidden": 8, "attention": 8}, "abmil-snn": {"hidden": 8, "attention": 8, "omic_hidden": 8},
         "transmil": {"dim": 16, "heads": 2}, "mambamil": {"dim": 8}, "mcat": {"dim": 8}, "motcat": {"dim": 8}, "coxnet": {},
         "survpath": {"dim": 8}, "cmta": {"dim": 8, "omic_hidden": 8}, "porpoise": {"hidden": 8, "attention": 8, "omic_hidden": 8},
         "memamba": {"d_model": 8}, "memamba-genomics": {"d_model": 8}, "memamba-pathology": {"d_model": 8}}


@pytest.mark.parametrize("model", sorted(SMALL))
def test_two_runs_of_a_fold_give_identical_predictions(tmp_path: Path, model: str) -> None:
    cohort, _ = planted_cohort(tmp_path, 40)
    runs = [train_fold(cohort, _split(cohort, 12), model, SMALL[model], {**TRAIN, "epochs": 2}, GenomicTransform(), progress=False)
            for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0].predictions, runs[1].predictions, check_exact=True)


def test_every_registered_model_is_in_the_reproducibility_test() -> None:
    from memamba.models import list_models

    assert sorted(SMALL) == list_models()


def test_transforms() -> None:
    np.testing.assert_allclose(rna_to_log(pd.DataFrame({"A": [0.0, 3]}), "tpm", 10)["A"], [0, 2])
    np.testing.assert_allclose(rna_to_log(pd.DataFrame({"A": [-50.0, 3]}), "zscore", 10)["A"], [-10, 3])
    scaler = Standardiser.fit(np.array([[1.0, 5], [3, 5]]))
    np.testing.assert_allclose(scaler(np.array([[2.0, 7]])), [[0, 2]])
    with_missing = Standardiser.fit(np.array([[1.0, np.nan], [3, 4], [np.nan, 8]]))
    np.testing.assert_allclose(with_missing.mean, [2, 6]) and np.testing.assert_allclose(with_missing.std, [1, 2])
    np.testing.assert_allclose(with_missing(np.array([[np.nan, 10.0]])), [[0, 2]])


def test_patient_without_patches_gets_a_neutral_bag_and_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cohort, _ = planted_cohort(tmp_path, 40)
    _drop_bag(cohort, 3)
    result = train_fold(cohort, _split(cohort, 10), "abmil", {}, {**TRAIN, "epochs": 1}, 10.0, progress=False)
    assert np.isfinite(result.predictions["risk"]).all()
    assert "patient P003: no patches" in caplog.text


def _nb_counts(rng: np.random.Generator, samples: int, genes: int = 300) -> pd.DataFrame:
    means = rng.lognormal(4, 1.5, genes)
    library = rng.uniform(0.5, 2.0, (samples, 1))
    counts = rng.negative_binomial(5, 5 / (5 + means * library))
    return pd.DataFrame(counts, index=[f"s{i}" for i in range(samples)], columns=[f"g{j}" for j in range(genes)])


def test_counts_vst_is_fitted_on_training_samples_only() -> None:
    rng = np.random.default_rng(0)
    train, val = _nb_counts(rng, 40), _nb_counts(rng, 10)
    vst = CountsVst.fit(train)
    together = vst(val)
    alone = pd.concat([vst(val.iloc[[i]]) for i in range(len(val))])
    np.testing.assert_allclose(together.to_numpy(), alone.to_numpy())
    from pydeseq2.dds import DeseqDataSet

    dds = DeseqDataSet(counts=train, metadata=pd.DataFrame({"batch": "all"}, index=train.index), design="~1", quiet=True)
    dds.vst_fit(use_design=False)
    np.testing.assert_allclose(together.to_numpy(), dds.vst_transform(val.to_numpy()), rtol=1e-12)   # = pydeseq2's
    other_val = _nb_counts(np.random.default_rng(9), 10)
    np.testing.assert_allclose(CountsVst.fit(train)(train).to_numpy(), vst(train).to_numpy())
    assert not np.allclose(vst(other_val).to_numpy(), together.to_numpy())
    deeper = vst(val * 4)
    expressed = train.mean() > 50
    assert np.abs(deeper.loc[:, expressed] - together.loc[:, expressed]).to_numpy().mean() < 0.05
    assert together.shape == val.shape and np.isfinite(together.to_numpy()).all()


def test_raw_counts_reach_the_model_through_the_fold_vst() -> None:
    rng = np.random.default_rng(1)
    counts = _nb_counts(rng, 30, 50).add_suffix("_rnaseq")
    tokens = [{"name": "all", "features": list(counts.columns)}]
    train_rows = np.arange(20)
    settings = GenomicTransform(min_mean_count=0.0)
    vst = fit_counts_vst(counts, {"rnaseq": "counts"}, settings, train_rows)
    matrix = genomic_matrix(counts, tokens, {"rnaseq": "counts"}, settings, vst)
    expected = CountsVst.fit(counts.iloc[train_rows])(counts)
    np.testing.assert_allclose(matrix, expected.to_numpy(np.float32), rtol=1e-6)


def test_low_expression_genes_are_chosen_on_training_samples() -> None:
    rng = np.random.default_rng(2)
    counts = _nb_counts(rng, 30, 60)
    counts["rare"] = 0
    counts.loc[counts.index[25:], "rare"] = 500
    vst = CountsVst.fit(counts.iloc[:20], min_mean_count=1.0)
    assert vst.low_expression.tolist()[-1] and not vst.low_expression[:-1].all()
    assert (vst(counts)["rare"] == 0).all()


def test_early_stopping_chooses_the_epoch_on_the_inner_validation_part_only(tmp_path: Path) -> None:
    cohort, _ = planted_cohort(tmp_path, 120)
    params = {**TRAIN, "epochs": 12, "inner_val_fraction": 0.25, "early_stopping_patience": 3}
    first = train_fold(cohort, _split(cohort, 30), "snn", {"hidden": 8}, params, GenomicTransform(), progress=False)
    roles = first.predictions["role"].value_counts()
    assert roles["val"] == 30 and roles["inner_val"] == 23  # ceil(0.25 * 90), as scikit-learn rounds the held-out part
    history = first.history
    kept = history.loc[history["selected"], "epoch"].item()
    assert kept == history.loc[history["inner_val_c_index"].idxmax(), "epoch"]
    assert len(history) <= kept + 3
    cohort.time[:30] = cohort.time[:30][::-1].copy()
    second = train_fold(cohort, _split(cohort, 30), "snn", {"hidden": 8}, params, GenomicTransform(), progress=False)
    assert second.history.loc[second.history["selected"], "epoch"].item() == kept
    assert not np.allclose(first.history["val_c_index"], second.history["val_c_index"])


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="memamba.train.loop")
    cohort, _ = planted_cohort(tmp_path, 60)
    split = _split(cohort, 20)
    whole = train_fold(cohort, split, "abmil-snn", {}, {**TRAIN, "epochs": 4}, GenomicTransform(), progress=False)
    state = tmp_path / "epoch_state.pt"
    train_fold(cohort, split, "abmil-snn", {}, {**TRAIN, "epochs": 2}, GenomicTransform(), progress=False,
               checkpoint=state, fingerprint="run")
    resumed = train_fold(cohort, split, "abmil-snn", {}, {**TRAIN, "epochs": 4}, GenomicTransform(), progress=False,
                         checkpoint=state, fingerprint="run")
    assert "resuming abmil-snn from epoch 2" in caplog.text
    np.testing.assert_allclose(resumed.predictions["risk"], whole.predictions["risk"], rtol=1e-6)
    pd.testing.assert_frame_equal(resumed.history, whole.history)
    other = train_fold(cohort, split, "abmil-snn", {}, {**TRAIN, "epochs": 1}, GenomicTransform(), progress=False,
                       checkpoint=state, fingerprint="other inputs")
    assert len(other.history) == 1


def test_gradient_accumulation_equals_a_larger_batch(tmp_path: Path) -> None:
    cohort, _ = planted_cohort(tmp_path, 48)
    split = _split(cohort, 16)
    params = {"hidden": 8, "dropout": 0.0}
    accumulated = train_fold(cohort, split, "snn", params, {**TRAIN, "epochs": 2, "batch_size": 1, "accumulate": 4},
                             GenomicTransform(), progress=False)
    batched = train_fold(cohort, split, "snn", params, {**TRAIN, "epochs": 2, "batch_size": 4, "accumulate": 1},
                         GenomicTransform(), progress=False)
    np.testing.assert_allclose(accumulated.predictions["risk"], batched.predictions["risk"], rtol=1e-4, atol=1e-6)


def test_weighted_sampling_gives_every_bin_and_censoring_class_the_same_weight() -> None:
    from memamba.train.loop import sampling_weights

    labels, censored = np.array([0, 0, 0, 1, 2, 2]), np.array([0, 0, 1, 0, 1, 1])
    weights = sampling_weights(labels, censored)
    classes = labels * 2 + censored
    totals = [weights[classes == c].sum() for c in np.unique(classes)]
    np.testing.assert_allclose(totals, [0.25] * 4)


def test_coxnet_survival_at_the_bin_ends_matches_scikit_survival_and_survives_huge_coefficients(tmp_path: Path) -> None:
    from sksurv.util import Surv

    from memamba.models.coxnet import CoxnetSpec
    from memamba.train.sksurv_fit import _estimator, survival_at_bin_ends

    cohort, _ = planted_cohort(tmp_path, 80)
    x = cohort.genomics.to_numpy()
    model = _estimator(CoxnetSpec(), alphas=[0.05], fit_baseline_model=True)
    model.fit(x, Surv.from_arrays(cohort.event.astype(bool), cohort.time))
    ends = np.array([5.0, 20.0, 60.0])
    expected = np.array([[fn(end) for end in ends] for fn in model.predict_survival_function(x)])
    predictor = model.predict(x)
    np.testing.assert_allclose(survival_at_bin_ends(predictor, cohort.event, cohort.time, predictor, ends), expected, rtol=1e-6)
    huge = survival_at_bin_ends(predictor * 500, cohort.event, cohort.time, predictor * 500, ends)
    assert np.isfinite(huge).all() and ((huge >= 0) & (huge <= 1)).all()


def test_a_coxnet_fit_is_kept_as_tensors_that_load_without_unpickling_and_reproduce_its_predictions(tmp_path: Path) -> None:
    from memamba.train.loop import prepare_fold
    from memamba.train.sksurv_fit import survival_from_baseline

    cohort, _ = planted_cohort(tmp_path, 60)
    split = _split(cohort, 15)
    result = train_fold(cohort, split, "coxnet", {}, TRAIN, GenomicTransform(), progress=False)
    torch.save(result.model, tmp_path / "checkpoint.pt")
    fitted = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert set(fitted) == {"coefficients", "offset", "alpha", "log_baseline_hazard"}
    x = prepare_fold(cohort, split, TRAIN, GenomicTransform()).genomics.numpy().astype(np.float64)
    risk = x @ fitted["coefficients"].numpy() - fitted["offset"]
    np.testing.assert_allclose(risk, result.predictions["risk"], rtol=1e-9, atol=1e-9)
    survival = np.clip(survival_from_baseline(fitted["log_baseline_hazard"].numpy(), risk), 1e-6, 1.0)
    np.testing.assert_allclose(survival, result.predictions.filter(like="survival_bin_").to_numpy(), rtol=1e-4, atol=1e-6)


def test_coxnet_with_too_few_patients_for_inner_cross_validation_still_fits(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cohort, _ = planted_cohort(tmp_path, 8)
    result = train_fold(cohort, _split(cohort, 4), "coxnet", {}, TRAIN, GenomicTransform(), progress=False)
    assert np.isfinite(result.predictions["risk"]).all()
    assert "too few for inner cross-validation" in caplog.text


def test_streaming_moments_equal_those_of_all_rows_together() -> None:
    rng = np.random.default_rng(0)
    parts = [rng.normal(3.0, 2.0, (n, 4)).astype(np.float32) for n in (1, 7, 0, 120, 33)]
    parts[1][:, 2] = 5.0
    moments = RunningMoments()
    for part in parts:
        moments = moments.merge(RunningMoments.of(part))
    together = np.concatenate(parts).astype(np.float64)
    scaler = moments.standardiser()
    assert moments.count == len(together)
    np.testing.assert_allclose(scaler.mean, together.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(scaler.std, together.std(axis=0), rtol=1e-6)


def test_reading_workers_train_the_same_model_as_reading_in_process(tmp_path: Path) -> None:
    cohort, _ = planted_cohort(tmp_path, 40)
    _drop_bag(cohort, 2)
    runs = [train_fold(cohort, _split(cohort, 10), "abmil", {}, {**TRAIN, "epochs": 2, "batch_size": 4, "num_workers": workers},
                       GenomicTransform(), progress=False) for workers in (0, 2)]
    np.testing.assert_array_equal(runs[0].predictions["risk"], runs[1].predictions["risk"])
    np.testing.assert_array_equal(runs[0].state["patch_mean"], runs[1].state["patch_mean"])
    together = np.concatenate([cohort.bags.read(row) for row in range(10, 40)])
    np.testing.assert_allclose(runs[0].state["patch_mean"], together.mean(axis=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_damaged_feature_file_of_a_validation_patient_fails_with_its_name(tmp_path: Path, workers: int) -> None:
    cohort, _ = planted_cohort(tmp_path, 30)
    with h5py.File(cohort.bags.files[4][0], "r+") as h5:
        h5["features"][0, 0] = np.nan
    with pytest.raises(MemambaError, match=r"P004\.h5: 1 feature value\(s\) are NaN or infinite\. Fix: re-extract"):
        train_fold(cohort, _split(cohort, 10), "abmil", {}, {**TRAIN, "epochs": 1, "num_workers": workers}, GenomicTransform(),
                   progress=False)


def test_weight_decay_leaves_out_the_ssm_parameters_mamba_ssm_marks() -> None:
    model = build_model("memamba", ModelInputs(patch_dim=8, token_sizes=[3, 4]), {"d_model": 8})
    names = {id(p): name for name, p in model.named_parameters()}
    decayed, exempt = parameter_groups(model, 1e-4)
    assert {names[id(p)].rsplit(".", 1)[1] for p in exempt["params"]} == {"A_log", "D"} and exempt["weight_decay"] == 0
    assert len(decayed["params"]) + len(exempt["params"]) == len(names) and decayed["weight_decay"] == 1e-4


def test_the_run_records_its_precision_and_scan_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import memamba.models.ssm as ssm

    model = build_model("memamba", ModelInputs(patch_dim=8, token_sizes=[3, 4]), {"d_model": 8})
    assert compute_settings(model, torch.device("cpu"), amp=True) == {"device": "cpu", "precision": "float32", "scan_backend": "torch"}
    monkeypatch.setattr(ssm, "mamba_ssm_scan", lambda: ssm.selective_scan_torch)
    assert compute_settings(model, torch.device("cuda"), amp=True) == {"device": "cuda", "precision": "bf16 autocast",
                                                                       "scan_backend": "mamba_ssm"}
    snn = build_model("snn", ModelInputs(patch_dim=0, token_sizes=[3, 4]), {})
    assert compute_settings(snn, torch.device("cuda"), amp=False)["scan_backend"] == "none"


class _Planted:
    """What an attacker plants as epoch_state.pt: unpickling it would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_a_planted_resume_state_is_never_unpickled(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cohort, _ = planted_cohort(tmp_path, 30)
    marker, state = tmp_path / "PWNED", tmp_path / "epoch_state.pt"
    torch.save({"fingerprint": "run", "payload": _Planted(marker)}, state)
    result = train_fold(cohort, _split(cohort, 10), "snn", {}, {**TRAIN, "epochs": 1}, GenomicTransform(), progress=False,
                        checkpoint=state, fingerprint="run")
    assert not marker.exists() and len(result.history) == 1
    assert "cannot be read as a resume state without unpickling" in caplog.text
    assert torch.load(state, weights_only=True)["epoch"] == 1
