"""Fitting scikit-survival estimators (Coxnet) on a fold, in the same harness as the neural models."""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sksurv.linear_model import CoxnetSurvivalAnalysis
from sksurv.util import Surv

from memamba.data.cohort import Cohort
from memamba.models.coxnet import CoxnetSpec
from memamba.survival.metrics import harrell_c

if TYPE_CHECKING:
    from memamba.train.fold_data import FoldData

log = logging.getLogger(__name__)


def _estimator(spec: CoxnetSpec, **overrides: Any) -> CoxnetSurvivalAnalysis:
    settings = {"l1_ratio": spec.l1_ratio, "alpha_min_ratio": spec.alpha_min_ratio, "n_alphas": spec.n_alphas,
                "max_iter": spec.max_iter, **overrides}
    return CoxnetSurvivalAnalysis(**settings)


def penalty_path(spec: CoxnetSpec, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``n_alphas`` penalties from the smallest one that zeroes every coefficient down to ``alpha_min_ratio`` of it."""
    alpha_max = _estimator(spec, n_alphas=2, alpha_min_ratio=0.9).fit(x, y).alphas_[0]
    return alpha_max * np.geomspace(1.0, spec.alpha_min_ratio, spec.n_alphas)


def fit_path(spec: CoxnetSpec, x: np.ndarray, y: np.ndarray, alphas: np.ndarray) -> CoxnetSurvivalAnalysis:
    """Coxnet over ``alphas`` (largest first); where the solver fails numerically ("weights are too large"),
    the smaller half of the penalties is dropped until it fits."""
    while True:
        try:
            return _estimator(spec, alphas=alphas).fit(x, y)
        except ArithmeticError:
            if len(alphas) == 1:
                raise
            alphas = alphas[: len(alphas) // 2]


def _inner_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's c of an inner fold; NaN where it is undefined (no comparable pair), -inf for a failed fit."""
    if not np.isfinite(risk).all():
        return -np.inf
    try:
        return harrell_c(time, event, risk)
    except (ValueError, ZeroDivisionError):
        return float("nan")


def choose_alpha(spec: CoxnetSpec, x: np.ndarray, time: np.ndarray, event: np.ndarray, seed: int) -> np.ndarray:
    """The penalty path down to the penalty with the best mean inner-cross-validation c-index on these
    (training-part) patients; a penalty the solver could not fit in some inner fold counts as the worst.
    The final fit walks this path (warm starts), as a lone small penalty may not converge. With too few
    patients or events for an inner split, the middle of the path is taken (and logged)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "all coefficients are zero")
        alphas = penalty_path(spec, x, Surv.from_arrays(event.astype(bool), time))
        folds = min(spec.inner_folds, int(np.bincount(event, minlength=2).min()), len(event) // 2)
        if folds < 2:
            log.warning("coxnet: %d patients with %d events are too few for inner cross-validation; "
                        "using the middle of the penalty path", len(event), int(event.sum()))
            return alphas[: len(alphas) // 2 + 1]
        scores = np.zeros(len(alphas))
        for fit, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, event):
            model = fit_path(spec, x[fit], Surv.from_arrays(event[fit].astype(bool), time[fit]), alphas)
            scores[len(model.alphas_):] = -np.inf
            for k, alpha in enumerate(model.alphas_):
                scores[k] += np.nan_to_num(_inner_c(time[test], event[test], model.predict(x[test], alpha=alpha)), nan=0.5)
    return alphas[: int(np.argmax(scores)) + 1]


def baseline_log_hazard(linear_predictor: np.ndarray, event: np.ndarray, time: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """log H0(end_k): Breslow's cumulative baseline hazard (the estimator scikit-survival's BreslowEstimator
    implements) from the training part's linear predictors, in log space so that no fit, however large its
    coefficients, overflows or divides by an underflowed risk set; -inf before the first event."""
    order = np.argsort(time, kind="stable")
    sorted_time, sorted_event, sorted_lp = time[order], event[order].astype(bool), linear_predictor[order]
    log_risk_set = np.logaddexp.accumulate(sorted_lp[::-1])[::-1]            # log sum exp(lp) over time >= t_i
    event_times, deaths = np.unique(sorted_time[sorted_event], return_counts=True)
    log_increments = np.log(deaths) - log_risk_set[np.searchsorted(sorted_time, event_times, side="left")]
    log_hazard = np.logaddexp.accumulate(log_increments)
    index = np.searchsorted(event_times, ends, side="right") - 1
    return np.where(index >= 0, log_hazard[np.clip(index, 0, None)], -np.inf)


def survival_from_baseline(log_h0: np.ndarray, predictor: np.ndarray) -> np.ndarray:
    """S(end_k | x) = exp(-H0(end_k) exp(lp(x))), patients x bin ends."""
    with np.errstate(over="ignore"):
        return np.exp(-np.exp(log_h0[None, :] + predictor[:, None]))


def logits_from_survival(survival: np.ndarray) -> torch.Tensor:
    """The discrete-time hazard logits (patients x bins, float32) whose survival is ``survival`` at the bin ends
    (clipped to [1e-6, 1] and hazards to [1e-6, 1 - 1e-6], so that every logit is finite)."""
    survival = np.clip(survival, 1e-6, 1.0)
    previous = np.concatenate([np.ones((len(survival), 1)), survival[:, :-1]], axis=1)
    hazard = np.clip(1 - survival / previous, 1e-6, 1 - 1e-6)
    return torch.from_numpy(np.log(hazard / (1 - hazard))).float()


def coxnet_outputs(fitted: dict[str, Any], x: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
    """A fitted Coxnet's (as :func:`fit_sksurv` returns it) risk, the linear predictor, and hazard logits for the
    standardised genomic features ``x`` (patients x features)."""
    predictor = x.astype(np.float64) @ fitted["coefficients"].numpy() - fitted["offset"]
    return predictor, logits_from_survival(survival_from_baseline(fitted["log_baseline_hazard"].numpy(), predictor))


def survival_at_bin_ends(linear_predictor: np.ndarray, event: np.ndarray, time: np.ndarray, predictor: np.ndarray,
                         ends: np.ndarray) -> np.ndarray:
    """S(end_k | x) for ``predictor`` with Breslow's H0 from the training part (``linear_predictor``, ``event``, ``time``)."""
    return survival_from_baseline(baseline_log_hazard(linear_predictor, event, time, ends), predictor)


def fit_sksurv(spec: CoxnetSpec, cohort: Cohort, data: FoldData,
               train_params: dict[str, Any]) -> tuple[dict[str, Any], torch.Tensor, pd.DataFrame, np.ndarray]:
    """Fit Coxnet on the training part (fit + inner validation patients); return the fitted model as plain data
    (``coefficients`` at the chosen ``alpha``, so risk = x @ coefficients, and ``log_baseline_hazard`` at the
    bin ends: tensors and numbers, which a checkpoint loads without unpickling an estimator), every
    patient's hazard logits on the fold's time bins (from its survival function, for the Brier score and
    the KM groups), the history, and its risk: the linear predictor, scikit-survival's own risk score
    (the survival probabilities of a nearly unpenalised fit saturate at 0 or 1 and would tie)."""
    rows = np.sort(np.concatenate([data.train_rows, data.inner_val_rows]))
    x = data.genomics.numpy().astype(np.float64)
    time, event = cohort.time.astype(float), cohort.event.astype(int)
    path = choose_alpha(spec, x[rows], time[rows], event[rows], train_params["seed"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "all coefficients are zero")
        model = fit_path(spec, x[rows], Surv.from_arrays(event[rows].astype(bool), time[rows]), path)
    alpha = float(model.alphas_[-1])
    predictor = model.predict(x, alpha=alpha)
    log_h0 = baseline_log_hazard(predictor[rows], event[rows], time[rows], np.asarray(data.state["bin_edges"][1:]))
    logits = logits_from_survival(survival_from_baseline(log_h0, predictor))
    nonzero = int((model.coef_[:, -1] != 0).sum())
    log.info("coxnet: alpha %.4g, %d of %d features kept", alpha, nonzero, x.shape[1])
    history = pd.DataFrame([{"epoch": 1, "alpha": alpha, "nonzero_coefficients": nonzero,
                             "train_c_index": harrell_c(time[rows], event[rows], predictor[rows]),
                             "selected": True}])
    coefficients, offset = model.coef_[:, -1], float(model.offset_[-1])     # predict(x, alpha_[-1]) = x @ coef - offset
    fitted = {"coefficients": torch.from_numpy(np.array(coefficients, np.float64)), "offset": offset, "alpha": alpha,
              "log_baseline_hazard": torch.from_numpy(np.asarray(log_h0, np.float64))}
    return fitted, logits, history, predictor
