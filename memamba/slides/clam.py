"""Export features in CLAM's layout, for the peers' code: ``h5_files/{slide}.h5``, ``pt_files/{slide}.pt`` and
``patches/{slide}.h5``, named by the slide's stem (the id without ``.svs``), as MCAT's and MOTCat's loaders and
CLAM's scripts look them up."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import torch

from memamba.atomic import atomic_path
from memamba.errors import MemambaError
from memamba.identifiers import slide_stem
from memamba.tensor_files import save_tensors

TILING_ATTRIBUTES = ("read_level", "read_size", "patch_size_level0", "level0_magnification", "target_magnification")


def clam_patch_attributes(coords_attrs: dict, name: str) -> dict:
    """CLAM's attributes of a coordinate file for our patches: its readers read ``patch_size`` pixels at
    ``patch_level`` (and its extractor resizes them to the encoder's input), so ``patch_size`` is the size the
    patch has at the level it is read from, ``downsample`` that level's."""
    read_size = int(coords_attrs["read_size"])
    downsample = float(coords_attrs["patch_size_level0"]) / read_size
    return {"patch_level": int(coords_attrs["read_level"]), "patch_size": read_size,
            "downsample": np.array([downsample, downsample]), "name": name}


def export_clam(feature_files: list[str | os.PathLike], out_dir: str | os.PathLike) -> list[str]:
    """Write each ``features/{encoder}/{slide}.h5`` as ``h5_files/{stem}.h5`` (``features`` and ``coords``, the
    coordinates with CLAM's and TRIDENT's attributes, as TRIDENT writes its feature files), ``pt_files/{stem}.pt``
    (the N x D float tensor MCAT and MOTCat load) and ``patches/{stem}.h5`` (the coordinates in CLAM's convention,
    for CLAM's own feature extractor); returns the stems."""
    out_dir = Path(out_dir)
    names = []
    for path in map(Path, feature_files):
        name = slide_stem(path.stem)
        with h5py.File(path, "r") as source:
            features, coords = source["features"][:], source["coords"][:]
            feature_attrs, coords_attrs = dict(source["features"].attrs), dict(source["coords"].attrs)
        missing = [key for key in TILING_ATTRIBUTES if key not in coords_attrs]
        if missing:
            raise MemambaError(f"{path}: its coords lack the tiling attributes {missing} (features made before memamba "
                               "recorded them). Fix: re-extract the slide (memamba extract --force, or delete the file and "
                               "rerun the workflow).")
        with atomic_path(out_dir / "h5_files" / f"{name}.h5") as tmp, h5py.File(tmp, "w") as target:
            target.create_dataset("features", data=features)
            target.create_dataset("coords", data=coords)
            target["features"].attrs.update(feature_attrs)
            target["coords"].attrs.update({**coords_attrs, "name": name})
        with atomic_path(out_dir / "pt_files" / f"{name}.pt") as tmp:
            save_tensors(torch.from_numpy(features), tmp)
        with atomic_path(out_dir / "patches" / f"{name}.h5") as tmp, h5py.File(tmp, "w") as target:
            target.create_dataset("coords", data=coords)
            target["coords"].attrs.update(clam_patch_attributes(coords_attrs, name))
        names.append(name)
    return names
