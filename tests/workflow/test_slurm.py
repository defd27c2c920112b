"""The workflow through its Slurm profile, on a real single-node Slurm cluster started on localhost.

The cluster comes from Debian's slurm-wlm and munge (installed by the fixture when missing, which needs root
and apt); the jobs are submitted by snakemake-executor-plugin-slurm exactly as on a real cluster, with the
profile's per-rule memory and runtime and its retries.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, TINY, assert_same_results, copied_inputs, run_folder_for, snakemake
from slurm_cluster import local_slurm, unavailable_reason

pytestmark = [pytest.mark.workflow, pytest.mark.timeout(1800)]
# Without an accounting database the executor must poll squeue (sacct would never answer) and submit
# without an account; the profile's placeholder partition is replaced by the test cluster's.
SLURM = ["--workflow-profile", str(REPO / "workflow" / "profiles" / "slurm"), "--default-resources", "slurm_partition=debug",
         "--slurm-no-account", "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "5"]
SUBMITTED = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+)")
# Every Slurm job starts Snakemake twice (the sbatch script, then srun) on a 2-core machine: one slide model
# and one genomics model keep it to 10 jobs plus one per slide (the profile groups segment, tile and extract; one
# evaluate per cohort).
MODELS = ["abmil", "coxnet"]


def slurm_states(env: dict[str, str]) -> dict[str, str]:
    """Slurm job id -> state of every job slurmctld still holds (finished ones for MinJobAge = 10 minutes)."""
    listing = subprocess.run(["squeue", "-h", "--states=all", "-o", "%i %T"], capture_output=True, text=True, env=env)
    return dict(line.split() for line in listing.stdout.splitlines())


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with local_slurm(tmp_path_factory.mktemp("slurm")) as env:
        yield env


def test_demo_through_the_slurm_profile_equals_a_local_run(slurm: dict[str, str], finished_run: Path,
                                                           tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "models": MODELS}}))
    result = snakemake(tmp_path, *SLURM, env=slurm)
    output = result.stdout + result.stderr
    (tmp_path / "snakemake.log").write_text(output)
    assert result.returncode == 0, output[-5000:]
    submitted = SUBMITTED.findall(output)
    finished = re.findall(r"^Finished jobid: (\d+) \(Rule: (\w+)\)", output, re.MULTILINE)
    states = slurm_states(slurm)
    print(f"\nSlurm run log: {tmp_path / 'snakemake.log'}")
    print("\n".join(f"snakemake job {job} -> SLURM job {slurm_id}: {states.get(slurm_id)}" for job, slurm_id in submitted))
    assert {states.get(slurm_id) for _, slurm_id in submitted} == {"COMPLETED"}
    n_slides = len(pd.read_csv(tmp_path / "results" / "tiny" / "input" / "slides.tsv", sep="\t"))
    assert len(submitted) == len({slurm_id for _, slurm_id in submitted}) == 10 + n_slides
    assert len({job for job, rule in finished if rule != "all"}) == 10 + 3 * n_slides
    assert "100%) done" in output and "failed" not in output
    assert subprocess.run(["squeue", "-h"], capture_output=True, text=True, env=slurm).stdout.strip() == ""
    assert_same_results(finished_run / "results", tmp_path / "results", models=MODELS)


def test_keep_going_on_slurm_finishes_every_other_slide_and_names_the_broken_one(slurm: dict[str, str], finished_run: Path,
                                                                                 tmp_path: Path) -> None:
    sheet = copied_inputs(finished_run, tmp_path).iloc[:3].copy()
    broken_id = sheet.loc[2, "slide_id"]
    broken = tmp_path / "truncated.svs"
    broken.write_bytes(Path(sheet.loc[2, "path"]).read_bytes()[:5000])
    sheet.loc[2, "path"] = str(broken)
    workdir = run_folder_for(sheet, tmp_path)
    result = snakemake(workdir, *SLURM, "--keep-going", "features", env=slurm)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    features = workdir / "results" / "mine" / "features" / "demo-stats"
    assert sorted(p.stem for p in features.glob("*.h5")) == sorted(s for s in sheet["slide_id"] if s != broken_id)
    assert "Error in rule segment" in output and f"slide={broken_id}" in output
    states = slurm_states(slurm)
    print("\n" + "\n".join(f"SLURM job {slurm_id}: {states.get(slurm_id)}" for _, slurm_id in SUBMITTED.findall(output)))
    assert sorted(states[slurm_id] for _, slurm_id in SUBMITTED.findall(output)) == ["COMPLETED"] * 2 + ["FAILED"] * 3
    log = (workdir / "results" / "logs" / "segment" / "mine" / f"{broken_id}.log").read_text()
    assert log.startswith("memamba segment: error: ") and "truncated.svs" in log and "Fix:" in log
    # The profile's retries: the slide's group job ran three times, with 4000 MB times the attempt (the Slurm
    # logs of failed jobs are kept; the other slides' were deleted when they succeeded).
    logs = [p.read_text() for p in (workdir / ".snakemake" / "slurm_logs").rglob("*.log")]
    attempts = sorted((int(re.search(r"--attempt (\d+)", log).group(1)), int(re.search(r"mem_mb=(\d+)", log).group(1)))
                      for log in logs)
    assert attempts == [(1, 4000), (2, 8000), (3, 12000)]
