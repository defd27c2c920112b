"""Plots: Kaplan-Meier curves of risk groups."""

from __future__ import annotations

import os

import pandas as pd
from matplotlib.figure import Figure

from memamba.atomic import atomic_path
from memamba.survival.metrics import kaplan_meier, logrank_p


def plot_km(groups: pd.DataFrame, title: str, out: str | os.PathLike) -> None:
    """Kaplan-Meier curves of the ``high``/``low`` groups of validation patients, with the log-rank p."""
    figure = Figure(figsize=(5, 4), dpi=100)
    axis = figure.subplots()
    for name, colour in (("low", "tab:blue"), ("high", "tab:red")):
        group = groups[groups["group"] == name]
        if len(group):
            times, survival = kaplan_meier(group["survival_months"], group["event"])
            axis.step(times, survival, where="post", color=colour, label=f"{name} risk (n={len(group)})")
    p = logrank_p(groups["survival_months"].to_numpy(), groups["event"].to_numpy(), groups["group"].to_numpy())
    axis.set(xlabel="months", ylabel="survival probability", ylim=(0, 1.02), title=f"{title}\nlog-rank p = {p:.3g}")
    axis.legend(loc="lower left")
    figure.tight_layout()
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png")
