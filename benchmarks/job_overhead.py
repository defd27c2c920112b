"""What start-up costs per stage, and the demo's wall time with a job per slide and fold against fewer, fuller jobs.

The demo (config/config.yaml, --patients patients) runs twice in one go, each in a fresh folder with
``snakemake --cores N``: at the old defaults (a job per slide and step, per model and fold: extract.slides_per_job 1,
train.folds_per_job 1) and at the demo's own (config/config.yaml). Each run goes stage by stage (data: the
generated cohort, genomics and splits; slides: the features target; train: every fold's predictions; rest:
evaluation, summaries, report), and each stage's CPU time is that of Snakemake and all its jobs (the children's
rusage). Both runs do the same work, so the CPU one run spends more than the other over its extra jobs is the fixed
cost of a job of that stage (start-up: interpreter, imports, loading the cohort), and its share of the stage's CPU
follows for each run. (A no-op run of the command would miss the imports a command makes at its first unit.) The
evaluation, one job per cohort in both runs, is timed apart: one ``memamba evaluate`` per model against one
``--models`` call, on the second run's predictions. Last, the two runs' results/summary.tsv are compared byte for
byte. Run: python benchmarks/job_overhead.py [--patients 60] [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OLD = {"extract": {"slides_per_job": 1}, "train": {"folds_per_job": 1, "tune": {"folds_per_job": 1}}}


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds, result) of one command, its children's CPU included."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    cpu, start = children_cpu(), time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env)
    if result.returncode:
        raise SystemExit(f"{' '.join(command[:6])} ... failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start, children_cpu() - cpu, result


TARGET_RULES = {"all", "features", "clam", "genomics", "train", "heatmaps", "report"}
"""The Snakefile's named targets: they run nothing."""


def job_count(dry_run: subprocess.CompletedProcess) -> int:
    """Jobs a dry run plans, the named targets and the local publishing jobs (take_*, 20 ms each) left out."""
    if "Job stats:" not in dry_run.stdout:
        return 0
    table = dry_run.stdout.split("Job stats:")[1].split("total")[0]
    return sum(int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.MULTILINE)
               if m.group(1) not in TARGET_RULES and not m.group(1).startswith("take_"))


def merged(base: dict, change: dict) -> dict:
    """``base`` with ``change`` applied key by key (nested sections merged)."""
    out = dict(base)
    for key, value in change.items():
        out[key] = merged(base.get(key, {}), value) if isinstance(value, dict) else value
    return out


def stage_targets(config: dict) -> dict[str, list[str]]:
    """Snakemake targets of each stage, in order."""
    cohort = next(iter(config["cohorts"]))
    models = config["train"]["models"] + [f"{m}-tuned" for m in config["train"]["tune"]["models"]]
    folds = range(config["splits"]["folds"])
    return {"data": [f"results/{cohort}/genomics/features.parquet"] + [f"results/{cohort}/splits/fold_{k}.tsv" for k in folds],
            "slides": ["features"],
            "train": [f"results/{cohort}/models/{m}/fold_{k}/predictions.tsv" for m in models for k in folds],
            "rest": ["all"]}


def run_demo(config: dict, workdir: Path, cores: int) -> dict[str, dict[str, float]]:
    """Run the workflow stage by stage in ``workdir``; per stage its jobs, wall and CPU seconds."""
    workdir.mkdir(parents=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
                 "--configfile", str(workdir / "config.yaml"), "--cores", str(cores)]
    stages = {}
    for stage, targets in stage_targets(config).items():
        jobs = job_count(subprocess.run([*snakemake, "-n", *targets], capture_output=True, text=True, cwd=workdir))
        wall, cpu, _ = timed([*snakemake, *targets], workdir)
        stages[stage] = {"jobs": jobs, "wall": wall, "cpu": cpu}
        print(f"  {stage:<7} {jobs:>4} jobs  {wall:7.1f} s wall  {cpu:7.1f} CPU-s", flush=True)
    return stages


def evaluation_cost(workdir: Path, config: dict) -> dict[str, dict[str, float]]:
    """One ``memamba evaluate`` per model against one ``--models`` call for all, on ``workdir``'s predictions."""
    cohort = next(iter(config["cohorts"]))
    models = config["train"]["models"] + [f"{m}-tuned" for m in config["train"]["tune"]["models"]]
    plan = [{"predictions": [f"results/{cohort}/models/{m}/fold_{k}/predictions.tsv" for k in range(config["splits"]["folds"])],
             "out": f"{tempfile.mkdtemp()}/{m}", "title": m} for m in models]
    per_model = [timed(["memamba", "evaluate", *p["predictions"], "-o", p["out"], "--title", p["title"]], workdir) for p in plan]
    wall, cpu, _ = timed(["memamba", "evaluate", "--models", json.dumps(plan)], workdir)
    return {"old": {"jobs": len(plan), "wall": sum(r[0] for r in per_model), "cpu": sum(r[1] for r in per_model)},
            "new": {"jobs": 1, "wall": wall, "cpu": cpu}}


def share_rows(old: dict[str, dict[str, float]], new: dict[str, dict[str, float]]) -> list[str]:
    """Markdown rows: per stage the jobs and CPU of both runs, the fixed cost of one job and its share of the stage."""
    rows = []
    for stage in old:
        counts = f"| {stage} | {old[stage]['jobs']} | {old[stage]['cpu']:.0f} | {new[stage]['jobs']} | {new[stage]['cpu']:.0f} "
        extra_jobs = old[stage]["jobs"] - new[stage]["jobs"]
        if extra_jobs <= 0:
            rows.append(counts + "| (same jobs) | | |")
            continue
        fixed = (old[stage]["cpu"] - new[stage]["cpu"]) / extra_jobs
        share = {run: min(1.0, max(0.0, stage_run["jobs"] * fixed / stage_run["cpu"]))
                 for run, stage_run in (("old", old[stage]), ("new", new[stage]))}
        rows.append(counts + f"| {fixed:.1f} | {share['old']:.0%} | {share['new']:.0%} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=60, help="patients of the generated demo cohort (the demo: 60)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None, help="where the two runs go (default: a new temporary folder)")
    args = parser.parse_args()
    demo = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    demo["cohorts"]["demo"]["generate"]["patients"] = args.patients
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="memamba-job-overhead-"))
    runs = {}
    for name, config in (("old", merged(demo, OLD)), ("new", demo)):
        print(f"{name} defaults: extract.slides_per_job {config['extract'].get('slides_per_job', 1)}, train.folds_per_job "
              f"{config['train'].get('folds_per_job', 1)} ({workdir / name})", flush=True)
        runs[name] = run_demo(config, workdir / name, args.cores)
    evaluation = evaluation_cost(workdir / "new", demo)
    old, new = ({**runs[run], "evaluate": evaluation[run]} for run in ("old", "new"))
    print("\n| stage | jobs before | CPU-s before | jobs after | CPU-s after | fixed CPU-s per job | start-up share before "
          "| after |\n|---|---|---|---|---|---|---|---|")
    print("\n".join(share_rows(old, new)))
    walls = {run: sum(stage["wall"] for stage in runs[run].values()) for run in runs}
    print(f"\ndemo ({args.patients} patients, {args.cores} cores): {walls['old'] / 60:.1f} min at the old defaults, "
          f"{walls['new'] / 60:.1f} min at the demo's: ratio {walls['new'] / walls['old']:.2f}")
    same = (workdir / "old" / "results" / "summary.tsv").read_bytes() == (workdir / "new" / "results" / "summary.tsv").read_bytes()
    print(f"results/summary.tsv of the two runs: {'identical, byte for byte' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
