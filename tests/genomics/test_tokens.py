import json
from pathlib import Path

import pandas as pd
import pytest

from memamba.config import ConfigError
from memamba.genomics.tables import read_gene_families, read_matrix
from memamba.genomics.tokens import build_features, build_tokens, write_genomics


def test_demo_tokens_gather_mut_cnv_rna_per_family(demo_dir: Path, tmp_path: Path) -> None:
    tokens = write_genomics(demo_dir / "genomics.tsv", demo_dir / "gene_families.csv", tmp_path)
    sizes = {t["name"]: len(t["features"]) for t in tokens["tokens"]}
    assert sizes["Tumor Suppressor Genes"] == 16 * 3
    assert sizes["Oncogenes"] == 16 * 2
    assert tokens["kinds"] == {"rnaseq": "counts", "cnv": "gistic", "mut": "binary"}
    features = pd.read_parquet(tmp_path / "features.parquet")
    assert features.shape == (8, 16 * 6 * 2 + 16)
    assert json.loads((tmp_path / "tokens.json").read_text())["tokens"][0]["features"][0].endswith("_mut")
    assert pd.read_csv(tmp_path / "qc.tsv", sep="\t")["genes_missing"].sum() == 0


def test_missing_genes_are_reported_not_fatal(demo_dir: Path) -> None:
    features, kinds = build_features(demo_dir / "genomics.tsv")
    tokens = build_tokens(features, {"custom": ["TSG001", "NOTAGENE"], "empty": ["NOPE"]}, kinds)["tokens"]
    assert tokens[0]["missing_genes"] == ["NOTAGENE"] and len(tokens[0]["features"]) == 3
    assert tokens[1]["features"] == [] and tokens[1]["missing_genes"] == ["NOPE"]


def test_nan_and_text_cells_name_file_gene_and_sample(tmp_path: Path) -> None:
    path = tmp_path / "m.tsv"
    path.write_text("gene\tP1\tP2\nA\t1\t\nB\t2\t3\n")
    with pytest.raises(ConfigError, match=r"m.tsv: 1 missing value\(s\), first at gene A, sample P2"):
        read_matrix(path)
    path.write_text("gene\tP1\tP2\nA\t1\tfoo\n")
    with pytest.raises(ConfigError, match="non-numeric value 'foo' at gene A, sample P2"):
        read_matrix(path)


def test_negative_counts_are_rejected(demo_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "c.tsv").write_text("gene\tP1\nA\t-3\n")
    (tmp_path / "g.tsv").write_text("modality\tkind\tpath\nrna\tcounts\tc.tsv\n")
    with pytest.raises(ConfigError, match="declared as raw counts"):
        build_features(tmp_path / "g.tsv")


def test_gene_family_table_is_deduplicated(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("A,B\nX,Y\nX,\n")
    assert read_gene_families(tmp_path / "f.csv") == {"A": ["X"], "B": ["Y"]}
