"""Patient-level cross-validation splits, stratified by event and survival-time bin, seeded."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from memamba.atomic import atomic_path

log = logging.getLogger(__name__)


def strata(clinical: pd.DataFrame, time_bins: int) -> np.ndarray:
    """Stratum label per patient: event status x survival-time quantile bin."""
    ranks = clinical["survival_months"].rank(method="first")
    time_bin = np.minimum((ranks - 1) * time_bins // len(clinical), time_bins - 1).astype(int)
    return clinical["event"].astype(int).to_numpy() * time_bins + time_bin.to_numpy()


def make_splits(clinical: pd.DataFrame, folds: int, seed: int, time_bins: int) -> list[pd.DataFrame]:
    """``folds`` splits of ``clinical``'s patients; each frame has columns patient_id and role (train/val).

    Stratifies by event x time bin; where a stratum has fewer patients than folds, it falls back
    to stratifying by event only, then to a plain shuffled split, and logs which it used.
    """
    if len(clinical) < folds:
        raise ValueError(f"{len(clinical)} patients cannot make {folds} folds. Fix: lower splits.folds.")
    patients = clinical["patient_id"].to_numpy()
    candidates = [("event x time bin", strata(clinical, time_bins)), ("event", clinical["event"].to_numpy())]
    for name, labels in candidates:
        counts = np.bincount(labels)
        if counts[counts > 0].min() >= folds:
            log.info("stratifying splits by %s", name)
            splitter = StratifiedKFold(folds, shuffle=True, random_state=seed).split(patients, labels)
            break
    else:
        log.warning("too few patients per stratum for %d folds: using an unstratified split", folds)
        splitter = KFold(folds, shuffle=True, random_state=seed).split(patients)
    result = []
    for _, val_index in splitter:
        roles = np.full(len(patients), "train", dtype=object)
        roles[val_index] = "val"
        result.append(pd.DataFrame({"patient_id": patients, "role": roles}).sort_values(["role", "patient_id"]))
    return result


def write_splits(splits: list[pd.DataFrame], out_dir: str | os.PathLike) -> list[Path]:
    """Write ``fold_{k}.tsv`` files atomically."""
    paths = []
    for k, frame in enumerate(splits):
        path = Path(out_dir) / f"fold_{k}.tsv"
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, sep="\t", index=False)
        paths.append(path)
    return paths


def read_split(path: str | os.PathLike) -> pd.DataFrame:
    """One fold's patient_id/role table."""
    return pd.read_csv(path, sep="\t", dtype={"patient_id": str, "role": str})
