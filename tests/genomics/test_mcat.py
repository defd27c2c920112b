"""Importing MCAT / PORPOISE tables: columns classified by name, patients harmonised, MCAT's token sizes."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, SHARED_DATA, needs_shared
from memamba.data.mcat_cohort import select_slides, write_import
from memamba.data.splits import read_published_folds
from memamba.genomics.mcat import mcat_loader_columns, mcat_token_sizes, read_mcat_table
from memamba.genomics.tables import read_gene_families
from memamba.genomics.tokens import build_features, build_tokens

FAMILIES = REPO / "config" / "gene_sets" / "mcat_gene_families.csv"
TCGA = SHARED_DATA / "tcga"


def _peer_table(path: Path) -> Path:
    rows = [
        {"Unnamed: 0": 0, "case_id": "TCGA-AA-0001", "slide_id": "TCGA-AA-0001-01Z-00-DX1.svs", "site": "AA",
         "is_female": 1, "oncotree_code": "BLCA", "age": 60, "survival_months": 10.0, "censorship": 0, "train": 1,
         "TP53_mut": 1, "TP53_cnv": -1, "TP53_rnaseq": 0.5, "MYC_rnaseq": 2.0, "mystery": 7},
        {"Unnamed: 0": 1, "case_id": "TCGA-AA-0001", "slide_id": "TCGA-AA-0001-01Z-00-DX2.svs", "site": "AA",
         "is_female": 1, "oncotree_code": "BLCA", "age": 60, "survival_months": 10.0, "censorship": 0, "train": 1,
         "TP53_mut": 1, "TP53_cnv": -1, "TP53_rnaseq": 0.7, "MYC_rnaseq": 2.0, "mystery": 7},
        {"Unnamed: 0": 2, "case_id": "TCGA-AA-0002", "slide_id": "TCGA-AA-0002-01Z-00-DX1.svs", "site": "AA",
         "is_female": 0, "oncotree_code": "BLCA", "age": 70, "survival_months": 30.5, "censorship": 1, "train": 0,
         "TP53_mut": 0, "TP53_cnv": 2, "TP53_rnaseq": -1.5, "MYC_rnaseq": 0.0, "mystery": 8},
    ]
    pd.DataFrame(rows).to_csv(path, index=False, compression={"method": "zip", "archive_name": "../escape.csv"})
    return path


def test_metadata_never_becomes_a_feature_and_patients_are_harmonised(tmp_path: Path) -> None:
    result = read_mcat_table(_peer_table(tmp_path / "tcga_x_all_clean.csv.zip"))
    assert not (tmp_path.parent / "escape.csv").exists()
    assert result.ignored_columns == ["mystery"] and result.conflicting_patients == ["TCGA-AA-0001"]
    assert result.clinical.to_dict("list") == {"patient_id": ["TCGA-AA-0001", "TCGA-AA-0002"],
                                               "survival_months": [10.0, 30.5], "event": [1, 0]}
    assert set(result.matrices) == {"rnaseq", "cnv", "mut"}
    assert result.matrices["rnaseq"].loc["TP53", "TCGA-AA-0001"] == 0.5
    assert list(result.matrices["rnaseq"].index) == ["TP53", "MYC"] and len(result.slides) == 3
    features = {f"{g}_{s}" for s, m in result.matrices.items() for g in m.index}
    assert features == {"TP53_mut", "TP53_cnv", "TP53_rnaseq", "MYC_rnaseq"}


def test_written_import_feeds_the_genomics_stage(tmp_path: Path) -> None:
    result = read_mcat_table(_peer_table(tmp_path / "t.csv.zip"))
    write_import(result, select_slides(result.slides, None, None), tmp_path / "out", None)
    features, kinds = build_features(tmp_path / "out" / "genomics.tsv")
    assert kinds == {"rnaseq": "zscore", "cnv": "gistic", "mut": "binary"}
    tokens = build_tokens(features, {"TSG": ["TP53"], "Onco": ["MYC", "ABL1"]}, kinds)["tokens"]
    assert [len(t["features"]) for t in tokens] == [3, 1] and tokens[1]["missing_genes"] == ["ABL1"]
    slides = pd.read_csv(tmp_path / "out" / "slides.tsv", sep="\t")
    assert slides.loc[0, "slide_id"] == "TCGA-AA-0001-01Z-00-DX1" and slides.loc[0, "path"] == "slides/TCGA-AA-0001-01Z-00-DX1.svs"


@needs_shared
def test_mcat_blca_gives_the_token_sizes_mcat_trains_on(tmp_path: Path) -> None:
    table = TCGA / "mcat_sig" / "tcga_blca_all_clean.csv.zip"
    run = subprocess.run([sys.executable, "-m", "memamba.cli", "import-mcat", str(table), "--splits",
                          str(TCGA / "splits" / "tcga_blca"), "-o", str(tmp_path)], capture_output=True, text=True, check=True)
    assert "token sizes memamba trains on (every GENE_mut/cnv/rnaseq column of a family's genes): [94, 334, 521, 468, 1496, 479]" in run.stdout
    assert "token sizes MCAT's own loader gives: [94, 334, 521, 468, 1495, 479] (it drops ['ZXDC_rnaseq'] into its metadata and " \
           "feeds ['train'] to its genomic input)" in run.stdout
    assert "373 patients (169 events)" in run.stdout
    features, kinds = build_features(tmp_path / "genomics.tsv")
    tokens = build_tokens(features, read_gene_families(FAMILIES), kinds)["tokens"]
    assert [len(t["features"]) for t in tokens] == [94, 334, 521, 468, 1496, 479]
    assert not any(c.startswith(("censorship", "train", "Unnamed")) for c in features.columns)
    folds = [pd.read_csv(tmp_path / "splits" / f"fold_{k}.tsv", sep="\t") for k in range(5)]
    assert [len(f) for f in folds] == [373] * 5
    assert pd.concat([f[f["role"] == "val"] for f in folds])["patient_id"].nunique() == 373


@needs_shared
@pytest.mark.parametrize("cohort,patients", [("blca", 373), ("brca", 956), ("luad", 453)])
def test_porpoise_tables_import_and_tokenise(cohort: str, patients: int) -> None:
    result = read_mcat_table(TCGA / "porpoise" / f"tcga_{cohort}_all_clean.csv.zip")
    assert len(result.clinical) == patients and set(result.matrices) == {"rnaseq", "cnv", "mut"}
    columns = [f"{gene}_{suffix}" for suffix, matrix in result.matrices.items() for gene in matrix.index]
    sizes = mcat_token_sizes(columns, read_gene_families(FAMILIES))
    assert len(sizes) == 6 and min(sizes.values()) > 50
    splits = read_published_folds(TCGA / "splits" / f"tcga_{cohort}", set(result.clinical["patient_id"]))
    assert len(splits) == 5 and all(set(f["patient_id"]) <= set(result.clinical["patient_id"]) for f in splits)


def test_mcat_loader_replay_drops_the_last_column_and_keeps_train() -> None:
    header = ["Unnamed: 0", "case_id", "slide_id", "site", "is_female", "oncotree_code", "age", "survival_months",
              "censorship", "train", "TP53_cnv", "TP53_rnaseq", "MYC_rnaseq"]
    loader = mcat_loader_columns(header, {"TSG": ["TP53"], "Onco": ["MYC"]})
    assert loader.sizes == {"TSG": 2, "Onco": 0} and loader.dropped == ["MYC_rnaseq"] and loader.leaked == ["train"]
    shifted = mcat_loader_columns(["Unnamed: 0.1", "Unnamed: 0", *header[1:]], {"TSG": ["TP53"]})
    assert shifted.leaked == ["censorship", "train"], "a second index column pushes censorship out of MCAT's metadata"
