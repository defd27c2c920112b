"""Genomics-only survival models on the real TCGA tables, with the peers' published 5-fold splits.

For every ``tcga_*_all_clean.csv.zip`` under --data that has a matching ``splits/tcga_*`` folder, the
table is imported exactly as ``memamba import-mcat`` + ``memamba genomics`` do (MCAT's six gene-family
tokens), and Coxnet, SNN and ME-Mamba's Genomics Expert alone are trained by the project's harness
with the honest protocol: bin edges, scaling and Coxnet's penalty fitted on each fold's training
part; the neural models keep their last epoch. The table prints mean +- sd of Harrell's c-index
over the folds beside MCAT's released SNN numbers, and the optimistic best-epoch figure on the
reported fold in a separate, labelled column.

With --tune, every model is also tuned by nested cross-validation (memamba.train.tuning: per outer fold,
--candidates settings of the model's default search space, the configured one first, x --inner-folds inner fits on
the outer training part only; the best inner mean c-index is refitted on the whole training part), and the table
shows untuned and tuned side by side, the budget, each model's paired difference to ME-Mamba's Genomics Expert over
the outer folds, and the wall time.
Run: python benchmarks/tcga_genomics.py --data ../shared/data/tcga [--folds 5] [--models coxnet snn memamba-genomics]
     [--tune --candidates 8 --inner-folds 3]
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
from memamba.train.search_space import applied, search_space
from memamba.train.transforms import GenomicTransform
from memamba.train.tuning import TuneSettings, tune_fold

REPO = Path(__file__).resolve().parents[1]
FAMILIES = REPO / "config" / "gene_sets" / "mcat_gene_families.csv"
MCAT_SNN = {"blca": 0.541, "brca": 0.466, "luad": 0.539}
TRAIN = {"epochs": 20, "lr": 2e-4, "weight_decay": 1e-5, "alpha": 0.15, "n_bins": 4, "seed": 0, "batch_size": 32,
         "accumulate": 1, "optimizer": "adam", "weighted_sampling": False, "amp": False, "inner_val_fraction": 0.0,
         "early_stopping_patience": 0}
MODELS = {"coxnet": {}, "snn": {"hidden": 256, "depth": 2, "dropout": 0.25},
          # the pooled read-out, as the tables of docs/pages/tcga.md measured it (the registered default became concat after them)
          "memamba-genomics": {"d_model": 64, "genomics_layers": 1, "backbone_layers": 1, "dropout": 0.25,
                               "readout": "attention"},
          "memamba-genomics-concat": {"base": "memamba-genomics", "d_model": 64, "genomics_layers": 1,
                                      "backbone_layers": 1, "dropout": 0.25, "readout": "concat"}}


def tables(data: Path) -> list[tuple[str, str, Path, Path]]:
    """(source, cohort, table, splits folder) for every table with published splits."""
    found = []
    for table in sorted(Path(p) for p in glob.glob(str(data / "**" / "tcga_*_all_clean.csv.zip"), recursive=True)):
        cohort = re.match(r"tcga_([a-z]+)_", table.name).group(1)
        splits = data / "splits" / f"tcga_{cohort}"
        if splits.is_dir():
            found.append((table.parent.name, cohort, table, splits))
    return found


def prepared_table(table: Path, splits_dir: Path, folds: int, work: Path) -> tuple[object, list[pd.DataFrame]]:
    """The table imported as ``memamba import-mcat`` + ``memamba genomics`` do, and its published outer folds."""
    imported = read_mcat_table(table)
    splits = read_published_folds(splits_dir, set(imported.clinical["patient_id"]))[:folds]
    write_import(imported, select_slides(imported.slides, None, None, "all"), work, None)
    write_genomics(work / "genomics.tsv", FAMILIES, work, work / "clinical.tsv")
    cohort = load_cohort(work / "slides.tsv", work / "clinical.tsv", None, work / "features.parquet", work / "tokens.json")
    return cohort, splits


def cross_validated(cohort, splits: list[pd.DataFrame], model: str, budget: TuneSettings | None,
                    settings: dict | None = None, training: dict | None = None) -> tuple[pd.DataFrame, list]:
    """(fold metrics, each outer fold's chosen setting or None) of ``model`` (with ``settings``, default MODELS'; and
    ``training``, default TRAIN), tuned by nested CV when ``budget`` is given."""
    runs, chosen = [], []
    for split in splits:
        params, train = settings or MODELS[model], training or TRAIN
        if budget is not None:
            tuning = tune_fold(cohort, split, model, params, train, GenomicTransform(), search_space(model, params), budget)
            params, train = applied(tuning.chosen, params, train)
            chosen.append(tuning.chosen)
        runs.append(train_fold(cohort, split, model, params, train, GenomicTransform(), progress=False))
    predictions = pd.concat([run.predictions.assign(fold=k) for k, run in enumerate(runs)], ignore_index=True)
    return fold_metrics(predictions, [run.history for run in runs]).set_index("fold"), chosen


def _mean_sd(values: pd.Series) -> str:
    return f"{values.mean():.3f} +- {values.std(ddof=1):.3f}"


def _paired(metrics: pd.DataFrame, reference: pd.DataFrame | None, folds: int) -> str:
    """This model's c-index minus the reference's, fold by fold: mean +- sd (folds ahead)."""
    if reference is None:
        return ""
    ours, theirs = (m.loc[[str(k) for k in range(folds)], "c_index"].to_numpy(float) for m in (metrics, reference))
    return f"{_mean_sd(pd.Series(ours - theirs))} ({int((ours > theirs).sum())}/{folds})"


def _chosen_summary(chosen: list[dict]) -> str:
    """Per setting, the values the outer folds chose (in fold order)."""
    if not chosen:
        return ""
    return "; ".join(f"{key} {'/'.join(f'{c[key]:g}' if isinstance(c[key], float) else str(c[key]) for c in chosen)}"
                     for key in sorted(chosen[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with tcga_*_all_clean.csv.zip tables and splits/")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--tables", nargs="*", default=None, help="only these tables, as SOURCE/COHORT (e.g. porpoise/brca)")
    parser.add_argument("--tune", action="store_true", help="also tune every model by nested cross-validation")
    parser.add_argument("--candidates", type=int, default=8, help="settings per model and outer fold (with --tune)")
    parser.add_argument("--inner-folds", type=int, default=3, help="inner folds per setting (with --tune)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    found = [entry for entry in tables(args.data) if args.tables is None or f"{entry[0]}/{entry[1]}" in args.tables]
    if not found:
        raise SystemExit(f"{args.data}: no tcga_*_all_clean.csv.zip with a matching splits/tcga_* folder")
    budget = TuneSettings(args.candidates, args.inner_folds) if args.tune else None
    start = time.perf_counter()
    rows = []
    for source, cohort_name, table, splits_dir in found:
        with tempfile.TemporaryDirectory() as work:
            cohort, splits = prepared_table(table, splits_dir, args.folds, Path(work))
            results = {}
            for model in args.models:
                for tuned in ([False, True] if budget else [False]):
                    began = time.perf_counter()
                    metrics, chosen = cross_validated(cohort, splits, model, budget if tuned else None)
                    results[model, tuned] = (metrics, chosen, time.perf_counter() - began)
        for (model, tuned), (metrics, chosen, seconds) in results.items():
            mean, sd = metrics.loc["mean"], metrics.loc["sd"]
            reference = results.get(("memamba-genomics", tuned), (None,))[0]
            row = {"table": f"{source}/{cohort_name}", "model": model, "c_index": f"{mean.c_index:.3f} +- {sd.c_index:.3f}"}
            if budget:
                row.update({"tuned": "yes" if tuned else "no", "inner fits / outer fold": budget.inner_fits if tuned else 0,
                            "c - memamba-genomics (paired, folds ahead)": _paired(metrics, reference, len(splits))
                            if model != "memamba-genomics" else "", "chosen per fold": _chosen_summary(chosen)})
            row.update({"MCAT SNN (released)": MCAT_SNN.get(cohort_name, float("nan")),
                        "uno_c": round(mean.uno_c, 3), "ibs": round(mean.ibs, 3),
                        "optimistic best epoch (not honest)": round(mean[OPTIMISTIC], 3) if OPTIMISTIC in mean else "",
                        "seconds": round(seconds)})
            rows.append(row)
        print(pd.DataFrame(rows[-len(results):]).drop(columns=["chosen per fold"], errors="ignore").to_string(index=False), flush=True)
    protocol = (f"; tuned: {budget.candidates} settings x {budget.inner_folds} inner folds = {budget.inner_fits} inner fits "
                "per model and outer fold, on the outer training part only") if budget else ""
    print(f"\nall tables, {args.folds} folds, honest protocol (last epoch; fold-fitted bins, scaling, penalty){protocol}; "
          f"{time.perf_counter() - start:.0f} s on the CPU\n")
    table = pd.DataFrame(rows)
    print(table.drop(columns=["chosen per fold"], errors="ignore").to_string(index=False))
    if budget:
        print("\nsettings chosen by the inner cross-validation, per outer fold:")
        print(table[table["tuned"] == "yes"][["table", "model", "chosen per fold"]].to_string(index=False))


if __name__ == "__main__":
    main()
