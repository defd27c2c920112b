import numpy as np
import pandas as pd
import pytest

from memamba.data.splits import make_splits


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
