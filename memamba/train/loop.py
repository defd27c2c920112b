"""Train one model on one fold and predict every patient of the cohort."""

from __future__ import annotations

import copy
import logging
import pickle
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from memamba.atomic import atomic_path
from memamba.data.cohort import Cohort
from memamba.models import ModelInputs, build_model
from memamba.models.mamba import MambaBlock
from memamba.models.registry import variant_entry
from memamba.models.ssm import resolved_backend
from memamba.survival.bins import discretise, fit_bin_edges
from memamba.survival.loss import nll_survival_loss, risk_from_logits, survival_from_logits
from memamba.survival.metrics import harrell_c
from memamba.tensor_files import save_tensors
from memamba.train.fold_data import FoldData, fit_patch_scaler, fold_batches, reading_workers
from memamba.train.transforms import GenomicTransform, Standardiser, fit_counts_vst, genomic_matrix

log = logging.getLogger(__name__)

OPTIMISERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "radam": torch.optim.RAdam}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch and ask PyTorch for deterministic kernels.

    The kernels' switch is set directly: ``torch.use_deterministic_algorithms`` sets the same switch and also one of
    torch's compiler (never used here), whose import costs 2.4 CPU-seconds in every training process
    (benchmarks/job_overhead.py)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch._C._set_deterministic_algorithms(True, warn_only=True)


@dataclass
class FoldResult:
    """What training one fold produced."""

    model: Any
    history: pd.DataFrame
    predictions: pd.DataFrame
    state: dict[str, Any]
    compute: dict[str, str]


def carve_inner_validation(cohort: Cohort, train_rows: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split the training part into (fit rows, inner validation rows), stratified by event; empty inner part at 0."""
    if fraction <= 0:
        return train_rows, train_rows[:0]
    events = cohort.event[train_rows]
    stratify = events if np.bincount(events, minlength=2).min() >= 2 else None
    fit, inner = train_test_split(train_rows, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(fit), np.sort(inner)


def prepare_fold(cohort: Cohort, split: pd.DataFrame, train_params: dict[str, Any], transform: GenomicTransform,
                 workers: int = 0) -> FoldData:
    """Bin edges, genomic transforms and feature scaling fitted on the training part (fit + inner validation);
    ``workers`` processes read the patch features for the scaler."""
    present = set(cohort.patients)
    rows_of = {role: cohort.index_of([p for p in split.loc[split["role"] == role, "patient_id"] if p in present])
               for role in ("train", "val")}
    training_part = rows_of["train"]
    fit_rows, inner_rows = carve_inner_validation(cohort, training_part, train_params["inner_val_fraction"], train_params["seed"])
    edges = fit_bin_edges(cohort.time[training_part], cohort.event[training_part], train_params["n_bins"])
    vst = fit_counts_vst(cohort.genomics, cohort.genomic_kinds, transform, training_part)
    genomics = genomic_matrix(cohort.genomics, cohort.tokens, cohort.genomic_kinds, transform, vst)
    genomic_scaler = Standardiser.fit(genomics[training_part])
    state: dict[str, Any] = {"genomic_mean": genomic_scaler.mean, "genomic_std": genomic_scaler.std, "bin_edges": edges,
                             "vst": vst}
    patch_scaler = None
    if cohort.bags is not None:
        patch_scaler = fit_patch_scaler(cohort.bags, training_part, workers)
        state.update({"patch_mean": patch_scaler.mean, "patch_std": patch_scaler.std})
        for patient in np.array(cohort.patients)[cohort.bags.sizes == 0]:
            log.warning("patient %s: no patches (no slide, or no tissue in any slide); using one neutral patch at the training mean",
                        patient)
    return FoldData(cohort.bags, patch_scaler, torch.from_numpy(genomic_scaler(genomics)),
                    torch.from_numpy(discretise(cohort.time, edges)), torch.from_numpy(1 - cohort.event), fit_rows, inner_rows,
                    rows_of["val"], state)


def sampling_weights(labels: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """MCAT-style weights: each (time bin x censoring) class gets the same total probability."""
    classes = labels * 2 + censored
    counts = np.bincount(classes)
    weights = 1.0 / counts[classes]
    return weights / weights.sum()


def _batches(rows: np.ndarray, batch_size: int) -> list[np.ndarray]:
    return [rows[start:start + batch_size] for start in range(0, len(rows), batch_size)]


def predict_logits(model: torch.nn.Module, data: FoldData, rows: np.ndarray, device: torch.device, batch_size: int,
             workers: int) -> torch.Tensor:
    """Hazard logits (float32, on the CPU) of the patients at ``rows``, in that order."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(batch)[0].float().cpu() for _, batch in fold_batches(data, _batches(rows, batch_size), workers, device)])


def _c_index(cohort: Cohort, rows: np.ndarray, logits: torch.Tensor) -> float:
    if len(rows) < 2 or not cohort.event[rows].any():
        return float("nan")
    return float(harrell_c(cohort.time[rows], cohort.event[rows], risk_from_logits(logits).numpy()))


def _loss(logits: torch.Tensor, data: FoldData, rows: np.ndarray, alpha: float) -> float:
    return float(nll_survival_loss(logits, data.labels[rows], data.censored[rows], alpha)) if len(rows) else float("nan")


def train_fold(cohort: Cohort, split: pd.DataFrame, model_name: str, model_params: dict[str, Any],
               train_params: dict[str, Any], transform: GenomicTransform, device: str = "cpu", progress: bool = True,
               checkpoint: str | Path | None = None, fingerprint: str = "") -> FoldResult:
    """Fit ``model_name`` on the fold's training part and predict every patient of the cohort.

    Everything learned from data (bin edges, feature scaling, weights, the stopping epoch) sees the
    training part only: with ``early_stopping_patience`` > 0 an inner validation part carved out of
    it chooses the epoch; otherwise the last epoch is kept. The reported fold (role ``val``) is used
    for the final predictions and for the ``val_c_index`` history column, which is never used for
    any choice (it gives the optimistic best-epoch figure, labelled so in the evaluation). The history's
    ``train_c_index`` is that of the logits seen while training (dropout on), which costs no extra pass. With
    ``checkpoint`` set, the state is saved there after every epoch, and a run resumes from it when it
    was written with the same ``fingerprint`` (a digest of the inputs and settings).
    """
    seed_everything(train_params["seed"])
    workers = reading_workers(train_params.get("num_workers"), torch.device(device))
    data = prepare_fold(cohort, split, train_params, transform, workers)
    inputs = ModelInputs(patch_dim=data.patch_dim,
                         token_sizes=[len(t["features"]) for t in cohort.tokens], n_bins=train_params["n_bins"])
    entry = variant_entry(model_name, model_params)
    if entry.trainer == "sksurv":
        from memamba.train.sksurv_fit import fit_sksurv

        model, logits, history, risk = fit_sksurv(build_model(model_name, inputs, model_params), cohort, data, train_params)
        compute = {"device": "cpu", "precision": "float64 (scikit-survival)", "scan_backend": "none"}
    else:
        model, history = _fit_torch(model_name, inputs, model_params, train_params, cohort, data, torch.device(device),
                                    workers, progress, checkpoint, fingerprint)
        transport = [m for m in model.modules() if hasattr(m, "transport_summary")]
        for expert in transport:
            expert.transport_summary()                      # forget the evaluation passes made while training
        logits = predict_logits(model, data, np.arange(len(cohort.patients)), torch.device(device), train_params["batch_size"], workers)
        risk = risk_from_logits(logits).numpy()
        compute = compute_settings(model, torch.device(device), train_params["amp"])
        spread = [summary for expert in transport if (summary := expert.transport_summary())]
        if spread:
            compute["ot_effective_patches"] = spread[0]
    data.state["inputs"] = inputs.__dict__
    log.info("%s trained on %s", model_name, ", ".join(f"{key} {value}" for key, value in compute.items()))
    return FoldResult(model, history, _predictions(cohort, data, split, logits, risk), data.state, compute)


def compute_settings(model: torch.nn.Module, device: torch.device, amp: bool) -> dict[str, str]:
    """Where and how a torch model trains: device, precision (bf16 autocast on CUDA with ``amp``, else float32) and
    the selective-scan backend its Mamba blocks run on ("none" without Mamba blocks)."""
    backends = sorted({resolved_backend(block.ssm_backend, device) for block in model.modules() if isinstance(block, MambaBlock)})
    return {"device": str(device), "precision": "bf16 autocast" if amp and device.type == "cuda" else "float32",
            "scan_backend": "+".join(backends) or "none"}


def _predictions(cohort: Cohort, data: FoldData, split: pd.DataFrame, logits: torch.Tensor, risk: np.ndarray) -> pd.DataFrame:
    survival = survival_from_logits(logits)[1].numpy()
    roles = dict(zip(split["patient_id"], split["role"]))
    role = [roles.get(p, "excluded") for p in cohort.patients]
    for row in data.inner_val_rows:
        role[row] = "inner_val"
    ends = data.state["bin_edges"][1:]
    return pd.DataFrame({
        "patient_id": cohort.patients,
        "role": role,
        "survival_months": cohort.time,
        "event": cohort.event,
        "imputed": cohort.imputed or [""] * len(cohort.patients),
        "risk": risk,
        **{f"survival_bin_{k}": survival[:, k] for k in range(survival.shape[1])},
        **{f"bin_end_{k}": np.full(len(cohort.patients), end) for k, end in enumerate(ends)},
    })


def _epoch_state(path: str | Path | None) -> dict[str, Any] | None:
    """The resume state at ``path``, read with ``weights_only=True`` (tensors and plain data; nothing is unpickled);
    None, with a warning, when there is none or it cannot be read that way (then training starts from epoch 1 and
    overwrites it)."""
    if path is None or not Path(path).exists():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        log.warning("%s cannot be read as a resume state without unpickling (%s): starting from epoch 1",
                    path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return None
    return saved if isinstance(saved, dict) and "fingerprint" in saved else None


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Optimiser groups: parameters marked ``_no_weight_decay`` (a Mamba block's ``A_log`` and ``D``, as mamba-ssm
    marks them) get none, the others ``weight_decay``."""
    trained = [p for p in model.parameters() if p.requires_grad]
    exempt = [p for p in trained if getattr(p, "_no_weight_decay", False)]
    decayed = [p for p in trained if not getattr(p, "_no_weight_decay", False)]
    return [{"params": decayed, "weight_decay": weight_decay}, {"params": exempt, "weight_decay": 0.0}]


def _resumed(model_name: str, model: torch.nn.Module, optimiser: torch.optim.Optimizer, generator: np.random.Generator,
             checkpoint: str | Path | None, fingerprint: str) -> tuple[list[dict[str, float]], dict[str, Any], int]:
    """(history, best epoch so far, first epoch to run): from ``checkpoint`` when it was written for ``fingerprint``,
    with the model, optimiser and random states restored; else a fresh start."""
    saved = _epoch_state(checkpoint)
    if saved is not None and saved["fingerprint"] != fingerprint:
        log.warning("%s was written for other inputs or settings: starting from epoch 1", checkpoint)
        saved = None
    if saved is None:
        return [], {"score": -np.inf, "epoch": 0, "state": None}, 1
    model.load_state_dict(saved["model"])
    optimiser.load_state_dict(saved["optimiser"])
    generator.bit_generator.state = saved["generator"]
    torch.set_rng_state(saved["torch_rng"])
    log.info("resuming %s from epoch %d (%s)", model_name, saved["epoch"], checkpoint)
    return saved["history"], saved["best"], saved["epoch"] + 1


def _epoch_scores(model: torch.nn.Module, cohort: Cohort, data: FoldData, losses: list[float], seen: dict[int, torch.Tensor],
                  device: torch.device, train_params: dict[str, Any], workers: int) -> dict[str, float]:
    """One epoch's history row: training loss and c-index (of the logits seen while training), then the c-index of
    the inner-validation (and its loss) and validation rows, predicted by the model as it now is."""
    trained = np.array(sorted(seen))
    record = {"train_loss": float(np.mean(losses)),
              "train_c_index": _c_index(cohort, trained, torch.stack([seen[r] for r in trained]))}
    for name, rows in (("inner_val", data.inner_val_rows), ("val", data.val_rows)):
        if not len(rows):
            continue
        logits = predict_logits(model, data, rows, device, train_params["batch_size"], workers)
        record[f"{name}_c_index"] = _c_index(cohort, rows, logits)
        if name == "inner_val":
            record["inner_val_loss"] = _loss(logits, data, rows, train_params["alpha"])
    return record


def _fit_torch(model_name: str, inputs: ModelInputs, model_params: dict[str, Any], train_params: dict[str, Any],
               cohort: Cohort, data: FoldData, device: torch.device, workers: int, progress: bool,
               checkpoint: str | Path | None, fingerprint: str) -> tuple[torch.nn.Module, pd.DataFrame]:
    model = build_model(model_name, inputs, model_params).to(device)
    # foreach: every parameter updated by one batched kernel, also on the CPU (torch's default only on CUDA); the same
    # risks on the demo (measured on an ME-Mamba fold) at 15 % less CPU time, the demo having many small parameters.
    optimiser = OPTIMISERS[train_params["optimizer"]](parameter_groups(model, train_params["weight_decay"]), lr=train_params["lr"],
                                                      foreach=True)
    generator = np.random.default_rng(train_params["seed"])
    history, best, start = _resumed(model_name, model, optimiser, generator, checkpoint, fingerprint)
    weights = sampling_weights(data.labels.numpy()[data.train_rows], data.censored.numpy()[data.train_rows]) \
        if train_params["weighted_sampling"] else None
    patience = train_params["early_stopping_patience"]
    amp = train_params["amp"] and device.type == "cuda"
    bar = tqdm(range(start, train_params["epochs"] + 1), desc=f"train {model_name}", disable=not progress)
    for epoch in bar:
        if patience and epoch - best["epoch"] > patience:
            break
        model.train()
        order = generator.choice(data.train_rows, len(data.train_rows), p=weights) if weights is not None \
            else generator.permutation(data.train_rows)
        losses, seen = [], {}
        batches = _batches(order, train_params["batch_size"])
        optimiser.zero_grad()
        for step, (rows, batch) in enumerate(fold_batches(data, batches, workers, device), start=1):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits, auxiliary = model(batch)
                loss = nll_survival_loss(logits.float(), data.labels[rows].to(device), data.censored[rows].to(device),
                                         train_params["alpha"]) + auxiliary
            (loss / train_params["accumulate"]).backward()
            if step % train_params["accumulate"] == 0 or step == len(batches):
                optimiser.step()
                optimiser.zero_grad()
            losses.append(loss.item())
            seen.update(zip(rows.tolist(), logits.detach().float().cpu()))
        record = {"epoch": epoch, **_epoch_scores(model, cohort, data, losses, seen, device, train_params, workers)}
        history.append(record)
        bar.set_postfix(loss=f"{record['train_loss']:.3f}")
        if patience and record["inner_val_c_index"] > best["score"]:
            best = {"score": record["inner_val_c_index"], "epoch": epoch, "state": copy.deepcopy(model.state_dict())}
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                save_tensors({"fingerprint": fingerprint, "model": model.state_dict(), "optimiser": optimiser.state_dict(),
                              "epoch": epoch, "generator": generator.bit_generator.state, "torch_rng": torch.get_rng_state(),
                              "history": history, "best": best}, tmp)
    if patience and best["state"] is not None:
        model.load_state_dict(best["state"])
        log.info("%s: kept epoch %d (best inner-validation c-index %.3f)", model_name, best["epoch"], best["score"])
    frame = pd.DataFrame(history)
    frame["selected"] = frame["epoch"] == (best["epoch"] if patience and best["state"] is not None else frame["epoch"].max())
    return model, frame
