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
    """Patients with every modality, aligned by position."""

    patients: list[str]
    time: np.ndarray
    event: np.ndarray
    bags: list[np.ndarray] | None
    genomics: pd.DataFrame
    tokens: list[dict]
    genomic_kinds: dict[str, str]

    def index_of(self, patient_ids: list[str]) -> np.ndarray:
        """Positions of ``patient_ids`` in this cohort."""
        position = {p: i for i, p in enumerate(self.patients)}
        return np.array([position[p] for p in patient_ids], dtype=int)


def complete_patients(clinical: pd.DataFrame, slides: pd.DataFrame, genomics_patients: set[str]) -> list[str]:
    """Patients with survival, at least one slide and genomics; the others are logged by what they lack."""
    with_slides = set(slides["patient_id"])
    kept = []
    for patient in clinical["patient_id"]:
        lacking = [name for name, ok in (("slides", patient in with_slides), ("genomics", patient in genomics_patients)) if not ok]
        if lacking:
            log.warning("patient %s has no %s: left out of training and evaluation", patient, " or ".join(lacking))
        else:
            kept.append(patient)
    return kept


def load_cohort(slides_sheet: str | os.PathLike, clinical_sheet: str | os.PathLike, features_dir: str | os.PathLike | None,
                genomics_parquet: str | os.PathLike, tokens_json: str | os.PathLike) -> Cohort:
    """Read the sheets, patch features (``features_dir/{slide}.h5``) and genomics into a Cohort.

    With ``features_dir`` None (a genomics-only model) no patch features are read and ``bags`` is None.
    """
    slides = read_sheet(slides_sheet, "slides", check_paths=False)
    clinical = read_sheet(clinical_sheet, "clinical", check_paths=False)
    genomics = pd.read_parquet(genomics_parquet)
    genomics.index = genomics.index.astype(str)
    token_definition = json.loads(Path(tokens_json).read_text())
    patients = complete_patients(clinical, slides, set(genomics.index))
    by_patient = slides.groupby("patient_id")["slide_id"].apply(list)
    bags = None
    if features_dir is not None:
        bags = [np.concatenate([read_features(Path(features_dir) / f"{s}.h5") for s in by_patient[p]]) for p in patients]
    clinical = clinical.set_index("patient_id").loc[patients]
    return Cohort(
        patients=patients,
        time=clinical["survival_months"].to_numpy(float),
        event=clinical["event"].to_numpy(int),
        bags=bags,
        genomics=genomics.loc[patients],
        tokens=token_definition["tokens"],
        genomic_kinds=token_definition["kinds"],
    )
