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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import h5py
import numpy as np

from memamba.errors import MemambaError
from memamba.identifiers import slide_stem

T = TypeVar("T")

FEATURE_LOCATIONS = ("{name}.h5", "h5_files/{name}.h5", "{name}.pt", "pt_files/{name}.pt")


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


def _load_matrix(path: Path, mmap: bool) -> np.ndarray | h5py.Dataset:
    """The stored feature matrix: a NumPy array from a ``.pt`` file (memory-mapped with ``mmap``), else the HDF5 dataset."""
    if path.suffix == ".pt":
        import torch

        try:
            tensor = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except RuntimeError:
            if not mmap:
                raise
            tensor = torch.load(path, map_location="cpu", weights_only=True)     # the legacy format cannot be mapped
        if not isinstance(tensor, torch.Tensor):
            raise MemambaError(f"{path}: holds a {type(tensor).__name__}, not a tensor of patch features. "
                               "Fix: save the N x D feature tensor itself (torch.save(features, path)), as CLAM does.")
        return tensor.numpy() if tensor.dtype != torch.bfloat16 else tensor.float().numpy()
    h5 = h5py.File(path, "r")
    if "features" not in h5:
        found = sorted(h5)
        h5.close()
        raise MemambaError(f"{path}: no 'features' dataset (found {found}). "
                           "Fix: give CLAM/TRIDENT feature files (datasets 'features' and 'coords').")
    return h5["features"]


def _checked_shape(path: Path, shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 3 and shape[0] == 1:
        shape = shape[1:]
    if len(shape) != 2:
        raise MemambaError(f"{path}: features have shape {tuple(shape)}, expected patches x dimensions. "
                           "Fix: give one N x D matrix per slide.")
    return int(shape[0]), int(shape[1])


def _readable(path: str | os.PathLike, read: Callable[[Path, np.ndarray | h5py.Dataset], T], mmap: bool) -> T:
    """``read(path, matrix)`` on the file's stored matrix, its read errors turned into a MemambaError naming the file."""
    path = Path(path)
    try:
        matrix = _load_matrix(path, mmap)
        try:
            return read(path, matrix)
        finally:
            if isinstance(matrix, h5py.Dataset):
                matrix.file.close()
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise MemambaError(f"{path}: cannot be read as a feature file ({exc}). Fix: re-create or re-copy it.") from exc


def feature_shape(path: str | os.PathLike) -> tuple[int, int]:
    """(patches, dimensions) of one slide's feature file, read from its header without loading the features."""
    return _readable(path, lambda where, matrix: _checked_shape(where, matrix.shape), mmap=True)


def read_features(path: str | os.PathLike) -> np.ndarray:
    """The N x D float32 feature matrix of one slide, from an HDF5 (``features``) or a ``.pt`` file.

    A leading batch axis of 1 (some CLAM versions) is dropped; float16 files are widened. ``.pt`` files are read
    with ``weights_only=True`` (never unpickled). Raises MemambaError for a file that holds no N x D matrix of
    finite numbers.
    """
    def read(where: Path, matrix: np.ndarray | h5py.Dataset) -> np.ndarray:
        shape = _checked_shape(where, matrix.shape)
        return np.asarray(matrix[:], dtype=np.float32).reshape(shape)

    features = _readable(path, read, mmap=False)
    if not np.isfinite(features).all():
        raise MemambaError(f"{path}: {int((~np.isfinite(features)).sum())} feature value(s) are NaN or infinite. "
                           "Fix: re-extract this slide's features.")
    return features


@dataclass
class PatchBags:
    """Every patient's bag of patch features, left on disk: per patient the feature files of its slides (none for a
    patient without slides), read and joined only when :meth:`read` asks for that patient."""

    files: list[list[Path]]
    sizes: np.ndarray
    dim: int

    @classmethod
    def from_files(cls, files: list[list[Path]]) -> PatchBags:
        """Bags of these files, their sizes and common width read from the file headers; a MemambaError names a
        file of another width than the first."""
        shapes = {path: feature_shape(path) for paths in files for path in paths}
        if not shapes:
            raise MemambaError("no patient of the folds has a slide in the slide sheet. Fix: check the sheets' patient ids.")
        first, (_, dim) = next(iter(shapes.items()))
        for path, (_, width) in shapes.items():
            if width != dim:
                raise MemambaError(f"{path}: {width} features per patch, but {first} has {dim}. "
                                   "Fix: every slide of a cohort needs features from the same encoder.")
        return cls(files, np.array([sum(shapes[p][0] for p in paths) for paths in files], dtype=np.int64), dim)

    def __len__(self) -> int:
        return len(self.files)

    def encoder(self) -> str | None:
        """The encoder the feature files record (memamba's ``features`` attribute ``encoder``); None when no file
        records one (CLAM's, TRIDENT's, ``.pt`` files). A MemambaError names two files of different encoders."""
        recorded: dict[str, Path] = {}
        for path in (p for paths in self.files for p in paths if p.suffix == ".h5"):
            with h5py.File(path, "r") as h5:
                name = h5["features"].attrs.get("encoder")
            if name is not None:
                recorded.setdefault(str(name), path)
        if len(recorded) > 1:
            (first, one), (second, other) = list(recorded.items())[:2]
            raise MemambaError(f"{other}: features of encoder {second}, but {one} has {first}. "
                               "Fix: every slide of a cohort needs features from the same encoder.")
        return next(iter(recorded), None)

    def subset(self, rows: np.ndarray) -> PatchBags:
        """The bags of the patients at ``rows``, in that order."""
        return PatchBags([self.files[row] for row in rows], self.sizes[rows], self.dim)

    def read(self, index: int) -> np.ndarray:
        """The bag (N x D float32) of the patient at ``index``: its slides' patches in sheet order; (0, D) for none."""
        parts = [read_features(path) for path in self.files[index]]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)
