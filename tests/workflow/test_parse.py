"""The workflow parses and plans without torch or scikit-learn: every Snakemake invocation, and every job a cluster
executor starts (it re-reads the Snakefile), pays only for what the rules need at parse time."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import clean_checkout, planned_jobs, snakemake_at_root, snakemake_env
from memamba.demo.cohort import generate_cohort
from memamba.gpu_slots import visible_gpu_count

pytestmark = pytest.mark.workflow
FORBIDDEN = ("torch", "sklearn")


def test_a_dry_run_of_the_default_config_imports_neither_torch_nor_scikit_learn(tmp_path: Path) -> None:
    root = clean_checkout(tmp_path / "checkout")
    shadow = tmp_path / "shadow"
    for name in FORBIDDEN:
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text(f"raise ImportError('{name} imported while the workflow parses')\n")
    env = snakemake_env({"PYTHONPATH": f"{shadow}:{root}"})
    plan = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "-n"], capture_output=True, text=True,
                          env=env, cwd=root)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert planned_jobs(plan)["train_folds"] > 0
    unshadowed = snakemake_at_root(root, "-n")
    assert planned_jobs(unshadowed) == planned_jobs(plan)


def test_every_target_of_the_snakefile_dry_runs_from_a_fresh_clone(tmp_path: Path) -> None:
    root = clean_checkout(tmp_path / "checkout")
    targets = re.findall(r"^rule (\w+):", (root / "Snakefile").read_text(), re.M)
    assert {"all", "features", "heatmaps", "report"} <= set(targets)
    for target in targets:
        plan = snakemake_at_root(root, "-n", "-p", target)
        assert plan.returncode == 0, f"snakemake -n {target}:\n{plan.stderr[-3000:]}"
        assert "demo_data" in planned_jobs(plan), target


@pytest.mark.skipif(visible_gpu_count() > 0, reason="this machine has a GPU: cuda is a valid choice here")
def test_cuda_on_a_machine_without_a_gpu_stops_a_local_run_at_start_up(tmp_path: Path) -> None:
    root = clean_checkout(tmp_path / "checkout")
    run = snakemake_at_root(root, "--config", "train={device: cuda}")
    assert run.returncode != 0
    assert "train.device: cuda, but this machine shows no GPU (nvidia-smi lists none) and the jobs run here. Fix: set them " \
           "to auto" in run.stdout + run.stderr
    assert not (root / "results" / "demo").exists()
    assert snakemake_at_root(root, "-n", "--config", "train={device: cuda}").returncode == 0     # planning for elsewhere


def test_config_overrides_can_set_a_key_back_to_null(tmp_path: Path) -> None:
    root = clean_checkout(tmp_path / "checkout")
    plan = snakemake_at_root(root, "-n", "--config", "extract={weights: null, weights_sha256: ~}", "heatmaps={models: null}")
    assert plan.returncode == 0, plan.stderr[-3000:]
    refused = snakemake_at_root(root, "-n", "--config", "train={epochs: null}")
    assert refused.returncode != 0 and "field 'train.epochs': None is not of type 'integer'" in refused.stdout + refused.stderr


def test_a_generated_cohort_in_a_users_config_is_checked_against_the_tiling_before_any_job(tmp_path: Path) -> None:
    root = clean_checkout(tmp_path / "checkout")
    (root / "mine.yaml").write_text("cohorts:\n  x:\n    generate: {patients: 12}\nextract: {encoder: demo-stats}\n")
    plan = snakemake_at_root(root, "-n", "--configfile", "mine.yaml")
    assert plan.returncode != 0
    assert "cohorts.x.generate: its slides (1024 px at 0.5 um/px, 512 um wide) hold a grid of 16 patches" in plan.stdout + plan.stderr
    fitted = snakemake_at_root(root, "-n", "--configfile", "mine.yaml", "--config", "tile={patch_size: 64, target_mpp: 1.0}")
    assert fitted.returncode == 0, fitted.stderr[-3000:]


def test_a_model_reading_pathways_plans_the_pathway_tokens_and_a_cohort_without_a_pathway_table_is_refused(
        tmp_path: Path) -> None:
    root = clean_checkout(tmp_path / "checkout")
    plan = snakemake_at_root(root, "-n", "-p", "--config", "train={models: [survpath, mcat]}", "heatmaps={models: [survpath]}")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert planned_jobs(plan)["pathway_tokens"] == 1
    survpath_job = next(line for line in plan.stdout.splitlines() if "memamba train" in line and "--model survpath" in line)
    mcat_job = next(line for line in plan.stdout.splitlines() if "memamba train" in line and "--model mcat" in line)
    assert "--tokens results/demo/genomics/pathways/tokens.json" in survpath_job
    assert "--tokens results/demo/genomics/tokens.json" in mcat_job
    families = snakemake_at_root(root, "-n", "--config", "train={models: [survpath]}", "models={survpath: {tokens: families}}")
    assert families.returncode == 0 and "pathway_tokens" not in planned_jobs(families)
    cohort = generate_cohort(tmp_path / "mine", patients=6, slide_size=512)
    sheets = {kind: str(cohort / f"{kind}.tsv") for kind in ("slides", "clinical", "genomics")}
    (root / "mine.yaml").write_text(yaml.safe_dump({
        "cohorts": {"mine": {**sheets, "gene_families": str(cohort / "gene_families.csv")}},
        "extract": {"encoder": "demo-stats"}, "train": {"models": ["snn", "survpath"]}}))
    refused = snakemake_at_root(root, "-n", "--configfile", "mine.yaml")
    assert refused.returncode != 0
    assert "model survpath reads pathway tokens (tokens: pathways), but cohort(s) ['mine'] give no pathway table. Fix: add " \
           "cohorts.mine.pathways" in refused.stdout + refused.stderr
    (root / "mine.yaml").write_text(yaml.safe_dump({
        "cohorts": {"mine": {**sheets, "gene_families": str(cohort / "gene_families.csv"), "pathways": str(cohort / "pathways.csv")}},
        "extract": {"encoder": "demo-stats"}, "train": {"models": ["snn", "survpath"]}}))
    given = snakemake_at_root(root, "-n", "--configfile", "mine.yaml")
    assert given.returncode == 0 and planned_jobs(given)["pathway_tokens"] == 1, given.stderr[-3000:]
    wrong = snakemake_at_root(root, "-n", "--config", "models={survpath: {tokens: genes}}")
    assert wrong.returncode != 0
    assert "models.survpath.tokens is 'genes' but must be one of ['families', 'pathways']" in wrong.stdout + wrong.stderr
