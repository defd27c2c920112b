"""Score a cohort with trained folds: each fold's stored transforms (feature scaling, counts VST, token layout, time
bins) applied as they were fitted on its training part, never refitted on the cohort scored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from memamba.data.cohort import Cohort
from memamba.errors import MemambaError
from memamba.models import build_model
from memamba.models.registry import variant_entry
from memamba.survival.loss import risk_from_logits, survival_from_logits
from memamba.train.checkpoint import FoldCheckpoint
from memamba.train.fold_data import FoldData
from memamba.train.loop import predict_logits
from memamba.train.sksurv_fit import coxnet_outputs
from memamba.train.transforms import genomic_matrix

SAME_INPUTS_FIX = ("Fix: build this cohort's inputs as the training cohort's were (the same gene families and kinds of "
                   "genomic tables, `memamba genomics`; features from the same encoder).")


def _token_difference(trained: list[dict], given: list[dict]) -> str | None:
    """The first difference between two token layouts, in words; None when they are the same."""
    if [t["name"] for t in trained] != [t["name"] for t in given]:
        return f"tokens {[t['name'] for t in given]} here, {[t['name'] for t in trained]} in training"
    for want, got in zip(trained, given):
        missing, extra = sorted(set(want["features"]) - set(got["features"])), sorted(set(got["features"]) - set(want["features"]))
        if missing or extra:
            return (f"token {want['name']!r} lacks {len(missing)} of the training features (e.g. {missing[:3]}) and has "
                    f"{len(extra)} others (e.g. {extra[:3]})")
        if list(want["features"]) != list(got["features"]):
            return f"token {want['name']!r} orders its features differently"
    return None


def check_compatible(checkpoint: FoldCheckpoint, source: str, cohort: Cohort) -> None:
    """A MemambaError in one line naming ``source`` (the checkpoint) and the first way ``cohort``'s inputs differ from
    those the fold was trained on: token layout (gene set), kinds of genomic tables, patch-feature width, encoder."""
    difference = _token_difference(checkpoint.tokens, cohort.tokens)
    kinds = {key: value for key, value in checkpoint.genomic_kinds.items() if cohort.genomic_kinds.get(key) != value}
    if difference is None and kinds:
        difference = "; ".join(f"{key} tables are {cohort.genomic_kinds.get(key)} here, {value} in training" for key, value in kinds.items())
    missing = [c for t in checkpoint.tokens for c in t["features"] if c not in cohort.genomics.columns]
    if difference is None and missing:
        difference = f"the genomic table lacks {len(missing)} training feature(s), e.g. {missing[:3]}"
    if difference is None and "slides" in variant_entry(checkpoint.model, checkpoint.model_params).modalities:
        if cohort.bags is None:
            difference = "the model reads patch features and none were given (--features-dir)"
        elif cohort.bags.dim != checkpoint.inputs.patch_dim:
            difference = f"patch features are {cohort.bags.dim}-d here, {checkpoint.inputs.patch_dim}-d in training"
        elif checkpoint.encoder and (encoder := cohort.bags.encoder()) and encoder != checkpoint.encoder:
            difference = f"patch features are from encoder {encoder} here, {checkpoint.encoder} in training"
    if difference is not None:
        raise MemambaError(f"{source}: this cohort's inputs differ from the fold's training inputs: {difference}. {SAME_INPUTS_FIX}")


def fold_inputs(checkpoint: FoldCheckpoint, cohort: Cohort) -> FoldData:
    """The cohort's patients as the fold's model reads them: genomics through the fold's VST and scaling, bags scaled
    by the fold's patch scaler as they are read (every patient in the ``val_rows``)."""
    genomics = checkpoint.genomic_scaler(genomic_matrix(cohort.genomics, checkpoint.tokens, checkpoint.genomic_kinds,
                                                        checkpoint.genomic_transform, checkpoint.vst))
    rows, nothing = np.arange(len(cohort.patients)), np.zeros(0, dtype=int)
    bags = cohort.bags if "slides" in variant_entry(checkpoint.model, checkpoint.model_params).modalities else None
    labels = torch.zeros(len(rows), dtype=torch.long)
    return FoldData(bags, checkpoint.patch_scaler, torch.from_numpy(genomics), labels, labels, nothing, nothing, rows, {})


def fold_model(checkpoint: FoldCheckpoint) -> torch.nn.Module:
    """The fold's torch model with its trained weights, in eval mode."""
    model = build_model(checkpoint.model, checkpoint.inputs, checkpoint.model_params)
    model.load_state_dict(checkpoint.fitted)
    return model.eval()


def fold_outputs(checkpoint: FoldCheckpoint, cohort: Cohort, device: torch.device, batch_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Every patient's risk (n,) and survival at the fold's bin ends (n, bins) from one fold's checkpoint."""
    data = fold_inputs(checkpoint, cohort)
    if variant_entry(checkpoint.model, checkpoint.model_params).trainer == "sksurv":
        risk, logits = coxnet_outputs(checkpoint.fitted, data.genomics.numpy())
        return risk, survival_from_logits(logits)[1].numpy()
    logits = predict_logits(fold_model(checkpoint).to(device), data, data.val_rows, device, batch_size, workers=0)
    return risk_from_logits(logits).numpy(), survival_from_logits(logits)[1].numpy()


def _survival_at(ends: np.ndarray, survival: np.ndarray, times: np.ndarray) -> np.ndarray:
    """A fold's survival step function (value ``survival[:, k]`` from bin end ``ends[k]`` on, 1 before the first)
    read at ``times``."""
    index = np.searchsorted(ends, times, side="right") - 1
    padded = np.concatenate([np.ones((len(survival), 1)), survival], axis=1)
    return padded[:, index + 1]


def predict_cohort(checkpoints: dict[str, FoldCheckpoint], cohort: Cohort, device: torch.device,
                   batch_size: int = 1) -> pd.DataFrame:
    """Per patient: ``risk`` (the mean over the folds of each fold's risk; ``risk_k`` for the k-th checkpoint, with several)
    and the survival at the first fold's bin ends (``survival_bin_k``, ``bin_end_k``; with several folds the mean of
    their survival step functions there). ``checkpoints`` maps a name (its path) to a fold; every one is checked
    against the cohort's inputs first."""
    for source, checkpoint in checkpoints.items():
        check_compatible(checkpoint, source, cohort)
    first = next(iter(checkpoints.values()))
    ends = np.asarray(first.bin_edges[1:], np.float64)
    risks, survivals = {}, []
    for source, checkpoint in checkpoints.items():
        risk, survival = fold_outputs(checkpoint, cohort, device, batch_size)
        risks[source] = risk
        survivals.append(_survival_at(np.asarray(checkpoint.bin_edges[1:], np.float64), survival, ends))
    survival = np.mean(survivals, axis=0)
    frame = pd.DataFrame({"patient_id": cohort.patients})
    if np.isfinite(cohort.time).any():
        frame["survival_months"], frame["event"] = cohort.time, cohort.event
    frame["risk"] = np.mean(list(risks.values()), axis=0)
    if len(risks) > 1:
        for k, risk in enumerate(risks.values()):
            frame[f"risk_{k}"] = risk
    for k, end in enumerate(ends):
        frame[f"survival_bin_{k}"] = survival[:, k]
        frame[f"bin_end_{k}"] = end
    return frame
