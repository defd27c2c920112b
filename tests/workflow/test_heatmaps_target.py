"""The heatmaps target on a copy of the tiny workflow run: per fold, the validation patients at both ends of the risk
ranking drawn with the fold's own patch scores, and the gene-family attributions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import pandas as pd
import pytest

from conftest import snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.timeout(900)]


def test_the_heatmaps_target_draws_the_extreme_patients_of_every_fold(finished_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    result = snakemake(run, "heatmaps", "--config", "heatmaps={models: [abmil, mcat], patients: 1, thumbnail_size: 256, top_k: 3}",
                       "models={mcat: {dim: 8}}", "train={models: [snn, abmil, coxnet, snn-wide, mcat]}")
    assert result.returncode == 0, result.stderr[-3000:]
    for fold in (0, 1):
        folder = run / "results" / "tiny" / "heatmaps" / "abmil" / f"fold_{fold}"
        index = pd.read_csv(folder / "index.tsv", sep="\t")
        predictions = pd.read_csv(run / "results" / "tiny" / "models" / "abmil" / f"fold_{fold}" / "predictions.tsv", sep="\t")
        val = predictions[predictions["role"] == "val"].set_index("patient_id")["risk"]
        assert set(index["group"]) == {"highest risk", "lowest risk"}
        assert index.loc[index["group"] == "highest risk", "patient_id"].iloc[0] == val.idxmax()
        for row in index.itertuples():
            with h5py.File(folder / row.h5) as h5:
                assert h5["attention_scores"].shape == (len(h5["coords"]),)
            for picture in row.pictures.split(";"):
                assert (folder / picture).stat().st_size > 5000
        planted = pd.read_csv(folder / "planted_auc.tsv", sep="\t")         # the tiny cohort plants tumours
        assert planted["head"].tolist() == ["attention_scores"] and planted["patients"].item() == len(val)
        assert 0.0 <= planted["planted_auc"].item() <= 1.0 and planted["slides"].item() >= 1
    assert (run / "results" / "logs" / "heatmaps" / "tiny" / "abmil" / "fold_0.log").exists()
    assert not (run / "results" / "tiny" / "heatmaps" / "abmil" / "fold_0" / "attributions.tsv").exists()    # no genomics
    mcat = run / "results" / "tiny" / "heatmaps" / "mcat" / "fold_0"
    attributions = pd.read_csv(mcat / "attributions.tsv", sep="\t")
    families = json.loads((run / "results" / "tiny" / "genomics" / "tokens.json").read_text())["tokens"]
    assert attributions.groupby("patient_id")["family"].apply(list).map(len).eq(len(families)).all()
    gap = attributions.groupby("patient_id").agg(total=("attribution", "sum"), risk=("risk", "first"), base=("baseline_risk", "first"))
    assert (gap["total"] - (gap["risk"] - gap["base"])).abs().max() < 0.05 * max(1.0, gap["risk"].abs().max())
    assert (mcat / "attributions.png").stat().st_size > 5000
    with h5py.File(mcat / pd.read_csv(mcat / "index.tsv", sep="\t")["h5"].iloc[0]) as h5:
        assert json.loads(h5.attrs["heads"]) == [f"coattention/{token['name']}" for token in families if token["features"]]


def test_a_heatmaps_model_without_patch_scores_is_refused_at_start_up(finished_run: Path) -> None:
    result = snakemake(finished_run, "-n", "heatmaps", "--config", "heatmaps={models: [snn]}")
    assert result.returncode != 0
    assert "heatmaps.models lists ['snn'], which compute no patch scores" in result.stdout + result.stderr
    result = snakemake(finished_run, "-n", "heatmaps", "--config", "heatmaps={models: [mcat]}")
    assert "heatmaps.models lists ['mcat'], which train.models does not train" in result.stdout + result.stderr
