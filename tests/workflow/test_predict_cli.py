"""`memamba predict` on the checkpoints of a finished workflow run (the tiny cohort)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memamba.cli import main

pytestmark = [pytest.mark.workflow, pytest.mark.timeout(900)]


def _inputs(results: Path, tokens: Path | None = None) -> list[str]:
    cohort = results / "tiny"
    return ["--slides", str(cohort / "input" / "slides.tsv"), "--genomics", str(cohort / "genomics" / "features.parquet"),
            "--tokens", str(tokens or cohort / "genomics" / "tokens.json"), "--features-dir", str(cohort / "features" / "demo-stats")]


@pytest.mark.parametrize("model", ["abmil", "coxnet"])
def test_predict_with_a_folds_checkpoint_reproduces_its_predictions(finished_run: Path, tmp_path: Path, model: str,
                                                                     capsys: pytest.CaptureFixture) -> None:
    results = finished_run / "results"
    fold = results / "tiny" / "models" / model / "fold_0"
    out = tmp_path / "predicted.tsv"
    argv = ["predict", "--checkpoint", str(fold / "checkpoint.pt"), "--clinical", str(results / "tiny" / "input" / "clinical.tsv"),
            *_inputs(results), "-o", str(out)]
    assert main(argv) == 0
    assert f"{model}: " in capsys.readouterr().out
    expected = pd.read_csv(fold / "predictions.tsv", sep="\t").set_index("patient_id")
    got = pd.read_csv(out, sep="\t").set_index("patient_id").loc[expected.index]
    np.testing.assert_allclose(got["risk"], expected["risk"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(got["survival_bin_3"], expected["survival_bin_3"], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(got["event"], expected["event"])


def test_predict_without_survival_and_with_every_fold(finished_run: Path, tmp_path: Path) -> None:
    results = finished_run / "results"
    folds = [str(results / "tiny" / "models" / "snn" / f"fold_{k}" / "checkpoint.pt") for k in (0, 1)]
    out = tmp_path / "ensemble.tsv"
    assert main(["predict", "--checkpoint", *folds, *_inputs(results), "-o", str(out)]) == 0
    table = pd.read_csv(out, sep="\t")
    assert "survival_months" not in table and {"risk", "risk_0", "risk_1", "survival_bin_0", "bin_end_3"} <= set(table)
    np.testing.assert_allclose(table["risk"], table[["risk_0", "risk_1"]].mean(axis=1))


def test_predict_refuses_another_gene_set_in_one_line(finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    results = finished_run / "results"
    tokens = json.loads((results / "tiny" / "genomics" / "tokens.json").read_text())
    tokens["tokens"][0]["features"] = tokens["tokens"][0]["features"][1:]
    edited = tmp_path / "tokens.json"
    edited.write_text(json.dumps(tokens))
    checkpoint = results / "tiny" / "models" / "abmil" / "fold_0" / "checkpoint.pt"
    out = tmp_path / "never.tsv"
    assert main(["predict", "--checkpoint", str(checkpoint), *_inputs(results, edited), "-o", str(out)]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(lines) == 1 and lines[0].startswith("memamba predict: error: ")
    assert "lacks 1 of the training features" in lines[0] and str(checkpoint) in lines[0] and "Fix:" in lines[0]
    assert not out.exists()


def test_heatmap_writes_one_score_per_patch_per_head_for_each_slide(finished_run: Path, tmp_path: Path) -> None:
    import h5py

    results = finished_run / "results"
    fold = results / "tiny" / "models" / "abmil" / "fold_0"
    sheet = pd.read_csv(results / "tiny" / "input" / "slides.tsv", sep="\t")
    patient = sheet["patient_id"].value_counts().index[0]                    # the patient with the most slides
    assert main(["heatmap", "--checkpoint", str(fold / "checkpoint.pt"), "--patient", patient, *_inputs(results),
                 "-o", str(tmp_path)]) == 0
    slides = sheet.loc[sheet["patient_id"] == patient, "slide_id"]
    total = 0.0
    for slide in slides:
        with h5py.File(tmp_path / f"{slide}.h5") as h5, \
                h5py.File(results / "tiny" / "features" / "demo-stats" / f"{slide}.h5") as features:
            np.testing.assert_array_equal(h5["coords"][:], features["coords"][:])
            assert h5["attention_scores"].shape == (len(h5["coords"]),) and json.loads(h5.attrs["heads"]) == ["attention_scores"]
            assert h5["coords"].attrs["patch_size_level0"] == features["coords"].attrs["patch_size_level0"]
            total += float(h5["attention_scores"][:].sum())
    assert total == pytest.approx(1.0, abs=1e-4)                              # one softmax over the patient's bag


@pytest.mark.parametrize("model", ["coxnet", "snn"])
def test_heatmap_of_a_model_without_patch_scores_is_one_line_and_exit_2(finished_run: Path, tmp_path: Path, model: str,
                                                                        capsys: pytest.CaptureFixture) -> None:
    results = finished_run / "results"
    checkpoint = results / "tiny" / "models" / model / "fold_0" / "checkpoint.pt"
    assert main(["heatmap", "--checkpoint", str(checkpoint), "--patient", "TINY-0001", *_inputs(results), "-o", str(tmp_path / "h")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and f"memamba heatmap: error: {checkpoint}: model {model} computes no per-patch score" in lines[0]
    assert ("Fix: draw heatmaps with a model that does: abmil, abmil-snn, cmta, mambamil, mcat, memamba, memamba-pathology, "
            "motcat, porpoise, survpath") in lines[0]
    assert not (tmp_path / "h").exists()

