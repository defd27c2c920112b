"""Coxnet: elastic-net penalised Cox regression on the genomic features (scikit-survival)."""

from __future__ import annotations

from dataclasses import dataclass

from memamba.models.registry import ModelInputs


@dataclass(frozen=True)
class CoxnetSpec:
    """Settings of :class:`sksurv.linear_model.CoxnetSurvivalAnalysis` and of the choice of its penalty.

    The penalty strength is chosen among ``n_alphas`` values of the regularisation path by
    ``inner_folds``-fold cross-validation (Harrell's c-index) inside the fold's training part.
    """

    l1_ratio: float = 0.9
    alpha_min_ratio: float = 0.01
    n_alphas: int = 30
    inner_folds: int = 3
    max_iter: int = 100000


def coxnet(inputs: ModelInputs, **params: float) -> CoxnetSpec:
    """Coxnet on all genomic features, l1_ratio 0.9 and alpha by inner cross-validation (scikit-survival's guide)."""
    return CoxnetSpec(**params)
