"""Uno's c, the time-dependent AUC and the Brier grid against their definitions, on folds whose validation part
holds the longest follow-up (a patient followed beyond every training patient)."""

import numpy as np
import pytest
from sksurv.metrics import integrated_brier_score
from sksurv.nonparametric import CensoringDistributionEstimator
from sksurv.util import Surv

from memamba.survival.metrics import brier_grid, harrell_c, integrated_brier, logrank_p, time_dependent_auc, uno_c, uno_tau

rng = np.random.default_rng(7)
TRAIN_TIME = np.round(rng.uniform(1, 40, 60), 1)
TRAIN_EVENT = rng.random(60) < 0.6
TIME = np.append(np.round(rng.uniform(1, 38, 19), 1), 55.0)       # the last patient: beyond the training follow-up
EVENT = np.append(rng.random(19) < 0.6, True)
RISK = -TIME + rng.normal(0, 8, 20)


def _censoring(time: np.ndarray) -> np.ndarray:
    return CensoringDistributionEstimator().fit(Surv.from_arrays(TRAIN_EVENT, TRAIN_TIME)).predict_proba(time)


def test_uno_c_keeps_patients_beyond_tau_as_comparators_and_matches_its_definition() -> None:
    tau = uno_tau(TRAIN_TIME, TRAIN_EVENT)
    assert tau <= TRAIN_TIME.max() and _censoring(np.array([tau]))[0] >= 0.1
    numerator = denominator = 0.0
    for i in range(len(TIME)):
        if not EVENT[i] or TIME[i] >= tau:
            continue
        weight = _censoring(np.array([TIME[i]]))[0] ** -2
        for j in range(len(TIME)):
            if TIME[i] < TIME[j]:
                denominator += weight
                numerator += weight * ((RISK[i] > RISK[j]) + 0.5 * (RISK[i] == RISK[j]))
    assert uno_c(TRAIN_TIME, TRAIN_EVENT, TIME, EVENT, RISK) == pytest.approx(numerator / denominator, rel=1e-12)
    moved = RISK.copy()
    moved[-1] = RISK.max() + 1                                   # the longest survivor now looks like the sickest
    assert uno_c(TRAIN_TIME, TRAIN_EVENT, TIME, EVENT, moved) < uno_c(TRAIN_TIME, TRAIN_EVENT, TIME, EVENT, RISK)


def test_td_auc_is_defined_with_an_event_after_the_training_follow_up_and_matches_its_definition() -> None:
    times = np.array([8.0, 15.0, 25.0])
    auc = time_dependent_auc(TRAIN_TIME, TRAIN_EVENT, TIME, EVENT, RISK, times)
    for t, value in zip(times, auc):
        cases = EVENT & (TIME <= t)
        controls = TIME > t
        weights = 1 / _censoring(TIME[cases])
        concordant = (RISK[cases][:, None] > RISK[controls][None, :]) + 0.5 * (RISK[cases][:, None] == RISK[controls][None, :])
        assert value == pytest.approx((weights[:, None] * concordant).sum() / (weights.sum() * controls.sum()), rel=1e-12)


def test_the_brier_grid_is_dense_and_inside_every_range_it_must_respect() -> None:
    tau = uno_tau(TRAIN_TIME, TRAIN_EVENT)
    grid = brier_grid(TRAIN_TIME, TRAIN_EVENT, TIME, tau)
    assert len(grid) == 100 and grid[0] >= TIME.min() and grid[-1] <= tau and grid[-1] < TIME.max()
    survival = np.exp(-np.outer(np.exp(-TIME / 20), grid) / 20)
    assert 0 < integrated_brier(TRAIN_TIME, TRAIN_EVENT, TIME, EVENT, survival, grid) < 0.25


def test_harrells_c_is_nan_where_no_pair_is_comparable_and_exact_where_one_is() -> None:
    assert np.isnan(harrell_c(np.array([5.0, 3.0]), np.array([1, 0]), np.array([0.1, 0.2])))   # the event comes last
    assert harrell_c(np.array([3.0, 5.0]), np.array([1, 0]), np.array([0.2, 0.1])) == 1.0
    assert harrell_c(np.array([3.0, 5.0]), np.array([1, 0]), np.array([0.1, 0.2])) == 0.0


def test_harrell_c_and_the_log_rank_p_are_nan_for_patients_without_an_event() -> None:
    time, risk, group = np.array([3.0, 5.0, 8.0]), np.array([0.2, 0.1, 0.3]), np.array(["high", "low", "high"])
    assert np.isnan(harrell_c(time, np.zeros(3), risk)) and np.isnan(logrank_p(time, np.zeros(3), group))


def _graf_ibs(train_time: np.ndarray, train_event: np.ndarray, time: np.ndarray, event: np.ndarray, survival: np.ndarray,
              times: np.ndarray) -> float:
    """Graf et al. (1999) written out: the training part's censoring Kaplan-Meier by hand (an event at a time comes
    before a censoring at it; constant after the last training time), one patient and one time at a time."""
    def censoring_survival(t: float) -> float:
        value = 1.0
        for s in np.unique(train_time[train_time <= t]):
            censored = np.sum((train_time == s) & ~train_event)
            at_risk = np.sum(train_time >= s) - np.sum((train_time == s) & train_event)
            value *= 1 - censored / at_risk if censored else 1.0
        return value

    scores = []
    for k, t in enumerate(times):
        total = 0.0
        for i in range(len(time)):
            if time[i] <= t and event[i]:
                total += survival[i, k] ** 2 / censoring_survival(time[i])
            elif time[i] > t:
                total += (1 - survival[i, k]) ** 2 / censoring_survival(t)
        scores.append(total / len(time))
    return float(np.trapezoid(scores, times) / (times[-1] - times[0]))


def _distinct_fold(seed: int) -> tuple[np.ndarray, ...]:
    """A fold without tied times whose training part ends in an event and whose validation part holds the longest
    follow-up (scikit-survival's IBS refuses it)."""
    generator = np.random.default_rng(seed)
    times = generator.permutation(np.arange(1.0, 81.0))
    train_time, time = times[:60], np.append(times[60:79], 95.0)
    train_event, event = generator.random(60) < 0.6, generator.random(20) < 0.6
    train_event[np.argmax(train_time)] = True
    survival_rate = np.exp(generator.normal(-3.5, 0.5, 20))
    return train_time, train_event, time, event, survival_rate


def test_ibs_is_defined_on_the_fold_with_the_longest_follow_up_and_equals_grafs_definition() -> None:
    train_time, train_event, time, event, rate = _distinct_fold(3)
    grid = brier_grid(train_time, train_event, time, uno_tau(train_time, train_event))
    survival = np.exp(-np.outer(rate, grid))
    with pytest.raises(ValueError, match="time must be smaller than largest observed time point"):
        integrated_brier_score(Surv.from_arrays(train_event, train_time), Surv.from_arrays(event, time), survival, grid)
    ibs = integrated_brier(train_time, train_event, time, event, survival, grid)
    assert np.isfinite(ibs) and ibs == pytest.approx(_graf_ibs(train_time, train_event, time, event, survival, grid), rel=1e-12)


def test_ibs_equals_scikit_survivals_wherever_it_is_defined() -> None:
    train_time, train_event, time, event, rate = _distinct_fold(4)
    inside = time < train_time.max()
    grid = brier_grid(train_time, train_event, time[inside], uno_tau(train_time, train_event))
    survival = np.exp(-np.outer(rate[inside], grid))
    expected = integrated_brier_score(Surv.from_arrays(train_event, train_time), Surv.from_arrays(event[inside], time[inside]),
                                      survival, grid)
    assert integrated_brier(train_time, train_event, time[inside], event[inside], survival, grid) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(_graf_ibs(train_time, train_event, time[inside], event[inside], survival, grid), rel=1e-12)
