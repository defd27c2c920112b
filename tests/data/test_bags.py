"""Per-slide feature files: ours, CLAM's and TRIDENT's layouts found by slide id, read safely, bad files refused."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from memamba.data.bags import feature_file, feature_files, read_features
from memamba.errors import MemambaError
from memamba.identifiers import slide_stem


def _h5(path: Path, features: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as h5:
        h5.create_dataset("features", data=features)
        h5.create_dataset("coords", data=np.zeros((features.shape[-2], 2), np.int64))
    return path


def _pt(path: Path, value: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(value, path)
    return path


def test_slide_stem_drops_only_a_slide_extension() -> None:
    assert slide_stem("TCGA-2F-A9KO-01Z-00-DX1.195576CF-B739.svs") == "TCGA-2F-A9KO-01Z-00-DX1.195576CF-B739"
    assert slide_stem("case.7.NDPI") == "case.7" and slide_stem("S1") == "S1" and slide_stem(".svs") == ".svs"


def test_files_are_found_flat_or_in_clams_folders_by_id_or_stem(tmp_path: Path) -> None:
    flat = _h5(tmp_path / "A.h5", np.ones((3, 4), np.float32))
    clam_h5 = _h5(tmp_path / "h5_files" / "B.h5", np.ones((3, 4), np.float32))
    clam_pt = _pt(tmp_path / "pt_files" / "C.pt", torch.ones(3, 4))
    both = _pt(tmp_path / "pt_files" / "D.pt", torch.ones(3, 4))
    _h5(tmp_path / "h5_files" / "D.h5", np.ones((3, 4), np.float32))
    assert feature_file(tmp_path, "A") == flat and feature_file(tmp_path, "B.svs") == clam_h5
    assert feature_file(tmp_path, "C.svs") == clam_pt and feature_file(tmp_path, "Z") is None
    assert feature_file(tmp_path, "D") == tmp_path / "h5_files" / "D.h5" != both
    with pytest.raises(MemambaError, match=r"no feature file for 2 of 3 slide\(s\).*\['Y', 'Z'\].*Fix: extract"):
        feature_files(tmp_path, ["A", "Y", "Z"])


def test_pt_and_h5_read_the_same_matrix(tmp_path: Path) -> None:
    matrix = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    np.testing.assert_array_equal(read_features(_pt(tmp_path / "a.pt", torch.from_numpy(matrix))), matrix)
    np.testing.assert_array_equal(read_features(_h5(tmp_path / "a.h5", matrix)), matrix)
    np.testing.assert_array_equal(read_features(_h5(tmp_path / "b.h5", matrix[None])), matrix)
    assert read_features(_pt(tmp_path / "half.pt", torch.from_numpy(matrix).half())).dtype == np.float32


def test_pickles_are_never_run_and_bad_files_are_named(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self):
            return (Path(tmp_path / "PWNED").touch, ())

    hostile = tmp_path / "hostile.pt"
    hostile.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(MemambaError, match="hostile.pt: cannot be read as a feature file"):
        read_features(hostile)
    assert not (tmp_path / "PWNED").exists()
    with pytest.raises(MemambaError, match=r"dict\.pt: holds a dict, not a tensor"):
        read_features(_pt(tmp_path / "dict.pt", {"features": torch.ones(2, 2)}))
    with pytest.raises(MemambaError, match=r"nan\.h5: 1 feature value\(s\) are NaN"):
        read_features(_h5(tmp_path / "nan.h5", np.array([[1.0, np.nan]], np.float32)))
    with pytest.raises(MemambaError, match=r"flat\.pt: features have shape \(4,\)"):
        read_features(_pt(tmp_path / "flat.pt", torch.ones(4)))
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(MemambaError, match=r"text\.h5: cannot be read"):
        read_features(tmp_path / "text.h5")
    with h5py.File(tmp_path / "nofeat.h5", "w") as h5:
        h5.create_dataset("coords", data=np.zeros((1, 2)))
    with pytest.raises(MemambaError, match=r"nofeat\.h5: no 'features' dataset \(found \['coords'\]\)"):
        read_features(tmp_path / "nofeat.h5")
