"""The report's figures, as PNG bytes: every model's per-fold c-index side by side, and a model's training curves."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def comparison_plot(rows: pd.DataFrame, title: str) -> bytes:
    """One line per model (``rows``: a cohort's summary rows): its per-fold c-index as points, its mean as a bar and
    ± one sd as a whisker, models in the table's order; chance (0.5) dashed."""
    folds = sorted((c for c in rows.columns if c.startswith("c_index_fold_")), key=lambda c: int(c.rsplit("_", 1)[1]))
    figure = Figure(figsize=(7, 0.38 * len(rows) + 1.3), dpi=110)
    axis = figure.subplots()
    for position, row in enumerate(rows.itertuples()):
        values = np.array([getattr(row, c) for c in folds], dtype=float)
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        axis.scatter(values, np.full(len(values), position), s=14, color="tab:blue", alpha=0.7, zorder=3)
        mean, sd = values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0
        axis.errorbar(mean, position, xerr=sd, fmt="|", color="black", markersize=14, capsize=3, zorder=4)
    axis.axvline(0.5, color="grey", linestyle="--", linewidth=0.8)
    axis.set_yticks(range(len(rows)), labels=rows["model"].tolist())
    axis.invert_yaxis()
    axis.set(xlabel="Harrell's c-index on each fold's validation patients (points), mean ± sd (bar)", title=title)
    return _png(figure)


def training_curves(histories: list[pd.DataFrame], title: str) -> bytes | None:
    """Training loss and c-index per epoch, one line per fold; the reported fold's c-index (``val_c_index``) dotted
    and labelled as never used for any choice. None without a history of more than one epoch."""
    histories = [h for h in histories if len(h) > 1 and "train_loss" in h]
    if not histories:
        return None
    figure = Figure(figsize=(8, 2.8), dpi=110)
    loss_axis, c_axis = figure.subplots(1, 2)
    for fold, history in enumerate(histories):
        colour = f"C{fold}"
        loss_axis.plot(history["epoch"], history["train_loss"], color=colour, label=f"fold {fold}")
        c_axis.plot(history["epoch"], history["train_c_index"], color=colour)
        if "val_c_index" in history:
            c_axis.plot(history["epoch"], history["val_c_index"], color=colour, linestyle=":")
    loss_axis.set(xlabel="epoch", ylabel="training loss", title=title)
    loss_axis.legend(fontsize=7)
    c_axis.set(xlabel="epoch", ylabel="c-index", title="solid: training; dotted: reported fold (not used for choices)")
    c_axis.title.set_fontsize(8)
    return _png(figure)


def fold_histories(eval_dir: str | os.PathLike) -> list[pd.DataFrame]:
    """The ``history.tsv`` of every fold of the model evaluated in ``results/{cohort}/eval/{model}``."""
    eval_dir = Path(eval_dir)
    models = eval_dir.parent.parent / "models" / eval_dir.name
    paths = sorted(models.glob("fold_*/history.tsv"), key=lambda p: int(p.parent.name.split("_")[1]))
    return [pd.read_csv(path, sep="\t") for path in paths]
