"""Comparing two models over the same folds: the corrected resampled t-interval of their paired c-index differences.

Folds of a cross-validation share training patients, so their differences are correlated and the plain t-interval
is too narrow. Nadeau and Bengio (2003, "Inference for the generalization error") inflate the variance of the mean
difference over J folds from s^2 / J to (1 / J + n_test / n_train) s^2; Bouckaert and Frank (2004) apply it to r
repetitions of k-fold cross-validation (J = r k, n_test / n_train = 1 / (k - 1)).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def corrected_interval(differences: np.ndarray, test_to_train: float, level: float = 0.95) -> tuple[float, float]:
    """The ``level`` interval of the mean of per-fold ``differences`` (NaN folds left out) by the corrected resampled
    t-test, where ``test_to_train`` is a fold's validation size over its training size (1 / (k - 1) for k folds);
    (NaN, NaN) with fewer than two finite differences."""
    values = np.asarray(differences, float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float("nan"), float("nan")
    spread = np.sqrt((1.0 / len(values) + test_to_train) * np.var(values, ddof=1))
    half = stats.t.ppf(0.5 + level / 2, df=len(values) - 1) * spread
    return float(values.mean() - half), float(values.mean() + half)
