from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memamba.data.cohort import Cohort
from memamba.train import tuning
from memamba.train.transforms import GenomicTransform
from memamba.train.tuning import TuneSettings, inner_splits, tune_fold

TRAIN = {"epochs": 4, "lr": 1e-3, "weight_decay": 1e-4, "alpha": 0.15, "n_bins": 4, "seed": 0, "batch_size": 16,
         "accumulate": 1, "optimizer": "adam", "weighted_sampling": False, "amp": False, "inner_val_fraction": 0.0,
         "early_stopping_patience": 0}


def genomic_cohort(n: int = 150, seed: int = 0) -> Cohort:
    """Genomics-only patients: 4 of 8 CNV features carry a latent risk that sets exponential survival times."""
    rng = np.random.default_rng(seed)
    risk = rng.normal(size=n)
    event_time = rng.exponential(1 / (0.02 * np.exp(1.5 * risk)))
    censor = rng.uniform(6, 120, n)
    patients = [f"P{i:03d}" for i in range(n)]
    genes = pd.DataFrame({f"G{j}_cnv": risk * (j < 4) + rng.normal(0, 0.7, n) for j in range(8)}, index=patients)
    return Cohort(patients=patients, time=np.minimum(event_time, censor), event=(event_time <= censor).astype(int),
                  bags=None, genomics=genes,
                  tokens=[{"name": "a", "features": list(genes.columns[:4])}, {"name": "b", "features": list(genes.columns[4:])}],
                  genomic_kinds={"cnv": "gistic"})


def outer_split(cohort: Cohort, n_val: int = 50) -> pd.DataFrame:
    return pd.DataFrame({"patient_id": cohort.patients, "role": ["val" if i < n_val else "train" for i in range(len(cohort.patients))]})


def test_inner_splits_partition_the_training_part_by_event() -> None:
    cohort = genomic_cohort(90)
    splits = inner_splits(cohort, 3, seed=0)
    held = [set(s.loc[s["role"] == "val", "patient_id"]) for s in splits]
    assert set().union(*held) == set(cohort.patients) and sum(map(len, held)) == 90
    rates = [cohort.event[cohort.index_of(sorted(h))].mean() for h in held]
    assert max(rates) - min(rates) < 0.05


def test_no_inner_fit_sees_an_outer_validation_patient() -> None:
    cohort = genomic_cohort()
    split = outer_split(cohort)
    settings = TuneSettings(candidates=3, inner_folds=2)
    space = {"lr": [1e-4, 1e-3, 1e-2], "hidden": ["x0.5", "x1"]}
    first = tune_fold(cohort, split, "snn", {"hidden": 16, "depth": 1}, TRAIN, GenomicTransform(), space, settings)
    rng = np.random.default_rng(1)
    shuffled = cohort.subset(cohort.patients)
    outer = np.arange(50)
    shuffled.time[outer] = rng.permutation(shuffled.time[outer]) * 3.0
    shuffled.event[outer] = 1 - shuffled.event[outer]
    shuffled.genomics.iloc[outer] = rng.normal(size=(50, 8))
    second = tune_fold(shuffled, split, "snn", {"hidden": 16, "depth": 1}, TRAIN, GenomicTransform(), space, settings)
    pd.testing.assert_frame_equal(first.scores, second.scores)
    assert first.chosen == second.chosen and len(first.scores) == settings.inner_fits == 6
    assert first.scores["c_index"].between(0, 1).all()


def test_tuning_chooses_a_setting_that_learns_over_one_that_cannot() -> None:
    cohort = genomic_cohort(200)
    useless = {**TRAIN, "lr": 1e-7, "epochs": 1}
    space = {"lr": [1e-7, 1e-2], "epochs": ["x1", "x8"]}
    result = tune_fold(cohort, outer_split(cohort), "snn", {"hidden": 16, "depth": 1}, useless, GenomicTransform(), space,
                       TuneSettings(candidates=4, inner_folds=2))
    means = result.scores.groupby("candidate")["c_index"].mean()
    assert result.chosen["lr"] == 1e-2 and means[result.candidate] == means.max() > means[0] + 0.1


def test_a_rerun_resumes_from_the_recorded_inner_fits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cohort = genomic_cohort(120)
    split = outer_split(cohort, 40)
    settings = TuneSettings(candidates=2, inner_folds=2)
    space = {"l1_ratio": [0.5, 0.9], "alpha_min_ratio": [0.01]}
    record = tmp_path / "tuning.tsv"
    real_train_fold, calls = tuning.train_fold, []

    def interrupted(*args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(1)
        return real_train_fold(*args, **kwargs)

    monkeypatch.setattr(tuning, "train_fold", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tune_fold(cohort, split, "coxnet", {}, TRAIN, GenomicTransform(), space, settings, record=record)
    assert len(pd.read_csv(record, sep="\t")) == 3
    calls.clear()
    resumed = tune_fold(cohort, split, "coxnet", {}, TRAIN, GenomicTransform(), space, settings, record=record)
    assert len(calls) == 1
    monkeypatch.setattr(tuning, "train_fold", real_train_fold)
    fresh = tune_fold(cohort, split, "coxnet", {}, TRAIN, GenomicTransform(), space, settings)
    pd.testing.assert_frame_equal(resumed.scores, fresh.scores)
    assert resumed.chosen == fresh.chosen


def test_the_inner_score_is_nan_with_a_reason_on_an_all_censored_inner_fold() -> None:
    from types import SimpleNamespace

    from memamba.train.tuning import inner_score

    held = pd.DataFrame({"role": ["val"] * 4 + ["train"] * 4, "survival_months": [3.0, 5, 8, 9, 1, 2, 3, 4],
                         "event": [0, 0, 0, 0, 1, 1, 0, 1], "risk": [0.1, 0.4, 0.2, 0.3, 0, 0, 0, 0]})
    value, reason = inner_score(SimpleNamespace(predictions=held))
    assert np.isnan(value) and reason == "no event among its 4 held-out patients"
    held.loc[0, "event"] = 1
    assert inner_score(SimpleNamespace(predictions=held)) == (0.0, "")     # the earliest event has the lowest risk
