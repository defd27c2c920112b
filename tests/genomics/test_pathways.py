"""Pathway tokens: SurvPath's gene x pathway table, GMT and gene-list layouts; each pathway's RNA features; pathways
without a measured gene reported and left without a token; every bad table named with its fix."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from memamba.config import ConfigError
from memamba.genomics.pathways import read_pathways, write_pathway_tokens

SHARED = Path(__file__).parents[2].parent / "shared" / "data" / "tcga"
COMBINE = SHARED / "signatures" / "survpath_combine_comps.csv.gz"
BLCA = SHARED / "mcat_sig" / "tcga_blca_all_clean.csv.zip"


def _genomics_outputs(folder: Path, columns: list[str]) -> tuple[Path, Path]:
    """A features.parquet with these columns and the tokens.json of the gene-family stage (for its kinds)."""
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([[0.0] * len(columns)], columns=columns, index=pd.Index(["P1"], name="patient_id")).to_parquet(folder / "f.parquet")
    (folder / "tokens.json").write_text(json.dumps({"tokens": [], "kinds": {"rnaseq": "zscore", "cnv": "gistic"}}))
    return folder / "f.parquet", folder / "tokens.json"


def test_the_three_layouts_give_the_same_pathways(tmp_path: Path) -> None:
    pd.DataFrame({"gene": ["A", "B", "C"], "P1": [1, 0, 1], "P2": [0, 1, 1]}).to_csv(tmp_path / "comps.csv.gz", index=False)
    (tmp_path / "sets.gmt").write_text("P1\tdesc\tA\tC\nP2\tdesc\tB\tC\n")
    pd.DataFrame({"P1": ["A", "C"], "P2": ["B", "C"]}).to_csv(tmp_path / "lists.csv", index=False)
    expected = {"P1": ["A", "C"], "P2": ["B", "C"]}
    for name in ("comps.csv.gz", "sets.gmt", "lists.csv"):
        assert read_pathways(tmp_path / name) == expected, name


def test_a_membership_other_than_0_or_1_and_a_gene_twice_are_refused_with_the_fix(tmp_path: Path) -> None:
    pd.DataFrame({"gene": ["A", "B"], "P1": [1, 2], "P2": [0, 1]}).to_csv(tmp_path / "comps.csv", index=False)
    with pytest.raises(ConfigError, match=r"comps.csv: pathway 'P1' has the value '2' for gene 'B' \(1 such cells\).*Fix: binarise"):
        read_pathways(tmp_path / "comps.csv")
    pd.DataFrame({"gene": ["A", "A"], "P1": [1, 0]}).to_csv(tmp_path / "twice.csv", index=False)
    with pytest.raises(ConfigError, match=r"twice.csv: gene\(s\) \['A'\] have more than one row.*Fix: keep one row per gene"):
        read_pathways(tmp_path / "twice.csv")


def test_a_token_holds_its_genes_rna_features_and_an_unmeasured_pathway_gets_none(tmp_path: Path) -> None:
    pd.DataFrame({"gene": ["A", "B", "C", "Z"], "P1": [1, 0, 1, 0], "P2": [0, 1, 0, 0], "EMPTY": [0, 0, 0, 1]}).to_csv(
        tmp_path / "comps.csv", index=False)
    features, tokens = _genomics_outputs(tmp_path / "g", ["A_rnaseq", "C_rnaseq", "A_cnv", "B_cnv"])
    written = write_pathway_tokens(features, tokens, tmp_path / "comps.csv", ["rna"], tmp_path / "out")
    assert [(t["name"], t["features"], t["missing_genes"]) for t in written["tokens"]] == [
        ("P1", ["A_rnaseq", "C_rnaseq"], []), ("P2", [], ["B"]), ("EMPTY", [], ["Z"])]
    assert json.loads((tmp_path / "out" / "tokens.json").read_text())["kinds"] == {"rnaseq": "zscore", "cnv": "gistic"}
    qc = pd.read_csv(tmp_path / "out" / "qc.tsv", sep="\t")
    assert qc[["token", "features", "genes_missing"]].values.tolist() == [["P1", 2, 0], ["P2", 0, 1], ["EMPTY", 0, 1]]
    both = write_pathway_tokens(features, tokens, tmp_path / "comps.csv", ["rna", "cnv"], tmp_path / "both")
    assert [t["features"] for t in both["tokens"]][:2] == [["A_rnaseq", "C_rnaseq", "A_cnv"], ["B_cnv"]]


def test_no_measured_pathway_names_the_modalities_and_the_fix(tmp_path: Path) -> None:
    pd.DataFrame({"gene": ["A"], "P1": [1]}).to_csv(tmp_path / "comps.csv", index=False)
    features, tokens = _genomics_outputs(tmp_path / "g", ["A_cnv"])
    with pytest.raises(ConfigError, match=r"none of its 1 pathways has a gene with rna features .*modalities measured: "
                                          r"\['cnv'\]\)\. Fix: .* set genomics.pathway_modalities"):
        write_pathway_tokens(features, tokens, tmp_path / "comps.csv", ["rna"], tmp_path / "out")
    assert not (tmp_path / "out" / "tokens.json").exists()


@pytest.mark.skipif(not (COMBINE.is_file() and BLCA.is_file()), reason="needs ../shared/data (SurvPath's pathways, BLCA table)")
def test_survpaths_331_pathways_over_the_blca_table_give_190_tokens_through_the_command(tmp_path: Path) -> None:
    pathways = read_pathways(COMBINE)
    assert len(pathways) == 331 and len({g for genes in pathways.values() for g in genes}) == 4999
    columns = [c for c in pd.read_csv(BLCA, nrows=0).columns if c.endswith(("_rnaseq", "_cnv"))]
    features, tokens = _genomics_outputs(tmp_path / "g", columns)
    run = subprocess.run([sys.executable, "-m", "memamba.cli", "pathway-tokens", "--features", str(features), "--tokens",
                          str(tokens), "--pathways", str(COMBINE), "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "190 of 331 pathways have a token (2351 features in all)" in run.stdout
    assert "141 of 331 pathways have no measured gene (rna features)" in run.stderr
    written = json.loads((tmp_path / "out" / "tokens.json").read_text())["tokens"]
    assert all(f.endswith("_rnaseq") for t in written for f in t["features"])
