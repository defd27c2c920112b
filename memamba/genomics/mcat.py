"""Import an MCAT / PORPOISE ``tcga_*_all_clean.csv(.zip)`` table and its ``splits_{k}.csv`` files.

The peers' loaders take genomic columns by position, so metadata such as ``censorship``, ``train`` or
pandas' ``Unnamed: 0`` leak into the features. Here every column is classified by name: a genomic column
ends in ``_rnaseq``, ``_cnv`` or ``_mut``; known metadata columns are used or dropped by name; anything
else is reported and ignored. The table is read through pandas (zip inferred), never unzipped: its
member names contain ``../``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from memamba.atomic import atomic_path
from memamba.config import ConfigError
from memamba.data.splits import write_splits

log = logging.getLogger(__name__)

GENOMIC_SUFFIXES = {"rnaseq": ("rna", "zscore"), "cnv": ("cnv", "gistic"), "mut": ("mut", "binary")}
METADATA_COLUMNS = {"case_id", "slide_id", "site", "is_female", "oncotree_code", "age", "survival_months",
                    "censorship", "train", "disc_label", "label"}
PANDAS_ARTEFACT = re.compile(r"^Unnamed: \d+$")
TCGA_PATIENT_LENGTH = 12


@dataclass
class McatImport:
    """What an import produced: per-patient tables, the ignored columns and the duplicate-resolution report."""

    clinical: pd.DataFrame
    slides: pd.DataFrame
    matrices: dict[str, pd.DataFrame]
    ignored_columns: list[str]
    conflicting_patients: list[str]


def patient_of(barcode: str) -> str:
    """TCGA patient barcode: the first 12 characters (``TCGA-XX-XXXX``) of a case, sample or slide id."""
    return str(barcode)[:TCGA_PATIENT_LENGTH]


def classify_columns(columns: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Genomic columns by suffix, and the columns that are neither genomic nor known metadata."""
    genomic: dict[str, list[str]] = {suffix: [] for suffix in GENOMIC_SUFFIXES}
    ignored = []
    for column in columns:
        suffix = column.rsplit("_", 1)[-1] if "_" in column else ""
        if suffix in genomic:
            genomic[suffix].append(column)
        elif column not in METADATA_COLUMNS and not PANDAS_ARTEFACT.match(column):
            ignored.append(column)
    return genomic, ignored


def read_mcat_table(path: str | os.PathLike) -> McatImport:
    """Per-patient clinical table, slide list and genes x patients matrices from one MCAT/PORPOISE table.

    Patients with several slides repeat their row: the first row of each patient is kept, and patients
    whose repeated rows disagree (genomics or survival) are reported.
    """
    path = Path(path)
    table = pd.read_csv(path, low_memory=False)
    missing = [c for c in ("case_id", "slide_id", "survival_months", "censorship") if c not in table.columns]
    if missing:
        raise ConfigError(f"{path}: no column {missing}. Fix: give an MCAT/PORPOISE 'tcga_*_all_clean.csv(.zip)' table.")
    genomic, ignored = classify_columns([str(c) for c in table.columns])
    if ignored:
        log.warning("%s: ignoring %d column(s) that are neither genomic nor known metadata: %s", path, len(ignored), ignored[:10])
    table["patient_id"] = table["case_id"].map(patient_of)
    kept = [c for columns in genomic.values() for c in columns] + ["survival_months", "censorship"]
    repeated = table.loc[table.duplicated("patient_id", keep=False), ["patient_id", *kept]]
    first = repeated.groupby("patient_id")[kept].transform("first")
    same = (repeated[kept] == first) | (repeated[kept].isna() & first.isna())
    conflicting = sorted(repeated.loc[~same.all(axis=1), "patient_id"].unique())
    if conflicting:
        log.warning("%s: %d patient(s) have slide rows that disagree; the first row is used: %s", path, len(conflicting), conflicting[:10])
    per_patient = table.drop_duplicates("patient_id").set_index("patient_id")
    clinical = pd.DataFrame({"patient_id": per_patient.index, "survival_months": per_patient["survival_months"].to_numpy(),
                             "event": (1 - per_patient["censorship"]).astype(int).to_numpy()})
    slides = table[["slide_id", "patient_id"]].drop_duplicates("slide_id")
    matrices = {}
    for suffix, columns in genomic.items():
        if columns:
            block = per_patient[columns].apply(pd.to_numeric, errors="coerce")
            block.columns = [c[: -len(suffix) - 1] for c in columns]
            matrices[suffix] = block.T.rename_axis("gene")
    return McatImport(clinical, slides, matrices, ignored, conflicting)


def read_mcat_splits(splits_dir: str | os.PathLike, patients: set[str]) -> list[pd.DataFrame]:
    """Our fold tables (patient_id, role) from the peers' ``splits_{k}.csv`` (columns train, val; NaN-padded)."""
    files = sorted(Path(splits_dir).glob("splits_*.csv"), key=lambda p: int(re.findall(r"\d+", p.stem)[-1]))
    if not files:
        raise ConfigError(f"{splits_dir}: no splits_{{k}}.csv files. Fix: point --splits at the folder holding them.")
    folds = []
    for file in files:
        frame = pd.read_csv(file)
        rows = [(patient_of(case), role) for role in ("train", "val") for case in frame[role].dropna().astype(str)]
        fold = pd.DataFrame(rows, columns=["patient_id", "role"]).drop_duplicates("patient_id")
        unknown = sorted(set(fold["patient_id"]) - patients)
        if unknown:
            log.warning("%s: %d patient(s) not in the table are left out: %s", file, len(unknown), unknown[:5])
        folds.append(fold[fold["patient_id"].isin(patients)].reset_index(drop=True))
    return folds


def mcat_token_sizes(columns: list[str], families: dict[str, list[str]]) -> dict[str, int]:
    """Features per family as MCAT counts them: the table's ``GENE_{mut,cnv,rnaseq}`` columns of the family's genes."""
    available = set(columns)
    return {family: len({f"{gene}_{suffix}" for gene in genes for suffix in GENOMIC_SUFFIXES} & available)
            for family, genes in families.items()}


def write_import(result: McatImport, out_dir: str | os.PathLike, slide_dir: str, splits: list[pd.DataFrame] | None) -> None:
    """Write clinical.tsv, slides.tsv (paths ``{slide_dir}/{slide_id}``), the matrices, genomics.tsv and splits/."""
    out = Path(out_dir)
    with atomic_path(out / "clinical.tsv") as tmp:
        result.clinical.to_csv(tmp, sep="\t", index=False)
    slides = result.slides.assign(path=[f"{slide_dir}/{s}" for s in result.slides["slide_id"]])
    with atomic_path(out / "slides.tsv") as tmp:
        slides[["slide_id", "patient_id", "path"]].to_csv(tmp, sep="\t", index=False)
    sheet = []
    for suffix, matrix in result.matrices.items():
        modality, kind = GENOMIC_SUFFIXES[suffix]
        with atomic_path(out / f"{modality}.parquet") as tmp:
            matrix.to_parquet(tmp)
        sheet.append({"modality": modality, "kind": kind, "path": f"{modality}.parquet"})
    with atomic_path(out / "genomics.tsv") as tmp:
        pd.DataFrame(sheet).to_csv(tmp, sep="\t", index=False)
    if splits is not None:
        write_splits(splits, out / "splits")


def describe_sizes(sizes: dict[str, int]) -> str:
    """``[a, b, ...]`` with the family names, for the command's report."""
    return f"{list(sizes.values())} ({', '.join(f'{k} {v}' for k, v in sizes.items())})"


def summarise_matrix(matrix: pd.DataFrame) -> str:
    """Shape and missing values of a genes x patients matrix, for the command's report."""
    return f"{matrix.shape[0]} genes x {matrix.shape[1]} patients, {int(np.isnan(matrix.to_numpy()).sum())} missing values"
