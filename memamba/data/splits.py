"""Patient-level cross-validation splits: made here (stratified by event and survival-time bin, seeded), or
published ones read from a folder (our ``fold_{k}.tsv`` or the MCAT/MOTCat ``splits_{k}.csv`` files)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from memamba.atomic import atomic_path
from memamba.config import ConfigError
from memamba.errors import MemambaError
from memamba.identifiers import patient_of
from memamba.readers import read_table

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
    from sklearn.model_selection import KFold, StratifiedKFold

    if len(clinical) < 2:
        raise ConfigError(f"{len(clinical)} patient(s) have every modality the models need, too few for any "
                          "cross-validation. Fix: check that the clinical, slide and genomics sheets use the same "
                          "patient ids (the log of the splits job lists who lacks what), or add patients.")
    if len(clinical) < folds:
        raise ConfigError(f"{len(clinical)} patients cannot make {folds} folds. Fix: lower splits.folds to at most "
                          f"{len(clinical)}.")
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
    """One fold's patient_id/role table (written by ``memamba splits`` or ``published-split``); a MemambaError when
    it is not one."""
    split = pd.read_csv(path, sep="\t", dtype={"patient_id": str, "role": str})
    roles = set(split["role"]) if {"patient_id", "role"} <= set(split.columns) else None
    if roles is None or not roles <= set(ROLES) or "train" not in roles:
        raise MemambaError(f"{path}: not a fold file (columns patient_id and role, roles train and val). Fix: delete "
                           "it and rerun, so that the workflow writes it again.")
    return split


PUBLISHED_FOLD_FILES = {"fold": ".tsv", "splits": ".csv"}
ROLES = ("train", "val")


def published_fold_files(folder: str | os.PathLike) -> list[Path]:
    """The fold files of a folder of published splits, in fold order: ``fold_{k}.tsv`` (ours) or ``splits_{k}.csv``
    (MCAT/MOTCat), numbered 0..n-1 without gaps, n >= 2. A ConfigError says what is wrong and how to fix it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: folder of published splits not found. Fix: point 'splits:' (or --splits) at the "
                          "folder holding fold_{k}.tsv or splits_{k}.csv files.")
    found = {}
    for prefix, suffix in PUBLISHED_FOLD_FILES.items():
        numbered = {int(m.group(1)): path for path in folder.iterdir()
                    if (m := re.fullmatch(rf"{prefix}_(\d+){re.escape(suffix)}", path.name))}
        if numbered:
            found[prefix] = numbered
    if not found:
        raise ConfigError(f"{folder}: no fold_{{k}}.tsv or splits_{{k}}.csv files. Fix: point 'splits:' at the folder holding them.")
    if len(found) > 1:
        raise ConfigError(f"{folder}: holds both fold_{{k}}.tsv and splits_{{k}}.csv files, so the folds are ambiguous. "
                          "Fix: keep one kind in the folder.")
    numbered = next(iter(found.values()))
    if sorted(numbered) != list(range(len(numbered))) or len(numbered) < 2:
        raise ConfigError(f"{folder}: fold files numbered {sorted(numbered)}; expected 0, 1, ..., n-1 with n >= 2. "
                          "Fix: number the folds from 0 without gaps.")
    return [numbered[k] for k in range(len(numbered))]


def read_published_fold(path: str | os.PathLike) -> pd.DataFrame:
    """One published fold as our table (``patient_id``, ``role`` train/val, in the file's order).

    ``fold_{k}.tsv``: our columns. ``splits_{k}.csv``: the peers' NaN-padded ``train`` and ``val`` columns of case
    ids (a ``test`` column is ignored with a warning). TCGA barcodes become patients (first 12 characters). A
    patient listed under both roles is an error."""
    path = Path(path)
    layout = "our tab-separated patient_id and role columns" if path.suffix == ".tsv" else "MCAT's comma-separated train and val columns"
    frame = read_table(path, "fold file", f"re-copy it, or save it with {layout}", sep="\t" if path.suffix == ".tsv" else ",", dtype=str)
    if path.suffix == ".tsv":
        if not {"patient_id", "role"} <= set(frame.columns):
            raise ConfigError(f"{path}: needs the tab-separated columns patient_id and role; found {list(frame.columns)}.")
        unknown = sorted(set(frame["role"].dropna()) - set(ROLES))
        if unknown:
            raise ConfigError(f"{path}: role(s) {unknown}; expected train or val. Fix: correct the role column.")
        rows = list(zip(frame["patient_id"].map(patient_of), frame["role"]))
    else:
        if not set(ROLES) <= set(frame.columns):
            raise ConfigError(f"{path}: needs the columns train and val (MCAT's splits_{{k}}.csv); found {list(frame.columns)}.")
        if "test" in frame.columns and frame["test"].notna().any():
            log.warning("%s: its %d test patient(s) are ignored: memamba reports on the val column", path, frame["test"].notna().sum())
        rows = [(patient_of(case), role) for role in ROLES for case in frame[role].dropna()]
    fold = pd.DataFrame(rows, columns=["patient_id", "role"]).dropna().drop_duplicates()
    both = sorted(set(fold.loc[fold["role"] == "train", "patient_id"]) & set(fold.loc[fold["role"] == "val", "patient_id"]))
    if both:
        raise ConfigError(f"{path}: {len(both)} patient(s) are both train and val, e.g. {both[:5]}. Fix: correct the fold file.")
    return fold.reset_index(drop=True)


def read_published_folds(folder: str | os.PathLike, patients: set[str] | None = None) -> list[pd.DataFrame]:
    """Every fold of a folder of published splits; with ``patients``, the patients outside it are dropped and logged."""
    folds = []
    for path in published_fold_files(folder):
        fold = read_published_fold(path)
        if patients is not None:
            unknown = sorted(set(fold["patient_id"]) - patients)
            if unknown:
                log.warning("%s: %d patient(s) not in the table are left out: %s", path, len(unknown), unknown[:5])
            fold = fold[fold["patient_id"].isin(patients)].reset_index(drop=True)
        folds.append(fold)
    return folds


def keep_patients_with_data(fold: pd.DataFrame, usable: set[str], lacking: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A published fold split into (the rows of patients in ``usable``, the others with what they lack).

    ``lacking`` maps a patient to what it lacks ("slides", "genomics", ...); a patient in neither is "not in the
    clinical sheet"."""
    kept = fold["patient_id"].isin(usable)
    left_out = fold[~kept].assign(lacks=lambda f: f["patient_id"].map(lambda p: lacking.get(p, "survival (not in the clinical sheet)")))
    return fold[kept].reset_index(drop=True), left_out.reset_index(drop=True)
