"""How much each gene family contributes to a patient's predicted risk: integrated gradients (Sundararajan et al.,
2017) of the risk over the standardised genomic inputs, from the training mean (all zeros) to the patient, with the
patches held fixed, summed over each family's features. The attributions of a patient add up to its risk minus the
risk at the baseline (completeness), up to the Riemann sum's error, for a model whose risk is differentiable in its
genomic inputs (SNN, ABMIL-SNN, MCAT: tested). MOTCat's and ME-Mamba's are not: their transport plans are computed
without gradient, and ME-Mamba's attention-ordered scan sorts the family tokens by a learned score (a permutation,
constant between swaps); integrated gradients then follow the gradient the model trains with, and the attributions
need not add up. The table keeps each patient's risk and baseline risk so that the gap shows."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import nn

from memamba.atomic import atomic_path
from memamba.models.batch import Batch
from memamba.models.memamba_model import MEMamba
from memamba.survival.loss import risk_from_logits


def integrated_gradients(model: nn.Module, batch: Batch, steps: int = 32) -> tuple[np.ndarray, float, float]:
    """Per genomic feature (F,), the integrated gradient of the one patient's risk in ``batch`` along the straight
    path from zeros to its genomics (midpoint rule, ``steps`` points); also the risk at the patient and at the
    baseline."""
    model.eval()
    target = batch.genomics[0]
    total = torch.zeros_like(target)
    for alpha in (torch.arange(steps, dtype=target.dtype) + 0.5) / steps:
        point = (alpha * target).detach().requires_grad_(True)
        risk = risk_from_logits(model(Batch(batch.patches, batch.patch_mask, point[None]))[0])[0]
        total += torch.autograd.grad(risk, point)[0]
    with torch.no_grad():
        at_patient = float(risk_from_logits(model(batch)[0])[0])
        at_baseline = float(risk_from_logits(model(Batch(batch.patches, batch.patch_mask, torch.zeros_like(batch.genomics)))[0])[0])
    return (target * total / steps).detach().cpu().numpy(), at_patient, at_baseline


def per_family(attributions: np.ndarray, tokens: list[dict]) -> np.ndarray:
    """Feature attributions (..., F) summed over each token's features, in token order (..., T)."""
    bounds = np.cumsum([0] + [len(token["features"]) for token in tokens])
    return np.stack([attributions[..., start:end].sum(axis=-1) for start, end in zip(bounds[:-1], bounds[1:])], axis=-1)


@torch.no_grad()
def summary_norms(model: MEMamba, batch: Batch, families: int) -> np.ndarray:
    """ME-Mamba: the norm of each genomic family's transport summary of the patches (``families``,), NaN for a family
    without features (no token), for one patient."""
    patch_tokens = model.pathology(batch.patches, batch.patch_mask)
    summaries, _ = model.synergy(patch_tokens, batch.patch_mask, model.genomics(batch.genomics))
    norms = np.full(families, np.nan)
    norms[model.genomics.present] = summaries[0].norm(dim=-1).cpu().numpy()
    return norms


def attribution_table(patients: list[str], families: list[str], values: np.ndarray, risks: np.ndarray,
                      norms: np.ndarray | None = None) -> pd.DataFrame:
    """Long table of per-family ``values`` (patients x families): patient_id, family, attribution, the patient's
    ``risk`` and ``baseline_risk`` (``risks``, patients x 2), and ``summary_norm`` (ME-Mamba's transport summaries,
    patients x families) when given."""
    table = pd.DataFrame({"patient_id": np.repeat(patients, len(families)), "family": list(families) * len(patients),
                          "attribution": values.reshape(-1), "risk": np.repeat(risks[:, 0], len(families)),
                          "baseline_risk": np.repeat(risks[:, 1], len(families))})
    if norms is not None:
        table["summary_norm"] = norms.reshape(-1)
    return table


def plot_attributions(table: pd.DataFrame, title: str, out: str | os.PathLike) -> None:
    """Per family, the mean |attribution| over the patients (bar) with the mean signed attribution (marker)."""
    grouped = table.groupby("family", sort=False)["attribution"]
    magnitude, signed = grouped.apply(lambda v: v.abs().mean()), grouped.mean()
    figure = Figure(figsize=(6, 0.45 * len(magnitude) + 1.2), dpi=120)
    axis = figure.subplots()
    positions = np.arange(len(magnitude))
    axis.barh(positions, magnitude.to_numpy(), color="tab:blue", label="mean |attribution|")
    axis.plot(signed.to_numpy(), positions, "o", color="tab:red", label="mean attribution (signed)")
    axis.set_yticks(positions, labels=magnitude.index.tolist())
    axis.invert_yaxis()
    axis.axvline(0, color="grey", linewidth=0.8)
    axis.set(xlabel="contribution to the predicted risk (integrated gradients)", title=title)
    axis.legend(loc="lower right", fontsize=7)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", bbox_inches="tight")
