from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import CMU_SLIDE, needs_shared
from memamba.errors import MemambaError
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


def test_a_polygon_outside_the_slide_is_named_with_its_file(demo_slide: Path) -> None:
    far = [[np.array([[0, 0], [1e300, 0], [1e300, 1e300]], float)]]
    with pytest.raises(MemambaError, match=r"mine\.geojson: a tissue polygon has the point \(1e\+300, 0\), outside the slide's "
                                           r"512 x 512 level-0 pixels\. Fix: "):
        tile_slide(demo_slide, far, TileParams(target_mpp=1.0, patch_size=32), polygons_from="mine.geojson")
    nearly = [[np.array([[-10, -10], [520, 0], [520, 520]], float)]]         # a hand-drawn outline a little past the edge
    assert len(tile_slide(demo_slide, nearly, TileParams(target_mpp=1.0, patch_size=32)).coords) > 0


def test_patches_smaller_than_a_level0_pixel_are_refused_before_laying_the_grid(demo_slide: Path) -> None:
    with pytest.raises(MemambaError, match=r"patches of 16 px at 0\.1 um/px are less than one level-0 pixel on this slide "
                                           r"\(20 um/px, from override .*\)\. Fix: check tile\.target_mpp"):
        tile_slide(demo_slide, [], TileParams(target_mpp=0.1, patch_size=16), mpp_override=20.0)
