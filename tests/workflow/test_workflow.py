"""The Snakemake workflow, run for real in a subprocess on a tiny generated cohort."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import h5py
import pandas as pd
import pytest
import yaml

from conftest import REPO, TINY, copied_inputs, planned_jobs, run_folder_for, snakemake, snakemake_env

pytestmark = [pytest.mark.workflow, pytest.mark.timeout(900)]


def test_outputs_follow_the_documented_contracts(finished_run: Path) -> None:
    results = finished_run / "results"
    slides = pd.read_csv(results / "tiny" / "input" / "slides.tsv", sep="\t")["slide_id"]
    for slide in slides:
        assert (results / "tiny" / "tissue" / f"{slide}.geojson").exists()
        assert (results / "tiny" / "tissue" / f"{slide}.png").exists()
        with h5py.File(results / "tiny" / "patches" / f"{slide}.h5") as patches, \
                h5py.File(results / "tiny" / "features" / "demo-stats" / f"{slide}.h5") as features:
            assert patches["coords"].shape[1] == 2 and patches["coords"].attrs["target_mpp"] == 1.0
            assert features["features"].shape == (patches["coords"].shape[0], 16)
    assert (results / "tiny" / "genomics" / "features.parquet").exists()
    assert (results / "tiny" / "genomics" / "tokens.json").exists()
    for fold in (0, 1):
        split = pd.read_csv(results / "tiny" / "splits" / f"fold_{fold}.tsv", sep="\t")
        assert set(split["role"]) == {"train", "val"}
        for model, epochs in (("snn", 2), ("abmil", 2), ("coxnet", 1), ("snn-wide", 2)):
            folder = results / "tiny" / "models" / model / f"fold_{fold}"
            predictions = pd.read_csv(folder / "predictions.tsv", sep="\t")
            assert {"patient_id", "role", "risk", "survival_bin_3", "bin_end_3", "imputed"} <= set(predictions.columns)
            assert len(pd.read_csv(folder / "history.tsv", sep="\t")) == epochs
            assert (folder / "checkpoint.pt").exists() and not (folder / "epoch_state.pt").exists()
        variant = yaml.safe_load((results / "tiny" / "models" / "snn-wide" / f"fold_{fold}" / "config.yaml").read_text())
        assert variant["model_params"] == {"base": "snn", "hidden": 16, "depth": 1}
    metrics = pd.read_csv(results / "tiny" / "eval" / "snn" / "metrics.tsv", sep="\t")
    assert {"c_index", "uno_c", "ibs", "logrank_p", "c_index_best_epoch_optimistic"} <= set(metrics.columns)
    summary = pd.read_csv(results / "summary.tsv", sep="\t")
    assert summary["model"].tolist() == ["snn", "abmil", "coxnet", "snn-wide", "oracle (true risk)",
                                         "oracle (slide part of the risk only)", "oracle (genomic part of the risk only)"]
    assert summary[["c_index_fold_0", "c_index_fold_1"]].notna().all().all()
    assert summary["c_index_mean"].between(0, 1).all()
    assert "eval_dir" not in summary.columns
    assert "oracle (true risk)" in (results / "report.html").read_text()
    assert any((results / "logs" / "extract").rglob("*.log"))
    compute = pd.read_csv(results / "compute.tsv", sep="\t").set_index("stage")
    assert compute.index.tolist() == ["demo_data", "segment", "tile", "extract", "genomics", "splits", "train", "evaluate",
                                      "summarise", "total"]
    assert compute.loc["segment", "jobs"] == len(slides) and compute.loc["train", "jobs"] == 8
    assert compute.loc["total", "cpu_hours"] == pytest.approx(compute["cpu_hours"].drop("total").sum(), rel=1e-4)
    assert "Compute per stage" in (results / "report.html").read_text()


def test_second_run_has_nothing_to_do(finished_run: Path) -> None:
    result = snakemake(finished_run, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_a_local_weights_file_is_an_input_of_extraction_so_replacing_it_redoes_the_features(
        finished_run: Path, tmp_path: Path) -> None:
    weights = tmp_path / "resnet50.pth"
    weights.write_bytes(b"weights")
    plan = snakemake(finished_run, "-n", "--config", f"extract={{encoder: resnet50-trunc, weights: {weights}}}")
    assert plan.returncode == 0, plan.stderr[-3000:]
    jobs = re.findall(r"^rule (\w+):\n\s+input: (.*)$", plan.stdout + plan.stderr, flags=re.MULTILINE)
    extract_inputs = [inputs for rule, inputs in jobs if rule == "extract"]
    slides = len(list((finished_run / "results" / "tiny" / "patches").glob("*.h5")))
    assert len(extract_inputs) == slides > 0 and all(str(weights) in inputs for inputs in extract_inputs)
    assert not any(str(weights) in inputs for rule, inputs in jobs if rule != "extract")


def test_deleting_one_slides_features_reruns_only_what_depends_on_it(finished_run: Path) -> None:
    results = finished_run / "results" / "tiny"
    victim = sorted((results / "features" / "demo-stats").glob("*.h5"))[0]
    victim.unlink()
    snn_predictions = results / "models" / "snn" / "fold_0" / "predictions.tsv"
    before = snn_predictions.stat().st_mtime_ns
    plan = snakemake(finished_run, "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert planned_jobs(plan) == {"extract": 1, "train_fold": 2, "evaluate": 1, "summarise": 1, "render_report": 1, "all": 1}
    assert snakemake(finished_run).returncode == 0
    assert victim.exists() and snn_predictions.stat().st_mtime_ns == before


def test_sheet_pointing_at_a_missing_slide_fails_at_start_up(finished_run: Path, tmp_path: Path) -> None:
    sheet = copied_inputs(finished_run, tmp_path)
    sheet.loc[1, "path"] = "/data/slides/typo.svs"
    workdir = run_folder_for(sheet, tmp_path)
    result = snakemake(workdir, "-n")
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert str(tmp_path / "slides.tsv") in message
    assert "row 3" in message and "/data/slides/typo.svs" in message and "Fix:" in message
    assert not (workdir / "results").exists()


def test_a_clinical_sheet_that_is_not_utf8_stops_the_run_at_start_up_naming_it(finished_run: Path, tmp_path: Path) -> None:
    workdir = run_folder_for(copied_inputs(finished_run, tmp_path), tmp_path)
    clinical = tmp_path / "clinical.tsv"
    clinical.write_bytes(clinical.read_bytes().replace(b"DEMO-0001", b"D\xc9MO-0001"))
    result = snakemake(workdir, "-n")
    assert result.returncode != 0
    assert f"{clinical}: this clinical sheet is not UTF-8 text (byte 0xc9" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and not (workdir / "results").exists()


def test_keep_going_finishes_every_other_slide_and_names_the_broken_one(finished_run: Path, tmp_path: Path) -> None:
    sheet = copied_inputs(finished_run, tmp_path)
    broken_id = sheet.loc[2, "slide_id"]
    broken = tmp_path / "truncated.svs"
    broken.write_bytes(Path(sheet.loc[2, "path"]).read_bytes()[:5000])
    sheet.loc[2, "path"] = str(broken)
    workdir = run_folder_for(sheet, tmp_path)
    targets = [f"results/mine/features/demo-stats/{slide}.h5" for slide in sheet["slide_id"]]
    result = snakemake(workdir, "--keep-going", *targets)
    assert result.returncode != 0
    features = workdir / "results" / "mine" / "features" / "demo-stats"
    assert sorted(p.stem for p in features.glob("*.h5")) == sorted(s for s in sheet["slide_id"] if s != broken_id)
    assert not list((workdir / "results" / "mine" / "tissue").glob(f"{broken_id}.*"))
    assert "Error in rule segment" in result.stderr and f"slide={broken_id}" in result.stderr
    log = (workdir / "results" / "logs" / "segment" / "mine" / f"{broken_id}.log").read_text()
    assert log.startswith("memamba segment: error: ") and "truncated.svs" in log and "Fix:" in log


def test_changing_the_training_section_reruns_only_training_evaluation_and_report(finished_run: Path) -> None:
    config_path = finished_run / "config.yaml"
    original = config_path.read_text()
    try:
        config_path.write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "lr": 0.001}}))
        plan = snakemake(finished_run, "-n")
    finally:
        config_path.write_text(original)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert planned_jobs(plan) == {"train_fold": 8, "evaluate": 1, "summarise": 1, "render_report": 1, "all": 1}


def test_snakemake_report_holds_the_plots_tables_and_compute(finished_run: Path, tmp_path: Path) -> None:
    report = tmp_path / "snakemake-report.html"
    result = snakemake(finished_run, "--report", str(report))
    assert result.returncode == 0, result.stderr[-3000:]
    page = report.read_text()
    for category in ("Kaplan-Meier curves", "Tissue segmentation", "Cross-validated metrics", "Genomics QC", "Compute per stage"):
        assert category in page
    assert page.count("km.png") >= len(TINY["train"]["models"])
    assert "encoded with demo-stats" in page and "2 patient-level folds made here" in page      # the cohort's own settings


def test_gpu_jobs_ask_for_one_card_and_the_default_profile_declares_one(finished_run: Path, tmp_path: Path) -> None:
    workdir = run_folder_for(copied_inputs(finished_run, tmp_path), tmp_path)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    on_cards = {**config, "extract": {"encoder": "demo-stats", "device": "cuda"}, "train": {**config["train"], "device": "cuda"}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(on_cards))
    plan = snakemake(workdir, "-n", "--workflow-profile", str(REPO / "workflow" / "profiles" / "default"),
                     "results/mine/models/abmil/fold_0/checkpoint.pt", "results/mine/models/coxnet/fold_0/checkpoint.pt")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "workflow specific profile" in plan.stderr
    jobs = {m.group(1): m.group(2) for m in re.finditer(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", plan.stdout, re.MULTILINE)}
    assert "gpu=1" in jobs["extract"] and "mem_mb=8000" in jobs["extract"] and "runtime=120" in jobs["extract"]
    assert "gpu" not in jobs["segment"]
    train_jobs = re.findall(r"^rule train_fold:\n(?:    .*\n)*?    wildcards: (.*)\n(?:    .*\n)*?    resources: (.*)$",
                            plan.stdout, re.MULTILINE)
    assert {("model=abmil" in w, "gpu=1" in r) for w, r in train_jobs} == {(True, True), (False, False)}


def test_a_run_of_another_configuration_reports_every_cohort_of_the_project(finished_run: Path, tmp_path: Path) -> None:
    second = tmp_path / "second.yaml"
    second.write_text(yaml.safe_dump({**TINY, "cohorts": {"second": TINY["cohorts"]["tiny"]}}))
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(finished_run),
               "--configfile", str(second), "--cores", "2", "-n", "-p"]
    plan = subprocess.run(command, capture_output=True, text=True, env=snakemake_env(), cwd=finished_run)
    assert plan.returncode == 0, plan.stderr[-3000:]
    report = next(line for line in plan.stdout.splitlines() if "memamba report " in line)
    assert "results/second/summary.tsv --earlier results/tiny/summary.tsv" in report


def test_the_clam_target_exports_every_slides_features_in_clams_layout(finished_run: Path) -> None:
    result = snakemake(finished_run, "clam")
    assert result.returncode == 0, result.stderr[-3000:]
    clam = finished_run / "results" / "tiny" / "clam" / "demo-stats"
    slides = pd.read_csv(finished_run / "results" / "tiny" / "input" / "slides.tsv", sep="\t")["slide_id"]
    assert {p.stem for p in (clam / "h5_files").glob("*.h5")} == set(slides) == {p.stem for p in (clam / "pt_files").glob("*.pt")}
    assert "export_clam" not in snakemake(finished_run, "-n").stdout                 # not part of the default target
