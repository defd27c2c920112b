import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from memamba.data.cohort import complete_patients, load_cohort
from memamba.errors import MemambaError

CLINICAL = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4"]})
SLIDES = pd.DataFrame({"patient_id": ["P1", "P2"], "slide_id": ["s1", "s2"]})


def test_patients_missing_slides_or_genomics_are_left_out_by_name(caplog: pytest.LogCaptureFixture) -> None:
    assert complete_patients(CLINICAL, SLIDES, {"P1", "P3"}) == ["P1"]
    assert "patient P2 has no genomics: left out of training and evaluation" in caplog.text
    assert "patient P3 has no slides: left out of training and evaluation" in caplog.text
    assert "patient P4 has no slides or genomics" in caplog.text


def test_a_cohort_scored_by_trained_folds_says_its_patients_are_left_out_of_scoring(caplog: pytest.LogCaptureFixture) -> None:
    assert complete_patients(CLINICAL, SLIDES, {"P1", "P3"}, purpose="scoring") == ["P1"]
    assert "patient P2 has no genomics: left out of scoring" in caplog.text and "training" not in caplog.text


def test_impute_policy_keeps_patients_missing_one_modality(caplog: pytest.LogCaptureFixture) -> None:
    assert complete_patients(CLINICAL, SLIDES, {"P1", "P3"}, "impute") == ["P1", "P2", "P3"]
    assert "patient P2 has no genomics: given the training-fold mean (missing_modality: impute)" in caplog.text
    assert "patient P4 has no slides or genomics: left out" in caplog.text
    with pytest.raises(ValueError, match="exclude"):
        complete_patients(CLINICAL, SLIDES, set(), "drop")


def _write_cohort(root: Path) -> dict[str, Path]:
    """Three patients: P1 has two slides and genomics, P2 slides only, P3 genomics only."""
    slides = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "slide_id": ["a", "b", "c"], "path": ["a.svs", "b.svs", "c.svs"]})
    clinical = pd.DataFrame({"patient_id": ["P1", "P2", "P3"], "survival_months": [5.0, 8.0, 13.0], "event": [1, 0, 1]})
    paths = {"slides": root / "slides.tsv", "clinical": root / "clinical.tsv", "features": root / "features",
             "genomics": root / "features.parquet", "tokens": root / "tokens.json"}
    slides.to_csv(paths["slides"], sep="\t", index=False)
    clinical.to_csv(paths["clinical"], sep="\t", index=False)
    paths["features"].mkdir()
    for slide, size in (("a", 3), ("b", 2), ("c", 4)):
        with h5py.File(paths["features"] / f"{slide}.h5", "w") as h5:
            h5["features"] = np.full((size, 5), ord(slide), np.float32)
    pd.DataFrame({"G_cnv": [1.0, 2.0]}, index=["P1", "P3"]).to_parquet(paths["genomics"])
    paths["tokens"].write_text(json.dumps({"tokens": [{"name": "t", "features": ["G_cnv"]}], "kinds": {"cnv": "gistic"}}))
    return paths


def test_load_cohort_joins_a_patients_slides_into_one_bag_and_imputes_by_policy(tmp_path: Path) -> None:
    paths = _write_cohort(tmp_path)
    args = (paths["slides"], paths["clinical"], paths["features"], paths["genomics"], paths["tokens"])
    strict = load_cohort(*args)
    assert strict.patients == ["P1"] and strict.bags.sizes.tolist() == [5]
    np.testing.assert_array_equal(strict.bags.read(0)[:, 0], [97, 97, 97, 98, 98])
    kept = load_cohort(*args, missing_modality="impute")
    assert kept.patients == ["P1", "P2", "P3"] and kept.imputed == ["", "genomics", "slides"]
    assert [kept.bags.read(i).shape for i in range(3)] == [(5, 5), (4, 5), (0, 5)] and kept.bags.sizes.tolist() == [5, 4, 0]
    assert np.isnan(kept.genomics.loc["P2", "G_cnv"]) and kept.genomics.loc["P3", "G_cnv"] == 2.0
    np.testing.assert_array_equal(kept.event, [1, 0, 1])


def test_ready_made_clam_features_load_without_slide_files_and_widths_must_agree(tmp_path: Path) -> None:
    paths = _write_cohort(tmp_path)
    pd.read_csv(paths["slides"], sep="\t").drop(columns="path").to_csv(paths["slides"], sep="\t", index=False)
    clam = tmp_path / "clam"
    (clam / "pt_files").mkdir(parents=True)
    (clam / "h5_files").mkdir()
    for slide, size in (("a", 3), ("b", 2), ("c", 4)):
        features = np.full((size, 5), ord(slide), np.float32)
        if slide == "b":
            torch.save(torch.from_numpy(features), clam / "pt_files" / f"{slide}.pt")
        else:
            with h5py.File(clam / "h5_files" / f"{slide}.h5", "w") as h5:
                h5["features"], h5["coords"] = features, np.zeros((size, 2), np.int64)
    args = (paths["slides"], paths["clinical"], clam, paths["genomics"], paths["tokens"])
    kept = load_cohort(*args, missing_modality="impute")
    np.testing.assert_array_equal(kept.bags.read(0)[:, 0], [97, 97, 97, 98, 98])
    assert [kept.bags.read(i).shape for i in range(3)] == [(5, 5), (4, 5), (0, 5)] and kept.bags.sizes.tolist() == [5, 4, 0]
    torch.save(torch.ones(2, 7), clam / "pt_files" / "b.pt")
    with pytest.raises(MemambaError, match=r"b\.pt: 7 features per patch, but .*a\.h5 has 5\. Fix: every slide"):
        load_cohort(*args)
