"""A trained fold's checkpoint: the fitted model with every transform fitted on its training part (feature scaling,
the counts VST, the time bins, the genomic token layout, the encoder), stored as tensors and plain data so that it is
read back with ``weights_only=True`` (nothing unpickled) and applied to new patients by ``memamba predict``."""

from __future__ import annotations

import os
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from memamba.data.cohort import Cohort
from memamba.errors import MemambaError
from memamba.models import ModelInputs
from memamba.tensor_files import save_tensors
from memamba.train.transforms import CountsVst, GenomicTransform, Standardiser

CHECKPOINT_FORMAT = 1
"""Incremented whenever what a checkpoint holds changes; a checkpoint of another format is refused with the fix."""


@dataclass
class FoldCheckpoint:
    """Everything ``memamba predict`` needs to score new patients exactly as the fold scored its own."""

    model: str
    model_params: dict[str, Any]
    fitted: dict[str, Any]
    inputs: ModelInputs
    tokens: list[dict]
    genomic_kinds: dict[str, str]
    genomic_transform: GenomicTransform
    genomic_scaler: Standardiser
    patch_scaler: Standardiser | None
    vst: CountsVst | None
    bin_edges: np.ndarray
    encoder: str | None

    def to_plain(self) -> dict[str, Any]:
        """The checkpoint as tensors and plain Python data (what ``torch.save`` writes)."""
        vst = None if self.vst is None else {
            "logmeans": torch.from_numpy(np.asarray(self.vst.logmeans, np.float64)),
            "filtered_genes": torch.from_numpy(np.asarray(self.vst.filtered_genes, bool)),
            "trend": [float(v) for v in self.vst.trend],
            "low_expression": torch.from_numpy(np.asarray(self.vst.low_expression, bool)),
        }
        return {
            "format": CHECKPOINT_FORMAT, "model": self.model, "model_params": self.model_params, "fitted": self.fitted,
            "inputs": asdict(self.inputs), "tokens": self.tokens, "genomic_kinds": self.genomic_kinds,
            "genomic_transform": asdict(self.genomic_transform), "genomic_scaler": _scaler_plain(self.genomic_scaler),
            "patch_scaler": None if self.patch_scaler is None else _scaler_plain(self.patch_scaler), "vst": vst,
            "bin_edges": torch.from_numpy(np.asarray(self.bin_edges, np.float64)), "encoder": self.encoder,
        }

    @classmethod
    def from_plain(cls, saved: dict[str, Any]) -> FoldCheckpoint:
        """The checkpoint :meth:`to_plain` wrote."""
        vst = saved["vst"]
        return cls(
            model=saved["model"], model_params=saved["model_params"], fitted=saved["fitted"],
            inputs=ModelInputs(**saved["inputs"]), tokens=saved["tokens"], genomic_kinds=saved["genomic_kinds"],
            genomic_transform=GenomicTransform(**saved["genomic_transform"]),
            genomic_scaler=_scaler(saved["genomic_scaler"]),
            patch_scaler=None if saved["patch_scaler"] is None else _scaler(saved["patch_scaler"]),
            vst=None if vst is None else CountsVst(vst["logmeans"].numpy(), vst["filtered_genes"].numpy(), tuple(vst["trend"]),
                                                   vst["low_expression"].numpy()),
            bin_edges=saved["bin_edges"].numpy(), encoder=saved["encoder"],
        )


def fold_checkpoint(model: str, model_params: dict[str, Any], fitted: dict[str, Any], state: dict[str, Any],
                    cohort: Cohort, transform: GenomicTransform) -> FoldCheckpoint:
    """The checkpoint of a fold trained on ``cohort``: ``fitted`` (a state dict, or Coxnet's fit) and ``state``, the
    transforms :func:`memamba.train.loop.prepare_fold` fitted (plus ``inputs``, the model's input sizes)."""
    patch_scaler = Standardiser(state["patch_mean"], state["patch_std"]) if "patch_mean" in state else None
    return FoldCheckpoint(model=model, model_params=model_params, fitted=fitted, inputs=ModelInputs(**state["inputs"]),
                          tokens=cohort.tokens, genomic_kinds=cohort.genomic_kinds, genomic_transform=transform,
                          genomic_scaler=Standardiser(state["genomic_mean"], state["genomic_std"]), patch_scaler=patch_scaler,
                          vst=state["vst"], bin_edges=np.asarray(state["bin_edges"]),
                          encoder=None if cohort.bags is None else cohort.bags.encoder())


def _scaler_plain(scaler: Standardiser) -> dict[str, torch.Tensor]:
    return {"mean": torch.from_numpy(np.asarray(scaler.mean, np.float32)), "std": torch.from_numpy(np.asarray(scaler.std, np.float32))}


def _scaler(saved: dict[str, torch.Tensor]) -> Standardiser:
    return Standardiser(saved["mean"].numpy(), saved["std"].numpy())


def save_checkpoint(checkpoint: FoldCheckpoint, path: str | os.PathLike) -> None:
    """Write ``checkpoint`` to ``path`` (the caller makes the write atomic)."""
    save_tensors(checkpoint.to_plain(), path)


def load_checkpoint(path: str | os.PathLike) -> FoldCheckpoint:
    """Read a fold's ``checkpoint.pt`` with ``weights_only=True``; a file that is not one (or of an older format) is a
    MemambaError naming it, with the fix."""
    path = Path(path)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MemambaError(f"{path}: not a memamba checkpoint that loads without unpickling ({first}). "
                           "Fix: give a fold's checkpoint.pt written by `memamba train`.") from exc
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        found = saved.get("format", "none") if isinstance(saved, dict) else type(saved).__name__
        raise MemambaError(f"{path}: checkpoint format {found}, this memamba reads format {CHECKPOINT_FORMAT}. "
                           "Fix: retrain the fold with this version (`snakemake` reruns it).")
    return FoldCheckpoint.from_plain(saved)
