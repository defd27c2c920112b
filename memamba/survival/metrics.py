"""Survival metrics with scikit-survival conventions (event as bool, higher risk = earlier event)."""

from __future__ import annotations

import numpy as np
from sksurv.compare import compare_survival
from sksurv.metrics import concordance_index_censored
from sksurv.nonparametric import kaplan_meier_estimator
from sksurv.util import Surv


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's concordance index (scikit-survival)."""
    return float(concordance_index_censored(np.asarray(event, bool), np.asarray(time, float), np.asarray(risk, float))[0])


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier survival curve: time points and survival probabilities."""
    return kaplan_meier_estimator(np.asarray(event, bool), np.asarray(time, float))


def logrank_p(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> float:
    """p-value of the log-rank test between the groups (nan if only one group is present)."""
    if len(np.unique(group)) < 2:
        return float("nan")
    return float(compare_survival(Surv.from_arrays(np.asarray(event, bool), np.asarray(time, float)), group)[1])
