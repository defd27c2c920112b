"""Genomics-only survival models on the real TCGA tables, with the peers' published 5-fold splits.

For every ``tcga_*_all_clean.csv.zip`` under --data that has a matching ``splits/tcga_*`` folder, the
table is imported exactly as ``memamba import-mcat`` + ``memamba genomics`` do (MCAT's six gene-family
tokens), and Coxnet, SNN and ME-Mamba's Genomics Expert alone are trained by the project's harness
with the honest protocol: bin edges, scaling and Coxnet's penalty fitted on each fold's training
part; the neural models keep their last epoch. The table prints mean +- sd of Harrell's c-index
over the folds beside MCAT's released SNN numbers, and the optimistic best-epoch figure on the
reported fold in a separate, labelled column.
Run: python benchmarks/tcga_genomics.py --data ../shared/data/tcga [--folds 5] [--models coxnet snn memamba-genomics]
"""

from __future__ import annotations

import argparse
import glob
import logging
import re
import tempfile
import time
from pathlib import Path

import pandas as pd

from memamba.data.cohort import load_cohort
from memamba.data.mcat_cohort import select_slides, write_import
from memamba.data.splits import read_published_folds
from memamba.genomics.mcat import read_mcat_table
from memamba.genomics.tokens import write_genomics
from memamba.survival.evaluate import OPTIMISTIC, fold_metrics
from memamba.train.loop import train_fold
from memamba.train.transforms import GenomicTransform

REPO = Path(__file__).resolve().parents[1]
FAMILIES = REPO / "config" / "gene_sets" / "mcat_gene_families.csv"
MCAT_SNN = {"blca": 0.541, "brca": 0.466, "luad": 0.539}
TRAIN = {"epochs": 20, "lr": 2e-4, "weight_decay": 1e-5, "alpha": 0.15, "n_bins": 4, "seed": 0, "batch_size": 32,
         "accumulate": 1, "optimizer": "adam", "weighted_sampling": False, "amp": False, "inner_val_fraction": 0.0,
         "early_stopping_patience": 0}
MODELS = {"coxnet": {}, "snn": {"hidden": 256, "depth": 2, "dropout": 0.25},
          "memamba-genomics": {"d_model": 64, "genomics_layers": 1, "backbone_layers": 1, "dropout": 0.25}}


def tables(data: Path) -> list[tuple[str, str, Path, Path]]:
    """(source, cohort, table, splits folder) for every table with published splits."""
    found = []
    for table in sorted(Path(p) for p in glob.glob(str(data / "**" / "tcga_*_all_clean.csv.zip"), recursive=True)):
        cohort = re.match(r"tcga_([a-z]+)_", table.name).group(1)
        splits = data / "splits" / f"tcga_{cohort}"
        if splits.is_dir():
            found.append((table.parent.name, cohort, table, splits))
    return found


def evaluate_table(table: Path, splits_dir: Path, models: list[str], folds: int, work: Path) -> dict[str, pd.DataFrame]:
    """Per model, the fold metrics table of the genomics-only harness on this TCGA table."""
    imported = read_mcat_table(table)
    splits = read_published_folds(splits_dir, set(imported.clinical["patient_id"]))[:folds]
    write_import(imported, select_slides(imported.slides, None, None, "all"), work, None)
    write_genomics(work / "genomics.tsv", FAMILIES, work, work / "clinical.tsv")
    cohort = load_cohort(work / "slides.tsv", work / "clinical.tsv", None, work / "features.parquet", work / "tokens.json")
    results = {}
    for model in models:
        runs = [train_fold(cohort, split, model, MODELS[model], TRAIN, GenomicTransform(), progress=False) for split in splits]
        predictions = pd.concat([run.predictions.assign(fold=k) for k, run in enumerate(runs)], ignore_index=True)
        results[model] = fold_metrics(predictions, [run.history for run in runs]).set_index("fold")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with tcga_*_all_clean.csv.zip tables and splits/")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    found = tables(args.data)
    if not found:
        raise SystemExit(f"{args.data}: no tcga_*_all_clean.csv.zip with a matching splits/tcga_* folder")
    start = time.perf_counter()
    rows = []
    for source, cohort, table, splits in found:
        began = time.perf_counter()
        with tempfile.TemporaryDirectory() as work:
            results = evaluate_table(table, splits, args.models, args.folds, Path(work))
        for model, metrics in results.items():
            mean, sd = metrics.loc["mean"], metrics.loc["sd"]
            rows.append({"table": f"{source}/{cohort}", "model": model, "c_index": f"{mean.c_index:.3f} +- {sd.c_index:.3f}",
                         "MCAT SNN (released)": MCAT_SNN.get(cohort, float("nan")),
                         "difference": round(mean.c_index - MCAT_SNN.get(cohort, float("nan")), 3),
                         "uno_c": round(mean.uno_c, 3), "ibs": round(mean.ibs, 3),
                         "optimistic best epoch (not honest)": round(mean[OPTIMISTIC], 3) if OPTIMISTIC in mean else "",
                         "seconds": round(time.perf_counter() - began)})
        print(pd.DataFrame(rows[-len(results):]).to_string(index=False), flush=True)
    print(f"\nall tables, {args.folds} folds, honest protocol (last epoch; fold-fitted bins, scaling, penalty); "
          f"{time.perf_counter() - start:.0f} s on the CPU\n")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
