"""Pathway tokens (SurvPath's): gene-set compositions, and each pathway's token built from its genes' features.

A composition is read from a gene x pathway 0/1 table (SurvPath's ``combine_comps.csv``: the genes in the first
column, one 0/1 column per pathway; compressed CSV or TSV accepted), a GMT file, or a table with one column of genes
per pathway (the gene-family layout). A pathway's token holds the features of its genes of the chosen modalities:
SurvPath's are transcriptomic (``rna``). A pathway none of whose genes is measured is reported in ``qc.tsv`` and
has no token, as a gene family without a measured gene.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd

from memamba.atomic import atomic_paths
from memamba.config import ConfigError
from memamba.genomics.tables import SUFFIX, read_gene_families
from memamba.genomics.tokens import build_tokens, token_qc
from memamba.provenance import provenance
from memamba.readers import read_table

log = logging.getLogger(__name__)

PATHWAY_MODALITIES = tuple(SUFFIX)
"""The modalities a pathway token can draw its genes' features from (``genomics.pathway_modalities``)."""


def read_pathways(path: str | os.PathLike) -> dict[str, list[str]]:
    """Pathways and their genes, from a gene x pathway 0/1 table, a GMT file or a one-column-per-pathway table."""
    path = Path(path)
    if path.suffix.lower() == ".gmt":
        return read_gene_families(path)
    name = path.name.lower()
    table = read_table(path, "pathway table", "give a gene x pathway 0/1 table (genes in the first column, one 0/1 column "
                       "per pathway, as SurvPath's combine_comps.csv), a GMT file, or one column of genes per pathway",
                       sep="\t" if ".tsv" in name or ".txt" in name else ",")
    memberships = table.iloc[:, 1:].apply(pd.to_numeric, errors="coerce")
    if table.shape[1] < 2 or not memberships.notna().all().all():
        return read_gene_families(path)
    bad = ~memberships.isin([0, 1])
    if bad.any().any():
        row, column = next((r, c) for c in bad.columns for r in bad.index[bad[c]])
        raise ConfigError(f"{path}: pathway {column!r} has the value '{table.loc[row, column]}' for gene {table.iloc[row, 0]!r} "
                          f"({int(bad.to_numpy().sum())} such cells); a gene x pathway table holds 0 (not a member) or 1 "
                          "(a member). Fix: binarise the table.")
    genes = table.iloc[:, 0].astype(str).str.strip()
    repeated = sorted(set(genes[genes.duplicated()]))
    if repeated:
        raise ConfigError(f"{path}: gene(s) {repeated[:5]} have more than one row ({len(repeated)} in all), so their "
                          "memberships disagree or repeat. Fix: keep one row per gene.")
    return {str(pathway): genes[memberships[pathway].to_numpy() == 1].tolist() for pathway in memberships.columns}


def write_pathway_tokens(features_parquet: str | os.PathLike, families_tokens: str | os.PathLike,
                         pathways_path: str | os.PathLike, modalities: list[str], out_dir: str | os.PathLike) -> dict:
    """Write the pathway token definition ``tokens.json`` and its coverage report ``qc.tsv`` to ``out_dir``, for the
    patient x feature matrix of the genomics stage (its columns only are read) and that stage's modality kinds."""
    unknown = sorted(set(modalities) - set(PATHWAY_MODALITIES))
    if unknown or not modalities:
        raise ConfigError(f"genomics.pathway_modalities is {modalities}: expected one or more of {list(PATHWAY_MODALITIES)}. "
                          "Fix: correct it in the config.")
    import pyarrow.parquet as pq

    schema = pq.read_schema(features_parquet)
    index_columns = {c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
    columns = pd.Index([name for name in schema.names if name not in index_columns])
    kinds = json.loads(Path(families_tokens).read_text())["kinds"]
    pathways = read_pathways(pathways_path)
    suffixes = tuple(SUFFIX[m] for m in modalities)
    tokens = build_tokens(columns, pathways, kinds, suffixes)
    measured = [t for t in tokens["tokens"] if t["features"]]
    if not measured:
        measured_modalities = sorted({c.rsplit("_", 1)[1] for c in columns if "_" in c})
        raise ConfigError(f"{pathways_path}: none of its {len(pathways)} pathways has a gene with {'/'.join(modalities)} "
                          f"features among the cohort's {len(columns)} genomic features (modalities measured: "
                          f"{measured_modalities}). Fix: use the tables' gene ids in the pathway table, or set "
                          "genomics.pathway_modalities to the modalities the cohort has.")
    empty = len(tokens["tokens"]) - len(measured)
    if empty:
        log.warning("%s: %d of %d pathways have no measured gene (%s features) and get no token (qc.tsv lists them)",
                    pathways_path, empty, len(pathways), "/".join(modalities))
    tokens["provenance"] = provenance({"pathway_modalities": modalities}, [features_parquet, pathways_path])
    out_dir = Path(out_dir)
    with atomic_paths([out_dir / "qc.tsv", out_dir / "tokens.json"]) as tmp:
        token_qc(tokens).to_csv(tmp[0], sep="\t", index=False)
        tmp[1].write_text(json.dumps(tokens, indent=1))
    return tokens
