"""Train one model on one fold and predict every patient of the cohort."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from memamba.data.cohort import Cohort
from memamba.models import Batch, ModelInputs, build_model, collate
from memamba.survival.bins import discretise, fit_bin_edges
from memamba.survival.loss import nll_survival_loss, risk_from_logits, survival_from_logits
from memamba.survival.metrics import harrell_c
from memamba.train.transforms import GenomicTransform, Standardiser, genomic_matrix

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch and ask PyTorch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


@dataclass
class FoldResult:
    """What training one fold produced."""

    model: torch.nn.Module
    history: pd.DataFrame
    predictions: pd.DataFrame
    state: dict[str, Any]


def _inputs(cohort: Cohort, train_idx: np.ndarray, transform: GenomicTransform) -> tuple[list[torch.Tensor | None], torch.Tensor, dict]:
    """Standardised bags and genomics for every patient, with statistics fitted on ``train_idx`` only."""
    genomics = genomic_matrix(cohort.genomics, cohort.tokens, cohort.genomic_kinds, transform, train_idx)
    genomic_scaler = Standardiser.fit(genomics[train_idx])
    state = {"genomic_mean": genomic_scaler.mean, "genomic_std": genomic_scaler.std}
    bags: list[torch.Tensor | None] = [None] * len(cohort.patients)
    if cohort.bags is not None:
        patch_scaler = Standardiser.fit(np.concatenate([cohort.bags[i] for i in train_idx]))
        bags = [torch.from_numpy(patch_scaler(b) if len(b) else _neutral_patch(patient, b.shape[1]))
                for patient, b in zip(cohort.patients, cohort.bags)]
        state.update({"patch_mean": patch_scaler.mean, "patch_std": patch_scaler.std})
    return bags, torch.from_numpy(genomic_scaler(genomics)), state


def _neutral_patch(patient: str, dim: int) -> np.ndarray:
    """Stand-in bag for a patient without patches (no slide, or no tissue found): one patch at the training mean."""
    log.warning("patient %s: no patches (no slide, or no tissue in any slide); using one neutral patch at the training mean", patient)
    return np.zeros((1, dim), np.float32)


def _batches(rows: np.ndarray, batch_size: int) -> list[np.ndarray]:
    return [rows[start:start + batch_size] for start in range(0, len(rows), batch_size)]


def _predict(model: torch.nn.Module, bags: list[torch.Tensor | None], genomics: torch.Tensor, rows: np.ndarray,
             device: torch.device, batch_size: int) -> torch.Tensor:
    """Hazard logits of the patients at ``rows``, in that order."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(_collate(bags, genomics, chunk).to(device))[0] for chunk in _batches(rows, batch_size)]).cpu()


def _collate(bags: list[torch.Tensor | None], genomics: torch.Tensor, rows: np.ndarray) -> Batch:
    return collate(None if bags[0] is None else [bags[i] for i in rows], genomics[rows])


def train_fold(cohort: Cohort, split: pd.DataFrame, model_name: str, model_params: dict[str, Any],
               train_params: dict[str, Any], transform: GenomicTransform, device: str = "cpu", progress: bool = True) -> FoldResult:
    """Fit ``model_name`` on the fold's training patients for a fixed number of epochs.

    Everything learned from data (bin edges, feature scaling, weights) sees training patients
    only; the reported fold is used for nothing but the final predictions (last epoch).
    """
    seed_everything(train_params["seed"])
    train_ids = split.loc[split["role"] == "train", "patient_id"].tolist()
    present = set(cohort.patients)
    train_idx = cohort.index_of([p for p in train_ids if p in present])
    edges = fit_bin_edges(cohort.time[train_idx], cohort.event[train_idx], train_params["n_bins"])
    labels = torch.from_numpy(discretise(cohort.time, edges))
    censored = torch.from_numpy(1 - cohort.event)
    bags, genomics, state = _inputs(cohort, train_idx, transform)
    torch_device = torch.device(device)
    inputs = ModelInputs(patch_dim=0 if bags[0] is None else bags[0].shape[1], token_sizes=[len(t["features"]) for t in cohort.tokens],
                         n_bins=train_params["n_bins"])
    model = build_model(model_name, inputs, model_params).to(torch_device)
    optimiser = torch.optim.Adam(model.parameters(), lr=train_params["lr"], weight_decay=train_params["weight_decay"])
    generator = np.random.default_rng(train_params["seed"])
    history = []
    batch_size = train_params["batch_size"]
    for epoch in tqdm(range(1, train_params["epochs"] + 1), desc=f"train {model_name}", disable=not progress):
        model.train()
        losses = []
        for rows in _batches(generator.permutation(train_idx), batch_size):
            logits, auxiliary = model(_collate(bags, genomics, rows).to(torch_device))
            loss = nll_survival_loss(logits, labels[rows].to(torch_device), censored[rows].to(torch_device),
                                     train_params["alpha"]) + auxiliary
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        train_risk = risk_from_logits(_predict(model, bags, genomics, train_idx, torch_device, batch_size))
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)),
                        "train_c_index": harrell_c(cohort.time[train_idx], cohort.event[train_idx], train_risk.numpy())})
    logits = _predict(model, bags, genomics, np.arange(len(cohort.patients)), torch_device, batch_size)
    survival = survival_from_logits(logits)[1].numpy()
    roles = dict(zip(split["patient_id"], split["role"]))
    predictions = pd.DataFrame({
        "patient_id": cohort.patients,
        "role": [roles.get(p, "excluded") for p in cohort.patients],
        "survival_months": cohort.time,
        "event": cohort.event,
        "imputed": cohort.imputed or [""] * len(cohort.patients),
        "risk": risk_from_logits(logits).numpy(),
        **{f"survival_bin_{k}": survival[:, k] for k in range(survival.shape[1])},
    })
    state.update({"bin_edges": edges, "inputs": inputs.__dict__})
    return FoldResult(model, pd.DataFrame(history), predictions, state)
