"""Reading per-slide patch-feature files (``features/{encoder}/{slide}.h5``)."""

from __future__ import annotations

import os

import h5py
import numpy as np


def read_features(path: str | os.PathLike) -> np.ndarray:
    """The ``features`` matrix of one slide (N x D, float32)."""
    with h5py.File(path, "r") as h5:
        return h5["features"][:]
