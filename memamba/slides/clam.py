"""Export features in CLAM's layout (``h5_files/{slide}.h5`` and ``pt_files/{slide}.pt``) for peer code."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import torch

from memamba.atomic import atomic_path


def export_clam(feature_files: list[str | os.PathLike], out_dir: str | os.PathLike) -> list[str]:
    """Write each ``features/{encoder}/{slide}.h5`` as CLAM's ``h5_files/{slide}.h5`` (datasets ``features``
    and ``coords``) and ``pt_files/{slide}.pt`` (the N x D float tensor); returns the slide names."""
    out_dir = Path(out_dir)
    names = []
    for path in map(Path, feature_files):
        with h5py.File(path, "r") as source:
            features, coords = source["features"][:], source["coords"][:]
            attrs = dict(source["features"].attrs)
        with atomic_path(out_dir / "h5_files" / path.name) as tmp, h5py.File(tmp, "w") as target:
            target.create_dataset("features", data=features)
            target.create_dataset("coords", data=coords)
            target["features"].attrs.update(attrs)
        with atomic_path(out_dir / "pt_files" / f"{path.stem}.pt") as tmp:
            torch.save(torch.from_numpy(features), tmp)
        names.append(path.stem)
    return names
