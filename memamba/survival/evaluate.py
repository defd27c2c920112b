"""Cross-validated evaluation: per-fold metrics on the reported (validation) patients, then mean and sd."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from memamba.survival.metrics import harrell_c, logrank_p


def read_predictions(paths: list[str | os.PathLike]) -> pd.DataFrame:
    """Concatenate fold prediction files, adding a ``fold`` column in the order given."""
    frames = [pd.read_csv(p, sep="\t", dtype={"patient_id": str}).assign(fold=k) for k, p in enumerate(paths)]
    return pd.concat(frames, ignore_index=True)


def risk_groups(predictions: pd.DataFrame) -> pd.DataFrame:
    """Validation patients labelled ``high``/``low`` risk by their fold's training-patient median risk."""
    groups = []
    for _, fold in predictions.groupby("fold"):
        cut = fold.loc[fold["role"] == "train", "risk"].median()
        val = fold[fold["role"] == "val"].copy()
        val["group"] = np.where(val["risk"] > cut, "high", "low")
        groups.append(val)
    return pd.concat(groups, ignore_index=True)


def fold_metrics(predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per fold (c-index and log-rank p on its validation patients), then ``mean`` and ``sd`` rows."""
    grouped = risk_groups(predictions)
    rows = []
    for fold, val in grouped.groupby("fold"):
        rows.append({
            "fold": str(fold),
            "n_patients": len(val),
            "n_events": int(val["event"].sum()),
            "c_index": harrell_c(val["survival_months"], val["event"], val["risk"]),
            "logrank_p": logrank_p(val["survival_months"].to_numpy(), val["event"].to_numpy(), val["group"].to_numpy()),
        })
    table = pd.DataFrame(rows)
    numeric = table.drop(columns="fold")
    summary = pd.DataFrame([{"fold": "mean", **numeric.mean().to_dict()}, {"fold": "sd", **numeric.std(ddof=1).to_dict()}])
    return pd.concat([table, summary], ignore_index=True)
