"""Per-cohort and cross-cohort summary tables and the HTML report."""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

import numpy as np
import pandas as pd

from memamba import __version__
from memamba.atomic import atomic_path
from memamba.config import ConfigError
from memamba.data.splits import read_split
from memamba.report.figures import comparison_plot, fold_histories, training_curves
from memamba.sheets import read_sheet
from memamba.survival.compare import corrected_interval
from memamba.survival.evaluate import OPTIMISTIC, SUMMARY_ROWS
from memamba.survival.metrics import harrell_c

ORACLE = "oracle (true risk)"
PARTIAL_ORACLES = {"slide_risk": "oracle (slide part of the risk only)", "genomic_risk": "oracle (genomic part of the risk only)"}
PAIRED_WITH = "memamba"


METRICS = ("c_index", "uno_c", "mean_auc", "ibs", "logrank_p", OPTIMISTIC)


def _row(cohort: str, model: str, folds: pd.DataFrame, eval_dir: str = "") -> dict:
    """Mean and sd of every metric over the folds (``folds``: one row per fold), and the per-fold c-index."""
    row: dict = {"cohort": cohort, "model": model, "folds": len(folds)}
    for metric in METRICS:
        if metric in folds:
            values = folds[metric].to_numpy(float)
            row[f"{metric}_mean"] = np.nanmean(values) if np.isfinite(values).any() else float("nan")
            row[f"{metric}_sd"] = np.nanstd(values, ddof=1) if np.isfinite(values).sum() > 1 else float("nan")
            row[f"{metric}_folds"] = int(np.isfinite(values).sum())
    row.update({f"c_index_fold_{k}": v for k, v in enumerate(folds["c_index"])})
    row["eval_dir"] = eval_dir
    return row


def oracle_per_fold(splits: list[str | os.PathLike], truth_path: str | os.PathLike,
                    clinical: pd.DataFrame, column: str = "risk") -> list[float]:
    """Harrell's c-index of the true risk (or of one of its parts, ``column``) on each fold's validation patients."""
    truth = read_sheet(truth_path, "truth", check_paths=False).set_index("patient_id")[column]
    values = []
    for split in splits:
        val = read_split(split).query("role == 'val'")["patient_id"]
        unknown = sorted(set(val) - set(truth.index))
        if unknown:
            raise ConfigError(f"{truth_path}: no true risk for {len(unknown)} validation patient(s) of {split}, e.g. "
                              f"{unknown[:5]}. Fix: give every patient of the clinical sheet a row, or remove 'truth:'.")
        rows = clinical.loc[val]
        values.append(harrell_c(rows["survival_months"], rows["event"], truth.loc[val]))
    return values


def cohort_summary(cohort: str, metrics: list[str | os.PathLike], splits: list[str | os.PathLike] = (),
                   truth: str | os.PathLike | None = None, clinical: str | os.PathLike | None = None,
                   external: list[str | os.PathLike] = ()) -> pd.DataFrame:
    """One row per model (from ``eval/{model}/metrics.tsv``), plus the oracle row when ``truth``,
    ``splits`` and the ``clinical`` sheet are given (and one per part of the risk that ``truth`` lists: the ceiling of
    a model that sees only that modality), and one per external validation (``external/{other}/{model}/metrics.tsv``:
    model "MODEL trained on OTHER", one "fold", no sd, not paired with ME-Mamba's folds)."""
    rows = []
    for path in metrics:
        table = pd.read_csv(path, sep="\t", dtype={"fold": str})
        rows.append(_row(cohort, Path(path).parent.name, table[~table["fold"].isin(SUMMARY_ROWS)], str(Path(path).parent)))
    if truth is not None and splits and clinical is not None:
        survival = read_sheet(clinical, "clinical", check_paths=False).set_index("patient_id")
        rows.append(_row(cohort, ORACLE, pd.DataFrame({"c_index": oracle_per_fold(splits, truth, survival)})))
        known = read_sheet(truth, "truth", check_paths=False)
        parts = [c for c in PARTIAL_ORACLES if known[c].notna().all()]
        rows += [_row(cohort, PARTIAL_ORACLES[c], pd.DataFrame({"c_index": oracle_per_fold(splits, truth, survival, c)}))
                 for c in parts]
    table = paired_with(pd.DataFrame(rows), PAIRED_WITH) if rows else pd.DataFrame()
    externals = [_row(cohort, f"{Path(path).parent.name} trained on {Path(path).parent.parent.name}",
                      pd.read_csv(path, sep="\t", dtype={"fold": str}), str(Path(path).parent)) for path in external]
    return pd.concat([table, pd.DataFrame(externals)], ignore_index=True) if externals else table


def paired_with(table: pd.DataFrame, reference: str) -> pd.DataFrame:
    """``table`` with each model's paired comparison with ``reference`` over the same folds: the mean and sd of the
    per-fold c-index differences (model minus reference), their 95 % interval by the corrected resampled t-test
    (:func:`~memamba.survival.compare.corrected_interval`, k folds: test / train = 1 / (k - 1)) and in how many folds
    the model is ahead. Unchanged when the reference model is not in the table."""
    if reference not in set(table["model"]):
        return table
    folds = sorted((c for c in table.columns if c.startswith("c_index_fold_")), key=lambda c: int(c.rsplit("_", 1)[1]))
    base = table.loc[table["model"] == reference, folds].to_numpy(float)[0]
    differences = table[folds].to_numpy(float) - base
    finite = np.isfinite(differences)
    table = table.copy()
    table[f"c_index_minus_{reference}_mean"] = [np.nanmean(d) if f.any() else np.nan for d, f in zip(differences, finite)]
    table[f"c_index_minus_{reference}_sd"] = [np.nanstd(d, ddof=1) if f.sum() > 1 else np.nan for d, f in zip(differences, finite)]
    intervals = [corrected_interval(d, 1.0 / max(len(folds) - 1, 1)) for d in differences]
    table[f"c_index_minus_{reference}_ci_low"] = [low for low, _ in intervals]
    table[f"c_index_minus_{reference}_ci_high"] = [high for _, high in intervals]
    table[f"folds_ahead_of_{reference}"] = (differences > 0).sum(axis=1)
    compared = [f"c_index_minus_{reference}_{part}" for part in ("mean", "sd", "ci_low", "ci_high")]
    table.loc[table["model"] == reference, [*compared, f"folds_ahead_of_{reference}"]] = np.nan
    return table


def _image_tag(image: Path | bytes | None, alt: str, css_class: str = "") -> str:
    """An <img> with the PNG embedded (the page stays self-contained); empty for a missing file or no image."""
    if image is None or (isinstance(image, Path) and not image.exists()):
        return ""
    data = base64.b64encode(image.read_bytes() if isinstance(image, Path) else image).decode()
    return f'<img alt="{html.escape(alt)}" class="{css_class}" src="data:image/png;base64,{data}">'


def _heatmap_section(heatmaps: Path) -> list[str]:
    """A model's first fold of heatmaps, when the heatmaps target made them: the first head's picture of each drawn
    patient, the planted-patch AUCs on a planted demo cohort, and the gene-family attributions."""
    index_file = heatmaps / "index.tsv"
    if not index_file.exists():
        return []
    parts = [f"<h4>Heatmaps and attributions ({html.escape(heatmaps.name)})</h4>"]
    for row in pd.read_csv(index_file, sep="\t", keep_default_na=False).itertuples():
        pictures = [name for name in str(row.pictures).split(";") if name and not name.endswith(".gallery.png")]
        if pictures:
            parts.append(f"<figure>{_image_tag(heatmaps / pictures[0], f'heatmap of {row.slide}', 'wide')}"
                         f"<figcaption>{html.escape(row.patient_id)} ({html.escape(row.group)}), slide "
                         f"{html.escape(row.slide)}: {len(pictures)} head(s) in {html.escape(str(heatmaps))}</figcaption></figure>")
    planted = heatmaps / "planted_auc.tsv"
    if planted.exists():
        table = pd.read_csv(planted, sep="\t")[["head", "planted_auc", "slides"]]
        parts.append("<p>Planted answer (a demo cohort whose slides show the risk in a recorded tumour region): per "
                     "head, the ROC AUC of its scores for the tumour patches against the slide's other patches, averaged "
                     "over this fold's validation slides (0.5: chance).</p>"
                     + table.to_html(index=False, float_format="%.3f", classes="planted"))
    parts.append(_image_tag(heatmaps / "attributions.png", "gene-family attributions", "wide"))
    return parts


def tuning_choices(models_dir: Path) -> pd.DataFrame:
    """Per outer fold of a model tuned by nested cross-validation (``fold_K/config.yaml`` with a ``tuning`` entry):
    the budget, the chosen candidate and setting, and the inner c-index of the chosen and of the configured setting.
    Empty for an untuned model."""
    import yaml

    rows = []
    for config in sorted(models_dir.glob("fold_*/config.yaml"), key=lambda path: int(path.parent.name.split("_")[1])):
        tuning = (yaml.safe_load(config.read_text()) or {}).get("tuning")
        if tuning:
            rows.append({"fold": config.parent.name.split("_")[1], "inner fits": tuning["inner_fits"],
                         "chosen candidate": tuning["chosen_candidate"],
                         "chosen setting": ", ".join(f"{key} {value}" for key, value in tuning["chosen"].items()),
                         "inner c (chosen)": tuning["inner_c_index"], "inner c (configured)": tuning["configured_inner_c_index"]})
    return pd.DataFrame(rows)


def _tuning_section(models_dir: Path) -> list[str]:
    """A tuned model's budget and per-fold choices; nothing for an untuned model."""
    choices = tuning_choices(models_dir)
    if choices.empty:
        return []
    return [f"<p>Tuned by nested cross-validation: each outer fold chose among its candidate settings (the configured "
            f"one first) by an inner cross-validation on its own training part, {int(choices['inner fits'].iloc[0])} "
            "inner fits per outer fold, then refitted on the whole training part; the outer fold was never seen.</p>",
            choices.to_html(index=False, float_format=lambda v: f"{v:.3f}")]


def _mean_sd(rows: pd.DataFrame) -> pd.DataFrame:
    """The cohort table: one 'mean +- sd' cell per metric, the optimistic column last and labelled."""
    shown = pd.DataFrame({"model": rows["model"]})
    labels = {"c_index": "Harrell's c", "uno_c": "Uno's c", "mean_auc": "mean td-AUC", "ibs": "IBS", "logrank_p": "log-rank p",
              OPTIMISTIC: "c at best epoch on the reported fold (optimistic)"}
    for metric, label in labels.items():
        if f"{metric}_mean" in rows:
            counts = rows.get(f"{metric}_folds", rows["folds"])
            shown[label] = [_cell(m, sd, k, n) for m, sd, k, n in
                            zip(rows[f"{metric}_mean"], rows.get(f"{metric}_sd", np.nan), counts, rows["folds"])]
    paired = f"c_index_minus_{PAIRED_WITH}_mean"
    if paired in rows and rows[paired].notna().any():
        low, high = rows[f"c_index_minus_{PAIRED_WITH}_ci_low"], rows[f"c_index_minus_{PAIRED_WITH}_ci_high"]
        shown[f"Harrell's c − {PAIRED_WITH}, paired over folds: mean [95 % interval] (folds ahead)"] = [
            "" if not np.isfinite(m) else f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}] ({int(k)} of {int(n)})"
            for m, lo, hi, k, n in zip(rows[paired], low, high, rows[f"folds_ahead_of_{PAIRED_WITH}"], rows["folds"])]
    return shown


def _cell(mean: float, sd: float, averaged: float, folds: float) -> str:
    """'mean ± sd', with '(k of n folds)' where a metric is undefined in some folds."""
    if not np.isfinite(mean):
        return ""
    text = f"{mean:.3f}" if not np.isfinite(sd) else f"{mean:.3f} ± {sd:.3f}"
    return text if not np.isfinite(averaged) or averaged == folds else f"{text} ({int(averaged)} of {int(folds)} folds)"


def render_html(table: pd.DataFrame, compute: pd.DataFrame | None = None, earlier: tuple[str, ...] = ()) -> str:
    """A self-contained HTML page (every image embedded): per cohort the metric table (mean ± sd over folds) and a plot
    of every model's per-fold c-index, then per model its per-fold table, Kaplan-Meier plot, training curves and, where
    the heatmaps target drew them, its first fold's heatmaps and gene-family attributions; then
    the compute cost per stage, when given. ``earlier``: cohorts whose results an earlier run (another configuration)
    left under results/, said so at the top."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>memamba report</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}img{max-width:420px}img.wide{max-width:820px}"
        "figure{display:inline-block;margin:0 1em 1em 0}figcaption{font-size:small}</style></head><body>",
        f"<h1>memamba report</h1><p>memamba {html.escape(__version__)}. Metrics on each fold's validation patients "
        "with the model chosen without them (the last epoch, or the best epoch on an inner validation part of the "
        "training patients); mean ± sd over folds. The last column selects the epoch on the very patients it is "
        "measured on: optimistic, shown only for comparison with published tables.</p>",
    ]
    if earlier:
        parts.append("<p>Also shown: the results an earlier run left under results/ for cohorts not in this run's "
                     f"configuration ({html.escape(', '.join(earlier))}), as they were written then.</p>")
    for cohort, rows in table.groupby("cohort", sort=False):
        parts.append(f"<h2>{html.escape(str(cohort))}</h2>")
        parts.append(_mean_sd(rows).to_html(index=False, na_rep=""))
        cross_validated = rows[rows["folds"] > 1]
        if len(cross_validated):
            parts.append(_image_tag(comparison_plot(cross_validated, f"{cohort}: every model over the same folds"),
                                    "per-fold c-index of every model", "wide"))
        for row in rows.itertuples():
            eval_dir = Path(row.eval_dir) if isinstance(getattr(row, "eval_dir", None), str) and row.eval_dir else None
            if eval_dir is None or not (eval_dir / "metrics.tsv").exists():
                continue
            folds = pd.read_csv(eval_dir / "metrics.tsv", sep="\t", dtype={"fold": str})
            parts.append(f"<h3>{html.escape(row.model)}</h3>")
            parts.append(folds.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep=""))
            parts += _tuning_section(eval_dir.parent.parent / "models" / eval_dir.name)
            parts.append(_image_tag(eval_dir / "km.png", "Kaplan-Meier plot"))
            parts.append(_image_tag(training_curves(fold_histories(eval_dir), f"{row.model}: training"), "training curves", "wide"))
            parts += _heatmap_section(eval_dir.parent.parent / "heatmaps" / eval_dir.name / "fold_0")
    if compute is not None:
        parts.append("<h2>Compute per stage</h2><p>From the Snakemake benchmark files of the jobs that made these "
                     "results (the report job itself not counted); wall hours are summed over jobs.</p>")
        parts.append(compute.to_html(index=False, float_format=lambda v: f"{v:.4g}"))
    parts.append("</body></html>")
    return "\n".join(parts)


def read_summaries(summaries: list[str | os.PathLike]) -> pd.DataFrame:
    """The per-cohort summary tables, one after another."""
    return pd.concat([pd.read_csv(p, sep="\t", dtype={"cohort": str, "model": str}, keep_default_na=False, na_values=[""])
                      for p in summaries], ignore_index=True)      # a cohort or model named NA or null stays a name


def write_report(summaries: list[str | os.PathLike], out_tsv: str | os.PathLike, out_html: str | os.PathLike,
                 compute: pd.DataFrame | None = None, earlier: list[str | os.PathLike] = ()) -> pd.DataFrame:
    """Concatenate per-cohort summaries (this run's, then ``earlier`` ones an earlier run left for other cohorts) into
    ``out_tsv`` and render ``out_html`` (with ``compute``, the per-stage table of
    :func:`memamba.report.compute.stage_compute`, when given)."""
    table = read_summaries([*summaries, *earlier])
    earlier_cohorts = tuple(read_summaries(earlier)["cohort"].unique()) if earlier else ()
    with atomic_path(out_tsv) as tmp:
        table.drop(columns=["eval_dir"], errors="ignore").to_csv(tmp, sep="\t", index=False, float_format="%.4f")
    with atomic_path(out_html) as tmp:
        tmp.write_text(render_html(table, compute, earlier_cohorts))
    return table.drop(columns=["eval_dir"], errors="ignore")
