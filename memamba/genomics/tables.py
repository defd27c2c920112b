"""Reading genomic matrices (genes in rows, patients in columns) with clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from memamba.config import ConfigError

SUFFIX = {"rna": "rnaseq", "cnv": "cnv", "mut": "mut"}


def read_matrix(path: str | os.PathLike) -> pd.DataFrame:
    """A genes x patients matrix from TSV or CSV (first column = gene symbol), checked to be numeric."""
    path = Path(path)
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    frame = pd.read_csv(path, sep=sep, index_col=0)
    frame.index = frame.index.astype(str)
    frame.columns = frame.columns.astype(str)
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & frame.notna()
    if bad.any().any():
        gene, patient = bad.stack()[lambda s: s].index[0]
        raise ConfigError(
            f"{path}: non-numeric value {frame.loc[gene, patient]!r} at gene {gene}, sample {patient} "
            f"({int(bad.values.sum())} such cells). Fix: the matrix must hold numbers only (empty cells for missing)."
        )
    if numeric.isna().any().any():
        count = int(numeric.isna().values.sum())
        gene, patient = numeric.isna().stack()[lambda s: s].index[0]
        raise ConfigError(
            f"{path}: {count} missing value(s), first at gene {gene}, sample {patient}. "
            "Fix: impute or drop those genes/samples before running the genomics stage."
        )
    duplicated = numeric.index[numeric.index.duplicated()].unique()
    if len(duplicated):
        raise ConfigError(f"{path}: duplicated gene rows {list(duplicated[:5])}. Fix: keep one row per gene.")
    return numeric.astype(np.float64)


def check_kind(matrix: pd.DataFrame, kind: str, path: str | os.PathLike) -> None:
    """Reject values that cannot be of the declared kind (e.g. negative or fractional counts)."""
    values = matrix.to_numpy()
    if kind == "counts" and ((values < 0).any() or not np.allclose(values, np.round(values))):
        raise ConfigError(f"{path}: declared as raw counts but holds negative or fractional values. "
                          "Fix: declare its kind (tpm, fpkm, log, zscore) in the genomics sheet.")
    if kind == "binary" and not np.isin(values, (0, 1)).all():
        raise ConfigError(f"{path}: declared as binary mutations but holds values other than 0/1. Fix: binarise it.")


def read_gene_families(path: str | os.PathLike) -> dict[str, list[str]]:
    """Gene families from a CSV with one column per family (gene symbols below, NaN-padded), de-duplicated."""
    table = pd.read_csv(path)
    return {str(family): list(dict.fromkeys(table[family].dropna().astype(str).str.strip())) for family in table.columns}
