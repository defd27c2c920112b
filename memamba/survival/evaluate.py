"""Cross-validated evaluation: per-fold metrics on the reported (validation) patients, then mean and sd."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from memamba.survival.metrics import brier_grid, evaluation_times, harrell_c, integrated_brier, logrank_p, time_dependent_auc, uno_c, uno_tau

TRAINING_PART = ("train", "inner_val")
OPTIMISTIC = "c_index_best_epoch_optimistic"
SUMMARY_ROWS = ("mean", "sd", "n_folds")


def read_predictions(paths: list[str | os.PathLike]) -> pd.DataFrame:
    """Concatenate fold prediction files, adding a ``fold`` column in the order given."""
    frames = [pd.read_csv(p, sep="\t", dtype={"patient_id": str, "imputed": str}).assign(fold=k) for k, p in enumerate(paths)]
    return pd.concat(frames, ignore_index=True)


def read_histories(paths: list[str | os.PathLike]) -> list[pd.DataFrame | None]:
    """The ``history.tsv`` beside each predictions file (None where there is none)."""
    histories = []
    for path in paths:
        history = Path(path).parent / "history.tsv"
        histories.append(pd.read_csv(history, sep="\t") if history.exists() else None)
    return histories


def risk_groups(predictions: pd.DataFrame) -> pd.DataFrame:
    """Validation patients labelled ``high``/``low`` risk by their fold's training-part median risk."""
    groups = []
    for _, fold in predictions.groupby("fold"):
        cut = fold.loc[fold["role"].isin(TRAINING_PART), "risk"].median()
        val = fold[fold["role"] == "val"].copy()
        val["group"] = np.where(val["risk"] > cut, "high", "low")
        groups.append(val)
    return pd.concat(groups, ignore_index=True)


def survival_at(predictions: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """Predicted survival probability of each row at ``times`` (rows x times).

    A model predicts S_k, survival to the end of time bin k (upper edge ``bin_end_k``); the curve is
    the step function that is 1 before the first edge and S_k from ``bin_end_k`` until the next edge.
    """
    bins = sorted(int(c.rsplit("_", 1)[1]) for c in predictions.columns if c.startswith("survival_bin_"))
    ends = predictions[[f"bin_end_{k}" for k in bins]].iloc[0].to_numpy(float)
    survival = predictions[[f"survival_bin_{k}" for k in bins]].to_numpy(float)
    index = np.searchsorted(ends, times, side="right") - 1
    return np.where(index[None, :] < 0, 1.0, survival[:, np.clip(index, 0, None)])


UNDEFINED_BECAUSE = {"c_index": "no pair of validation patients is comparable", "uno_c": "no comparable pair before tau",
                     "mean_auc": "no quartile of the training part's event times lies inside the validation follow-up",
                     "ibs": "fewer than two evaluation times between the first training event and tau",
                     "logrank_p": "every validation patient is in the same risk group"}
"""Why each metric can be undefined on a fold that has events (without events every one but the IBS is)."""


def undefined_reason(row: dict) -> str:
    """``metric: why`` for each metric of a fold's row that is undefined, joined by "; " (empty when all are defined)."""
    undefined = [metric for metric in UNDEFINED_BECAUSE if metric in row and pd.isna(row[metric])]
    if row["n_events"] == 0 and undefined:
        return f"{', '.join(undefined)}: no event among the {int(row['n_patients'])} validation patients"
    return "; ".join(f"{metric}: {UNDEFINED_BECAUSE[metric]}" for metric in undefined)


def undefined_metrics(table: pd.DataFrame) -> list[str]:
    """One line per fold of :func:`fold_metrics` (or :func:`external_metrics`) with an undefined metric: which, and why."""
    rows = table[~table["fold"].isin(SUMMARY_ROWS) & table["undefined"].fillna("").astype(bool)]
    return [f"fold {row.fold}: undefined {row.undefined}; the mean and sd leave it out" for row in rows.itertuples()]


def one_fold(fold: pd.DataFrame, group: pd.DataFrame) -> dict[str, float]:
    """Every metric of one fold's validation patients; censoring and time points come from its training part."""
    train = fold[fold["role"].isin(TRAINING_PART)]
    val = fold[fold["role"] == "val"]
    train_args = (train["survival_months"].to_numpy(), train["event"].to_numpy())
    time, event, risk = val["survival_months"].to_numpy(), val["event"].to_numpy(), val["risk"].to_numpy()
    tau = uno_tau(*train_args)
    quartiles = evaluation_times(*train_args, time, tau)
    times = np.array(list(quartiles.values()))
    auc = time_dependent_auc(*train_args, time, event, risk, times)
    grid = brier_grid(*train_args, time, tau)
    row = {
        "n_patients": len(val),
        "n_events": int(event.sum()),
        "tau": tau,
        "c_index": harrell_c(time, event, risk),
        "uno_c": uno_c(*train_args, time, event, risk, tau),
        "mean_auc": float(np.nanmean(auc)) if len(auc) and np.isfinite(auc).any() else float("nan"),
        "ibs": integrated_brier(*train_args, time, event, survival_at(val, grid), grid),
        "logrank_p": logrank_p(time, event, group["group"].to_numpy()),
        **{f"auc_q{q}": value for q, value in zip(quartiles, auc)},
    }
    return {**row, "undefined": undefined_reason(row)}


def fold_metrics(predictions: pd.DataFrame, histories: list[pd.DataFrame | None] | None = None) -> pd.DataFrame:
    """One row per fold, then ``mean``, ``sd`` and ``n_folds`` rows.

    Columns: ``tau`` (:func:`~memamba.survival.metrics.uno_tau`), Harrell's c-index, Uno's c truncated at tau,
    time-dependent AUC at the quartiles of the training part's event times up to tau (``auc_q1..3``) and their mean,
    the integrated Brier score over 100 times up to tau, the log-rank p of the high/low risk groups; with
    ``histories``, the optimistic best-epoch c-index on the reported fold (``c_index_best_epoch_optimistic``:
    selected on the very patients it is measured on, for comparison with published tables only) and ``undefined``
    (which metrics are undefined in the fold, and why). ``mean`` and ``sd`` (sample sd, ddof = 1) skip a fold where a
    metric is undefined; the ``n_folds`` row says how many folds each one averages.
    """
    grouped = risk_groups(predictions)
    rows = []
    for fold, val in predictions.groupby("fold"):
        row = {"fold": str(fold), **one_fold(val, grouped[grouped["fold"] == fold])}
        history = None if histories is None else histories[int(fold)]
        if history is not None and "val_c_index" in history:
            row[OPTIMISTIC] = float(history["val_c_index"].max())
        rows.append(row)
    table = pd.DataFrame(rows)
    columns = ["fold", "n_patients", "n_events", "tau", "c_index", "uno_c", "mean_auc", "auc_q1", "auc_q2", "auc_q3", "ibs",
               "logrank_p", OPTIMISTIC, "undefined"]
    table = table[[c for c in columns if c in table.columns]]
    numeric = table.drop(columns=["fold", "undefined"])
    summary = pd.DataFrame([{"fold": "mean", **numeric.mean().to_dict()}, {"fold": "sd", **numeric.std(ddof=1).to_dict()},
                            {"fold": "n_folds", **numeric.notna().sum().to_dict()}]).assign(undefined="")
    return pd.concat([table, summary], ignore_index=True)


def external_metrics(predictions: pd.DataFrame, training: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metrics of a cohort scored by another cohort's trained folds (external validation): ``predictions`` (``memamba
    predict`` with survival: every patient is reported) against ``training``, the training cohort's ``survival_months``
    and ``event``, which give the censoring distribution, tau and the time points as a fold's training part does.
    The log-rank groups split the scored patients at their own median risk (the training cohort's risks under its
    own folds would be in-sample). Returns the one-row table (``fold`` = "external") and the grouped patients."""
    scored = predictions.assign(role="val")
    scored["group"] = np.where(scored["risk"] > scored["risk"].median(), "high", "low")
    frame = pd.concat([training[["survival_months", "event"]].assign(role="train"), scored], ignore_index=True)
    return pd.DataFrame([{"fold": "external", **one_fold(frame, scored)}]), scored
