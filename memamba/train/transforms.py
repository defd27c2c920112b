"""Per-fold input transforms, fitted on the training patients only and applied to every patient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GenomicTransform:
    """The ``genomics`` config section's per-fold transform settings."""

    zscore_clip: float = 10.0
    min_mean_count: float = 1.0


class CountsVst:
    """pydeseq2's median-of-ratios size factors and variance-stabilising transform, fitted on training samples.

    The geometric gene means (size-factor reference) and the dispersion trend come from the training
    samples only; other samples are normalised against them (``vst_transform`` with new counts), so no
    information flows from validation patients into the transform. Genes whose mean normalised count over
    the training samples is below ``min_mean_count`` are set to 0 for everyone (a constant: the
    standardisation then gives them no weight), so the token sizes stay the same in every fold.
    """

    def __init__(self, train_counts: pd.DataFrame, min_mean_count: float = 0.0) -> None:
        import logging

        from pydeseq2.dds import DeseqDataSet

        logging.getLogger("pydeseq2").setLevel(logging.WARNING)
        counts = train_counts.round().astype(np.int64)
        metadata = pd.DataFrame({"batch": "all"}, index=counts.index)
        self.dds = DeseqDataSet(counts=counts, metadata=metadata, design="~1", quiet=True, n_cpus=1)
        self.dds.vst_fit(use_design=False)
        normalised = counts.to_numpy(np.float64) / self.dds.obs["size_factors"].to_numpy()[:, None]
        self.low_expression = normalised.mean(axis=0) < min_mean_count

    def __call__(self, counts: pd.DataFrame) -> pd.DataFrame:
        """VST of every sample with counts; samples without RNA (all missing) stay missing."""
        present = counts.notna().all(axis=1)
        values = np.full(counts.shape, np.nan)
        if present.any():
            values[present.to_numpy()] = self.dds.vst_transform(counts[present].round().to_numpy(np.int64))
        values[:, self.low_expression] = 0.0
        return pd.DataFrame(values, index=counts.index, columns=counts.columns)


def rna_to_log(values: pd.DataFrame, kind: str, zscore_clip: float) -> pd.DataFrame:
    """Per-sample RNA transform needing no fitted state: TPM/FPKM -> log2(x + 1), z-scores clipped.

    Raw counts need a fitted transform (:class:`CountsVst`), see :func:`genomic_matrix`.
    """
    if kind in ("tpm", "fpkm"):
        return np.log2(values.clip(lower=0) + 1)
    if kind == "zscore":
        return values.clip(-zscore_clip, zscore_clip)
    return values


def genomic_matrix(genomics: pd.DataFrame, tokens: list[dict], kinds: dict[str, str], transform: GenomicTransform,
                   train_rows: np.ndarray) -> np.ndarray:
    """Patients x (token features concatenated in token order), RNA transformed: raw counts through pydeseq2's
    VST fitted on ``train_rows`` (positions of the training patients), other kinds per sample."""
    transformed = genomics.copy()
    rna_columns = [c for c in genomics.columns if c.endswith("_rnaseq")]
    kind = kinds.get("rnaseq", "log")
    if rna_columns and kind == "counts":
        train_counts = genomics[rna_columns].iloc[train_rows]
        vst = CountsVst(train_counts[train_counts.notna().all(axis=1)], transform.min_mean_count)
        transformed[rna_columns] = vst(genomics[rna_columns])
    elif rna_columns:
        transformed[rna_columns] = rna_to_log(genomics[rna_columns], kind, transform.zscore_clip)
    columns = [c for token in tokens for c in token["features"]]
    return transformed[columns].to_numpy(np.float32)


@dataclass
class Standardiser:
    """Column-wise (x - mean) / std with statistics from the training rows' observed values; constant columns
    get std 1, and missing values (a patient without that modality) become 0, the training mean."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, rows: np.ndarray) -> Standardiser:
        """Fit on training rows (N x D), ignoring missing values."""
        if np.isfinite(rows).all():
            std = rows.std(axis=0)
            return cls(rows.mean(axis=0).astype(np.float32), np.where(std > 1e-8, std, 1.0).astype(np.float32))
        observed = np.isfinite(rows).any(axis=0)
        filled = np.where(np.isfinite(rows), rows, 0.0)
        counts = np.maximum(np.isfinite(rows).sum(axis=0), 1)
        mean = np.where(observed, filled.sum(axis=0) / counts, 0.0)
        std = np.sqrt(np.where(np.isfinite(rows), (rows - mean) ** 2, 0.0).sum(axis=0) / counts)
        return cls(mean.astype(np.float32), np.where(std > 1e-8, std, 1.0).astype(np.float32))

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        return np.nan_to_num((rows - self.mean) / self.std, nan=0.0).astype(np.float32)


@dataclass
class RunningMoments:
    """Count, column means and summed squared deviations of the rows seen so far, in float64, merged exactly
    (Chan, Golub and LeVeque's pairwise update), so that the patches of a whole training fold are standardised
    from one streaming pass over their files without holding them together."""

    count: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None

    @classmethod
    def of(cls, rows: np.ndarray) -> RunningMoments:
        """The moments of ``rows`` (N x D)."""
        wide = np.asarray(rows, dtype=np.float64)
        if not len(wide):
            return cls()
        mean = wide.mean(axis=0)
        return cls(len(wide), mean, ((wide - mean) ** 2).sum(axis=0))

    def merge(self, other: RunningMoments) -> RunningMoments:
        """The moments of both row sets together."""
        if not other.count:
            return self
        if not self.count:
            return other
        count = self.count + other.count
        shift = other.mean - self.mean
        return RunningMoments(count, self.mean + shift * other.count / count,
                              self.m2 + other.m2 + shift ** 2 * self.count * other.count / count)

    def standardiser(self) -> Standardiser:
        """The column-wise standardiser of every row merged (constant columns get std 1)."""
        std = np.sqrt(self.m2 / self.count)
        return Standardiser(self.mean.astype(np.float32), np.where(std > 1e-8, std, 1.0).astype(np.float32))
