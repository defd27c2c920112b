"""Sub-commands that score predictions and gather them: evaluate, evaluate-external, summarise, report.

Each command's parser sits beside its handler; heavy libraries are imported inside the handlers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from memamba.errors import MemambaError


def _add_evaluate(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("evaluate", help="per-fold metrics and Kaplan-Meier plot of one model (or of several)",
                            description="Compute Harrell's c-index and the log-rank p of risk groups on each fold's "
                                        "validation patients; writes metrics.tsv (folds, mean, sd) and km.png to -o. "
                                        "With --models, every model of a cohort in one process, each to its own folder.")
    p.add_argument("predictions", nargs="*", help="predictions.tsv of every fold, in fold order")
    p.add_argument("-o", "--out", default=None, help="output folder")
    p.add_argument("--title", default="model", help="title for the plot and the printout")
    p.add_argument("--models", default=None, metavar="JSON",
                   help="instead of PREDICTIONS, -o and --title: a JSON list of {predictions: [...], out, title}")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> None:
    for predictions, out, title in _evaluations(args):
        _evaluate_one(predictions, Path(out), title)


def _evaluations(args: argparse.Namespace) -> list[tuple[list[str], str, str]]:
    """(fold predictions, output folder, title) of every model the command evaluates."""
    if args.models is None:
        if not args.predictions or args.out is None:
            raise MemambaError("PREDICTIONS and -o are required. Fix: give them (or --models).")
        return [(args.predictions, args.out, args.title)]
    if args.predictions or args.out is not None:
        raise MemambaError("--models replaces PREDICTIONS and -o. Fix: give --models only.")
    try:
        return [([str(p) for p in model["predictions"]], str(model["out"]), str(model["title"])) for model in json.loads(args.models)]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise MemambaError(f"--models is not a JSON list of {{predictions, out, title}} objects ({exc}). "
                           "Fix: pass such a list (the workflow writes it).") from exc


def _evaluate_one(predictions_files: list[str], out: Path, title: str) -> None:
    from memamba.atomic import atomic_paths
    from memamba.report.plots import plot_km
    from memamba.survival.evaluate import fold_metrics, read_histories, read_predictions, risk_groups, undefined_metrics

    predictions = read_predictions(predictions_files)
    table = fold_metrics(predictions, read_histories(predictions_files))
    with atomic_paths([out / "metrics.tsv", out / "km.png"]) as (metrics, km):
        table.to_csv(metrics, sep="\t", index=False, float_format="%.4g")
        plot_km(risk_groups(predictions), f"{title}: validation patients, all folds", km)
    mean, sd = table.set_index("fold").loc[["mean", "sd"], "c_index"]
    print(f"{title}: c-index {mean:.3f} +- {sd:.3f} over {len(predictions_files)} folds")
    for line in undefined_metrics(table):
        print(f"memamba evaluate: warning: {title}: {line}", file=sys.stderr)


def _add_evaluate_external(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("evaluate-external", help="metrics of a cohort scored by another cohort's folds",
                            description="External validation: Harrell's and Uno's c, time-dependent AUC, integrated Brier "
                                        "score and log-rank p of the patients of a `memamba predict` output (with "
                                        "survival), the training cohort's survival giving the censoring distribution "
                                        "and the time points; writes metrics.tsv and km.png to -o.")
    p.add_argument("predictions", help="predictions TSV from memamba predict --clinical")
    p.add_argument("--training-clinical", required=True, help="clinical sheet of the cohort the folds were trained on")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--title", default="external validation", help="title for the plot and the printout")
    p.set_defaults(func=cmd_evaluate_external)


def cmd_evaluate_external(args: argparse.Namespace) -> None:
    import pandas as pd

    from memamba.atomic import atomic_paths
    from memamba.report.plots import plot_km
    from memamba.sheets import read_sheet
    from memamba.survival.evaluate import external_metrics, undefined_metrics

    predictions = pd.read_csv(args.predictions, sep="\t", dtype={"patient_id": str})
    if "survival_months" not in predictions:
        raise MemambaError(f"{args.predictions}: no survival columns (predicted without --clinical). "
                           "Fix: predict with the scored cohort's clinical sheet to evaluate it.")
    training = read_sheet(args.training_clinical, "clinical", check_paths=False)
    table, groups = external_metrics(predictions, training)
    out = Path(args.out)
    with atomic_paths([out / "metrics.tsv", out / "km.png"]) as (metrics, km):
        table.to_csv(metrics, sep="\t", index=False, float_format="%.4g")
        plot_km(groups, f"{args.title}: all patients (split at their median risk)", km)
    print(f"{args.title}: c-index {table['c_index'].iloc[0]:.3f}, Uno's c {table['uno_c'].iloc[0]:.3f} "
          f"on {len(predictions)} patients")
    for line in undefined_metrics(table):
        print(f"memamba evaluate-external: warning: {line.replace('validation patients', 'scored patients')}", file=sys.stderr)


def _add_summarise(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("summarise", help="one cohort's table: every model's mean +- sd and per-fold c-index",
                            description="Collect a cohort's metrics.tsv files (results/COHORT/eval/MODEL/metrics.tsv) "
                                        "into one table, with the oracle c-index of the true risk when given.")
    p.add_argument("--cohort", required=True, help="cohort name")
    p.add_argument("--metrics", nargs="*", default=[], help="metrics.tsv files (model = their folder name); none for a "
                                                          "cohort only scored by another cohort's folds")
    p.add_argument("--splits", nargs="*", default=[], help="fold_K.tsv files, for the oracle's per-fold c-index")
    p.add_argument("--truth", default=None, help="TSV with patient_id and the true risk (demo cohorts)")
    p.add_argument("--clinical", default=None, help="clinical sheet (needed with --truth)")
    p.add_argument("--external", nargs="*", default=[], help="metrics.tsv of external validations "
                                                             "(results/COHORT/external/OTHER/MODEL/metrics.tsv)")
    p.add_argument("-o", "--out", required=True, help="output TSV")
    p.set_defaults(func=cmd_summarise)


def cmd_summarise(args: argparse.Namespace) -> None:
    from memamba.atomic import atomic_path
    from memamba.report.summary import cohort_summary

    table = cohort_summary(args.cohort, args.metrics, args.splits, args.truth, args.clinical, args.external)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.4f")
    print(table[["cohort", "model", "c_index_mean", "c_index_sd"]].to_string(index=False))


def _add_report(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("report", help="cross-cohort summary.tsv and the HTML report",
                            description="Concatenate the per-cohort summaries and write results/summary.tsv and an HTML "
                                        "report with per-fold tables and Kaplan-Meier plots.")
    p.add_argument("summaries", nargs="+", help="per-cohort summary.tsv files")
    p.add_argument("--out-tsv", required=True, help="output summary TSV")
    p.add_argument("--out-html", required=True, help="output HTML report")
    p.add_argument("--benchmarks", default=None, help="folder of Snakemake benchmark files ({stage}/.../{job}.tsv): "
                                                       "adds CPU-hours and wall time per stage to the report")
    p.add_argument("--out-compute", default=None, help="also write the per-stage compute table to this TSV")
    p.add_argument("--earlier", nargs="*", default=[], help="summary.tsv files an earlier run left for cohorts outside "
                                                           "this configuration: shown too, and said to be earlier results")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> None:
    from memamba.atomic import atomic_path
    from memamba.report.compute import read_benchmarks, stage_compute
    from memamba.report.summary import read_summaries, write_report

    compute = None
    if args.benchmarks:
        cohorts = set(read_summaries([*args.summaries, *args.earlier])["cohort"])
        compute = stage_compute(read_benchmarks(args.benchmarks, skip=("report",), cohorts=cohorts))
        if args.out_compute:
            with atomic_path(args.out_compute) as tmp:
                compute.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    table = write_report(args.summaries, args.out_tsv, args.out_html, compute, args.earlier)
    print(table[["cohort", "model", "c_index_mean", "c_index_sd"]].to_string(index=False))
    if compute is not None:
        print("\ncompute per stage (from " + str(args.benchmarks) + "):")
        print(compute.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the evaluate, evaluate-external, summarise, report sub-commands."""
    _add_evaluate(commands)
    _add_evaluate_external(commands)
    _add_summarise(commands)
    _add_report(commands)
