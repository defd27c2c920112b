from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from memamba.data.bags import PatchBags
from memamba.data.cohort import Cohort
from memamba.errors import MemambaError
from memamba.train.checkpoint import fold_checkpoint, load_checkpoint, save_checkpoint
from memamba.train.loop import train_fold
from memamba.train.predict import predict_cohort
from memamba.train.transforms import GenomicTransform

TRAIN = {"epochs": 2, "lr": 1e-3, "weight_decay": 1e-4, "alpha": 0.15, "n_bins": 4, "seed": 0, "batch_size": 3,
         "accumulate": 1, "optimizer": "adam", "weighted_sampling": False, "amp": False, "inner_val_fraction": 0.0,
         "early_stopping_patience": 0}
CPU = torch.device("cpu")


def _write_bags(folder: Path, patients: list[str], bags: list[np.ndarray], encoder: str) -> PatchBags:
    folder.mkdir(parents=True, exist_ok=True)
    for patient, bag in zip(patients, bags):
        with h5py.File(folder / f"{patient}.h5", "w") as h5:
            h5["features"] = bag
            h5["features"].attrs["encoder"] = encoder
    return PatchBags.from_files([[folder / f"{p}.h5"] for p in patients])


def counts_cohort(folder: Path, n: int = 36, dim: int = 6, seed: int = 0, encoder: str = "demo-stats") -> Cohort:
    """Patients with raw RNA counts (so a fitted VST), CNV values and bags of ``dim``-d patches, all carrying a risk."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    patients = [f"P{i:03d}" for i in range(n)]
    means = rng.lognormal(4, 1, 20)
    counts = rng.negative_binomial(5, 5 / (5 + means * np.exp(0.5 * risk[:, None] * (np.arange(20) < 5))))
    genes = {f"R{j}_rnaseq": counts[:, j] for j in range(20)} | {f"C{j}_cnv": risk * (j < 3) + rng.normal(0, 1, n) for j in range(8)}
    bags = [rng.normal(0.5 * r, 1.0, (int(rng.integers(4, 20)), dim)).astype(np.float32) for r in risk]
    time = np.minimum(rng.exponential(1 / (0.02 * np.exp(risk))), rng.uniform(6, 120, n))
    return Cohort(patients=patients, time=time, event=(rng.random(n) < 0.7).astype(int),
                  bags=_write_bags(folder, patients, bags, encoder), genomics=pd.DataFrame(genes, index=patients).astype(float),
                  tokens=[{"name": "rna", "features": [f"R{j}_rnaseq" for j in range(20)]},
                          {"name": "cnv", "features": [f"C{j}_cnv" for j in range(8)]}],
                  genomic_kinds={"rnaseq": "counts", "cnv": "gistic"})


def _split(cohort: Cohort, n_val: int = 9) -> pd.DataFrame:
    roles = ["val" if i < n_val else "train" for i in range(len(cohort.patients))]
    return pd.DataFrame({"patient_id": cohort.patients, "role": roles})


def _trained(tmp_path: Path, cohort: Cohort, model: str, params: dict) -> tuple[Path, pd.DataFrame]:
    transform = GenomicTransform(min_mean_count=1.0)
    result = train_fold(cohort, _split(cohort), model, params, TRAIN, transform, progress=False)
    fitted = result.model.state_dict() if hasattr(result.model, "state_dict") else result.model
    path = tmp_path / f"{model}.pt"
    save_checkpoint(fold_checkpoint(model, params, fitted, result.state, cohort, transform), path)
    return path, result.predictions


@pytest.mark.parametrize("model,params", [("abmil", {"hidden": 8, "attention": 8}), ("memamba", {"d_model": 8}),
                                          ("coxnet", {}), ("snn", {"hidden": 8, "depth": 1})])
def test_a_folds_checkpoint_reproduces_its_predictions_from_disk(tmp_path: Path, model: str, params: dict) -> None:
    cohort = counts_cohort(tmp_path / "features")
    path, predictions = _trained(tmp_path, cohort, model, params)
    checkpoint = load_checkpoint(path)
    assert checkpoint.vst is not None and checkpoint.encoder == "demo-stats"
    table = predict_cohort({str(path): checkpoint}, cohort, CPU, batch_size=2)
    np.testing.assert_allclose(table["risk"], predictions["risk"], rtol=0, atol=1e-6)
    survival = [c for c in predictions if c.startswith("survival_bin_")]
    np.testing.assert_allclose(table[survival], predictions[survival], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(table[[c.replace("survival_bin", "bin_end") for c in survival]],
                                  predictions[[c.replace("survival_bin", "bin_end") for c in survival]])


def test_several_folds_average_their_risks_and_one_new_patient_scores_alone(tmp_path: Path) -> None:
    cohort = counts_cohort(tmp_path / "features")
    first, _ = _trained(tmp_path, cohort, "snn", {"hidden": 8, "depth": 1})
    second = first.with_name("other.pt")
    first.rename(second)
    first, _ = _trained(tmp_path, counts_cohort(tmp_path / "features-b", seed=1), "snn", {"hidden": 8, "depth": 1})
    folds = {str(p): load_checkpoint(p) for p in (first, second)}
    table = predict_cohort(folds, cohort, CPU)
    np.testing.assert_allclose(table["risk"], (table["risk_0"] + table["risk_1"]) / 2)
    alone = Cohort(cohort.patients[:1], cohort.time[:1], cohort.event[:1], None, cohort.genomics.iloc[:1], cohort.tokens,
                   cohort.genomic_kinds)
    single = predict_cohort({str(first): folds[str(first)]}, alone, CPU)
    assert single["risk"].iloc[0] == pytest.approx(table["risk_0"].iloc[0], abs=1e-6)   # the VST is not refitted


def _renamed_gene(cohort: Cohort) -> Cohort:
    cohort.genomics = cohort.genomics.rename(columns={"C0_cnv": "C99_cnv"})
    cohort.tokens = [cohort.tokens[0], {"name": "cnv", "features": ["C99_cnv"] + cohort.tokens[1]["features"][1:]}]
    return cohort


def _with_bags(cohort: Cohort, folder: Path, dim: int, encoder: str) -> Cohort:
    bags = _write_bags(folder / f"{encoder}-{dim}", cohort.patients, [np.zeros((3, dim), np.float32)] * len(cohort.patients), encoder)
    return Cohort(**{**cohort.__dict__, "bags": bags})


@pytest.mark.parametrize("change,expected", [
    (lambda c, folder: _with_bags(c, folder, 7, "demo-stats"), "patch features are 7-d here, 6-d in training"),
    (lambda c, folder: _with_bags(c, folder, 6, "uni"), "patch features are from encoder uni here, demo-stats in training"),
    (lambda c, folder: _renamed_gene(c), "token 'cnv' lacks 1 of the training features (e.g. ['C0_cnv'])"),
    (lambda c, folder: Cohort(**{**c.__dict__, "genomic_kinds": {"rnaseq": "tpm", "cnv": "gistic"}}),
     "rnaseq tables are tpm here, counts in training"),
    (lambda c, folder: Cohort(**{**c.__dict__, "tokens": c.tokens[::-1]}), "tokens ['cnv', 'rna'] here, ['rna', 'cnv'] in training"),
])
def test_inputs_unlike_the_training_inputs_are_refused_in_one_line(tmp_path: Path, change, expected: str) -> None:
    cohort = counts_cohort(tmp_path / "features")
    path, _ = _trained(tmp_path, cohort, "abmil", {"hidden": 8, "attention": 8})
    with pytest.raises(MemambaError) as error:
        predict_cohort({str(path): load_checkpoint(path)}, change(cohort, tmp_path), CPU)
    message = str(error.value)
    assert expected in message and message.startswith(str(path)) and "Fix:" in message and "\n" not in message


def test_a_file_that_is_not_a_checkpoint_is_refused_naming_it(tmp_path: Path) -> None:
    legacy = tmp_path / "checkpoint.pt"
    torch.save({"model": "snn", "transforms": {"genomic_mean": np.zeros(3)}}, legacy)
    with pytest.raises(MemambaError, match="checkpoint.pt: not a memamba checkpoint that loads without unpickling"):
        load_checkpoint(legacy)
    torch.save({"model": "snn"}, legacy)
    with pytest.raises(MemambaError, match="checkpoint format none, this memamba reads format 1"):
        load_checkpoint(legacy)
