"""Survival metrics with scikit-survival conventions (event as bool, higher risk = earlier event)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sksurv.compare import compare_survival
from sksurv.exceptions import NoComparablePairException
from sksurv.metrics import concordance_index_censored, concordance_index_ipcw, cumulative_dynamic_auc
from sksurv.nonparametric import CensoringDistributionEstimator, kaplan_meier_estimator
from sksurv.util import Surv


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's concordance index (scikit-survival); NaN where no pair of patients is comparable (it is undefined),
    an all-censored set of patients included."""
    if not np.asarray(event, bool).any():
        return float("nan")
    try:
        return float(concordance_index_censored(np.asarray(event, bool), np.asarray(time, float), np.asarray(risk, float))[0])
    except NoComparablePairException:
        return float("nan")


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier survival curve: time points and survival probabilities."""
    return kaplan_meier_estimator(np.asarray(event, bool), np.asarray(time, float))


def logrank_p(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> float:
    """p-value of the log-rank test between the groups (nan if only one group is present, or no event)."""
    if len(np.unique(group)) < 2 or not np.asarray(event, bool).any():
        return float("nan")
    return float(compare_survival(Surv.from_arrays(np.asarray(event, bool), np.asarray(time, float)), group)[1])


def _surv(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    return Surv.from_arrays(np.asarray(event, bool), np.asarray(time, float))


CENSORING_FLOOR = 0.1


def uno_tau(train_time: np.ndarray, train_event: np.ndarray, floor: float = CENSORING_FLOOR) -> float:
    """The truncation time of Uno's c and the end of the AUC / Brier time range: the last training time at which the
    training part's censoring survival (Kaplan-Meier of the censorings) is still at least ``floor``. Beyond it the
    inverse-probability weights 1/G(t)^2 rest on a handful of patients (or G is 0 and they are undefined)."""
    censoring = CensoringDistributionEstimator().fit(_surv(train_time, train_event))
    times = np.unique(np.asarray(train_time, float))
    kept = times[censoring.predict_proba(times) >= floor]
    return float(kept.max()) if len(kept) else float(times.min())


def _censored_after(time: np.ndarray, event: np.ndarray, limit: float) -> np.ndarray:
    """Test outcomes with events after ``limit`` marked censored: exact for Uno's c truncated at ``limit`` and for the
    AUC and Brier score at times <= ``limit`` (such a patient only ever counts as a control / still alive there), and it
    keeps scikit-survival from asking for censoring weights beyond the training follow-up."""
    return _surv(time, np.asarray(event, bool) & (np.asarray(time, float) <= limit))


def evaluation_times(train_time: np.ndarray, train_event: np.ndarray, test_time: np.ndarray,
                     tau: float | None = None) -> dict[int, float]:
    """The quartiles (1, 2, 3) of the training part's event times that lie inside the test patients' follow-up
    (scikit-survival needs time points in [min, max) of the test times) and not after ``tau``, keyed by quartile."""
    quartiles = np.quantile(np.asarray(train_time, float)[np.asarray(train_event, bool)], [0.25, 0.5, 0.75])
    limit = np.inf if tau is None else tau
    return {q: float(t) for q, t in zip((1, 2, 3), quartiles) if np.min(test_time) <= t < np.max(test_time) and t <= limit}


def brier_grid(train_time: np.ndarray, train_event: np.ndarray, test_time: np.ndarray, tau: float,
               points: int = 100) -> np.ndarray:
    """``points`` evenly spaced times for the integrated Brier score: from the training part's first event time (or
    the first test time, if later) to ``tau`` or just before the last test time, whichever is earlier."""
    start = max(float(np.min(np.asarray(train_time, float)[np.asarray(train_event, bool)])), float(np.min(test_time)))
    stop = min(tau, float(np.nextafter(np.max(test_time), -np.inf)))
    return np.linspace(start, stop, points) if stop > start else np.array([])


def uno_c(train_time: np.ndarray, train_event: np.ndarray, time: np.ndarray, event: np.ndarray, risk: np.ndarray,
          tau: float | None = None) -> float:
    """Uno's c: scikit-survival's ``concordance_index_ipcw`` over every test patient, the censoring distribution from
    the training part, truncated at ``tau`` (default :func:`uno_tau`): patients followed beyond it keep zero weight as
    cases and stay comparators. NaN where it is undefined (no comparable pair)."""
    limit = uno_tau(train_time, train_event) if tau is None else tau
    try:
        return float(concordance_index_ipcw(_surv(train_time, train_event), _censored_after(time, event, limit),
                                            np.asarray(risk, float), tau=limit)[0])
    except (ValueError, ZeroDivisionError):
        return float("nan")


def time_dependent_auc(train_time: np.ndarray, train_event: np.ndarray, time: np.ndarray, event: np.ndarray,
                       risk: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Cumulative/dynamic AUC of ``risk`` at each of ``times`` (scikit-survival); events after the last of ``times``
    count as censored there (exact: they are controls at every one of ``times``). NaN where undefined."""
    if len(times) == 0:
        return np.array([])
    try:
        test = _censored_after(time, event, float(np.max(times)))
        return cumulative_dynamic_auc(_surv(train_time, train_event), test, np.asarray(risk, float), times)[0]
    except ValueError:
        return np.full(len(times), np.nan)


def censoring_survival(train_time: np.ndarray, train_event: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """G, the Kaplan-Meier estimate of the training part's censoring survival (scikit-survival's), as a step function
    of time that is constant beyond the last training time (where scikit-survival's own refuses to answer)."""
    censoring = CensoringDistributionEstimator().fit(_surv(train_time, train_event))
    last = float(censoring.unique_time_[-1])
    return lambda at: censoring.predict_proba(np.minimum(np.asarray(at, float), last))


def brier_scores(train_time: np.ndarray, train_event: np.ndarray, time: np.ndarray, event: np.ndarray,
                 survival: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Graf's Brier score at each of ``times`` of the predicted survival ``survival`` (patients x ``times``): a patient
    with an event by t weighs S(t)^2 / G(T), one still followed after t weighs (1 - S(t))^2 / G(t), one censored by t
    nothing; G is :func:`censoring_survival` of the training part (a weight of G = 0 counts 0, as in
    scikit-survival, whose ``brier_score`` this equals wherever its G is defined)."""
    g = censoring_survival(train_time, train_event)
    time, event, times = np.asarray(time, float), np.asarray(event, bool), np.asarray(times, float)
    with np.errstate(divide="ignore"):
        inverse_at_time = np.where(g(time) > 0, 1.0 / g(time), 0.0)
        inverse_at_t = np.where(g(times) > 0, 1.0 / g(times), 0.0)
    case = (time[:, None] <= times[None, :]) & event[:, None]
    control = time[:, None] > times[None, :]
    survival = np.asarray(survival, float)
    return np.mean(np.square(survival) * case * inverse_at_time[:, None] + np.square(1.0 - survival) * control * inverse_at_t,
                   axis=0)


def integrated_brier(train_time: np.ndarray, train_event: np.ndarray, time: np.ndarray, event: np.ndarray,
                     survival: np.ndarray, times: np.ndarray) -> float:
    """Integrated Brier score (:func:`brier_scores` integrated by the trapezoid rule over ``times``, divided by their
    range, as scikit-survival's ``integrated_brier_score``): defined on every fold, the one holding the longest
    follow-up included; NaN only with fewer than two time points."""
    if len(times) < 2:
        return float("nan")
    scores = brier_scores(train_time, train_event, time, event, survival, times)
    return float(np.trapezoid(scores, times) / (times[-1] - times[0]))
