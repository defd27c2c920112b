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

from memamba.config import ConfigError, load_schema
from memamba.identifiers import patient_of
from memamba.readers import read_table

log = logging.getLogger(__name__)

GENOMIC_SUFFIXES = {"rnaseq": ("rna", "zscore"), "cnv": ("cnv", "gistic"), "mut": ("mut", "binary")}
METADATA_COLUMNS = {"case_id", "slide_id", "site", "is_female", "oncotree_code", "age", "survival_months",
                    "censorship", "train", "disc_label", "label"}
PANDAS_ARTEFACT = re.compile(r"^Unnamed: \d+$")


@dataclass
class McatImport:
    """What an import produced: per-patient tables, the ignored columns and the duplicate-resolution report."""

    clinical: pd.DataFrame
    slides: pd.DataFrame
    matrices: dict[str, pd.DataFrame]
    ignored_columns: list[str]
    conflicting_patients: list[str]
    columns: list[str]


def classify_columns(columns: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Genomic columns by suffix, and the columns that are neither genomic nor known metadata."""
    genomic: dict[str, list[str]] = {suffix: [] for suffix in GENOMIC_SUFFIXES}
    ignored = []
    for column in columns:
        if _is_genomic(column):
            genomic[column.rsplit("_", 1)[1]].append(column)
        elif column not in METADATA_COLUMNS and not PANDAS_ARTEFACT.match(column):
            ignored.append(column)
    return genomic, ignored


def read_mcat_table(path: str | os.PathLike) -> McatImport:
    """Per-patient clinical table, slide list and genes x patients matrices from one MCAT/PORPOISE table.

    Patients with several slides repeat their row: the first row of each patient is kept, and patients
    whose repeated rows disagree (genomics or survival) are reported.
    """
    path = Path(path)
    table = read_table(path, "MCAT/PORPOISE table", "give the 'tcga_*_all_clean.csv(.zip)' file as published: UTF-8 CSV, "
                       "a zip holding exactly that one CSV", low_memory=False)
    missing = [c for c in ("case_id", "slide_id", "survival_months", "censorship") if c not in table.columns]
    if missing:
        raise ConfigError(f"{path}: no column {missing}. Fix: give an MCAT/PORPOISE 'tcga_*_all_clean.csv(.zip)' table.")
    table_columns = [str(c) for c in table.columns]
    genomic, ignored = classify_columns(table_columns)
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
    check_survival_columns(per_patient, path)
    clinical = pd.DataFrame({"patient_id": per_patient.index, "survival_months": per_patient["survival_months"].to_numpy(),
                             "event": (1 - per_patient["censorship"]).astype(int).to_numpy()})
    slides = table[["slide_id", "patient_id"]].drop_duplicates("slide_id")
    check_slide_ids(slides["slide_id"], path)
    matrices = {}
    for suffix, columns in genomic.items():
        if columns:
            block = per_patient[columns].apply(pd.to_numeric, errors="coerce")
            block.columns = [c[: -len(suffix) - 1] for c in columns]
            matrices[suffix] = block.T.rename_axis("gene")
    return McatImport(clinical, slides, matrices, ignored, conflicting, table_columns)


def check_slide_ids(slide_ids: pd.Series, path: Path) -> None:
    """Every slide id must be one the slide sheet accepts (it becomes a file name and a command argument); a
    ConfigError names the table and the first offending ids."""
    rule = load_schema("slides")["properties"]["slide_id"]
    pattern = re.compile(rule["pattern"])
    bad = [str(s) for s in slide_ids if not (isinstance(s, str) and pattern.search(s) and len(s) <= rule["maxLength"])]
    if bad:
        raise ConfigError(f"{path}: slide_id {bad[:3]!r} ({len(bad)} in all) cannot name a slide: expected {rule['description']}. "
                          "Fix: correct or remove those rows.")


def check_survival_columns(per_patient: pd.DataFrame, path: Path) -> None:
    """``censorship`` must be 0 (event) or 1 (censored) and ``survival_months`` a finite number from 0 to the clinical
    sheet's maximum, for every patient; a ConfigError names the first offending patient, its value and how many there are."""
    months = pd.to_numeric(per_patient["survival_months"], errors="coerce")
    censorship = pd.to_numeric(per_patient["censorship"], errors="coerce")
    longest = load_schema("clinical")["properties"]["survival_months"]["maximum"]
    for column, bad, expected in (
        ("censorship", ~censorship.isin([0, 1]), "0 (event observed) or 1 (censored)"),
        ("survival_months", ~(np.isfinite(months) & (months >= 0) & (months <= longest)), f"a number of months from 0 to {longest}"),
    ):
        if bad.any():
            first = bad.index[bad.to_numpy()][0]
            raise ConfigError(
                f"{path}: column {column} of patient {first} is '{per_patient.loc[first, column]}' "
                f"({int(bad.sum())} patient(s) so); expected {expected}. Fix: correct those rows or remove the patients."
            )


def mcat_token_sizes(columns: list[str], families: dict[str, list[str]]) -> dict[str, int]:
    """Features per family: the ``GENE_{mut,cnv,rnaseq}`` columns among ``columns`` of the family's genes
    (MCAT's rule, applied to every genomic column of the table: what memamba trains on)."""
    available = set(columns)
    return {family: len({f"{gene}_{suffix}" for gene in genes for suffix in GENOMIC_SUFFIXES} & available)
            for family, genes in families.items()}


@dataclass
class McatLoaderColumns:
    """What MCAT's own loader makes of a table's columns: its token sizes, the genomic columns it drops into its
    metadata, and the metadata columns it keeps among its genomic features."""

    sizes: dict[str, int]
    dropped: list[str]
    leaked: list[str]


def mcat_loader_columns(table_columns: list[str], families: dict[str, list[str]]) -> McatLoaderColumns:
    """Replay the column handling of MCAT's ``Generic_WSI_Survival_Dataset`` (``datasets/dataset_survival.py``):
    the table is read with ``index_col=0`` (its first column becomes the index), ``label`` is inserted at
    position 2 and ``disc_label`` appended, the last two columns are moved to the front and the first 11 taken as
    metadata; every other column is a genomic feature. So the table's last column, a genomic one in the MCAT and
    PORPOISE tables, is dropped, and metadata beyond those 11 (``train``, or ``censorship`` when a second index
    column shifts them) is fed to the model as genomics."""
    columns = list(table_columns[1:])
    columns.insert(2, "label")
    columns.append("disc_label")
    columns = columns[-2:] + columns[:-2]
    metadata, genomic = columns[:11], columns[11:]
    return McatLoaderColumns(
        sizes=mcat_token_sizes(genomic, families),
        dropped=[c for c in metadata if _is_genomic(c)],
        leaked=[c for c in genomic if not _is_genomic(c)],
    )


def _is_genomic(column: str) -> bool:
    return "_" in column and column.rsplit("_", 1)[1] in GENOMIC_SUFFIXES


def describe_sizes(sizes: dict[str, int]) -> str:
    """``[a, b, ...]`` with the family names, for the command's report."""
    return f"{list(sizes.values())} ({', '.join(f'{k} {v}' for k, v in sizes.items())})"


def summarise_matrix(matrix: pd.DataFrame) -> str:
    """Shape and missing values of a genes x patients matrix, for the command's report."""
    return f"{matrix.shape[0]} genes x {matrix.shape[1]} patients, {int(np.isnan(matrix.to_numpy()).sum())} missing values"
