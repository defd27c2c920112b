"""Build the patient x feature matrix and the token definition (feature columns per gene family)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd

from memamba.atomic import atomic_paths
from memamba.config import ConfigError
from memamba.genomics.tables import SUFFIX, check_kind, read_gene_families, read_matrix
from memamba.provenance import provenance
from memamba.sheets import read_sheet

log = logging.getLogger(__name__)


def build_features(genomics_sheet: str | os.PathLike, families_path: str | os.PathLike | None = None,
                   ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Patient x feature matrix (columns ``GENE_rnaseq``, ``GENE_cnv``, ``GENE_mut``) and each modality's kind.

    With ``families_path``, a matrix none of whose genes is in any family is left out with a warning naming it (a
    small table of other genes, beside matrices that do overlap); when no matrix overlaps, that is an error (wrong
    gene ids or wrong files).
    """
    sheet = read_sheet(genomics_sheet, "genomics")
    family_genes = {g for genes in read_gene_families(families_path).values() for g in genes} if families_path else None
    blocks, kinds, disjoint = [], {}, []
    for row in sheet.itertuples():
        orientation = getattr(row, "orientation", None)
        matrix = read_matrix(row.path, orientation if isinstance(orientation, str) else "genes_x_samples")
        check_kind(matrix, row.kind, row.path)
        if family_genes is not None and family_genes.isdisjoint(matrix.index):
            disjoint.append(f"{row.path}: none of its {len(matrix)} gene ids (first: {', '.join(map(str, matrix.index[:3]))}) "
                            f"is in a family of {families_path}")
            continue
        suffix = SUFFIX[row.modality]
        kinds[suffix] = row.kind
        blocks.append(matrix.T.add_suffix(f"_{suffix}"))
    if not blocks:
        raise ConfigError("\n".join(f"{line}. Fix: use the families' gene ids (e.g. {next(iter(sorted(family_genes)))}), or "
                                    "correct this row of the genomics sheet." for line in disjoint))
    for line in disjoint:
        log.warning("%s: its data is left out (no token would use it). Fix: use the families' gene ids if it should count.", line)
    features = pd.concat(blocks, axis=1, join="outer")
    features.index.name = "patient_id"
    return features, kinds


def build_tokens(features: pd.DataFrame | pd.Index, families: dict[str, list[str]], kinds: dict[str, str],
                 suffixes: tuple[str, ...] = ("mut", "cnv", "rnaseq")) -> dict:
    """Token definition: for each gene set its feature columns (of ``suffixes``, in that order) and its missing genes
    (those without a feature of any of them). ``features``: the feature matrix, or its columns."""
    available = set(features.columns if isinstance(features, pd.DataFrame) else features)
    tokens = []
    for family, genes in families.items():
        columns = [f"{gene}_{suffix}" for suffix in suffixes for gene in genes if f"{gene}_{suffix}" in available]
        found = {c.rsplit("_", 1)[0] for c in columns}
        tokens.append({"name": family, "features": columns, "n_genes": len(genes),
                       "missing_genes": [g for g in genes if g not in found]})
    return {"tokens": tokens, "kinds": kinds}


def token_qc(tokens: dict) -> pd.DataFrame:
    """The token coverage report: per token its genes, how many have no feature, its features and the missing genes."""
    return pd.DataFrame([{"token": t["name"], "genes": t["n_genes"], "genes_missing": len(t["missing_genes"]),
                          "features": len(t["features"]), "missing": " ".join(t["missing_genes"])} for t in tokens["tokens"]])


def patient_coverage(features: pd.DataFrame, kinds: dict[str, str], clinical_ids: set[str] | None) -> pd.DataFrame:
    """Per patient of the genomic tables: which modalities it has and whether the clinical sheet knows it.

    Policy (logged): a patient lacking a whole modality keeps it as missing; training fills those features
    with the fold's training mean. Patients absent from the clinical sheet never enter the folds.
    """
    report = pd.DataFrame(index=features.index)
    for suffix in kinds:
        columns = [c for c in features.columns if c.endswith(f"_{suffix}")]
        report[f"has_{suffix}"] = features[columns].notna().any(axis=1)
        lacking = int((~report[f"has_{suffix}"]).sum())
        if lacking:
            log.warning("%d patient(s) have no %s data; training fills their %s features with the training mean: %s",
                        lacking, suffix, suffix, report.index[~report[f"has_{suffix}"]].tolist()[:10])
    if clinical_ids is not None:
        report["in_clinical"] = report.index.isin(list(clinical_ids))
        unmatched = report.index[~report["in_clinical"]].tolist()
        if unmatched:
            log.warning("%d genomic sample(s) match no clinical row and are left out of the folds: %s",
                        len(unmatched), unmatched[:10])
    return report.reset_index()


def write_genomics(genomics_sheet: str | os.PathLike, families_path: str | os.PathLike, out_dir: str | os.PathLike,
                   clinical_sheet: str | os.PathLike | None = None) -> dict:
    """Write ``features.parquet``, ``tokens.json``, the token coverage report ``qc.tsv`` and the patient coverage
    report ``patients.tsv``; return the tokens."""
    out_dir = Path(out_dir)
    features, kinds = build_features(genomics_sheet, families_path)
    clinical_ids = set(read_sheet(clinical_sheet, "clinical", check_paths=False)["patient_id"]) if clinical_sheet else None
    coverage = patient_coverage(features, kinds, clinical_ids)
    tokens = build_tokens(features, read_gene_families(families_path), kinds)
    tokens["provenance"] = provenance({}, [genomics_sheet, families_path])
    qc = token_qc(tokens)
    with atomic_paths([out_dir / name for name in ("patients.tsv", "features.parquet", "qc.tsv", "tokens.json")]) as tmp:
        coverage.to_csv(tmp[0], sep="\t", index=False)
        features.to_parquet(tmp[1])
        qc.to_csv(tmp[2], sep="\t", index=False)
        tmp[3].write_text(json.dumps(tokens, indent=1))
    return tokens
