"""Survival metrics with scikit-survival conventions (event as bool, higher risk = earlier event)."""

from __future__ import annotations

import numpy as np
from sksurv.compare import compare_survival
from sksurv.metrics import concordance_index_censored, concordance_index_ipcw, cumulative_dynamic_auc, integrated_brier_score
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


def _surv(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    return Surv.from_arrays(np.asarray(event, bool), np.asarray(time, float))


def evaluation_times(train_time: np.ndarray, train_event: np.ndarray, test_time: np.ndarray) -> dict[int, float]:
    """The quartiles (1, 2, 3) of the training part's event times that lie inside the test patients' follow-up
    (scikit-survival needs time points in [min, max) of the test times), keyed by quartile number."""
    quartiles = np.quantile(np.asarray(train_time, float)[np.asarray(train_event, bool)], [0.25, 0.5, 0.75])
    return {q: float(t) for q, t in zip((1, 2, 3), quartiles) if np.min(test_time) <= t < np.max(test_time)}


def uno_c(train_time: np.ndarray, train_event: np.ndarray, time: np.ndarray, event: np.ndarray, risk: np.ndarray,
          tau: float | None = None) -> float:
    """Uno's inverse-probability-of-censoring weighted c-index, censoring distribution from the training part,
    truncated at ``tau`` (default: the last training time). NaN where it is undefined."""
    train = _surv(train_time, train_event)
    limit = float(np.max(train_time)) if tau is None else tau
    keep = np.asarray(time, float) < np.max(train_time)
    try:
        return float(concordance_index_ipcw(train, _surv(np.asarray(time)[keep], np.asarray(event)[keep]),
                                            np.asarray(risk, float)[keep], tau=limit)[0])
    except ValueError:
        return float("nan")


def time_dependent_auc(train_time: np.ndarray, train_event: np.ndarray, time: np.ndarray, event: np.ndarray,
                       risk: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Cumulative/dynamic AUC of ``risk`` at each of ``times`` (scikit-survival); NaN where undefined."""
    if len(times) == 0:
        return np.array([])
    try:
        return cumulative_dynamic_auc(_surv(train_time, train_event), _surv(time, event), np.asarray(risk, float), times)[0]
    except ValueError:
        return np.full(len(times), np.nan)


def integrated_brier(train_time: np.ndarray, train_event: np.ndarray, time: np.ndarray, event: np.ndarray,
                     survival: np.ndarray, times: np.ndarray) -> float:
    """Integrated Brier score of the predicted survival probabilities ``survival`` (patients x ``times``);
    needs at least two time points, NaN otherwise."""
    if len(times) < 2:
        return float("nan")
    try:
        return float(integrated_brier_score(_surv(train_time, train_event), _surv(time, event), survival, times))
    except ValueError:
        return float("nan")
