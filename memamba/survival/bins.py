"""Discrete time bins, with edges fitted on training patients only."""

from __future__ import annotations

import numpy as np


def fit_bin_edges(time: np.ndarray, event: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin edges from quantiles of the uncensored times: ``[0, q_1, ..., q_{n-1}, inf]``.

    Call it with the training part of a fold only: edges computed on the whole cohort leak the
    validation patients' event times into training (a known flaw of the peers' code).
    """
    uncensored = time[event.astype(bool)]
    if len(uncensored) < n_bins:
        uncensored = time
    inner = np.quantile(uncensored, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.concatenate([[0.0], inner, [np.inf]])


def discretise(time: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each time (0-based), clipped to the last bin."""
    return np.clip(np.searchsorted(edges, time, side="right") - 1, 0, len(edges) - 2)
