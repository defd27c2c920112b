"""train.tune: models tuned by nested cross-validation are trained beside the configured ones, on a copy of the tiny run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import TINY, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.timeout(900)]


def test_tuned_models_are_trained_beside_the_configured_ones_and_report_their_choices(finished_run: Path,
                                                                                      tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    untuned = run / "results" / "tiny" / "models" / "snn" / "fold_0" / "checkpoint.pt"
    before = untuned.stat().st_mtime_ns
    tune = {"models": ["snn", "coxnet"], "candidates": 2, "inner_folds": 2, "spaces": {"snn": {"lr": [1e-3, 1e-2]}}}
    config = {**TINY, "train": {**TINY["train"], "tune": tune}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(run)
    assert result.returncode == 0, result.stderr[-3000:]
    results = run / "results" / "tiny"
    for model in ("snn-tuned", "coxnet-tuned"):
        for fold in (0, 1):
            folder = results / "models" / model / f"fold_{fold}"
            scores = pd.read_csv(folder / "tuning.tsv", sep="\t")
            assert len(scores) == 2 * 2 and sorted(set(scores["candidate"])) == [0, 1]
            recorded = yaml.safe_load((folder / "config.yaml").read_text())
            assert recorded["tuning"]["inner_fits"] == 4 and recorded["tuning"]["chosen_candidate"] in (0, 1)
            assert not (folder / "inner_fits.partial.tsv").exists()
    chosen = yaml.safe_load((results / "models" / "snn-tuned" / "fold_0" / "config.yaml").read_text())
    assert set(chosen["tuning"]["chosen"]) == {"lr"} and chosen["train"]["lr"] == chosen["tuning"]["chosen"]["lr"]
    assert untuned.stat().st_mtime_ns == before                        # tuning retrains nothing that was there
    summary = pd.read_csv(results / "summary.tsv", sep="\t").set_index("model")
    assert {"snn", "snn-tuned", "coxnet", "coxnet-tuned"} <= set(summary.index)
    report = (run / "results" / "report.html").read_text()
    assert "Tuned by nested cross-validation" in report and "4 inner fits per outer fold" in report
