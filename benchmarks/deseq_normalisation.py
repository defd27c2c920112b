"""Raw-count normalisation: pydeseq2 (median-of-ratios + VST, fitted on 80 % of samples, applied to all)
beside a plain numpy median-of-ratios + log2(x + 1), on synthetic negative-binomial counts.

Default 1,000 samples x 20,000 genes (issue 4). Run: python benchmarks/deseq_normalisation.py [--samples N --genes G]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from measuring import measured

from memamba.train.transforms import CountsVst


def synthetic_counts(samples: int, genes: int, seed: int = 0) -> pd.DataFrame:
    """Negative-binomial counts with log-normal gene means, gene-specific dispersions and varied library sizes."""
    rng = np.random.default_rng(seed)
    means = rng.lognormal(3.5, 1.8, genes)
    dispersion = 0.05 + 2.0 / np.sqrt(means + 1)
    library = rng.uniform(0.4, 2.5, (samples, 1))
    size = 1.0 / dispersion
    counts = rng.negative_binomial(size, size / (size + means * library))
    return pd.DataFrame(counts, index=[f"s{i}" for i in range(samples)], columns=[f"g{j}" for j in range(genes)])


def numpy_median_of_ratios(train: np.ndarray, everyone: np.ndarray) -> np.ndarray:
    """log2(normalised counts + 1) with DESeq2's size factors, the reference from the training samples."""
    expressed = (train > 0).all(axis=0)
    log_reference = np.log(train[:, expressed]).mean(axis=0)
    with np.errstate(divide="ignore"):
        ratios = np.log(everyone[:, expressed]) - log_reference
    size_factors = np.exp(np.nanmedian(np.where(np.isfinite(ratios), ratios, np.nan), axis=1))
    return np.log2(everyone / size_factors[:, None] + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--genes", type=int, default=20000)
    args = parser.parse_args()
    counts = synthetic_counts(args.samples, args.genes)
    train = counts.iloc[: int(0.8 * len(counts))]
    plain, plain_s, plain_mib = measured(lambda: numpy_median_of_ratios(train.to_numpy(float), counts.to_numpy(float)))
    vst, vst_s, vst_mib = measured(lambda: CountsVst(train)(counts))
    both = np.isfinite(plain) & np.isfinite(vst.to_numpy())
    agreement = np.corrcoef(plain[both], vst.to_numpy()[both])[0, 1]
    print(f"{args.samples} samples x {args.genes} genes ({len(train)} training samples)")
    print(f"{'method':<44} {'seconds':>8} {'peak MiB':>9} {'ratio':>7}")
    print(f"{'numpy median-of-ratios + log2(x + 1)':<44} {plain_s:8.2f} {plain_mib:9.0f} {1.0:7.2f}")
    print(f"{'pydeseq2 size factors + VST (fit + apply)':<44} {vst_s:8.2f} {vst_mib:9.0f} {vst_s / plain_s:7.1f}")
    print(f"correlation of the two transforms over their {both.mean():.1%} finite values: {agreement:.4f}")


if __name__ == "__main__":
    main()
