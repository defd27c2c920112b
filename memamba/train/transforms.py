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

    @classmethod
    def of(cls, section: dict) -> GenomicTransform:
        """The transform settings of a validated ``genomics`` section (its other keys shape the tokens, not the transform)."""
        return cls(section["zscore_clip"], section["min_mean_count"])


@dataclass
class CountsVst:
    """pydeseq2's median-of-ratios size factors and variance-stabilising transform, fitted on training samples.

    The geometric gene means (size-factor reference, ``logmeans`` over ``filtered_genes``) and the dispersion
    trend (``trend``: pydeseq2's parametric (a0, a1), or (mean dispersion,) when pydeseq2 falls back to a mean
    trend) come from the training samples only; other samples are normalised
    against them, so no information flows from validation patients into the transform. Genes whose mean
    normalised count over the training samples is below ``min_mean_count`` (``low_expression``) are set to 0 for
    everyone (a constant: the standardisation then gives them no weight), so the token sizes stay the same in
    every fold. The fitted values are plain arrays, stored in a fold's checkpoint and applied again by
    ``memamba predict``.
    """

    logmeans: np.ndarray
    filtered_genes: np.ndarray
    trend: tuple[float, ...]
    low_expression: np.ndarray

    @classmethod
    def fit(cls, train_counts: pd.DataFrame, min_mean_count: float = 0.0) -> CountsVst:
        """Fit on the training samples' counts (samples x genes) with pydeseq2 (``vst_fit``, parametric trend)."""
        import logging

        from pydeseq2.dds import DeseqDataSet

        logging.getLogger("pydeseq2").setLevel(logging.WARNING)
        counts = train_counts.round().astype(np.int64)
        metadata = pd.DataFrame({"batch": "all"}, index=counts.index)
        dds = DeseqDataSet(counts=counts, metadata=metadata, design="~1", quiet=True, n_cpus=1)
        dds.vst_fit(use_design=False)
        normalised = counts.to_numpy(np.float64) / dds.obs["size_factors"].to_numpy()[:, None]
        trend = dds.uns["vst_trend_coeffs"] if dds.vst_fit_type == "parametric" else [dds.uns["mean_disp"]]
        return cls(np.asarray(dds.logmeans, np.float64), np.asarray(dds.filtered_genes, bool),
                   tuple(float(value) for value in trend), normalised.mean(axis=0) < min_mean_count)

    def __call__(self, counts: pd.DataFrame) -> pd.DataFrame:
        """VST of every sample with counts (pydeseq2's ``vst_transform`` with new counts); samples without RNA (all
        missing) stay missing."""
        from pydeseq2.preprocessing import deseq2_norm_transform

        present = counts.notna().all(axis=1)
        values = np.full(counts.shape, np.nan)
        if present.any():
            normalised, _ = deseq2_norm_transform(counts[present].round().to_numpy(np.int64), self.logmeans, self.filtered_genes)
            values[present.to_numpy()] = self._stabilised(normalised)
        values[:, self.low_expression] = 0.0
        return pd.DataFrame(values, index=counts.index, columns=counts.columns)

    def _stabilised(self, normalised: np.ndarray) -> np.ndarray:
        """pydeseq2's variance-stabilising formula for its parametric trend or its mean-dispersion fallback."""
        if len(self.trend) == 1:
            (dispersion,) = self.trend
            return (2 * np.arcsinh(np.sqrt(dispersion * normalised)) - np.log(dispersion) - np.log(4)) / np.log(2)
        a0, a1 = self.trend
        return np.log2((1 + a1 + 2 * a0 * normalised + 2 * np.sqrt(a0 * normalised * (1 + a1 + a0 * normalised))) / (4 * a0))


def rna_to_log(values: pd.DataFrame, kind: str, zscore_clip: float) -> pd.DataFrame:
    """Per-sample RNA transform needing no fitted state: TPM/FPKM -> log2(x + 1), z-scores clipped.

    Raw counts need a fitted transform (:class:`CountsVst`), see :func:`genomic_matrix`.
    """
    if kind in ("tpm", "fpkm"):
        return np.log2(values.clip(lower=0) + 1)
    if kind == "zscore":
        return values.clip(-zscore_clip, zscore_clip)
    return values


def rna_columns(genomics: pd.DataFrame) -> list[str]:
    """The RNA feature columns (``*_rnaseq``) of a genomics table."""
    return [c for c in genomics.columns if c.endswith("_rnaseq")]


def fit_counts_vst(genomics: pd.DataFrame, kinds: dict[str, str], transform: GenomicTransform,
                   train_rows: np.ndarray) -> CountsVst | None:
    """pydeseq2's VST fitted on the training patients at ``train_rows`` with RNA, when the RNA columns are raw counts;
    None for any other kind (their transform needs no fitted state)."""
    columns = rna_columns(genomics)
    if not columns or kinds.get("rnaseq", "log") != "counts":
        return None
    train_counts = genomics[columns].iloc[train_rows]
    return CountsVst.fit(train_counts[train_counts.notna().all(axis=1)], transform.min_mean_count)


def genomic_matrix(genomics: pd.DataFrame, tokens: list[dict], kinds: dict[str, str], transform: GenomicTransform,
                   vst: CountsVst | None) -> np.ndarray:
    """Patients x (token features concatenated in token order), RNA transformed: raw counts through the fold's
    ``vst`` (:func:`fit_counts_vst`), other kinds per sample."""
    transformed = genomics.copy()
    columns = rna_columns(genomics)
    if columns and vst is not None:
        transformed[columns] = vst(genomics[columns])
    elif columns:
        transformed[columns] = rna_to_log(genomics[columns], kinds.get("rnaseq", "log"), transform.zscore_clip)
    return transformed[[c for token in tokens for c in token["features"]]].to_numpy(np.float32)


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
