"""A trained fold's per-patch scores for a patient's slides, one HDF5 file per slide in CLAM's heatmap convention:
``coords`` (level-0 top-left corners, with the tiling's attributes) and one dataset per head of the same length
(``attention_scores``; ``transport/<family>``, ``coattention/<family>``, ``attention_scan_layer_k``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch

from memamba.atomic import atomic_path
from memamba.data.bags import feature_shape
from memamba.data.cohort import Cohort
from memamba.errors import MemambaError
from memamba.models.patch_scores import patch_scores
from memamba.train.checkpoint import FoldCheckpoint
from memamba.train.predict import fold_inputs, fold_model


@dataclass
class SlideScores:
    """One slide's patches and every head's score for them."""

    feature_file: Path
    coords: np.ndarray
    coords_attrs: dict
    scores: dict[str, np.ndarray]


def _coords(path: Path) -> tuple[np.ndarray, dict]:
    """The patch coordinates of a feature file and their attributes: one finite (x, y) per row of its features, or a
    MemambaError naming the file."""
    if path.suffix != ".h5":
        raise MemambaError(f"{path}: a .pt feature file holds no patch coordinates. Fix: use the .h5 feature files "
                           "(ours, CLAM's h5_files/ or TRIDENT's), which store `coords`.")
    fix = "re-extract this slide's features (its coords must be the level-0 corners of its feature rows)"
    with h5py.File(path, "r") as h5:
        if "coords" not in h5:
            raise MemambaError(f"{path}: no `coords` dataset. Fix: use feature files that store the patch coordinates.")
        coords, attrs = h5["coords"], dict(h5["coords"].attrs)
        if coords.dtype.kind not in "iuf" or coords.ndim != 2 or coords.shape[1] != 2:
            raise MemambaError(f"{path}: `coords` is {coords.dtype} of shape {coords.shape}, not N x 2 numbers. Fix: {fix}.")
        values = coords[:]
    patches = feature_shape(path)[0]
    if len(values) != patches or not np.isfinite(values).all():
        problem = f"{len(values)} coords for {patches} feature rows" if len(values) != patches else "coords that are NaN or infinite"
        raise MemambaError(f"{path}: {problem}. Fix: {fix}.")
    return values, attrs


class FoldScorer:
    """A fold's model and the cohort's inputs as it reads them, scoring one patient's patches at a time."""

    def __init__(self, checkpoint: FoldCheckpoint, cohort: Cohort, device: torch.device) -> None:
        self.checkpoint, self.cohort, self.device = checkpoint, cohort, device
        self.data = fold_inputs(checkpoint, cohort)
        self.model = fold_model(checkpoint).to(device)
        self.families = [token["name"] for token in checkpoint.tokens]

    def feature_files(self, patient: str) -> list[Path]:
        """The feature files of ``patient``'s slides, in slide-sheet order; a MemambaError for a patient without any."""
        if patient not in self.cohort.patients:
            raise MemambaError(f"patient {patient} is not in the cohort given (it needs slides and genomics). "
                               "Fix: check the patient id against the sheets.")
        files = [] if self.cohort.bags is None else self.cohort.bags.files[self.cohort.patients.index(patient)]
        if not files:
            raise MemambaError(f"patient {patient} has no slide features. Fix: give --features-dir with its slides' features.")
        return [Path(path) for path in files]

    def check(self, patients: list[str]) -> None:
        """Raise the MemambaError :meth:`slides` would raise for any of ``patients``, before anything is written."""
        for patient in patients:
            for path in self.feature_files(patient):
                _coords(path)

    def slides(self, patient: str) -> list[SlideScores]:
        """Every head's scores for each slide of ``patient`` (split from its bag in slide-sheet order)."""
        files = self.feature_files(patient)
        batch = self.data.batch(np.array([self.cohort.patients.index(patient)])).to(self.device)
        scores = {head: score.numpy() for head, score in patch_scores(self.model, batch, self.families).items()}
        result, start = [], 0
        for path in files:
            coords, attrs = _coords(path)
            result.append(SlideScores(path, coords, attrs, {head: s[start:start + len(coords)] for head, s in scores.items()}))
            start += len(coords)
        return result


def dataset_name(head: str) -> str:
    """The HDF5 dataset of a head: ``kind/family`` with any '/' inside the family name replaced by '_'."""
    kind, _, family = head.partition("/")
    return f"{kind}/{family.replace('/', '_')}" if family else kind


def write_slide_scores(slide: SlideScores, model: str, patient: str, out_dir: str | os.PathLike) -> Path:
    """``out_dir/{slide}.h5`` (the feature file's name): coords with their attributes and one dataset per head."""
    out = Path(out_dir) / f"{slide.feature_file.stem}.h5"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("coords", data=slide.coords)
        h5["coords"].attrs.update(slide.coords_attrs)
        for head, score in slide.scores.items():
            h5.create_dataset(dataset_name(head), data=score.astype(np.float32))
        h5.attrs.update({"model": model, "patient": patient, "heads": json.dumps(list(slide.scores))})
    return out


def extreme_patients(predictions: pd.DataFrame, count: int) -> dict[str, str]:
    """The ``count`` validation patients of highest and of lowest predicted risk: patient -> "highest risk" or
    "lowest risk" (highest first)."""
    val = predictions[predictions["role"] == "val"].sort_values("risk", kind="stable")
    chosen = {patient: "highest risk" for patient in val["patient_id"].iloc[::-1][:count]}
    for patient in val["patient_id"][:count]:
        chosen.setdefault(patient, "lowest risk")
    return chosen
