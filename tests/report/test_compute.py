"""Compute per stage from Snakemake benchmark files."""

from __future__ import annotations

from pathlib import Path

import pytest

from memamba.report.compute import read_benchmarks, stage_compute

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _benchmark(path: Path, seconds: float, cpu: float, rss: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:00\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n")


def test_stages_sum_cpu_and_wall_hours_in_pipeline_order(tmp_path: Path) -> None:
    _benchmark(tmp_path / "train" / "c" / "snn" / "fold_0.tsv", 3600, 7200, 500)
    _benchmark(tmp_path / "train" / "c" / "snn" / "fold_1.tsv", 1800, 1800, 900)
    _benchmark(tmp_path / "segment" / "c" / "s1.tsv", 36, 18, 100)
    _benchmark(tmp_path / "report" / "report.tsv", 5, 5, 50)
    table = stage_compute(read_benchmarks(tmp_path, skip=("report",)))
    assert table["stage"].tolist() == ["segment", "train", "total"]
    train = table.set_index("stage").loc["train"]
    assert train["jobs"] == 2 and train["cpu_hours"] == pytest.approx(2.5) and train["wall_hours"] == pytest.approx(1.5)
    assert train["longest_job_s"] == 3600 and train["max_rss_mb"] == 900
    total = table.set_index("stage").loc["total"]
    assert total["jobs"] == 3 and total["cpu_hours"] == pytest.approx(2.505) and total["wall_hours"] == pytest.approx(1.51)


def test_a_file_that_is_not_a_benchmark_is_named(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "notes.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(ValueError, match=r"notes\.tsv: not a Snakemake benchmark file .*Fix:"):
        read_benchmarks(tmp_path)


def test_the_compute_of_other_cohorts_is_left_out(tmp_path: Path) -> None:
    _benchmark(tmp_path / "train" / "shown" / "snn" / "fold_0.tsv", 60, 60, 100)
    _benchmark(tmp_path / "train" / "hidden" / "snn" / "fold_0.tsv", 3600, 3600, 100)
    _benchmark(tmp_path / "demo_data" / "shown.tsv", 10, 10, 100)
    _benchmark(tmp_path / "slide_stage" / "shown" / "uni" / "shard_0.tsv", 1, 1, 100)
    table = stage_compute(read_benchmarks(tmp_path, cohorts={"shown"})).set_index("stage")
    assert table.index.tolist() == ["demo_data", "slide_stage", "train", "total"]
    assert table.loc["train", "jobs"] == 1 and table.loc["total", "wall_hours"] == pytest.approx(71 / 3600)
