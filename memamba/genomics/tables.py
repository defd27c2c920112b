"""Reading genomic matrices into genes x patients tables, with every repair reported and every problem explained.

Accepted: TSV, CSV (compression inferred from the name) or parquet; genes in rows (``genes_x_samples``, the
default) or in columns (``samples_x_genes``); gene symbols, or Ensembl ids with or without a version suffix
(``ENSG00000141510.16`` -> ``ENSG00000141510``), or both (a symbol column such as ``gene_name`` or
``Hugo_Symbol`` is used as the gene id). Policies, each logged:

- a gene present twice: the row with the largest mean is kept;
- TCGA barcodes become patients (first 12 characters); where a patient has several samples, the tumour
  sample wins (lowest sample-type code, 01 = primary tumour, before normals 10-19), then the first barcode
  in sorted order;
- missing values, non-numeric cells and values impossible for the declared kind are errors that name the
  file, the first offending gene and sample, and the fix.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from memamba.config import ConfigError
from memamba.readers import read_table, read_text

log = logging.getLogger(__name__)

SUFFIX = {"rna": "rnaseq", "cnv": "cnv", "mut": "mut"}
ORIENTATIONS = ("genes_x_samples", "samples_x_genes")
SYMBOL_COLUMNS = ("gene_name", "gene_symbol", "symbol", "hgnc_symbol", "Hugo_Symbol")
ID_COLUMNS = ("gene_id", "Entrez_Gene_Id", "gene_type", "Cytoband")
ENSEMBL_VERSION = re.compile(r"^(ENS[A-Z]*G\d{6,})\.\d+(_PAR_Y)?$")
TCGA_BARCODE = re.compile(r"^TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}")


def load_table(path: Path, repeated_columns: str = "error") -> pd.DataFrame:
    """The file as a frame whose index is its first column (TSV, CSV, either compressed, or parquet); a column name
    written twice is an error, or with ``repeated_columns`` "keep" kept as written (see :func:`read_table`)."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not a readable parquet file ({exc}). Fix: re-export the matrix.") from exc
        if isinstance(frame.index, pd.RangeIndex):
            frame = frame.set_index(frame.columns[0])
        return frame
    sep = "," if ".csv" in name else "\t"
    return read_table(path, "genomic matrix", f"save it as {'comma' if sep == ',' else 'tab'}-separated UTF-8 text, "
                      "genes x samples with the gene ids in the first column", repeated_columns, sep=sep, index_col=0,
                      low_memory=False)


def gene_index(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Use a symbol column as the gene id when there is one, drop other annotation columns, strip Ensembl versions."""
    symbol = next((c for c in frame.columns if str(c) in SYMBOL_COLUMNS), None)
    if symbol is not None:
        frame = frame.set_index(symbol)
        log.info("%s: genes identified by its %r column", path, symbol)
    frame = frame.drop(columns=[c for c in frame.columns if str(c) in ID_COLUMNS])
    frame.index = [ENSEMBL_VERSION.sub(r"\1\2", str(g)).strip() for g in frame.index]
    return frame


def check_numeric(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The frame as float64, or a ConfigError naming the first non-numeric or missing cell."""
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & frame.notna()
    if bad.any().any():
        gene, sample = bad.stack()[lambda s: s].index[0]
        raise ConfigError(
            f"{path}: non-numeric value {frame.loc[gene, sample]!r} at gene {gene}, sample {sample} "
            f"({int(bad.values.sum())} such cells). Fix: the matrix must hold numbers only (empty cells for missing)."
        )
    if numeric.isna().any().any():
        count = int(numeric.isna().values.sum())
        gene, sample = numeric.isna().stack()[lambda s: s].index[0]
        raise ConfigError(
            f"{path}: {count} missing value(s), first at gene {gene}, sample {sample}. "
            "Fix: impute or drop those genes/samples before running the genomics stage."
        )
    infinite = ~np.isfinite(numeric.to_numpy(np.float64))
    if infinite.any():
        row, column = (int(i[0]) for i in np.nonzero(infinite))
        raise ConfigError(
            f"{path}: {int(infinite.sum())} infinite value(s), first '{frame.iloc[row, column]}' at gene "
            f"{numeric.index[row]}, sample {numeric.columns[column]}. Fix: the matrix must hold finite numbers; "
            "replace them or leave the cells empty and impute."
        )
    return numeric.astype(np.float64)


def drop_duplicate_genes(matrix: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Keep, for each gene present more than once, the row with the largest mean (logged)."""
    if not matrix.index.has_duplicates:
        return matrix
    duplicated = sorted(matrix.index[matrix.index.duplicated()].unique())
    order = matrix.mean(axis=1).to_numpy().argsort(kind="stable")[::-1]
    kept = matrix.iloc[order][~matrix.index[order].duplicated()]
    log.warning("%s: %d gene(s) appear more than once; the row with the largest mean is kept: %s",
                path, len(duplicated), duplicated[:10])
    return kept.loc[[g for g in dict.fromkeys(matrix.index)]]


def sample_type(barcode: str) -> int:
    """TCGA sample-type code (characters 14-15: 01-09 tumour, 10-19 normal, 20+ control); 99 if absent."""
    code = barcode[13:15]
    return int(code) if len(barcode) >= 15 and code.isdigit() else 99


def samples_to_patients(matrix: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Columns renamed from TCGA sample barcodes to patients, one sample per patient (tumour first; logged)."""
    samples = [str(c) for c in matrix.columns]
    if not all(TCGA_BARCODE.match(s) for s in samples):
        return matrix
    chosen = (pd.DataFrame({"sample": samples, "patient": [s[:12] for s in samples],
                            "type": [sample_type(s) for s in samples]})
              .sort_values(["patient", "type", "sample"]).drop_duplicates("patient"))
    dropped = sorted(set(samples) - set(chosen["sample"]))
    if dropped:
        log.warning("%s: %d sample(s) of patients with several samples are not used (the tumour sample with the "
                    "lowest sample-type code wins, then the first barcode): %s", path, len(dropped), dropped[:10])
    selected = matrix[chosen["sample"].tolist()]
    selected.columns = chosen["patient"].tolist()
    return selected


def read_matrix(path: str | os.PathLike, orientation: str = "genes_x_samples") -> pd.DataFrame:
    """A genes x patients float matrix from a genomic table, after the documented repairs (module docstring)."""
    path = Path(path)
    if orientation not in ORIENTATIONS:
        raise ConfigError(f"{path}: unknown orientation {orientation!r}. Fix: use one of {list(ORIENTATIONS)}.")
    frame = load_table(path, "keep" if orientation == "samples_x_genes" else "error")
    if orientation == "samples_x_genes":
        frame = frame.T
    frame = gene_index(frame, path)
    frame.columns = [str(c) for c in frame.columns]
    repeated = sorted(set(frame.columns[frame.columns.duplicated()]))
    if repeated:
        raise ConfigError(f"{path}: sample(s) {repeated[:5]} appear more than once ({len(repeated)} in all); which one "
                          "holds the sample's values is unknown. Fix: keep one column (row, for samples_x_genes) per sample.")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ConfigError(f"{path}: no {'genes' if frame.shape[0] == 0 else 'sample columns'} found "
                          f"({frame.shape[0]} rows x {frame.shape[1]} columns as read). Fix: give a genes x samples matrix "
                          "(gene ids in the first column, one column per sample) or set its orientation.")
    if len(frame) and np.mean([bool(TCGA_BARCODE.match(g)) for g in frame.index]) > 0.5:
        raise ConfigError(f"{path}: the rows are sample barcodes, so the matrix is samples x genes. "
                          "Fix: set orientation to samples_x_genes in the genomics sheet.")
    return samples_to_patients(drop_duplicate_genes(check_numeric(frame, path), path), path)


def check_kind(matrix: pd.DataFrame, kind: str, path: str | os.PathLike) -> None:
    """Reject values that cannot be of the declared kind (e.g. negative or fractional counts)."""
    values = matrix.to_numpy()
    if kind == "counts" and ((values < 0).any() or not np.allclose(values, np.round(values))):
        raise ConfigError(f"{path}: declared as raw counts but holds negative or fractional values. "
                          "Fix: declare its kind (tpm, fpkm, log, zscore) in the genomics sheet.")
    if kind == "binary" and not np.isin(values, (0, 1)).all():
        raise ConfigError(f"{path}: declared as binary mutations but holds values other than 0/1. Fix: binarise it.")
    if kind == "gistic" and not np.isin(values, (-2, -1, 0, 1, 2)).all():
        raise ConfigError(f"{path}: declared as GISTIC calls but holds values outside -2..2. "
                          "Fix: declare it as log2ratio, or threshold it.")


def read_gene_families(path: str | os.PathLike) -> dict[str, list[str]]:
    """Gene sets, de-duplicated: a CSV with one column per set (genes below, NaN-padded) or a GMT file."""
    path = Path(path)
    if path.suffix.lower() == ".gmt":
        families = {}
        for number, line in enumerate(read_text(path, "gene-set file", "save it as UTF-8 GMT text").splitlines(), 1):
            fields = [f.strip() for f in line.split("\t")]
            if len(fields) >= 3:
                if fields[0] in families:
                    raise ConfigError(f"{path}: line {number}: gene set {fields[0]!r} appears more than once. "
                                      "Fix: name every gene set once (merge or rename the repeated one).")
                families[fields[0]] = list(dict.fromkeys(g for g in fields[2:] if g))
        if not families:
            raise ConfigError(f"{path}: no gene set found. Fix: a GMT line is NAME<tab>DESCRIPTION<tab>GENE<tab>GENE...")
        return families
    table = read_table(path, "gene-family file", "save it as UTF-8 CSV, one column of genes per family")
    return {str(family): list(dict.fromkeys(table[family].dropna().astype(str).str.strip())) for family in table.columns}
