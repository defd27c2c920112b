"""Token building from a PORPOISE table (default: BRCA, 956 patients): time and peak memory per step.

Baseline in the same run: pandas reading the same table, the I/O every importer pays. Run:
python benchmarks/genomics_tokens.py [--table ../shared/data/tcga/porpoise/tcga_brca_all_clean.csv.zip]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
from measuring import measured

from memamba.data.mcat_cohort import select_slides, write_import
from memamba.genomics.mcat import read_mcat_table
from memamba.genomics.tables import read_gene_families
from memamba.genomics.tokens import build_features, build_tokens

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--table", type=Path,
                        default=REPO.parent / "shared" / "data" / "tcga" / "porpoise" / "tcga_brca_all_clean.csv.zip")
    parser.add_argument("--families", type=Path, default=REPO / "config" / "gene_sets" / "mcat_gene_families.csv")
    args = parser.parse_args()
    _, read_s, read_mib = measured(lambda: pd.read_csv(args.table, low_memory=False))
    with tempfile.TemporaryDirectory() as out:
        imported, import_s, import_mib = measured(lambda: read_mcat_table(args.table))
        _, write_s, write_mib = measured(lambda: write_import(imported, select_slides(imported.slides, None, None, "all"), out, None))
        (features, kinds), build_s, build_mib = measured(lambda: build_features(Path(out) / "genomics.tsv"))
        tokens, token_s, token_mib = measured(lambda: build_tokens(features, read_gene_families(args.families), kinds))
    sizes = [len(t["features"]) for t in tokens["tokens"]]
    print(f"{args.table.name}: {len(imported.clinical)} patients, {features.shape[1]} features, token sizes {sizes}")
    print(f"{'step':<42} {'seconds':>8} {'peak MiB':>9} {'vs read':>8}")
    total = import_s + write_s + build_s + token_s
    for name, seconds, mib in [("pandas.read_csv of the table (baseline)", read_s, read_mib),
                               ("import (classify, per patient, matrices)", import_s, import_mib),
                               ("write sheets and matrices", write_s, write_mib),
                               ("read matrices into the feature table", build_s, build_mib),
                               ("tokens (columns per family)", token_s, token_mib),
                               ("all memamba steps", total, max(import_mib, write_mib, build_mib, token_mib))]:
        print(f"{name:<42} {seconds:8.2f} {mib:9.1f} {seconds / read_s:8.2f}")


if __name__ == "__main__":
    main()
