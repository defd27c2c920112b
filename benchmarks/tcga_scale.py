"""Memory and time of one ME-Mamba training job as a TCGA-shaped cohort grows.

A cohort is built from a real MCAT table (genomics, survival, slide ids; BLCA by default) with synthetic 1024-d
patch features for its first N patients (``--patches`` per patient, shared out among the patient's diagnostic
slides, float32 HDF5, one file per slide: so that only the number of patients changes between sizes), imported
with ``memamba import-mcat --features``, tokenised with ``memamba genomics``, split 80/20 and trained for one
epoch with ``memamba train`` (CPU, batch 1, ME-Mamba at d_model 64) - the commands the workflow runs, so the
script measures any version of the code. Per size it prints the job's peak RSS (the whole process tree's, sampled
every 50 ms, so reading workers count) and its wall seconds, then the ratio of the larger size to the smaller. A
third job at ``--tcga-patches`` per patient with the smaller patient count projects the 1,000-patient x 10k-patch
cohort: its RSS plus the per-patient growth of the first two sizes, scaled by the ratio of patches, for every
patient beyond it (conservative: linear growth).
Run: python benchmarks/tcga_scale.py --table ../shared/data/tcga/mcat_sig/tcga_blca_all_clean.csv.zip
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from memamba.genomics.mcat import read_mcat_table

REPO = Path(__file__).resolve().parents[1]
FAMILIES = REPO / "config" / "gene_sets" / "mcat_gene_families.csv"
MODEL = {"d_model": 64, "genomics_layers": 1, "pathology_layers": 1, "backbone_layers": 1}
TRAIN = {"epochs": 1, "batch_size": 1, "device": "cpu", "amp": False}
PROJECTED_PATIENTS = 1000


def tree_rss(root: int) -> int:
    """Summed resident memory (bytes) of ``root`` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            pages = int(Path(f"/proc/{entry}/statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run_measured(command: list[str]) -> tuple[float, float]:
    """Run ``command``; its peak tree RSS (MiB) and wall seconds. Raises with its output when it fails."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(process.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    output = process.stdout.read()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{output}")
    return peak / 2**20, seconds


def build_cohort(table: Path, patients: int, patches: int, work: Path) -> Path:
    """Import the first ``patients`` patients of ``table`` with ``patches`` synthetic features each; the work folder."""
    imported = read_mcat_table(table)
    kept = set(imported.clinical["patient_id"].iloc[:patients])
    slides = imported.slides[imported.slides["patient_id"].isin(kept) & imported.slides["slide_id"].str.contains("-DX")]
    features = work / "features"
    features.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for _, own in slides.groupby("patient_id"):
        for slide, share in zip(own["slide_id"], np.array_split(np.arange(patches), len(own))):
            with h5py.File(features / f"{slide.removesuffix('.svs')}.h5", "w") as h5:
                h5["features"] = rng.standard_normal((len(share), 1024), dtype=np.float32)
                h5["coords"] = np.zeros((len(share), 2), np.int64)
    cohort = work / "cohort"
    subprocess.run([sys.executable, "-m", "memamba.cli", "import-mcat", str(table), "--features", str(features), "-o", str(cohort)],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "memamba.cli", "genomics", "--sheet", str(cohort / "genomics.tsv"), "--families",
                    str(FAMILIES), "--clinical", str(cohort / "clinical.tsv"), "-o", str(cohort)], check=True, capture_output=True)
    clinical = pd.read_csv(cohort / "clinical.tsv", sep="\t")
    roles = np.where(np.arange(len(clinical)) % 5 == 0, "val", "train")
    pd.DataFrame({"patient_id": clinical["patient_id"], "role": roles}).to_csv(work / "fold.tsv", sep="\t", index=False)
    return work


def train_job(work: Path) -> tuple[float, float]:
    """Peak RSS (MiB) and wall seconds of one epoch of ME-Mamba on the cohort in ``work``."""
    cohort = work / "cohort"
    return run_measured([sys.executable, "-m", "memamba.cli", "train", "--slides", str(cohort / "slides.tsv"),
                         "--clinical", str(cohort / "clinical.tsv"), "--genomics", str(cohort / "features.parquet"),
                         "--tokens", str(cohort / "tokens.json"), "--split", str(work / "fold.tsv"),
                         "--features-dir", str(work / "features"), "--model", "memamba", "--model-params", json.dumps(MODEL),
                         "--params", json.dumps(TRAIN), "-o", str(work / "run"), "--quiet"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", type=Path, required=True, help="an MCAT/PORPOISE tcga_*_all_clean.csv.zip table")
    parser.add_argument("--patients", type=int, nargs=2, default=[50, 200], help="the two cohort sizes")
    parser.add_argument("--patches", type=int, default=2000, help="patches per patient at the two sizes")
    parser.add_argument("--tcga-patches", type=int, default=10000, help="patches per patient of the projection job (0: skip)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the features go (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        sizes = [(n, args.patches) for n in args.patients] + ([(args.patients[0], args.tcga_patches)] if args.tcga_patches else [])
        rows = []
        for index, (patients, patches) in enumerate(sizes):
            work = build_cohort(args.table, patients, patches, Path(tmp) / f"size{index}")
            rss, seconds = train_job(work)
            disk = sum(f.stat().st_size for f in (work / "features").iterdir()) / 2**30
            rows.append({"patients": patients, "patches_per_patient": patches, "features_GiB": round(disk, 2),
                         "peak_rss_MiB": round(rss), "job_seconds": round(seconds, 1)})
            subprocess.run(["rm", "-rf", str(work / "features")], check=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    small, large = rows[0], rows[1]
    print(f"ratio for {large['patients'] / small['patients']:.0f}x the patients: peak RSS "
          f"{large['peak_rss_MiB'] / small['peak_rss_MiB']:.2f}, job seconds {large['job_seconds'] / small['job_seconds']:.2f} "
          "(goal: RSS ratio <= 1.2)")
    if args.tcga_patches:
        per_patient = max(0.0, (large["peak_rss_MiB"] - small["peak_rss_MiB"]) / (large["patients"] - small["patients"]))
        projected = rows[2]["peak_rss_MiB"] + per_patient * args.tcga_patches / args.patches * (PROJECTED_PATIENTS - small["patients"])
        print(f"projected peak RSS of one job at {PROJECTED_PATIENTS} patients x {args.tcga_patches} patches: "
              f"{projected / 1024:.1f} GiB (goal: < 8 GiB)")


if __name__ == "__main__":
    main()
