"""A trained fold's per-patch scores for one patient's slides, one HDF5 file per slide in CLAM's heatmap convention:
``coords`` (level-0 top-left corners, with the tiling's attributes) and one dataset per head of the same length
(``attention_scores``; ``transport/<family>``, ``coattention/<family>``, ``attention_scan_layer_k``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import torch

from memamba.atomic import atomic_path
from memamba.data.cohort import Cohort
from memamba.errors import MemambaError
from memamba.models.patch_scores import patch_scores
from memamba.train.checkpoint import FoldCheckpoint
from memamba.train.predict import fold_inputs, fold_model


def _coords(path: Path) -> tuple[np.ndarray, dict]:
    """The patch coordinates of a feature file and their attributes; a MemambaError when it has none."""
    if path.suffix != ".h5":
        raise MemambaError(f"{path}: a .pt feature file holds no patch coordinates. Fix: use the .h5 feature files "
                           "(ours, CLAM's h5_files/ or TRIDENT's), which store `coords`.")
    with h5py.File(path, "r") as h5:
        if "coords" not in h5:
            raise MemambaError(f"{path}: no `coords` dataset. Fix: use feature files that store the patch coordinates.")
        return h5["coords"][:], dict(h5["coords"].attrs)


def _dataset_name(head: str) -> str:
    kind, _, family = head.partition("/")
    return f"{kind}/{family.replace('/', '_')}" if family else kind


def write_patient_scores(checkpoint: FoldCheckpoint, cohort: Cohort, patient: str, out_dir: str | os.PathLike,
                         device: torch.device) -> list[Path]:
    """Score ``patient``'s patches with the fold's model and write ``out_dir/{slide}.h5`` for each of its slides (the
    feature file's name); return the files written."""
    if patient not in cohort.patients:
        raise MemambaError(f"patient {patient} is not in the cohort given (it needs survival, slides and genomics). "
                           "Fix: check the patient id against the sheets.")
    row = cohort.patients.index(patient)
    files = [] if cohort.bags is None else cohort.bags.files[row]
    if not files:
        raise MemambaError(f"patient {patient} has no slide features. Fix: give --features-dir with its slides' features.")
    batch = fold_inputs(checkpoint, cohort).batch(np.array([row])).to(device)
    scores = patch_scores(fold_model(checkpoint).to(device), batch, [token["name"] for token in checkpoint.tokens])
    written, start = [], 0
    for path in files:
        coords, attrs = _coords(Path(path))
        out = Path(out_dir) / f"{Path(path).stem}.h5"
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
            h5.create_dataset("coords", data=coords)
            h5["coords"].attrs.update(attrs)
            for head, score in scores.items():
                h5.create_dataset(_dataset_name(head), data=score[start:start + len(coords)].numpy().astype(np.float32))
            h5.attrs.update({"model": checkpoint.model, "patient": patient, "heads": json.dumps(list(scores))})
        written.append(out)
        start += len(coords)
    return written
