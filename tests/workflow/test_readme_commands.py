"""The README's "your own TCGA cohort in three commands", run as written on a real MCAT table, its published splits
and a GDC-style download (the last command as a dry run: a TCGA run takes GPU-days)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest

from conftest import CMU_SLIDE, SHARED_DATA, clean_checkout, needs_shared, planned_jobs, snakemake_env

pytestmark = [pytest.mark.workflow, needs_shared]
BLCA = SHARED_DATA / "tcga" / "mcat_sig" / "tcga_blca_all_clean.csv.zip"
BLCA_SPLITS = SHARED_DATA / "tcga" / "splits" / "tcga_blca"


def _three_commands(readme: str) -> list[str]:
    section = readme.split("## Your own TCGA cohort in three commands")[1]
    return [line for line in section.split("```bash\n")[1].split("```")[0].splitlines() if line.strip()]


def test_the_readmes_three_tcga_commands_import_check_and_plan_a_cohort(tmp_path: Path) -> None:
    root = clean_checkout(tmp_path / "checkout")
    commands = _three_commands((root / "README.md").read_text())
    assert [c.split()[:2] for c in commands] == [["memamba", "import-mcat"], ["memamba", "model-info"], ["snakemake", "--cores"]]
    gdc = tmp_path / "gdc"
    for name in pd.read_csv(BLCA, usecols=["slide_id"])["slide_id"].iloc[[0, 5]]:
        (gdc / str(uuid.uuid4())).mkdir(parents=True)
        os.symlink(CMU_SLIDE, next(p for p in gdc.iterdir() if not any(p.iterdir())) / name)
    (root / "weights" / "uni").mkdir(parents=True)
    (root / "weights" / "uni" / "pytorch_model.bin").write_bytes(b"stands in for UNI's weights in a dry run")
    (root / "tcga_blca_all_clean.csv.zip").symlink_to(BLCA)
    (root / "splits").mkdir()
    (root / "splits" / "tcga_blca").symlink_to(BLCA_SPLITS)
    (root / "gdc").mkdir()
    (root / "gdc" / "blca").symlink_to(gdc)
    env = snakemake_env({"PYTHONPATH": str(root)})
    runs = []
    for command in commands:
        argv = shlex.split(command)
        argv = [sys.executable, "-m", "memamba.cli", *argv[1:]] if argv[0] == "memamba" else [sys.executable, "-m", *argv, "-n"]
        runs.append(subprocess.run(argv, capture_output=True, text=True, cwd=root, env=env))
        assert runs[-1].returncode == 0, f"{command}\n{runs[-1].stderr[-3000:]}"
    assert "slides: 2 found" in runs[0].stdout and (root / "tcga" / "tcga_blca" / "config.yaml").is_file()
    assert "forward FLOPs per patient with  16000 patches" in runs[1].stdout
    jobs = planned_jobs(runs[2])
    assert jobs["slide_shard"] == 1 and jobs["take_slide"] == 2 and jobs["published_split"] == 5 and jobs["train_fold"] > 5, jobs
