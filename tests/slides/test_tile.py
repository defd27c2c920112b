from pathlib import Path

import h5py
import numpy as np

from conftest import CMU_SLIDE, needs_shared
from memamba.slides.segment import SegmentParams, segment_slide
from memamba.slides.tile import TileParams, rasterise, tile_slide, tissue_fractions, write_patches


def test_square_polygon_with_hole_gives_expected_fractions() -> None:
    outer = np.array([[0, 0], [400, 0], [400, 400], [0, 400]], float)
    hole = np.array([[100, 100], [300, 100], [300, 300], [100, 300]], float)
    mask = rasterise([[outer, hole]], (800, 800), 4.0)
    coords = np.array([[0, 0], [100, 100], [500, 500]])
    fractions = tissue_fractions(mask, 4.0, coords, 100)
    assert fractions[0] > 0.95 and fractions[1] < 0.05 and fractions[2] == 0


def test_demo_slide_patches_at_physical_resolution(demo_slide: Path, tmp_path: Path) -> None:
    polygons = segment_slide(demo_slide, SegmentParams(seg_mpp=4.0, min_tissue_area_mm2=0.005)).polygons
    params = TileParams(target_mpp=1.0, patch_size=32, min_tissue_fraction=0.5)
    grid = tile_slide(demo_slide, polygons, params)
    assert grid.patch_size_level0 == 64 and grid.read_level == 0 and grid.read_size == 64
    assert len(grid.coords) > 5
    assert (grid.coords % 64 == 0).all() and (grid.coords + 64 <= 512).all()
    write_patches(grid, tmp_path / "p.h5", params, [demo_slide])
    with h5py.File(tmp_path / "p.h5") as h5:
        assert h5["coords"].shape == (len(grid.coords), 2)
        attrs = h5["coords"].attrs
        assert attrs["target_mpp"] == 1.0 and attrs["patch_size"] == 32 and attrs["slide_mpp"] == 0.5
        assert attrs["mpp_source"] == "vendor metadata"


def test_overlap_adds_patches(demo_slide: Path) -> None:
    polygons = segment_slide(demo_slide, SegmentParams(seg_mpp=4.0, min_tissue_area_mm2=0.005)).polygons
    plain = tile_slide(demo_slide, polygons, TileParams(target_mpp=1.0, patch_size=32))
    overlapping = tile_slide(demo_slide, polygons, TileParams(target_mpp=1.0, patch_size=32, overlap=0.5))
    assert len(overlapping.coords) > 3 * len(plain.coords)


def test_no_tissue_means_no_patches(demo_slide: Path) -> None:
    assert len(tile_slide(demo_slide, [], TileParams()).coords) == 0


@needs_shared
def test_real_slide_tiles_at_half_micron() -> None:
    grid = tile_slide(CMU_SLIDE, segment_slide(CMU_SLIDE, SegmentParams()).polygons, TileParams())
    assert grid.patch_size_level0 == round(256 * 0.5 / 0.499)
    assert 20 < len(grid.coords) < (2220 // 256) * (2967 // 256)
