"""Cohorts as users bring them, run as the README says (from the repository root of a clean checkout): a user's
--configfile replaces the demo; an MCAT table with its published splits and a GDC download tree; ready-made
CLAM/TRIDENT features; a weights file that is missing or different."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import h5py
import pandas as pd
import pytest
import torch
import yaml

from conftest import (
    CMU_SLIDE,
    SHARED_DATA,
    TINY,
    clean_checkout,
    copied_inputs,
    needs_shared,
    planned_jobs,
    run_folder_for,
    snakemake,
    snakemake_at_root,
)

pytestmark = [pytest.mark.workflow, pytest.mark.timeout(900)]
BLCA = SHARED_DATA / "tcga" / "mcat_sig" / "tcga_blca_all_clean.csv.zip"
BLCA_SPLITS = SHARED_DATA / "tcga" / "splits" / "tcga_blca"


def _shell_params(plan: subprocess.CompletedProcess, command: str, option: str = "--params") -> list[dict]:
    """The JSON of ``option`` of every planned ``memamba COMMAND`` (a dry run with -p prints each shell command)."""
    found = re.findall(rf"^Shell command: (?:OMP_NUM_THREADS=\d+ )?memamba {command} .*{option} '(\{{.*?\}})'", plan.stdout, re.MULTILINE)
    assert found, f"no planned 'memamba {command}' command"
    return [json.loads(params) for params in found]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean checkout of the repository: what a user gets from git clone."""
    return clean_checkout(tmp_path_factory.mktemp("clone"))


def test_without_a_configfile_the_demo_runs_and_a_users_configfile_replaces_it(checkout: Path, demo_dir: Path, tmp_path: Path) -> None:
    demo = snakemake_at_root(checkout, "-n")
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert planned_jobs(demo)["demo_data"] == 1
    user = tmp_path / "my.yaml"
    user.write_text(yaml.safe_dump({"cohorts": {"mine": {kind: str(demo_dir / f"{kind}.tsv") for kind in ("slides", "clinical", "genomics")}
                                                | {"gene_families": str(demo_dir / "gene_families.csv")}}}))
    unweighted = snakemake_at_root(checkout, "-n", "--configfile", str(user))          # the default encoder is UNI
    assert unweighted.returncode != 0
    assert "extract.weights is null, but encoder 'uni' needs its published weights" in unweighted.stdout + unweighted.stderr
    weights = tmp_path / "pytorch_model.bin"
    weights.write_bytes(b"stands in for UNI's weights in a dry run")
    user.write_text(yaml.safe_dump({**yaml.safe_load(user.read_text()), "extract": {"weights": str(weights)}}))
    plan = snakemake_at_root(checkout, "-n", "-p", "--configfile", str(user))
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "results/mine/features/uni/" in plan.stdout
    slides = len(pd.read_csv(demo_dir / "slides.tsv", sep="\t"))
    jobs = planned_jobs(plan)
    assert "demo_data" not in jobs and jobs["segment"] == jobs["tile"] == jobs["extract"] == slides
    assert jobs["train_fold"] == 5 and "results/demo/" not in plan.stdout
    assert {(p["target_mpp"], p["patch_size"]) for p in _shell_params(plan, "tile")} == {(0.5, 256)}
    assert {p["seg_mpp"] for p in _shell_params(plan, "segment")} == {8.0}
    assert {p["epochs"] for p in _shell_params(plan, "train")} == {20}
    override = snakemake_at_root(checkout, "-n", "-p", "--configfile", str(user), "--config", "tile={patch_size: 224}",
                                 "train={epochs: 3}")
    assert override.returncode == 0, override.stderr[-3000:]
    assert {(p["target_mpp"], p["patch_size"]) for p in _shell_params(override, "tile")} == {(0.5, 224)}
    assert {p["epochs"] for p in _shell_params(override, "train")} == {3}


@needs_shared
def test_a_gdc_download_with_mcats_table_and_splits_plans_one_extract_per_found_slide(checkout: Path, tmp_path: Path) -> None:
    slide_ids = pd.read_csv(BLCA, usecols=["slide_id"])["slide_id"]
    present = slide_ids.iloc[[0, 3, 10, 50, 100, 200, 300]].tolist()
    gdc = tmp_path / "gdc"
    for name in present:
        folder = gdc / str(uuid.uuid4())
        (folder / "logs").mkdir(parents=True)
        os.symlink(CMU_SLIDE, folder / name)
        (folder / "logs" / f"{name}.parcel").write_text("partial download")
    out = tmp_path / "imported"
    run = subprocess.run([sys.executable, "-m", "memamba.cli", "import-mcat", str(BLCA), "--splits", str(BLCA_SPLITS),
                          "--slide-dir", str(gdc), "-o", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    absent = len(slide_ids) - len(present)
    assert f"slides: {len(present)} found (under {gdc}), {absent} absent (listed in {out / 'absent_slides.tsv'})" in run.stdout
    assert len(pd.read_csv(out / "absent_slides.tsv", sep="\t")) == absent
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert list(config["cohorts"]) == ["tcga_blca"] and config["cohorts"]["tcga_blca"]["splits"] == str(out / "splits")
    assert config["cohorts"]["tcga_blca"]["pathways"] == str(out / "pathways.csv")                   # the 50 hallmarks
    assert "pathways with a gene of the table's RNA (SurvPath's tokens): 50 of 50" in run.stdout
    tcga = yaml.safe_load((checkout / "config" / "tcga.yaml").read_text())        # without --settings: the TCGA settings
    assert config["extract"]["encoder"] == "uni" and config["train"]["models"] == tcga["train"]["models"]
    weights = tmp_path / "pytorch_model.bin"
    weights.write_bytes(b"stands in for UNI's weights in a dry run")
    plan = snakemake_at_root(checkout, "-n", "-p", "--configfile", str(out / "config.yaml"), "--config", f"extract={{weights: {weights}}}")
    assert plan.returncode == 0, plan.stderr[-3000:]
    models = len(tcga["train"]["models"])                                          # none tuned there
    assert planned_jobs(plan) == {"slide_shard": 1, "take_slide": 7, "genomic_tokens": 1, "pathway_tokens": 1, "published_split": 5,
                                  "train_fold": 5 * models, "evaluate": 1, "summarise": 1, "render_report": 1, "all": 1}
    assert {(p["target_mpp"], p["patch_size"]) for p in _shell_params(plan, "slide-stage", "--tile-params")} == {(0.5, 256)}
    extracted = set(re.findall(r"results/tcga_blca/features/uni/([^./\s]\S*)\.h5", plan.stdout))
    assert extracted == {name.removesuffix(".svs") for name in present}


def _clam_features(finished_run: Path, sheet: pd.DataFrame, folder: Path) -> None:
    """The tiny cohort's features as CLAM writes them: h5_files/{slide}.h5 (features, coords) for some slides and
    pt_files/{slide}.pt for the others."""
    (folder / "h5_files").mkdir(parents=True)
    (folder / "pt_files").mkdir()
    for number, slide in enumerate(sheet["slide_id"]):
        with h5py.File(finished_run / "results" / "tiny" / "features" / "demo-stats" / f"{slide}.h5") as h5:
            features, coords = h5["features"][:], h5["coords"][:]
        if number % 2:
            torch.save(torch.from_numpy(features), folder / "pt_files" / f"{slide}.pt")
        else:
            with h5py.File(folder / "h5_files" / f"{slide}.h5", "w") as h5:
                h5.create_dataset("features", data=features)
                h5.create_dataset("coords", data=coords)


def test_ready_made_features_and_published_splits_train_and_evaluate_on_exactly_those_folds(finished_run: Path, tmp_path: Path) -> None:
    sheet = copied_inputs(finished_run, tmp_path)
    _clam_features(finished_run, sheet, tmp_path / "clam")
    sheet.drop(columns="path").to_csv(tmp_path / "slides.tsv", sep="\t", index=False)
    patients = sorted(pd.read_csv(tmp_path / "clinical.tsv", sep="\t")["patient_id"])
    published = tmp_path / "published"
    published.mkdir()
    for k in range(3):
        val = patients[k::3]
        train = [p for p in patients if p not in val]
        val = [*val, "GHOST-1"] if k == 0 else val
        pd.DataFrame({"train": pd.Series(train), "val": pd.Series(val)}).to_csv(published / f"splits_{k}.csv")
    config = {**TINY, "train": {**TINY["train"], "models": ["snn", "abmil"]},
              "cohorts": {"mine": {"slides": str(tmp_path / "slides.tsv"), "clinical": str(tmp_path / "clinical.tsv"),
                                   "genomics": str(tmp_path / "genomics.tsv"), "gene_families": str(tmp_path / "gene_families.csv"),
                                   "features": str(tmp_path / "clam"), "splits": str(published)}}}
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake(workdir, "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert planned_jobs(plan) == {"genomic_tokens": 1, "published_split": 3, "train_fold": 6, "evaluate": 1, "summarise": 1,
                                  "render_report": 1, "all": 1}
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-5000:]
    results = workdir / "results" / "mine"
    for k in range(3):
        ours = pd.read_csv(results / "splits" / f"fold_{k}.tsv", sep="\t")
        peers = pd.read_csv(published / f"splits_{k}.csv")
        assert sorted(ours.loc[ours["role"] == "val", "patient_id"]) == sorted(set(peers["val"].dropna()) - {"GHOST-1"})
        assert sorted(ours.loc[ours["role"] == "train", "patient_id"]) == sorted(peers["train"].dropna())
        predictions = pd.read_csv(results / "models" / "abmil" / f"fold_{k}" / "predictions.tsv", sep="\t")
        assert sorted(predictions.loc[predictions["role"] == "val", "patient_id"]) == sorted(ours.loc[ours["role"] == "val", "patient_id"])
    log = (workdir / "results" / "logs" / "splits" / "mine" / "fold_0.log").read_text()
    assert "left out GHOST-1 (val): no survival (not in the clinical sheet)" in log
    metrics = pd.read_csv(results / "eval" / "abmil" / "metrics.tsv", sep="\t").set_index("fold")
    assert metrics.loc[["0", "1", "2"], "c_index"].between(0, 1).all()
    assert not (results / "features").exists() and not (results / "patches").exists()


def test_a_missing_or_different_weights_file_fails_the_dry_run_naming_the_key(finished_run: Path, tmp_path: Path) -> None:
    workdir = run_folder_for(copied_inputs(finished_run, tmp_path), tmp_path)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    (workdir / "config.yaml").write_text(yaml.safe_dump({**config, "extract": {"encoder": "uni", "weights": str(tmp_path / "no.bin")}}))
    missing = snakemake(workdir, "-n")
    message = missing.stdout + missing.stderr
    assert missing.returncode != 0
    assert f"extract.weights: {tmp_path / 'no.bin'} does not exist" in message and "Fix: download pytorch_model.bin" in message
    weights = tmp_path / "uni.bin"
    weights.write_bytes(b"an interrupted download")
    (workdir / "config.yaml").write_text(yaml.safe_dump({**config, "extract": {"encoder": "uni", "weights": str(weights),
                                                                                "weights_sha256": "ab" * 32}}))
    different = snakemake(workdir, "-n")
    assert different.returncode != 0 and f"extract.weights_sha256: {weights} has SHA-256 " in different.stdout + different.stderr
    assert not (workdir / "results").exists()


def test_the_workflow_passes_snakemakes_lint_and_snakefmt(checkout: Path) -> None:
    lint = snakemake_at_root(checkout, "--lint")
    assert lint.returncode == 0 and "Congratulations, your workflow is in a good condition" in lint.stdout + lint.stderr, lint.stdout
    snakefmt = shutil.which("snakefmt", path=str(Path(sys.executable).parent)) or "snakefmt"
    formatted = subprocess.run([snakefmt, "--check", "Snakefile", "workflow"], capture_output=True, text=True, cwd=checkout)
    assert formatted.returncode == 0, formatted.stderr


def test_a_model_name_with_shell_syntax_stops_the_run_before_any_job(checkout: Path, tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    name = f"x`touch {marker}`"
    config = tmp_path / "hostile.yaml"
    config.write_text(yaml.safe_dump({**TINY, "train": {"models": [name], "epochs": 1}, "models": {name: {"base": "snn"}}}))
    run = snakemake_at_root(checkout, "--configfile", str(config))
    assert run.returncode != 0 and not marker.exists()
    assert f"{config}: field 'train.models.0'" in run.stderr and "starting with a letter or digit" in run.stderr
    assert not (checkout / "results" / "tiny").exists()


def test_sheet_paths_with_shell_syntax_and_spaces_reach_every_command_as_one_argument(finished_run: Path, tmp_path: Path) -> None:
    data = tmp_path / "My Data"
    data.mkdir()
    sheet = copied_inputs(finished_run, data)
    sheet.to_csv(data / "slides.tsv", sep="\t", index=False)
    clinical = (data / "clinical.tsv").rename(data / "clin$(touch PWNED).tsv")
    truth = data / "truth `touch PWNED`; touch PWNED.tsv"
    shutil.copy(finished_run / "results" / "tiny" / "input" / "truth.tsv", truth)
    cohort = {"slides": str(data / "slides.tsv"), "clinical": str(clinical), "genomics": str(data / "genomics.tsv"),
              "gene_families": str(data / "gene_families.csv"), "truth": str(truth)}
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump({**TINY, "cohorts": {"mine": cohort}, "train": {"models": ["coxnet"]}}))
    run = snakemake(workdir, "results/mine/summary.tsv")
    assert run.returncode == 0, run.stderr[-3000:]
    assert not list(tmp_path.rglob("PWNED")), "a path's shell syntax was run"
    summary = pd.read_csv(workdir / "results" / "mine" / "summary.tsv", sep="\t")
    assert {"coxnet", "oracle (true risk)"} <= set(summary["model"])


def test_inputs_inside_results_are_refused_before_snakemake_can_delete_them(finished_run: Path, tmp_path: Path) -> None:
    sheet = copied_inputs(finished_run, tmp_path)
    workdir = run_folder_for(sheet, tmp_path)
    slide = workdir / "results" / "mine" / "tissue" / f"{sheet['slide_id'][0]}.png"    # a path one of the rules writes
    slide.parent.mkdir(parents=True)
    shutil.copy(sheet["path"][0], slide)
    sheet.loc[0, "path"] = str(slide)
    sheet.to_csv(tmp_path / "slides.tsv", sep="\t", index=False)
    run = snakemake(workdir)
    assert run.returncode != 0
    message = run.stdout + run.stderr
    assert f"slide {sheet['slide_id'][0]} {slide}: inside {workdir / 'results'}, the folder this workflow writes" in message
    assert slide.exists(), "the slide was deleted"
    inputs = workdir / "results" / "mine" / "input"                       # where the demo's generated sheets live
    inputs.mkdir(parents=True)
    shutil.copy(tmp_path / "clinical.tsv", inputs / "clinical.tsv")
    sheet.loc[0, "path"] = str(tmp_path / "elsewhere.svs")
    shutil.copy(slide, tmp_path / "elsewhere.svs")
    sheet.to_csv(tmp_path / "slides.tsv", sep="\t", index=False)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["cohorts"]["mine"]["clinical"] = str(inputs / "clinical.tsv")
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake(workdir, "-n")
    assert plan.returncode != 0 and f"cohorts.mine.clinical {inputs / 'clinical.tsv'}: inside" in plan.stdout + plan.stderr
    assert "KeyError" not in plan.stdout + plan.stderr


def test_bad_model_settings_and_a_cohort_without_events_are_reported_at_start_up(finished_run: Path, tmp_path: Path) -> None:
    workdir = run_folder_for(copied_inputs(finished_run, tmp_path), tmp_path)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    (workdir / "config.yaml").write_text(yaml.safe_dump({**config, "models": {"snn": {"hiden": 16}, "snnn": {"hidden": 8}}}))
    plan = snakemake(workdir, "-n")
    assert plan.returncode != 0 and not (workdir / "results").exists()
    assert "models.snn.hiden: snn has no setting 'hiden'. Fix: did you mean 'hidden'?" in plan.stdout + plan.stderr
    assert "models.snnn: no registered model is called 'snnn'" in plan.stdout + plan.stderr
    clinical = pd.read_csv(tmp_path / "clinical.tsv", sep="\t").assign(event=0)
    clinical.to_csv(tmp_path / "clinical.tsv", sep="\t", index=False)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    plan = snakemake(workdir, "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    message = plan.stdout + plan.stderr
    assert f"cohort mine: no patient of {tmp_path / 'clinical.tsv'} has an event (all {len(clinical)} are censored)" in message


def test_slide_ids_too_long_for_the_files_derived_from_them_are_refused_at_start_up(finished_run: Path, tmp_path: Path) -> None:
    sheet = copied_inputs(finished_run, tmp_path)
    sheet.loc[0, "slide_id"] = "S" * 230
    plan = snakemake(run_folder_for(sheet, tmp_path), "-n")
    message = plan.stdout + plan.stderr
    assert plan.returncode != 0 and "File name too long" not in message
    assert f"row 2 (slide_id={'S' * 230}): column 'slide_id'" in message and "at most 100" in message


def test_a_gene_family_table_with_a_family_twice_stops_the_run_at_start_up(finished_run: Path, tmp_path: Path) -> None:
    workdir = run_folder_for(copied_inputs(finished_run, tmp_path), tmp_path)
    families = pd.read_csv(tmp_path / "gene_families.csv")
    families.insert(2, families.columns[0], families.iloc[:, 0], allow_duplicates=True)
    families.to_csv(tmp_path / "gene_families.csv", index=False)
    plan = snakemake(workdir, "-n")
    assert plan.returncode != 0 and not (workdir / "results").exists()
    assert f"{tmp_path / 'gene_families.csv'}: column(s) ['{families.columns[0]}'] appear more than once" in plan.stdout + plan.stderr
