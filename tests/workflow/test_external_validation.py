"""cohorts.NAME.predict_with: one cohort's trained folds score another cohort, on a copy of the tiny workflow run."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import TINY, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.timeout(900)]


def test_a_cohort_scored_by_another_cohorts_folds_gets_external_metrics(finished_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    config = {**TINY, "cohorts": {**TINY["cohorts"], "other": {"generate": {"patients": 8, "seed": 2, "slide_size": 512},
                                                               "predict_with": "tiny"}}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(run)
    assert result.returncode == 0, result.stderr[-3000:]
    results = run / "results"
    for model in ("snn", "abmil", "coxnet", "snn-wide"):
        external = results / "other" / "external" / "tiny" / model
        predictions = pd.read_csv(external / "predictions.tsv", sep="\t")
        clinical = pd.read_csv(results / "other" / "input" / "clinical.tsv", sep="\t")
        assert set(predictions["patient_id"]) <= set(clinical["patient_id"]) and len(predictions) >= 6
        np.testing.assert_allclose(predictions["risk"], predictions[["risk_0", "risk_1"]].mean(axis=1))
        metrics = pd.read_csv(external / "metrics.tsv", sep="\t")
        assert metrics["fold"].tolist() == ["external"] and 0 <= metrics["c_index"].iloc[0] <= 1
        assert (external / "km.png").stat().st_size > 1000
    summary = pd.read_csv(results / "other" / "summary.tsv", sep="\t").set_index("model")
    assert "snn trained on tiny" in summary.index and summary.loc["snn trained on tiny", "folds"] == 1
    assert "snn" in summary.index                                           # its own cross-validation too
    assert "snn trained on tiny" in (results / "report.html").read_text()
    assert not (results / "tiny" / "external").exists()


def test_predict_with_a_cohort_the_config_lacks_is_refused_at_start_up(finished_run: Path, tmp_path: Path) -> None:
    config = {**TINY, "cohorts": {**TINY["cohorts"], "other": {"generate": {"patients": 8, "seed": 2}, "predict_with": "tcga"}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n")
    assert result.returncode != 0
    assert "cohorts.other.predict_with is 'tcga', not another cohort of the config" in result.stdout + result.stderr


def test_a_cohort_only_scored_by_another_cohorts_folds_trains_nothing_of_its_own(finished_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    config = {**TINY, "cohorts": {**TINY["cohorts"], "other": {"generate": {"patients": 8, "seed": 2, "slide_size": 512},
                                                               "predict_with": "tiny", "predict_only": True}}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(run)
    assert result.returncode == 0, result.stderr[-3000:]
    results = run / "results"
    assert not (results / "other" / "splits").exists() and not (results / "other" / "models").exists()
    summary = pd.read_csv(results / "other" / "summary.tsv", sep="\t")
    assert summary["model"].tolist() == [f"{model} trained on tiny" for model in TINY["train"]["models"]]
    assert set(pd.read_csv(results / "summary.tsv", sep="\t")["cohort"]) == {"tiny", "other"}


def test_predict_only_without_predict_with_is_refused_at_start_up(tmp_path: Path) -> None:
    config = {**TINY, "cohorts": {**TINY["cohorts"], "other": {"generate": {"patients": 8, "seed": 2}, "predict_only": True}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n")
    assert result.returncode != 0
    assert "cohorts.other.predict_only is true, but the cohort names no predict_with. Fix:" in result.stdout + result.stderr
