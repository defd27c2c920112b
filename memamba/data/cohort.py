"""Assemble a cohort: each patient's bag of patch features, genomic features and survival."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from memamba.data.bags import PatchBags, feature_files
from memamba.sheets import read_sheet

log = logging.getLogger(__name__)


@dataclass
class Cohort:
    """Patients aligned by position. ``imputed`` names per patient the modality the
    ``missing_modality: impute`` policy filled in ("slides", "genomics" or ""): its bag is then
    empty and its genomic row missing, and training gives it the training-fold mean. ``bags`` stay on disk
    (:class:`memamba.data.bags.PatchBags`), read per batch while training."""

    patients: list[str]
    time: np.ndarray
    event: np.ndarray
    bags: PatchBags | None
    genomics: pd.DataFrame
    tokens: list[dict]
    genomic_kinds: dict[str, str]
    imputed: list[str] | None = None

    def index_of(self, patient_ids: list[str]) -> np.ndarray:
        """Positions of ``patient_ids`` in this cohort."""
        position = {p: i for i, p in enumerate(self.patients)}
        return np.array([position[p] for p in patient_ids], dtype=int)

    def subset(self, patient_ids: list[str]) -> Cohort:
        """The cohort of ``patient_ids`` alone, in that order: nothing of the other patients is kept."""
        rows = self.index_of(patient_ids)
        return Cohort(patients=[self.patients[row] for row in rows], time=self.time[rows], event=self.event[rows],
                      bags=None if self.bags is None else self.bags.subset(rows), genomics=self.genomics.iloc[rows],
                      tokens=self.tokens, genomic_kinds=self.genomic_kinds,
                      imputed=None if self.imputed is None else [self.imputed[row] for row in rows])


MISSING_MODALITY_POLICIES = ("exclude", "impute")


def lacking_modalities(patients: list[str] | pd.Series, slides: pd.DataFrame, genomics_patients: set[str]) -> dict[str, list[str]]:
    """Per patient, the modalities it has no data for ("slides", "genomics"; empty when it has both)."""
    with_slides = set(slides["patient_id"])
    return {patient: [name for name, ok in (("slides", patient in with_slides), ("genomics", patient in genomics_patients)) if not ok]
            for patient in patients}


def complete_patients(clinical: pd.DataFrame, slides: pd.DataFrame, genomics_patients: set[str],
                      missing_modality: str = "exclude", report: bool = True,
                      purpose: str = "training and evaluation") -> list[str]:
    """Patients with survival who enter training and evaluation, each one missing a modality logged by name.

    ``missing_modality`` is the policy for a patient with slides but no genomics, or genomics but no
    slides: ``exclude`` leaves them out; ``impute`` keeps them, and training gives the missing
    modality the training-fold mean (genomic features at their mean; a bag of one patch at the mean
    patch feature). A patient with neither is always left out. ``report`` False logs nothing; ``purpose`` words what
    a patient is left out of in the log (``scoring`` for a cohort scored by trained folds).
    """
    if missing_modality not in MISSING_MODALITY_POLICIES:
        raise ValueError(f"missing_modality must be one of {MISSING_MODALITY_POLICIES}, not {missing_modality!r}")
    kept = []
    for patient, lacking in lacking_modalities(clinical["patient_id"], slides, genomics_patients).items():
        if len(lacking) == 2 or (lacking and missing_modality == "exclude"):
            if report:
                log.warning("patient %s has no %s: left out of %s", patient, " or ".join(lacking), purpose)
            continue
        if lacking and report:
            log.warning("patient %s has no %s: given the training-fold mean (missing_modality: impute)", patient, lacking[0])
        kept.append(patient)
    return kept


def load_cohort(slides_sheet: str | os.PathLike, clinical_sheet: str | os.PathLike | None, features_dir: str | os.PathLike | None,
                genomics_parquet: str | os.PathLike, tokens_json: str | os.PathLike, missing_modality: str = "exclude",
                purpose: str = "training and evaluation") -> Cohort:
    """Read the sheets, patch features (``features_dir/{slide}.h5``) and genomics into a Cohort.

    All slides of a patient form one bag. ``features_dir`` holds one file per slide, ours or CLAM's/TRIDENT's
    (:func:`memamba.data.bags.feature_file`); every file must have the same feature width. Only the files'
    headers are read here: the features stay on disk until training reads them per batch. With
    ``features_dir`` None (a genomics-only model) no patch features are read and ``bags`` is None. Patients
    are chosen by :func:`complete_patients`. Without a clinical sheet (a cohort to predict, survival unknown) the
    patients are those of the slide sheet and the genomics, with NaN times and events 0.
    """
    slides = read_sheet(slides_sheet, "slides", check_paths=False)
    genomics = pd.read_parquet(genomics_parquet)
    genomics.index = genomics.index.astype(str)
    if clinical_sheet is None:
        known = sorted(set(slides["patient_id"]) | set(genomics.index))
        clinical = pd.DataFrame({"patient_id": known, "survival_months": np.nan, "event": 0})
    else:
        clinical = read_sheet(clinical_sheet, "clinical", check_paths=False)
    token_definition = json.loads(Path(tokens_json).read_text())
    patients = complete_patients(clinical, slides, set(genomics.index), missing_modality, purpose=purpose)
    by_patient = slides.groupby("patient_id")["slide_id"].apply(list)
    bags = None
    if features_dir is not None:
        files = feature_files(features_dir, [s for p in patients if p in by_patient for s in by_patient[p]])
        bags = PatchBags.from_files([[files[s] for s in by_patient[p]] if p in by_patient else [] for p in patients])
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
