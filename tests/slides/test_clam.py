"""Interoperability with CLAM, TRIDENT, MCAT and MOTCat: our tile and feature files, and the export, read back by
loaders written to the peers' documented layouts (file names, dataset keys, coordinate attributes)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import openslide
import pytest
import torch

from memamba.errors import MemambaError
from memamba.slides.clam import export_clam
from memamba.slides.extract import ExtractParams, extract_features, write_features
from memamba.slides.reader import open_slide, read_region_rgb
from memamba.slides.segment import SegmentParams, segment_slide
from memamba.slides.tile import TileParams, tile_slide, write_patches

MCAT_SLIDE_ID = "TCGA-AA-0001-01Z-00-DX1.0A1B2C3D.svs"  # as MCAT's tables name slides


def clam_bag_patches(coords_h5: Path, slide_path: Path) -> list[np.ndarray]:
    """What CLAM's ``Whole_Slide_Bag_FP`` (dataset_modules/dataset_h5.py) reads: ``patch_size`` pixels at ``patch_level``
    for every row of ``coords``."""
    with h5py.File(coords_h5, "r") as h5:
        level, size = h5["coords"].attrs["patch_level"], h5["coords"].attrs["patch_size"]
        coords = h5["coords"][:]
    wsi = openslide.OpenSlide(str(slide_path))
    return [np.array(wsi.read_region(tuple(int(v) for v in c), int(level), (int(size), int(size))).convert("RGB")) for c in coords]


def mcat_pt_bag(data_dir: Path, slide_id: str) -> torch.Tensor:
    """What MCAT's and MOTCat's ``Generic_MIL_Survival_Dataset`` loads for one slide of their table (their file name
    is ``slide_id.rstrip('.svs')``, character stripping included)."""
    name = slide_id.rstrip(".svs")  # noqa: B005 - the peers' own expression, reproduced on purpose
    return torch.load(os.path.join(data_dir, "pt_files", f"{name}.pt"), weights_only=True)


def our_patches(patches_h5: Path, slide_path: Path) -> list[np.ndarray]:
    """Our own reading of the same patches (extract's reader, before resizing)."""
    with h5py.File(patches_h5, "r") as h5:
        attrs, coords = dict(h5["coords"].attrs), h5["coords"][:]
    with open_slide(slide_path) as slide:
        return [read_region_rgb(slide, slide_path, tuple(int(v) for v in c), int(attrs["read_level"]),
                                (int(attrs["read_size"]),) * 2) for c in coords]


def _tiled(slide: Path, folder: Path, target_mpp: float, name: str = "S1") -> Path:
    polygons = segment_slide(slide, SegmentParams(seg_mpp=4.0, min_tissue_area_mm2=0.005)).polygons
    params = TileParams(target_mpp=target_mpp, patch_size=32)
    out = folder / f"{name}.h5"
    write_patches(tile_slide(slide, polygons, params), out, params, [slide])
    return out


@pytest.mark.parametrize("target_mpp, level", [(0.5, 0), (2.0, 1)])
def test_clams_reader_reads_our_patch_where_the_slide_has_a_level_at_the_target(demo_slide: Path, tmp_path: Path,
                                                                                 target_mpp: float, level: int) -> None:
    patches = _tiled(demo_slide, tmp_path, target_mpp)
    with h5py.File(patches) as h5:
        attrs = dict(h5["coords"].attrs)
        assert len(h5["coords"]) > 0
    assert attrs["patch_level"] == level and attrs["patch_size"] == 32 and attrs["name"] == "S1"
    assert attrs["level0_magnification"] == 20 and attrs["target_magnification"] == {0.5: 20, 2.0: 5}[target_mpp]
    assert attrs["patch_size_level0"] == 32 * attrs["level0_magnification"] // attrs["target_magnification"]
    for theirs, ours in zip(clam_bag_patches(patches, demo_slide), our_patches(patches, demo_slide)):
        np.testing.assert_array_equal(theirs, ours)


def test_without_a_level_at_the_target_clam_gets_its_own_convention_from_the_export(demo_slide: Path, tmp_path: Path) -> None:
    patches = _tiled(demo_slide, tmp_path, 1.0, name=MCAT_SLIDE_ID)
    with h5py.File(patches) as h5:
        attrs = dict(h5["coords"].attrs)
    assert attrs["read_size"] == 64 and "patch_level" not in attrs, "CLAM would read 32 px at level 0: a quarter of the patch"
    params = ExtractParams(batch_size=8)
    features = tmp_path / "features" / f"{MCAT_SLIDE_ID}.h5"
    write_features(features, extract_features(demo_slide, patches, params, "cpu", progress=False), params, [demo_slide, patches])
    assert export_clam([features], tmp_path / "clam") == ["TCGA-AA-0001-01Z-00-DX1.0A1B2C3D"]
    clam_patches = tmp_path / "clam" / "patches" / "TCGA-AA-0001-01Z-00-DX1.0A1B2C3D.h5"
    for theirs, ours in zip(clam_bag_patches(clam_patches, demo_slide), our_patches(patches, demo_slide), strict=True):
        assert theirs.shape == (64, 64, 3)
        np.testing.assert_array_equal(theirs, ours)


def test_export_is_found_by_mcats_loader_and_carries_tridents_attributes(demo_slide: Path, tmp_path: Path) -> None:
    patches = _tiled(demo_slide, tmp_path, 0.5, name=MCAT_SLIDE_ID)
    params = ExtractParams(batch_size=8)
    features = tmp_path / "features" / f"{MCAT_SLIDE_ID}.h5"
    write_features(features, extract_features(demo_slide, patches, params, "cpu", progress=False), params, [demo_slide, patches])
    export_clam([features], tmp_path / "clam")
    with h5py.File(features) as h5:
        ours, coords = h5["features"][:], h5["coords"][:]
    np.testing.assert_array_equal(mcat_pt_bag(tmp_path / "clam", MCAT_SLIDE_ID).numpy(), ours)
    stem = "TCGA-AA-0001-01Z-00-DX1.0A1B2C3D"
    assert sorted(p.name for p in (tmp_path / "clam").rglob("*.*")) == [f"{stem}.h5", f"{stem}.h5", f"{stem}.pt"]
    with h5py.File(tmp_path / "clam" / "h5_files" / f"{stem}.h5") as h5:
        np.testing.assert_array_equal(h5["features"][:], ours)
        np.testing.assert_array_equal(h5["coords"][:], coords)
        attrs = dict(h5["coords"].attrs)
    assert {k: attrs[k] for k in ("patch_size", "patch_size_level0", "level0_magnification", "target_magnification", "patch_level",
                                  "name")} == {"patch_size": 32, "patch_size_level0": 32, "level0_magnification": 20,
                                               "target_magnification": 20, "patch_level": 0, "name": stem}


def test_export_refuses_feature_files_without_tiling_attributes(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "S1.h5", "w") as h5:
        h5.create_dataset("features", data=np.zeros((2, 4), np.float32))
        h5.create_dataset("coords", data=np.zeros((2, 2), np.int64))
    with pytest.raises(MemambaError, match=r"S1.h5: its coords lack the tiling attributes .*Fix: re-extract"):
        export_clam([tmp_path / "S1.h5"], tmp_path / "clam")
    assert not (tmp_path / "clam" / "h5_files").exists()
