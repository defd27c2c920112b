"""An MCAT/PORPOISE table turned into a workflow cohort: slides kept by presence and type, a complete config."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from memamba.config import ConfigError
from memamba.data.mcat_cohort import cohort_config, cohort_name, gene_set_copy_path, select_slides, write_config

TABLE_SLIDES = pd.DataFrame({
    "slide_id": ["TCGA-AA-0001-01Z-00-DX1.A1.svs", "TCGA-AA-0001-01A-01-TS1.B2.svs", "TCGA-AA-0002-01Z-00-DX2.C3.svs",
                 "TCGA-AA-0003-01Z-00-DX1.D4.svs"],
    "patient_id": ["TCGA-AA-0001", "TCGA-AA-0001", "TCGA-AA-0002", "TCGA-AA-0003"]})


def test_cohort_name_from_the_table() -> None:
    assert cohort_name("data/tcga_blca_all_clean.csv.zip") == "tcga_blca" and cohort_name("My Table.tsv") == "my_table"


def test_slides_found_under_a_tree_keep_diagnostic_ones_and_list_the_absent(tmp_path: Path) -> None:
    for name in TABLE_SLIDES["slide_id"][:3]:
        (tmp_path / "gdc" / name[:12]).mkdir(parents=True, exist_ok=True)
        (tmp_path / "gdc" / name[:12] / name).write_bytes(b"x")
    selection = select_slides(TABLE_SLIDES, tmp_path / "gdc", None)
    assert selection.slides["slide_id"].tolist() == ["TCGA-AA-0001-01Z-00-DX1.A1", "TCGA-AA-0002-01Z-00-DX2.C3"]
    assert selection.slides["path"].tolist() == [str(tmp_path / "gdc" / "TCGA-AA-0001" / "TCGA-AA-0001-01Z-00-DX1.A1.svs"),
                                                 str(tmp_path / "gdc" / "TCGA-AA-0002" / "TCGA-AA-0002-01Z-00-DX2.C3.svs")]
    assert selection.not_diagnostic == ["TCGA-AA-0001-01A-01-TS1.B2.svs"]
    assert selection.absent.to_dict("list") == {"slide_id": ["TCGA-AA-0003-01Z-00-DX1.D4"], "patient_id": ["TCGA-AA-0003"],
                                                "file": ["TCGA-AA-0003-01Z-00-DX1.D4.svs"],
                                                "problem": [f"no slide file of that name under {tmp_path / 'gdc'}"]}
    assert len(select_slides(TABLE_SLIDES, tmp_path / "gdc", None, "all").slides) == 3


def test_ready_made_features_decide_presence_and_need_no_slide_paths(tmp_path: Path) -> None:
    (tmp_path / "h5_files").mkdir()
    with h5py.File(tmp_path / "h5_files" / "TCGA-AA-0003-01Z-00-DX1.D4.h5", "w") as h5:
        h5["features"] = np.zeros((1, 4), np.float32)
    selection = select_slides(TABLE_SLIDES, None, tmp_path)
    assert selection.slides.to_dict("list") == {"slide_id": ["TCGA-AA-0003-01Z-00-DX1.D4"], "patient_id": ["TCGA-AA-0003"]}
    assert len(selection.absent) == 2 and set(selection.absent["problem"]) == {f"no feature file in {tmp_path}"}


def test_config_is_complete_and_takes_settings_from_another_config(tmp_path: Path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml.safe_dump({"cohorts": {"other": {"generate": {}}}, "extract": {"encoder": "uni", "weights": "w.bin"},
                                        "train": {"epochs": 7, "models": ["memamba"]}}))
    config = cohort_config("tcga_x", tmp_path / "out", tmp_path / "out" / "gene_families.gmt", True, tmp_path / "features", settings,
                           gene_set_copy_path(tmp_path / "out", "pathways", "combine_comps.csv.gz"))
    assert config["cohorts"]["tcga_x"]["pathways"] == str(tmp_path / "out" / "pathways.csv.gz")
    assert gene_set_copy_path(tmp_path, "gene_families", "h.gmt") == tmp_path / "gene_families.gmt"
    assert list(config["cohorts"]) == ["tcga_x"] and config["cohorts"]["tcga_x"]["splits"] == str(tmp_path / "out" / "splits")
    assert config["cohorts"]["tcga_x"]["features"] == str(tmp_path / "features")
    assert config["cohorts"]["tcga_x"]["gene_families"] == str(tmp_path / "out" / "gene_families.gmt")
    assert config["extract"]["encoder"] == "uni" and config["train"]["epochs"] == 7 and config["tile"]["patch_size"] == 256
    write_config(config, tmp_path / "config.yaml", "t.csv.zip")
    assert yaml.safe_load((tmp_path / "config.yaml").read_text()) == config
    settings.write_text(yaml.safe_dump({"train": {"epochs": 0}}))
    with pytest.raises(ConfigError, match="settings.yaml: field 'train.epochs'"):
        cohort_config("tcga_x", tmp_path / "out", tmp_path / "f.csv", False, None, settings)
