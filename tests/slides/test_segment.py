import json
import logging
from pathlib import Path

import numpy as np
import pytest

from conftest import CMU_SLIDE, GENERIC_TIFF, needs_shared
from memamba.demo.svs import write_svs
from memamba.slides.reader import SlideError
from memamba.slides.segment import SegmentParams, read_polygons, segment_slide, write_segmentation

PARAMS = SegmentParams(seg_mpp=4.0, median_kernel=5, close_kernel=3, min_tissue_area_mm2=0.005, min_hole_area_mm2=0.001)


def test_demo_slide_has_tissue_written_as_geojson_in_level0_pixels(demo_slide: Path, tmp_path: Path) -> None:
    result = segment_slide(demo_slide, PARAMS)
    assert result.polygons and result.mpp.mpp == 0.5 and result.mpp.source == "vendor metadata"
    write_segmentation(result, demo_slide, PARAMS, tmp_path / "s.geojson", tmp_path / "s.png")
    data = json.loads((tmp_path / "s.geojson").read_text())
    assert data["type"] == "FeatureCollection" and data["properties"]["level0_mpp"] == 0.5
    ring = np.asarray(data["features"][0]["geometry"]["coordinates"][0])
    assert (ring[0] == ring[-1]).all()
    assert ring.max() <= 512 and ring.min() >= 0 and np.ptp(ring[:, 0]) > 64
    assert (tmp_path / "s.png").stat().st_size > 0
    assert len(read_polygons(tmp_path / "s.geojson")) == len(result.polygons)


def test_blank_slide_yields_zero_tissue_and_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "blank.svs"
    write_svs(path, np.full((512, 512, 3), 242, np.uint8), mpp=0.5)
    with caplog.at_level(logging.WARNING):
        result = segment_slide(path, PARAMS)
    assert result.polygons == []
    assert "no tissue found" in caplog.text and "blank.svs" in caplog.text
    write_segmentation(result, path, PARAMS, tmp_path / "blank.geojson", tmp_path / "blank.png")
    strict = json.loads((tmp_path / "blank.geojson").read_text(), parse_constant=lambda name: pytest.fail(f"bare {name}"))
    assert strict["features"] == [] and strict["properties"]["otsu_threshold"] is None
    assert read_polygons(tmp_path / "blank.geojson") == []


def test_physical_area_filter_drops_small_regions(demo_slide: Path) -> None:
    huge_minimum = SegmentParams(seg_mpp=4.0, min_tissue_area_mm2=10.0)
    assert segment_slide(demo_slide, huge_minimum).polygons == []


def test_corrupt_slide_error_names_file_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.svs"
    path.write_bytes(b"II*\x00" + b"\x00" * 100)
    with pytest.raises(SlideError) as error:
        segment_slide(path, PARAMS)
    assert "corrupt.svs" in str(error.value) and "Fix:" in str(error.value)


@needs_shared
def test_real_aperio_slide_has_tissue() -> None:
    result = segment_slide(CMU_SLIDE, SegmentParams())
    assert abs(result.mpp.mpp - 0.499) < 1e-6
    assert result.polygons
    area_px = sum(np.ptp(rings[0][:, 0]) * np.ptp(rings[0][:, 1]) for rings in result.polygons)
    assert area_px > 0.1 * 2220 * 2967


@needs_shared
def test_generic_tiff_with_a_default_dpi_is_refused_unless_the_sheet_gives_the_mpp() -> None:
    with pytest.raises(SlideError) as error:
        segment_slide(GENERIC_TIFF, SegmentParams())
    message = str(error.value)
    assert "CropBreastSlide.tiff" in message and "264.6 microns per pixel" in message
    assert "96 per inch" in message and "'mpp' column" in message
    result = segment_slide(GENERIC_TIFF, SegmentParams(), mpp_override=0.5)
    assert result.mpp.source == "override (sample sheet or --mpp)" and result.polygons
