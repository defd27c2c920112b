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
    from memamba.train.loop import FoldData

log = logging.getLogger(__name__)


def _estimator(spec: CoxnetSpec, **overrides: Any) -> CoxnetSurvivalAnalysis:
    settings = {"l1_ratio": spec.l1_ratio, "alpha_min_ratio": spec.alpha_min_ratio, "n_alphas": spec.n_alphas,
                "max_iter": spec.max_iter, **overrides}
    return CoxnetSurvivalAnalysis(**settings)


def choose_alpha(spec: CoxnetSpec, x: np.ndarray, time: np.ndarray, event: np.ndarray, seed: int) -> float:
    """The penalty with the best mean inner-cross-validation c-index on these (training-part) patients."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        alphas = _estimator(spec).fit(x, Surv.from_arrays(event.astype(bool), time)).alphas_
        scores = np.zeros(len(alphas))
        for fit, test in StratifiedKFold(spec.inner_folds, shuffle=True, random_state=seed).split(x, event):
            model = _estimator(spec, alphas=alphas)
            model.fit(x[fit], Surv.from_arrays(event[fit].astype(bool), time[fit]))
            for k, alpha in enumerate(model.alphas_):
                scores[k] += harrell_c(time[test], event[test], model.predict(x[test], alpha=alpha))
    return float(alphas[int(np.argmax(scores))])


def fit_sksurv(spec: CoxnetSpec, cohort: Cohort, data: FoldData,
               train_params: dict[str, Any]) -> tuple[CoxnetSurvivalAnalysis, torch.Tensor, pd.DataFrame]:
    """Fit Coxnet on the training part (fit + inner validation patients) and give every patient's hazard
    logits on the fold's time bins (from its survival function), so that it is evaluated like the others."""
    rows = np.sort(np.concatenate([data.train_rows, data.inner_val_rows]))
    x = data.genomics.numpy().astype(np.float64)
    time, event = cohort.time.astype(float), cohort.event.astype(int)
    alpha = choose_alpha(spec, x[rows], time[rows], event[rows], train_params["seed"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _estimator(spec, alphas=[alpha], fit_baseline_model=True)
        model.fit(x[rows], Surv.from_arrays(event[rows].astype(bool), time[rows]))
    ends = data.state["bin_edges"][1:]
    curves = model.predict_survival_function(x)
    survival = np.array([[fn(min(max(end, fn.domain[0]), fn.domain[1])) for end in ends] for fn in curves])
    survival = np.clip(survival, 1e-6, 1.0)
    previous = np.concatenate([np.ones((len(survival), 1)), survival[:, :-1]], axis=1)
    hazard = np.clip(1 - survival / previous, 1e-6, 1 - 1e-6)
    logits = torch.from_numpy(np.log(hazard / (1 - hazard))).float()
    nonzero = int((model.coef_[:, 0] != 0).sum())
    log.info("coxnet: alpha %.4g, %d of %d features kept", alpha, nonzero, x.shape[1])
    history = pd.DataFrame([{"epoch": 1, "alpha": alpha, "nonzero_coefficients": nonzero,
                             "train_c_index": harrell_c(time[rows], event[rows], model.predict(x[rows])),
                             "selected": True}])
    return model, logits, history
