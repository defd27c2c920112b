"""Fewer, fuller jobs (extract.slides_per_job, train.folds_per_job): the same results as a job per slide and fold,
and each slide and fold still keeps its own outputs, failure and resume."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import TINY, assert_same_results, completed_run, copied_inputs, planned_jobs, run_folder_for, snakemake

pytestmark = [pytest.mark.workflow, pytest.mark.timeout(900)]

BATCHED = {"extract": {**TINY["extract"], "slides_per_job": 3}, "train": {**TINY["train"], "folds_per_job": 2}}


def test_batched_jobs_write_the_same_results_digit_for_digit(finished_run: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "batched"
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump({**TINY, **BATCHED}))
    plan = planned_jobs(snakemake(workdir, "-n"))
    assert plan["train_folds"] == len(TINY["train"]["models"]) and plan["evaluate"] == 1 and "train_fold" not in plan
    completed_run(workdir, {**TINY, **BATCHED})
    logs = workdir / "results" / "logs"
    slides = len(pd.read_csv(workdir / "results" / "tiny" / "input" / "slides.tsv", sep="\t"))
    assert len(list((logs / "slide_stage").rglob("shard_*.log"))) == -(-slides // 3) and not (logs / "segment").exists()
    assert len(list((logs / "take_slide").rglob("*.log"))) == slides
    assert len(list((logs / "take_fold").rglob("fold_*.log"))) == 2 * len(TINY["train"]["models"])
    for name in ("summary.tsv", "tiny/summary.tsv"):
        assert (workdir / "results" / name).read_bytes() == (finished_run / "results" / name).read_bytes(), name
    assert_same_results(finished_run / "results", workdir / "results")
    assert "Nothing to be done" in snakemake(workdir, "-n").stdout


def test_a_shard_keeps_each_slides_outputs_failure_and_resume(finished_run: Path, tmp_path: Path) -> None:
    sheet = copied_inputs(finished_run, tmp_path)
    slide = tmp_path / "own_copy.svs"
    shutil.copy(sheet.loc[4, "path"], slide)
    sheet.loc[4, "path"] = str(slide)
    workdir = run_folder_for(sheet, tmp_path)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    (workdir / "config.yaml").write_text(yaml.safe_dump({**config, **BATCHED}))
    features = [f"results/mine/features/demo-stats/{s}.h5" for s in sheet["slide_id"]]
    original, stat = slide.read_bytes(), slide.stat()
    slide.write_text("the file went bad")
    os.utime(slide, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    failed = snakemake(workdir, "--keep-going", *features)
    assert failed.returncode != 0 and "Error in rule take_slide" in failed.stderr
    broken = sheet.loc[4, "slide_id"]
    log = (workdir / "results" / "logs" / "take_slide" / "mine" / f"{broken}.log").read_text()
    assert f"slide {broken}: failed in its batch job (SlideError: " in log and "own_copy.svs" in log and "Fix: repair" in log
    ours = workdir / "results" / "mine"
    assert sorted(p.stem for p in (ours / "features" / "demo-stats").glob("*.h5")) == sorted(s for s in sheet["slide_id"] if s != broken)
    for path in (ours / "features" / "demo-stats").glob("*.h5"):
        with h5py.File(path) as got, h5py.File(finished_run / "results" / "tiny" / "features" / "demo-stats" / path.name) as want:
            np.testing.assert_array_equal(got["features"][:], want["features"][:])
    slide.write_bytes(original)
    assert snakemake(workdir, *features).returncode == 0
    manifest = pd.read_csv(ours / ".slide_stage" / "demo-stats" / "shard_1.tsv", sep="\t")
    assert manifest["status"].tolist() == ["up to date", "done", "up to date"]
    assert (ours / "features" / "demo-stats" / f"{broken}.h5").exists() and (ours / "tissue" / f"{broken}.png").exists()


def test_a_grouped_fold_that_fails_fails_alone_and_a_rerun_trains_only_it(finished_run: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "run"
    workdir.mkdir()
    config = {**TINY, **BATCHED, "train": {**BATCHED["train"], "models": ["snn"]}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    splits = [f"results/tiny/splits/fold_{k}.tsv" for k in (0, 1)]
    assert snakemake(workdir, *splits).returncode == 0
    good = (workdir / splits[1]).read_text()
    (workdir / splits[1]).write_text("not a split\n")
    checkpoints = [f"results/tiny/models/snn/fold_{k}/checkpoint.pt" for k in (0, 1)]
    failed = snakemake(workdir, "--keep-going", *checkpoints)
    assert failed.returncode != 0 and "Error in rule take_fold" in failed.stderr
    log = (workdir / "results" / "logs" / "take_fold" / "tiny" / "snn" / "fold_1.log").read_text()
    assert "fold 1 of snn: failed in its batch job (MemambaError: results/tiny/splits/fold_1.tsv: not a fold file" in log
    assert "Fix: read the batch job's log" in log
    assert (workdir / checkpoints[0]).exists() and not (workdir / checkpoints[1]).exists()
    (workdir / splits[1]).write_text(good)
    assert snakemake(workdir, *checkpoints).returncode == 0
    manifest = pd.read_csv(workdir / "results" / "tiny" / "models" / "snn" / ".folds" / "group_0.tsv", sep="\t")
    assert manifest["status"].tolist() == ["up to date", "done"]
    for k in (0, 1):
        name = f"tiny/models/snn/fold_{k}/predictions.tsv"
        assert (workdir / "results" / name).read_bytes() == (finished_run / "results" / name).read_bytes(), name
