from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memamba.config import ConfigError
from memamba.data.splits import (
    keep_patients_with_data,
    make_splits,
    published_fold_files,
    read_published_fold,
    read_published_folds,
    write_splits,
)


def _clinical(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(n)],
                         "survival_months": rng.exponential(30, n), "event": rng.integers(0, 2, n)})


def test_folds_partition_patients_and_balance_events() -> None:
    clinical = _clinical(200)
    splits = make_splits(clinical, folds=5, seed=0, time_bins=4)
    val_sets = [set(s.loc[s["role"] == "val", "patient_id"]) for s in splits]
    assert set().union(*val_sets) == set(clinical["patient_id"])
    assert sum(len(v) for v in val_sets) == 200
    events = clinical.set_index("patient_id")["event"]
    rates = [events.loc[list(v)].mean() for v in val_sets]
    assert max(rates) - min(rates) < 0.06
    for split in splits:
        assert set(split["patient_id"]) == set(clinical["patient_id"])


def test_splits_are_deterministic_per_seed() -> None:
    clinical = _clinical(50)
    first = make_splits(clinical, 5, 1, 4)
    assert all(a.equals(b) for a, b in zip(first, make_splits(clinical, 5, 1, 4)))
    assert not all(a.equals(b) for a, b in zip(first, make_splits(clinical, 5, 2, 4)))


def test_too_few_patients_is_an_error_with_a_fix() -> None:
    with pytest.raises(ValueError, match="lower splits.folds"):
        make_splits(_clinical(3), 5, 0, 4)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_peers_splits_become_our_folds(tmp_path: Path) -> None:
    _write(tmp_path / "splits_0.csv", ",train,val\n0,TCGA-AA-0001,TCGA-AA-0003-01Z\n1,TCGA-AA-0002,\n")
    _write(tmp_path / "splits_1.csv", ",train,val\n0,TCGA-AA-0003,TCGA-AA-0001\n1,TCGA-AA-0002,\n")
    folds = read_published_folds(tmp_path)
    assert folds[0].to_dict("list") == {"patient_id": ["TCGA-AA-0001", "TCGA-AA-0002", "TCGA-AA-0003"], "role": ["train", "train", "val"]}
    assert read_published_folds(tmp_path, {"TCGA-AA-0001", "TCGA-AA-0003"})[1]["patient_id"].tolist() == ["TCGA-AA-0003", "TCGA-AA-0001"]


def test_our_fold_files_read_back_unchanged(tmp_path: Path) -> None:
    splits = make_splits(_clinical(20), 4, 0, 2)
    write_splits(splits, tmp_path)
    for ours, back in zip(splits, read_published_folds(tmp_path), strict=True):
        pd.testing.assert_frame_equal(ours.reset_index(drop=True), back)


@pytest.mark.parametrize("files, message", [
    ({"splits_0.csv": ",train,val\n0,P1,P2\n", "splits_2.csv": ",train,val\n0,P2,P1\n"}, r"numbered \[0, 2\]; expected 0, 1, \.\.\., n-1"),
    ({"splits_0.csv": ",train,val\n0,P1,P2\n"}, r"numbered \[0\]; expected .* n >= 2"),
    ({"splits_0.csv": ",train,val\n0,P1,P2\n", "fold_0.tsv": "patient_id\trole\nP1\ttrain\n"}, "holds both"),
    ({"notes.txt": "x"}, r"no fold_\{k\}.tsv or splits_\{k\}.csv files"),
])
def test_bad_split_folders_are_explained(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        _write(tmp_path / name, text)
    with pytest.raises(ConfigError, match=message):
        published_fold_files(tmp_path)


def test_a_patient_in_both_roles_or_an_unknown_role_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"splits_0.csv: 1 patient\(s\) are both train and val, e.g. \['P1'\]"):
        read_published_fold(_write(tmp_path / "splits_0.csv", ",train,val\n0,P1,P1\n1,P2,\n"))
    with pytest.raises(ConfigError, match=r"fold_0.tsv: role\(s\) \['test'\]"):
        read_published_fold(_write(tmp_path / "fold_0.tsv", "patient_id\trole\nP1\ttest\n"))


def test_patients_without_data_are_left_out_by_name() -> None:
    fold = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4"], "role": ["train", "train", "val", "val"]})
    kept, left_out = keep_patients_with_data(fold, {"P1", "P3"}, {"P2": "slides"})
    assert kept["patient_id"].tolist() == ["P1", "P3"]
    assert left_out.to_dict("list") == {"patient_id": ["P2", "P4"], "role": ["train", "val"],
                                        "lacks": ["slides", "survival (not in the clinical sheet)"]}
