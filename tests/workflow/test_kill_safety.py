"""Killing Snakemake (and its jobs: SIGKILL to the whole process group, as a crash or a lost node would) in
the middle of feature extraction and again in the middle of training, then rerunning with --rerun-incomplete,
gives the results of an uninterrupted run; no file left by a killed job is taken as complete."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import h5py
import pandas as pd
import pytest
import yaml

from conftest import TINY, assert_same_results, completed_run, snakemake, snakemake_command, snakemake_env

pytestmark = [pytest.mark.workflow, pytest.mark.timeout(900)]
# ME-Mamba on the TINY cohort for 60 epochs: long enough (seconds) to be killed between two epochs.
KILL_CONFIG = {**TINY, "train": {**TINY["train"], "models": ["memamba"], "epochs": 60},
               "models": {"memamba": {"d_model": 8, "pathology_layers": 1, "genomics_layers": 1, "backbone_layers": 1}}}


def _run_until(workdir: Path, moment: str, pattern: str, timeout: float = 300.0) -> Path:
    """Start Snakemake (one job at a time), SIGKILL its process group as soon as a file matching ``pattern``
    exists under ``workdir``; return that file. ``moment`` names the kill point in error messages."""
    process = subprocess.Popen(snakemake_command(workdir, "--cores", "1", "--rerun-incomplete"), cwd=workdir,
                               env=snakemake_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            found = sorted(workdir.glob(pattern))
            if found:
                os.killpg(process.pid, signal.SIGKILL)
                return found[0]
            assert process.poll() is None, f"Snakemake ended (rc {process.returncode}) before {moment}"
            time.sleep(0.02)
        raise AssertionError(f"no {pattern} within {timeout:.0f} s")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _assert_no_partial_outputs(results: Path) -> None:
    """Every feature file at its final path is whole (one feature row per patch); every table parses."""
    for features in results.glob("tiny/features/*/*.h5"):
        with h5py.File(features) as file, h5py.File(results / "tiny" / "patches" / features.name) as patches:
            assert file["features"].shape[0] == file["coords"].shape[0] == patches["coords"].shape[0], features
    for table in results.glob("tiny/models/*/*/*.tsv"):
        assert len(pd.read_csv(table, sep="\t")) > 0, table


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return completed_run(tmp_path_factory.mktemp("uninterrupted"), KILL_CONFIG)


def test_killed_during_extraction_and_training_then_rerun_equals_an_uninterrupted_run(uninterrupted: Path,
                                                                                       tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(KILL_CONFIG))
    results = tmp_path / "results"

    extract_log = _run_until(tmp_path, "extraction", "results/logs/extract/tiny/*/*.log")
    slide = extract_log.stem
    _assert_no_partial_outputs(results)
    assert not (results / "tiny" / "features" / "demo-stats" / f"{slide}.h5").exists()

    assert snakemake(tmp_path, "--unlock").returncode == 0
    epoch_state = _run_until(tmp_path, "training", "results/tiny/models/memamba/fold_*/epoch_state.pt")
    fold = epoch_state.parent
    _assert_no_partial_outputs(results)
    assert not (fold / "predictions.tsv").exists() and not (fold / "checkpoint.pt").exists()

    assert snakemake(tmp_path, "--unlock").returncode == 0
    rerun = snakemake(tmp_path, "--rerun-incomplete")
    assert rerun.returncode == 0, rerun.stderr[-5000:]
    assert "resuming memamba from epoch" in (results / "logs" / "train" / "tiny" / "memamba" / f"{fold.name}.log").read_text()
    assert not list(results.rglob(".*")), "temporary files of killed jobs were left behind"
    assert_same_results(uninterrupted / "results", results)
    assert "Nothing to be done" in (lambda r: r.stdout + r.stderr)(snakemake(tmp_path, "-n"))
