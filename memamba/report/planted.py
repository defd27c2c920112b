"""The demo's planted answer for heatmaps: which patches lie in the tumour region whose look carries the slide part
of the risk (``tumour_regions.tsv``), and how well a head's patch scores rank those patches first (ROC AUC)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from memamba.demo.svs import TumourRegion
from memamba.readers import read_table


def read_tumours(path: str | os.PathLike) -> dict[str, TumourRegion]:
    """Each slide's tumour ellipse from the demo's ``tumour_regions.tsv``."""
    table = read_table(path, "the demo's tumour regions", "regenerate the demo cohort (`memamba demo-data`).", sep="\t")
    return {str(row.slide_id): TumourRegion(row.center_x, row.center_y, row.axis_x, row.axis_y, row.angle)
            for row in table.itertuples()}


def in_tumour(tumour: TumourRegion, coords: np.ndarray, patch_size: float) -> np.ndarray:
    """Whether each patch's centre (``coords`` = level-0 top-left corners) lies in the tumour."""
    centres = np.asarray(coords, float) + patch_size / 2
    return tumour.contains(centres[:, 0], centres[:, 1])


def planted_auc(labels: list[np.ndarray], scores: list[np.ndarray]) -> float:
    """ROC AUC of patch scores for tumour patches against the others, pooled over slides after ranking each slide's
    scores (a head's scale may differ between patients); NaN when one class is absent."""
    label = np.concatenate(labels)
    if label.all() or not label.any():
        return float("nan")
    ranks = np.concatenate([pd.Series(s).rank(pct=True).to_numpy() for s in scores])
    return float(roc_auc_score(label, ranks))
