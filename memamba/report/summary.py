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
from memamba.data.splits import read_split
from memamba.sheets import read_sheet
from memamba.survival.metrics import harrell_c

ORACLE = "oracle (true risk)"


def _row(cohort: str, model: str, per_fold: list[float], km_plot: str = "") -> dict:
    values = np.asarray(per_fold, float)
    row = {"cohort": cohort, "model": model, "c_index_mean": values.mean(),
           "c_index_sd": values.std(ddof=1) if len(values) > 1 else float("nan"), "folds": len(values)}
    row.update({f"c_index_fold_{k}": v for k, v in enumerate(values)})
    row["km_plot"] = km_plot
    return row


def oracle_per_fold(splits: list[str | os.PathLike], truth_path: str | os.PathLike,
                    clinical: pd.DataFrame) -> list[float]:
    """Harrell's c-index of the true risk on each fold's validation patients (an upper reference)."""
    truth = pd.read_csv(truth_path, sep="\t", dtype={"patient_id": str}).set_index("patient_id")["risk"]
    values = []
    for split in splits:
        val = read_split(split).query("role == 'val'")["patient_id"]
        rows = clinical.loc[val]
        values.append(harrell_c(rows["survival_months"], rows["event"], truth.loc[val]))
    return values


def cohort_summary(cohort: str, metrics: list[str | os.PathLike], splits: list[str | os.PathLike] = (),
                   truth: str | os.PathLike | None = None, clinical: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per model (from ``eval/{model}/metrics.tsv``), plus the oracle row when ``truth``,
    ``splits`` and the ``clinical`` sheet are given."""
    rows = []
    for path in metrics:
        table = pd.read_csv(path, sep="\t", dtype={"fold": str})
        per_fold = table.loc[~table["fold"].isin(["mean", "sd"]), "c_index"].tolist()
        rows.append(_row(cohort, Path(path).parent.name, per_fold, str(Path(path).parent / "km.png")))
    if truth is not None and splits and clinical is not None:
        survival = read_sheet(clinical, "clinical", check_paths=False).set_index("patient_id")
        rows.append(_row(cohort, ORACLE, oracle_per_fold(splits, truth, survival)))
    return pd.DataFrame(rows)


def _image_tag(path: str) -> str:
    if not path or not Path(path).exists():
        return ""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="Kaplan-Meier plot" src="data:image/png;base64,{data}">'


def render_html(table: pd.DataFrame) -> str:
    """A self-contained HTML page: per-cohort tables (mean +- sd and per-fold c-index) and KM plots."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>memamba report</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}img{max-width:420px}</style></head><body>",
        f"<h1>memamba report</h1><p>memamba {html.escape(__version__)}. Harrell's c-index on each fold's "
        "validation patients with the model of the last training epoch (no epoch or model selection on the "
        "reported fold).</p>",
    ]
    fold_columns = [c for c in table.columns if c.startswith("c_index_fold_")]
    for cohort, rows in table.groupby("cohort", sort=False):
        parts.append(f"<h2>{html.escape(str(cohort))}</h2>")
        shown = rows[["model", "c_index_mean", "c_index_sd", *fold_columns]]
        parts.append(shown.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep=""))
        for row in rows.itertuples():
            tag = _image_tag(getattr(row, "km_plot", "") if isinstance(getattr(row, "km_plot", ""), str) else "")
            if tag:
                parts.append(f"<h3>{html.escape(row.model)}</h3>{tag}")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(summaries: list[str | os.PathLike], out_tsv: str | os.PathLike, out_html: str | os.PathLike) -> pd.DataFrame:
    """Concatenate per-cohort summaries into ``out_tsv`` and render ``out_html``."""
    table = pd.concat([pd.read_csv(p, sep="\t", keep_default_na=True) for p in summaries], ignore_index=True)
    with atomic_path(out_tsv) as tmp:
        table.drop(columns=["km_plot"], errors="ignore").to_csv(tmp, sep="\t", index=False, float_format="%.4f")
    with atomic_path(out_html) as tmp:
        tmp.write_text(render_html(table))
    return table.drop(columns=["km_plot"], errors="ignore")
