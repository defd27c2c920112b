"""Why does ME-Mamba's Genomics Expert trail its building block (the SNN) and Coxnet on some TCGA tables?

Ablations of ``memamba-genomics`` (one SNN per gene family, a dual-scan Mamba layer over the six family tokens, a
Mamba backbone layer, gated-attention pooling, a linear head) on the shared TCGA tables with the published splits and
the honest protocol of ``tcga_genomics.py`` (same settings: d_model 64, dropout 0.25, 20 epochs, lr 2e-4), one
change at a time, beside SNN and Coxnet run in the same process: the pooling replaced by reading the six tokens side
by side (``readout: concat``), no scan over the tokens (``genomics_layers: 0``), twice the epochs.
Run: python benchmarks/genomics_expert_ablation.py --data ../shared/data/tcga [--tables porpoise/brca ...]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import pandas as pd
from tcga_genomics import MODELS, TRAIN, cross_validated, prepared_table, tables

BASE = MODELS["memamba-genomics"]
VARIANTS = {
    "coxnet": ("coxnet", MODELS["coxnet"], TRAIN),
    "snn": ("snn", MODELS["snn"], TRAIN),
    "memamba-genomics (as published here)": ("memamba-genomics", BASE, TRAIN),
    "readout concat (no pooling)": ("memamba-genomics", {**BASE, "readout": "concat"}, TRAIN),
    "no scan over the tokens": ("memamba-genomics", {**BASE, "genomics_layers": 0}, TRAIN),
    "40 epochs": ("memamba-genomics", BASE, {**TRAIN, "epochs": 40}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with tcga_*_all_clean.csv.zip tables and splits/")
    parser.add_argument("--tables", nargs="*", default=None, help="only these tables, as SOURCE/COHORT")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    rows = []
    for source, cohort_name, table, splits_dir in tables(args.data):
        if args.tables is not None and f"{source}/{cohort_name}" not in args.tables:
            continue
        with tempfile.TemporaryDirectory() as work:
            cohort, splits = prepared_table(table, splits_dir, 5, Path(work))
            for variant in args.variants:
                model, settings, training = VARIANTS[variant]
                began = time.perf_counter()
                metrics, _ = cross_validated(cohort, splits, model, None, settings, training)
                folds = metrics.loc[[str(k) for k in range(len(splits))], "c_index"]
                rows.append({"table": f"{source}/{cohort_name}", "variant": variant,
                             "c_index": f"{folds.mean():.3f} +- {folds.std(ddof=1):.3f}", "mean": folds.mean(),
                             "seconds": round(time.perf_counter() - began)})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    print(table.pivot(index="variant", columns="table", values="c_index").reindex(args.variants).to_string())


if __name__ == "__main__":
    main()
