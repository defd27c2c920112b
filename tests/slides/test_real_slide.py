"""Issue 3's acceptance on the real Aperio slide CMU-1-Small-Region.svs: tissue, QC overlay, patches on tissue,
features for every registered encoder (random weights), a readable CLAM export."""

from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import torch

from conftest import CMU_SLIDE, needs_shared
from memamba.slides.clam import export_clam
from memamba.slides.encoder_registry import encoder_dim, list_encoders
from memamba.slides.encoders import build_encoder
from memamba.slides.extract import ExtractParams, extract_features, write_features
from memamba.slides.segment import SegmentParams, segment_slide, write_segmentation
from memamba.slides.tile import TileParams, rasterise, tile_slide, tissue_fractions, write_patches

pytestmark = needs_shared
SMALL = {name: {"depth": 1} for name in ("uni", "uni2-h", "virchow2", "h-optimus-0", "gigapath", "conch", "conch-v1.5")}
DIMS = {"demo-stats": 16, "resnet50-trunc": 1024, "uni": 1024, "uni2-h": 1536, "ctranspath": 768,  # published widths
        "virchow2": 2560, "h-optimus-0": 1536, "gigapath": 1536, "conch": 512, "conch-v1.5": 768}


@pytest.fixture(scope="module")
def cmu(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("cmu")
    params = SegmentParams()
    tissue = segment_slide(CMU_SLIDE, params)
    write_segmentation(tissue, CMU_SLIDE, params, out / "CMU-1.geojson", out / "CMU-1.png")
    tile = TileParams()
    grid = tile_slide(CMU_SLIDE, tissue.polygons, tile)
    write_patches(grid, out / "CMU-1.h5", tile, [CMU_SLIDE])
    return {"out": out, "tissue": tissue, "grid": grid}


def test_tissue_is_found_and_outlined_in_the_qc_overlay(cmu: dict) -> None:
    assert cmu["tissue"].mpp.source == "vendor metadata" and len(cmu["tissue"].polygons) >= 1
    overlay = cv2.imread(str(cmu["out"] / "CMU-1.png"))
    assert max(overlay.shape[:2]) >= 500
    outline = (overlay[..., 1] == 160) & (overlay[..., 0] == 0) & (overlay[..., 2] == 0)
    assert outline.sum() > 500


def test_patches_are_half_micron_and_lie_on_tissue(cmu: dict) -> None:
    grid = cmu["grid"]
    assert grid.read_level == 0 and grid.patch_size_level0 == 257 and len(grid.coords) >= 30
    scale = 4.0
    mask = rasterise(cmu["tissue"].polygons, grid.dimensions, scale)
    fractions = tissue_fractions(mask, scale, grid.coords, grid.patch_size_level0)
    assert fractions.min() >= 0.45 and fractions.mean() >= 0.8  # tiling decides on a coarser mask (16 samples a side)
    all_patches = np.stack(np.meshgrid(np.arange(0, 2220 - 257, 257), np.arange(0, 2967 - 257, 257)), -1).reshape(-1, 2)
    assert len(grid.coords) < len(all_patches)


@pytest.mark.parametrize("name", list_encoders())
def test_every_registered_encoder_writes_features_and_clam_reads_them(cmu: dict, name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    weighted = name != "demo-stats"
    encoder = build_encoder(name, random_weights=weighted, **SMALL.get(name, {}))
    params = ExtractParams(encoder=name, batch_size=16)
    result = extract_features(CMU_SLIDE, cmu["out"] / "CMU-1.h5", params, device="cpu", progress=False, encoder=encoder)
    assert result.features.shape == (len(cmu["grid"].coords), DIMS[name]) and np.isfinite(result.features).all()
    assert encoder_dim(name) == DIMS[name]
    write_features(tmp_path / f"{name}" / "CMU-1.h5", result, params, [CMU_SLIDE, cmu["out"] / "CMU-1.h5"])
    export_clam([tmp_path / f"{name}" / "CMU-1.h5"], tmp_path / "clam")
    with h5py.File(tmp_path / "clam" / "h5_files" / "CMU-1.h5") as h5:
        np.testing.assert_array_equal(h5["coords"][:], cmu["grid"].coords)
        assert h5["features"].attrs["encoder"] == name
    pt = torch.load(tmp_path / "clam" / "pt_files" / "CMU-1.pt", weights_only=True)
    np.testing.assert_array_equal(pt.numpy(), result.features)
