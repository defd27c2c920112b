"""Compute cost per pipeline stage, from the files Snakemake's ``benchmark:`` directive writes."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

COLUMNS = ["stage", "jobs", "cpu_hours", "wall_hours", "longest_job_s", "max_rss_mb"]
PIPELINE_ORDER = ["demo_data", "segment", "tile", "extract", "slide_stage", "genomics", "splits", "train", "evaluate",
                  "summarise", "report"]


def read_benchmarks(folder: str | os.PathLike, skip: tuple[str, ...] = (), cohorts: set[str] | None = None) -> pd.DataFrame:
    """Every benchmark file under ``folder`` (``{stage}/{cohort}/.../{job}.tsv`` or ``{stage}/{cohort}.tsv``), one row
    per job with its stage.

    A job benchmarked several times (``--benchmark-repeats``) counts with its mean. Stages in ``skip`` are left
    out (the report job cannot count itself: its own file is written after it ends); with ``cohorts``, so are the
    jobs of other cohorts."""
    folder = Path(folder)
    rows = []
    for path in sorted(folder.rglob("*.tsv")):
        stage, cohort = path.relative_to(folder).parts[0], path.relative_to(folder).with_suffix("").parts[1]
        if stage in skip or (cohorts is not None and cohort not in cohorts):
            continue
        runs = pd.read_csv(path, sep="\t")
        missing = {"s", "cpu_time", "max_rss"} - set(runs.columns)
        if missing:
            raise ValueError(f"{path}: not a Snakemake benchmark file (no {sorted(missing)} column). "
                             f"Fix: remove it from {folder}, which only Snakemake's benchmark: files belong in.")
        numbers = runs[["s", "cpu_time", "max_rss"]].apply(pd.to_numeric, errors="coerce").mean()
        rows.append({"stage": stage, "job": str(path.relative_to(folder / stage).with_suffix("")), **numbers.to_dict()})
    return pd.DataFrame(rows, columns=["stage", "job", "s", "cpu_time", "max_rss"])


def stage_compute(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per stage: job count, CPU-hours, summed wall-clock hours, the longest job and the largest resident memory;
    a last row 'total'. Stages in pipeline order (unknown stages last)."""
    if jobs.empty:
        return pd.DataFrame(columns=COLUMNS)
    grouped = jobs.groupby("stage", sort=False)
    table = pd.DataFrame({
        "jobs": grouped.size(),
        "cpu_hours": grouped["cpu_time"].sum() / 3600,
        "wall_hours": grouped["s"].sum() / 3600,
        "longest_job_s": grouped["s"].max(),
        "max_rss_mb": grouped["max_rss"].max(),
    }).reset_index()
    rank = {stage: i for i, stage in enumerate(PIPELINE_ORDER)}
    table = table.sort_values("stage", key=lambda names: names.map(lambda n: rank.get(n, len(rank))), kind="stable")
    total = {"stage": "total", "jobs": table["jobs"].sum(), "cpu_hours": table["cpu_hours"].sum(),
             "wall_hours": table["wall_hours"].sum(), "longest_job_s": table["longest_job_s"].max(),
             "max_rss_mb": table["max_rss_mb"].max()}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)[COLUMNS]
