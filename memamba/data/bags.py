"""Per-slide patch-feature files: ours (``features/{encoder}/{slide}.h5``) and ready-made ones from CLAM or TRIDENT.

A folder of ready-made features holds one file per slide, either directly or in CLAM's ``h5_files/`` and
``pt_files/`` sub-folders: an HDF5 file with a ``features`` dataset (N x D; TRIDENT and CLAM also store
``coords``), or a ``.pt`` file holding the N x D tensor (CLAM's ``pt_files``, which MCAT and MOTCat read).
Files are named by the slide: the slide id itself, or the id without its slide-file extension
(``X.svs`` -> ``X.h5``, as CLAM names them).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import h5py
import numpy as np

from memamba.errors import MemambaError

SLIDE_EXTENSIONS = (".svs", ".ndpi", ".tif", ".tiff", ".mrxs", ".scn", ".bif", ".vms", ".vmu", ".svslide", ".dcm", ".czi")
FEATURE_LOCATIONS = ("{name}.h5", "h5_files/{name}.h5", "{name}.pt", "pt_files/{name}.pt")


def slide_stem(slide_id: str) -> str:
    """``slide_id`` without a trailing slide-file extension (``TCGA-...-DX1.UUID.svs`` -> ``TCGA-...-DX1.UUID``)."""
    lower = slide_id.lower()
    for extension in SLIDE_EXTENSIONS:
        if lower.endswith(extension) and len(slide_id) > len(extension):
            return slide_id[: -len(extension)]
    return slide_id


def feature_file(folder: str | os.PathLike, slide_id: str) -> Path | None:
    """The feature file of ``slide_id`` in ``folder`` (see the module docstring for the names looked for), or None.

    HDF5 wins over ``.pt`` and the exact slide id over its stem."""
    folder = Path(folder)
    for name in dict.fromkeys((slide_id, slide_stem(slide_id))):
        for pattern in FEATURE_LOCATIONS:
            candidate = folder / pattern.format(name=name)
            if candidate.is_file():
                return candidate
    return None


def feature_files(folder: str | os.PathLike, slide_ids: list[str]) -> dict[str, Path]:
    """Each slide's feature file in ``folder``; a MemambaError lists the slides that have none, with the fix."""
    found = {slide: feature_file(folder, slide) for slide in slide_ids}
    missing = [slide for slide, path in found.items() if path is None]
    if missing:
        looked = ", ".join(p.format(name="SLIDE") for p in FEATURE_LOCATIONS)
        raise MemambaError(
            f"{folder}: no feature file for {len(missing)} of {len(slide_ids)} slide(s) of the slide sheet, e.g. "
            f"{missing[:5]} (looked for {looked}, SLIDE = the slide id with or without its extension). "
            "Fix: extract those slides' features, or remove their rows from the slide sheet.")
    return {slide: path for slide, path in found.items() if path is not None}


def read_features(path: str | os.PathLike) -> np.ndarray:
    """The N x D float32 feature matrix of one slide, from an HDF5 (``features``) or a ``.pt`` file.

    A leading batch axis of 1 (some CLAM versions) is dropped. ``.pt`` files are read with
    ``weights_only=True`` (never unpickled). Raises MemambaError for a file that holds no N x D matrix of
    finite numbers.
    """
    path = Path(path)
    try:
        if path.suffix == ".pt":
            import torch

            tensor = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(tensor, torch.Tensor):
                raise MemambaError(f"{path}: holds a {type(tensor).__name__}, not a tensor of patch features. "
                                   "Fix: save the N x D feature tensor itself (torch.save(features, path)), as CLAM does.")
            features = tensor.float().numpy()
        else:
            with h5py.File(path, "r") as h5:
                if "features" not in h5:
                    raise MemambaError(f"{path}: no 'features' dataset (found {sorted(h5)}). "
                                       "Fix: give CLAM/TRIDENT feature files (datasets 'features' and 'coords').")
                features = h5["features"][:]
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise MemambaError(f"{path}: cannot be read as a feature file ({exc}). Fix: re-create or re-copy it.") from exc
    if features.ndim == 3 and features.shape[0] == 1:
        features = features[0]
    if features.ndim != 2:
        raise MemambaError(f"{path}: features have shape {features.shape}, expected patches x dimensions. "
                           "Fix: give one N x D matrix per slide.")
    features = np.asarray(features, dtype=np.float32)
    if not np.isfinite(features).all():
        raise MemambaError(f"{path}: {int((~np.isfinite(features)).sum())} feature value(s) are NaN or infinite. "
                           "Fix: re-extract this slide's features.")
    return features
