"""Does each part of ME-Mamba do what it is for? Planted mechanisms with a known answer, repeated cross-validation,
and every model's paired difference with ME-Mamba with its 95 % interval.

For each mechanism of :mod:`memamba.demo.mechanisms` (additive control, correspondence, localisation, arrangement) a
cohort of patch features (16-d, as the demo's encoder gives) and gene-family tables is drawn; ME-Mamba, its ablations
and the baselines are trained with the demo's settings (``config/config.yaml``: widths, epochs, learning rate; fixed
in advance, the same for every model and mechanism, none chosen on these cohorts) on ``--repeats`` x ``--folds``
stratified folds, the last epoch reported. With ``--candidates`` > 1 every model's settings are also chosen per outer
fold by nested cross-validation with one budget (``--candidates`` x ``--inner-folds`` inner fits). Per mechanism it
prints each model's Harrell c (mean +- sd over the folds), the oracle (the true risk), and each model's mean
difference with ME-Mamba over the same folds with the corrected resampled t-interval (Nadeau and Bengio; Bouckaert
and Frank for repeated CV). Every fit is appended to ``--out`` as it ends, and a rerun skips the fits it holds.

Run: python benchmarks/planted_mechanisms.py [--patients 300] [--repeats 2] [--folds 5] [--jobs 2] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from memamba.cpu_kernels import pin_cpu_kernels

pin_cpu_kernels()

import h5py  # noqa: E402  (after the kernels are pinned: torch reads the setting once)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from memamba.config import load_config  # noqa: E402
from memamba.data.bags import PatchBags  # noqa: E402
from memamba.data.cohort import Cohort  # noqa: E402
from memamba.data.splits import make_splits  # noqa: E402
from memamba.demo.mechanisms import MECHANISMS, family_genes, patch_features, planted_patients  # noqa: E402
from memamba.models.settings import merged_settings  # noqa: E402
from memamba.survival.compare import corrected_interval  # noqa: E402
from memamba.survival.metrics import harrell_c  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODELS = ["memamba", "memamba-no-ot", "memamba-no-mmd", "memamba-conventional-scan", "memamba-attention-scan",
          "memamba-attention-readout", "motcat", "mcat", "abmil-snn", "transmil", "mambamil", "snn", "coxnet"]
# Variants beyond the demo config's, for the design questions the mechanisms raise (name them in --models).
EXTRA_VARIANTS = {"memamba-sharp-ot": {"base": "memamba", "ot_epsilon": 0.05},
                  "memamba-flat-ot": {"base": "memamba", "ot_epsilon": 0.5},
                  "memamba-strong-mmd": {"base": "memamba", "mmd_weight": 1.0}}
COLUMNS = ["mechanism", "model", "repeat", "fold", "c_index", "oracle", "seconds"]


def planted_cohort(mechanism: str, patients: int, seed: int, folder: Path, patches: tuple[int, int]) -> tuple[Cohort, np.ndarray]:
    """The mechanism's patients as a Cohort (features in ``folder``, one file per patient) and their true risk."""
    planted = planted_patients(mechanism, patients, seed, patches=patches)
    for patient, features in zip(planted.patient_ids, patch_features(planted, seed)):
        with h5py.File(folder / f"{patient}.h5", "w") as h5:
            h5["features"] = features
    tokens = [{"name": family, "features": [f"{gene}_cnv" for gene in genes]} for family, genes in family_genes().items()]
    bags = PatchBags.from_files([[folder / f"{patient}.h5"] for patient in planted.patient_ids])
    cohort = Cohort(planted.patient_ids, planted.time, planted.event, bags, planted.genomics, tokens, {"cnv": "log2ratio"})
    return cohort, planted.risk


def folds(cohort: Cohort, repeats: int, count: int) -> list[tuple[int, int, pd.DataFrame]]:
    """(repeat, fold, split) of ``repeats`` stratified ``count``-fold cross-validations (seeds 0, 1, ...)."""
    clinical = pd.DataFrame({"patient_id": cohort.patients, "survival_months": cohort.time, "event": cohort.event})
    return [(repeat, k, split) for repeat in range(repeats) for k, split in enumerate(make_splits(clinical, count, repeat, 4))]


def fit_model(job: tuple) -> list[dict]:
    """Every fold of one (mechanism, model): Harrell's c on the validation patients, and the oracle's."""
    from memamba.train.loop import train_fold
    from memamba.train.search_space import applied, search_space
    from memamba.train.transforms import GenomicTransform
    from memamba.train.tuning import TuneSettings, tune_fold

    mechanism, model, args, done = job
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    config = load_config(REPO / "config" / "config.yaml")
    models = {**config["models"], **EXTRA_VARIANTS}
    params = merged_settings(model, models)
    train = {key: value for key, value in config["train"].items() if key not in ("models", "tune")}
    train["epochs"] = args.epochs or train["epochs"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        cohort, risk = planted_cohort(mechanism, args.patients, args.seed, Path(folder), tuple(args.patches))
        for repeat, fold, split in folds(cohort, args.repeats, args.folds):
            if (repeat, fold) in done:
                continue
            start = time.perf_counter()
            chosen, chosen_train = params, train
            if args.candidates > 1:
                space = search_space(model, params)
                tuning = tune_fold(cohort, split, model, params, train, GenomicTransform(), space,
                                   TuneSettings(args.candidates, args.inner_folds, args.seed))
                chosen, chosen_train = applied(tuning.chosen, params, train)
            result = train_fold(cohort, split, model, chosen, chosen_train, GenomicTransform(), progress=False)
            val = result.predictions[result.predictions["role"] == "val"]
            rows_at = cohort.index_of(val["patient_id"].tolist())
            row = {"mechanism": mechanism, "model": model, "repeat": repeat, "fold": fold,
                   "c_index": harrell_c(val["survival_months"], val["event"], val["risk"]),
                   "oracle": harrell_c(val["survival_months"], val["event"], risk[rows_at]),
                   "seconds": round(time.perf_counter() - start, 1)}
            rows.append(row)
            with open(args.out, "a") as record:
                record.write("\t".join(str(row[c]) for c in COLUMNS) + "\n")
    return rows


def mechanism_table(results: pd.DataFrame, folds_per_repeat: int) -> pd.DataFrame:
    """Per model: c mean +- sd over the folds, and its paired difference with ME-Mamba with the 95 % interval."""
    c = results.pivot_table(index=["repeat", "fold"], columns="model", values="c_index")
    oracle = results.groupby(["repeat", "fold"])["oracle"].first()
    rows = []
    for model in [m for m in MODELS if m in c.columns] + [m for m in c.columns if m not in MODELS]:
        row = {"model": model, "c-index": f"{c[model].mean():.3f} ± {c[model].std():.3f}", "folds": int(c[model].notna().sum())}
        if "memamba" in c.columns and model != "memamba":
            differences = (c[model] - c["memamba"]).to_numpy()
            low, high = corrected_interval(differences, 1.0 / (folds_per_repeat - 1))
            verdict = "ME-Mamba ahead" if high < 0 else "ME-Mamba behind" if low > 0 else "within noise"
            row.update({"− memamba": f"{np.nanmean(differences):+.3f}", "95 % interval": f"[{low:+.3f}, {high:+.3f}]",
                        "": verdict})
        rows.append(row)
    rows.append({"model": "oracle (true risk)", "c-index": f"{oracle.mean():.3f} ± {oracle.std():.3f}", "folds": len(oracle)})
    return pd.DataFrame(rows).fillna("")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--patches", type=int, nargs=2, default=[32, 64], help="fewest and most patches per patient")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None, help="default: the demo config's train.epochs")
    parser.add_argument("--candidates", type=int, default=1, help="nested-CV settings per model and outer fold (1: none)")
    parser.add_argument("--inner-folds", type=int, default=2)
    parser.add_argument("--mechanisms", nargs="+", default=list(MECHANISMS), choices=MECHANISMS)
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="(mechanism, model) pairs trained at once, one core each")
    parser.add_argument("--out", type=Path, default=Path("planted_mechanisms.tsv"), help="per-fold results (resumed)")
    parser.add_argument("--quick", action="store_true", help="a tiny run for CI: 48 patients, 2 folds, 1 epoch, 4 models")
    args = parser.parse_args()
    if args.quick:
        args.patients, args.patches, args.repeats, args.folds, args.epochs = 48, [8, 16], 1, 2, 1
        args.models = [m for m in args.models if m in ("memamba", "memamba-no-ot", "snn", "coxnet")] if args.models == MODELS else args.models
    if not args.out.exists():
        args.out.write_text("\t".join(COLUMNS) + "\n")
    previous = pd.read_csv(args.out, sep="\t")
    done = {key: set(zip(group["repeat"], group["fold"])) for key, group in previous.groupby(["mechanism", "model"])}
    jobs = [(mechanism, model, args, done.get((mechanism, model), set()))
            for mechanism, model in itertools.product(args.mechanisms, args.models)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs, initializer=_one_thread) as pool:
        list(pool.map(fit_model, jobs))
    results = pd.read_csv(args.out, sep="\t")
    results = results[results["mechanism"].isin(args.mechanisms) & results["model"].isin(args.models)
                      & (results["repeat"] < args.repeats) & (results["fold"] < args.folds)]
    print(f"{args.patients} patients per mechanism, {args.repeats} x {args.folds}-fold CV, "
          f"{'no tuning' if args.candidates == 1 else f'{args.candidates} x {args.inner_folds} inner fits per fold'}; "
          f"{time.perf_counter() - start:.0f} s this run, {results['seconds'].sum() / 3600:.2f} CPU-hours of fits in all")
    for mechanism in args.mechanisms:
        print(f"\n{mechanism}")
        print(mechanism_table(results[results["mechanism"] == mechanism], args.folds).to_string(index=False))


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


if __name__ == "__main__":
    main()
