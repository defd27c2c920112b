"""Per-fold input transforms, fitted on the training patients only and applied to every patient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def rna_to_log(values: pd.DataFrame, kind: str, zscore_clip: float) -> pd.DataFrame:
    """Per-sample RNA transform needing no fitted state: counts -> log2(CPM + 1), TPM/FPKM -> log2(x + 1)."""
    if kind == "counts":
        library = values.sum(axis=1).replace(0, 1)
        return np.log2(values.div(library, axis=0) * 1e6 + 1)
    if kind in ("tpm", "fpkm"):
        return np.log2(values.clip(lower=0) + 1)
    if kind == "zscore":
        return values.clip(-zscore_clip, zscore_clip)
    return values


def genomic_matrix(genomics: pd.DataFrame, tokens: list[dict], kinds: dict[str, str], zscore_clip: float) -> np.ndarray:
    """Patients x (token features concatenated in token order), with the per-sample RNA transform applied."""
    transformed = genomics.copy()
    rna_columns = [c for c in genomics.columns if c.endswith("_rnaseq")]
    if rna_columns:
        transformed[rna_columns] = rna_to_log(genomics[rna_columns], kinds.get("rnaseq", "log"), zscore_clip)
    columns = [c for token in tokens for c in token["features"]]
    return transformed[columns].to_numpy(np.float32)


@dataclass
class Standardiser:
    """Column-wise (x - mean) / std with statistics from training rows; constant columns get std 1."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, rows: np.ndarray) -> Standardiser:
        """Fit on training rows (N x D)."""
        std = rows.std(axis=0)
        return cls(rows.mean(axis=0).astype(np.float32), np.where(std > 1e-8, std, 1.0).astype(np.float32))

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return ((rows - self.mean) / self.std).astype(np.float32)
