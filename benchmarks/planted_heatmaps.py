"""Do the heatmaps find the tumour? Each model's patch scores against the demo's planted answer.

A demo cohort whose slides carry all the risk, in one tumour region per slide (the rest of the tissue has a look
unrelated to the risk), goes through the demo's slide and genomics stages in process (config/config.yaml); each
model is cross-validated with the demo's training settings on the demo's folds, and every head's patch scores on
the validation patients' slides are compared with the tumour: the per-slide ROC AUC of tumour patches against the
slide's other patches, averaged over the slides (0.5: no better than chance). Heads per gene family (co-attention,
transport) are summarised by their mean and their best family. A model named ``NAME:published`` runs at its
registered (published) widths instead of the demo's narrowed ones.
Run: python benchmarks/planted_heatmaps.py [--patients 200] [--seed 0] [--models abmil:published abmil memamba mcat]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from memamba.config import load_config
from memamba.report.planted import planted_cross_validation, planted_demo

REPO = Path(__file__).resolve().parents[1]


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per head kind (the part before '/'): the AUC per fold (mean over families, and the best family's) and the
    fold's c-index, as mean +- sd over the folds."""
    table = table.assign(kind=table["head"].str.split("/").str[0])
    per_fold = table.groupby(["kind", "fold"]).agg(auc=("planted_auc", "mean"), best=("planted_auc", "max"),
                                                   c_index=("c_index", "first"))
    rows = []
    for kind, folds in per_fold.groupby(level="kind"):
        rows.append({"head": kind, "planted AUC": f"{folds['auc'].mean():.3f} ± {folds['auc'].std():.3f}",
                     "per fold": " ".join(f"{v:.2f}" for v in folds["auc"]),
                     "best family": f"{folds['best'].mean():.3f}" if kind in ("coattention", "transport") else "",
                     "c-index": f"{folds['c_index'].mean():.3f} ± {folds['c_index'].std():.3f}"})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=["abmil:published", "abmil", "abmil-snn", "mambamil", "mcat", "motcat", "memamba"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", message="The dispersion trend curve fitting did not converge")   # no signal there
    config = load_config(REPO / "config" / "config.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        cohort, splits, tumours = planted_demo(tmp, args.patients, args.seed, config)
        print(f"planted demo cohort: {args.patients} patients, {len(splits)} folds, slide stage {time.perf_counter() - start:.0f} s")
        for name in args.models:
            model, _, variant = name.partition(":")
            params = {} if variant == "published" else config["models"].get(model, {})
            start = time.perf_counter()
            table = planted_cross_validation(cohort, splits, tumours, model, params, config)
            print(f"\n{name} ({time.perf_counter() - start:.0f} s)")
            print(summarise(table).to_string(index=False))


if __name__ == "__main__":
    main()
