"""Build the patient x feature matrix and the token definition (feature columns per gene family)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from memamba.atomic import atomic_path
from memamba.genomics.tables import SUFFIX, check_kind, read_gene_families, read_matrix
from memamba.provenance import provenance
from memamba.sheets import read_sheet


def build_features(genomics_sheet: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, str]]:
    """Patient x feature matrix (columns ``GENE_rnaseq``, ``GENE_cnv``, ``GENE_mut``) and each modality's kind."""
    sheet = read_sheet(genomics_sheet, "genomics")
    blocks, kinds = [], {}
    for row in sheet.itertuples():
        matrix = read_matrix(row.path)
        check_kind(matrix, row.kind, row.path)
        suffix = SUFFIX[row.modality]
        kinds[suffix] = row.kind
        blocks.append(matrix.T.add_suffix(f"_{suffix}"))
    features = pd.concat(blocks, axis=1, join="outer")
    features.index.name = "patient_id"
    return features, kinds


def build_tokens(features: pd.DataFrame, families: dict[str, list[str]], kinds: dict[str, str]) -> dict:
    """Token definition: for each family its feature columns (mut, cnv, rnaseq order) and its missing genes."""
    available = set(features.columns)
    tokens = []
    for family, genes in families.items():
        columns = [f"{gene}_{suffix}" for suffix in ("mut", "cnv", "rnaseq") for gene in genes
                   if f"{gene}_{suffix}" in available]
        found = {c.rsplit("_", 1)[0] for c in columns}
        tokens.append({"name": family, "features": columns, "n_genes": len(genes),
                       "missing_genes": [g for g in genes if g not in found]})
    return {"tokens": tokens, "kinds": kinds}


def write_genomics(genomics_sheet: str | os.PathLike, families_path: str | os.PathLike, out_dir: str | os.PathLike) -> dict:
    """Write ``features.parquet``, ``tokens.json`` and the coverage report ``qc.tsv``; return the tokens."""
    out_dir = Path(out_dir)
    features, kinds = build_features(genomics_sheet)
    tokens = build_tokens(features, read_gene_families(families_path), kinds)
    tokens["provenance"] = provenance({}, [genomics_sheet, families_path])
    with atomic_path(out_dir / "features.parquet") as tmp:
        features.to_parquet(tmp)
    qc = pd.DataFrame([{"token": t["name"], "genes": t["n_genes"], "genes_missing": len(t["missing_genes"]),
                        "features": len(t["features"]), "missing": " ".join(t["missing_genes"])} for t in tokens["tokens"]])
    with atomic_path(out_dir / "qc.tsv") as tmp:
        qc.to_csv(tmp, sep="\t", index=False)
    with atomic_path(out_dir / "tokens.json") as tmp:
        tmp.write_text(json.dumps(tokens, indent=1))
    return tokens
