"""Assemble a cohort: each patient's bag of patch features, genomic features and survival."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from memamba.data.bags import read_features
from memamba.sheets import read_sheet

log = logging.getLogger(__name__)


@dataclass
class Cohort:
    """Patients aligned by position. ``imputed`` names per patient the modality the
    ``missing_modality: impute`` policy filled in ("slides", "genomics" or ""): its bag is then
    empty and its genomic row missing, and training gives it the training-fold mean."""

    patients: list[str]
    time: np.ndarray
    event: np.ndarray
    bags: list[np.ndarray] | None
    genomics: pd.DataFrame
    tokens: list[dict]
    genomic_kinds: dict[str, str]
    imputed: list[str] | None = None

    def index_of(self, patient_ids: list[str]) -> np.ndarray:
        """Positions of ``patient_ids`` in this cohort."""
        position = {p: i for i, p in enumerate(self.patients)}
        return np.array([position[p] for p in patient_ids], dtype=int)


MISSING_MODALITY_POLICIES = ("exclude", "impute")


def complete_patients(clinical: pd.DataFrame, slides: pd.DataFrame, genomics_patients: set[str],
                      missing_modality: str = "exclude") -> list[str]:
    """Patients with survival who enter training and evaluation, each one missing a modality logged by name.

    ``missing_modality`` is the policy for a patient with slides but no genomics, or genomics but no
    slides: ``exclude`` leaves them out; ``impute`` keeps them, and training gives the missing
    modality the training-fold mean (genomic features at their mean; a bag of one patch at the mean
    patch feature). A patient with neither is always left out.
    """
    if missing_modality not in MISSING_MODALITY_POLICIES:
        raise ValueError(f"missing_modality must be one of {MISSING_MODALITY_POLICIES}, not {missing_modality!r}")
    with_slides = set(slides["patient_id"])
    kept = []
    for patient in clinical["patient_id"]:
        lacking = [name for name, ok in (("slides", patient in with_slides), ("genomics", patient in genomics_patients)) if not ok]
        if len(lacking) == 2 or (lacking and missing_modality == "exclude"):
            log.warning("patient %s has no %s: left out of training and evaluation", patient, " or ".join(lacking))
            continue
        if lacking:
            log.warning("patient %s has no %s: given the training-fold mean (missing_modality: impute)", patient, lacking[0])
        kept.append(patient)
    return kept


def load_cohort(slides_sheet: str | os.PathLike, clinical_sheet: str | os.PathLike, features_dir: str | os.PathLike | None,
                genomics_parquet: str | os.PathLike, tokens_json: str | os.PathLike, missing_modality: str = "exclude") -> Cohort:
    """Read the sheets, patch features (``features_dir/{slide}.h5``) and genomics into a Cohort.

    All slides of a patient form one bag. With ``features_dir`` None (a genomics-only model) no patch
    features are read and ``bags`` is None. Patients are chosen by :func:`complete_patients`.
    """
    slides = read_sheet(slides_sheet, "slides", check_paths=False)
    clinical = read_sheet(clinical_sheet, "clinical", check_paths=False)
    genomics = pd.read_parquet(genomics_parquet)
    genomics.index = genomics.index.astype(str)
    token_definition = json.loads(Path(tokens_json).read_text())
    patients = complete_patients(clinical, slides, set(genomics.index), missing_modality)
    by_patient = slides.groupby("patient_id")["slide_id"].apply(list)
    bags = None
    if features_dir is not None:
        read = {p: [read_features(Path(features_dir) / f"{s}.h5") for s in by_patient[p]] for p in patients if p in by_patient}
        dim = next(iter(read.values()))[0].shape[1]
        bags = [np.concatenate(read[p]) if p in read else np.zeros((0, dim), np.float32) for p in patients]
    clinical = clinical.set_index("patient_id").loc[patients]
    imputed = ["slides" if p not in by_patient else "genomics" if p not in genomics.index else "" for p in patients]
    return Cohort(
        patients=patients,
        time=clinical["survival_months"].to_numpy(float),
        event=clinical["event"].to_numpy(int),
        bags=bags,
        genomics=genomics.reindex(patients),
        tokens=token_definition["tokens"],
        genomic_kinds=token_definition["kinds"],
        imputed=imputed,
    )
