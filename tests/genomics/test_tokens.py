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


def test_samples_by_genes_parquet_with_ensembl_versions_and_symbols(tmp_path: Path) -> None:
    frame = pd.DataFrame({"sample": ["P1", "P2"], "ENSG00000141510.16": [5.0, 6.0], "ENSG00000136997.21": [1.0, 2.0]})
    frame.to_parquet(tmp_path / "m.parquet", index=False)
    matrix = read_matrix(tmp_path / "m.parquet", "samples_x_genes")
    assert list(matrix.index) == ["ENSG00000141510", "ENSG00000136997"] and list(matrix.columns) == ["P1", "P2"]
    (tmp_path / "gdc.tsv").write_text("gene_id\tgene_name\tP1\tP2\nENSG00000141510.16\tTP53\t5\t6\nENSG00000136997.21\tMYC\t1\t2\n")
    assert list(read_matrix(tmp_path / "gdc.tsv").index) == ["TP53", "MYC"]


def test_a_transposed_matrix_is_recognised(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_text("sample\tTP53\tMYC\nTCGA-AA-0001-01A\t1\t2\nTCGA-AA-0002-01A\t3\t4\n")
    with pytest.raises(ConfigError, match="samples x genes. Fix: set orientation to samples_x_genes"):
        read_matrix(tmp_path / "t.tsv")
    assert read_matrix(tmp_path / "t.tsv", "samples_x_genes").loc["MYC", "TCGA-AA-0002"] == 4


def test_duplicated_genes_keep_the_most_expressed_row(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "d.tsv").write_text("gene\tP1\tP2\nA\t1\t1\nB\t5\t5\nA\t10\t20\n")
    matrix = read_matrix(tmp_path / "d.tsv")
    assert list(matrix.index) == ["A", "B"] and matrix.loc["A"].tolist() == [10, 20]
    assert "1 gene(s) appear more than once; the row with the largest mean is kept: ['A']" in caplog.text


def test_tcga_samples_become_patients_preferring_the_tumour(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "s.tsv").write_text("gene\tTCGA-AA-0001-11A-01R\tTCGA-AA-0001-01B-01R\tTCGA-AA-0001-01A-02R\t"
                                    "TCGA-AA-0002-01A-01R\nA\t1\t2\t3\t4\n")
    matrix = read_matrix(tmp_path / "s.tsv")
    assert matrix.to_dict("records") == [{"TCGA-AA-0001": 3.0, "TCGA-AA-0002": 4.0}]
    assert "2 sample(s) of patients with several samples are not used" in caplog.text
    assert "TCGA-AA-0001-11A-01R" in caplog.text


def test_gistic_values_are_checked_and_gmt_files_read(tmp_path: Path) -> None:
    from memamba.genomics.tables import check_kind

    with pytest.raises(ConfigError, match="outside -2..2. Fix: declare it as log2ratio"):
        check_kind(pd.DataFrame({"P1": [0.4]}), "gistic", "cnv.tsv")
    (tmp_path / "h.gmt").write_text("HALLMARK_A\thttp://x\tTP53\tMYC\tTP53\nHALLMARK_B\tdesc\tEGFR\n")
    assert read_gene_families(tmp_path / "h.gmt") == {"HALLMARK_A": ["TP53", "MYC"], "HALLMARK_B": ["EGFR"]}


def test_a_cohort_without_rna_builds_tokens_and_reports_empty_ones(tmp_path: Path) -> None:
    (tmp_path / "cnv.tsv").write_text("gene\tP1\tP2\nTP53\t-1\t0\nMYC\t2\t1\n")
    (tmp_path / "mut.tsv").write_text("gene\tP1\tP2\nTP53\t1\t0\n")
    (tmp_path / "g.tsv").write_text("modality\tkind\tpath\ncnv\tgistic\tcnv.tsv\nmut\tbinary\tmut.tsv\n")
    features, kinds = build_features(tmp_path / "g.tsv")
    tokens = build_tokens(features, {"TSG": ["TP53"], "Onco": ["MYC"], "TF": ["FOXA1"]}, kinds)["tokens"]
    assert [t["features"] for t in tokens] == [["TP53_mut", "TP53_cnv"], ["MYC_cnv"], []]
    assert kinds == {"cnv": "gistic", "mut": "binary"}


def test_patients_lacking_a_modality_or_a_clinical_row_are_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "rna.tsv").write_text("gene\tP1\tP2\tP3\nTP53\t1\t2\t3\n")
    (tmp_path / "cnv.tsv").write_text("gene\tP1\tP2\nTP53\t-1\t0\n")
    (tmp_path / "g.tsv").write_text("modality\tkind\tpath\nrna\tzscore\trna.tsv\ncnv\tgistic\tcnv.tsv\n")
    (tmp_path / "clinical.tsv").write_text("patient_id\tsurvival_months\tevent\nP1\t3\t1\nP2\t5\t0\n")
    write_genomics(tmp_path / "g.tsv", _families(tmp_path), tmp_path / "out", tmp_path / "clinical.tsv")
    report = pd.read_csv(tmp_path / "out" / "patients.tsv", sep="\t").set_index("patient_id")
    assert report.loc["P3"].tolist() == [True, False, False] and report.loc["P1"].tolist() == [True, True, True]
    assert "1 patient(s) have no cnv data; training fills their cnv features with the training mean: ['P3']" in caplog.text
    assert "1 genomic sample(s) match no clinical row and are left out of the folds: ['P3']" in caplog.text


def _families(tmp_path: Path) -> Path:
    (tmp_path / "f.csv").write_text("TSG\nTP53\n")
    return tmp_path / "f.csv"


def test_a_sample_written_twice_is_an_error_in_either_orientation(tmp_path: Path) -> None:
    (tmp_path / "m.tsv").write_text("gene\tDEMO-0001\tDEMO-0003\tDEMO-0003\nA\t1\t2\t3\nB\t4\t5\t6\n")
    with pytest.raises(ConfigError, match=r"m\.tsv: column\(s\) \['DEMO-0003'\] appear more than once in the header of this genomic matrix"):
        read_matrix(tmp_path / "m.tsv")
    (tmp_path / "t.tsv").write_text("sample\tA\tB\nDEMO-0001\t1\t2\nDEMO-0003\t3\t4\nDEMO-0003\t5\t6\n")
    with pytest.raises(ConfigError, match=r"t\.tsv: sample\(s\) \['DEMO-0003'\] appear more than once"):
        read_matrix(tmp_path / "t.tsv", "samples_x_genes")


def test_a_gene_written_twice_keeps_its_most_expressed_copy_in_either_orientation(tmp_path: Path) -> None:
    (tmp_path / "t.tsv").write_text("sample\tA\tB\tA\nP1\t1\t5\t10\nP2\t1\t5\t20\n")
    matrix = read_matrix(tmp_path / "t.tsv", "samples_x_genes")
    assert list(matrix.index) == ["A", "B"] and matrix.loc["A"].tolist() == [10, 20]


def test_a_family_or_gene_set_named_twice_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("TSG,Oncogenes,TSG\nTP53,MYC,RB1\n")
    with pytest.raises(ConfigError, match=r"f\.csv: column\(s\) \['TSG'\] appear more than once"):
        read_gene_families(tmp_path / "f.csv")
    (tmp_path / "f.gmt").write_text("TSG\tx\tTP53\nONC\tx\tMYC\nTSG\tx\tRB1\n")
    with pytest.raises(ConfigError, match=r"f\.gmt: line 3: gene set 'TSG' appears more than once"):
        read_gene_families(tmp_path / "f.gmt")


def test_a_matrix_outside_every_family_is_left_out_with_a_warning_when_another_overlaps(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "rna.tsv").write_text("gene\tP1\tP2\nTP53\t1\t2\nMYC\t3\t4\n")
    (tmp_path / "cnv.tsv").write_text("gene\tP1\tP2\nZNF1\t-1\t0\nZNF2\t0\t1\nZNF3\t1\t1\nZNF4\t0\t0\n")   # 4 genes, none in a family
    (tmp_path / "g.tsv").write_text("modality\tkind\tpath\nrna\tzscore\trna.tsv\ncnv\tgistic\tcnv.tsv\n")
    features, kinds = build_features(tmp_path / "g.tsv", _families(tmp_path))
    assert list(features.columns) == ["TP53_rnaseq", "MYC_rnaseq"] and kinds == {"rnaseq": "zscore"}
    assert f"{tmp_path / 'cnv.tsv'}: none of its 4 gene ids (first: ZNF1, ZNF2, ZNF3) is in a family of" in caplog.text
    assert "its data is left out (no token would use it)" in caplog.text
    (tmp_path / "g.tsv").write_text("modality\tkind\tpath\ncnv\tgistic\tcnv.tsv\n")
    with pytest.raises(ConfigError, match=r"cnv\.tsv: none of its 4 gene ids .*Fix: use the families' gene ids \(e\.g\. TP53\)"):
        build_features(tmp_path / "g.tsv", _families(tmp_path))
