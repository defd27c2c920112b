"""Every bad slide the issue lists: a clear error naming the slide and the fix, and nothing half-written."""

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

from conftest import SHARED_DATA, needs_shared
from memamba.demo.svs import render_slide, write_svs
from memamba.slides.extract import ExtractParams, extract_features
from memamba.slides.reader import SlideError, fluorescence_evidence, open_slide
from memamba.slides.segment import SegmentParams, segment_slide
from memamba.slides.tiatoolbox_reader import tiatoolbox_available
from memamba.slides.tile import TileParams, tile_slide, write_patches

SEGMENT = SegmentParams(seg_mpp=4.0, median_kernel=5, close_kernel=3, min_tissue_area_mm2=0.005, min_hole_area_mm2=0.001)
TILE = TileParams(target_mpp=1.0, patch_size=64)
needs_tiatoolbox = pytest.mark.skipif(not tiatoolbox_available(),
                                      reason="tiatoolbox extra not installed (pip install 'memamba[tiatoolbox]')")
without_tiatoolbox = pytest.mark.skipif(tiatoolbox_available(), reason="tests the message shown when tiatoolbox is absent")


@pytest.fixture(scope="module")
def good_svs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad") / "good.svs"
    write_svs(path, render_slide(np.random.default_rng(0), 1.0, 1024)[0], mpp=0.5)
    return path


def _patches(slide: Path, out: Path) -> Path:
    grid = tile_slide(slide, segment_slide(slide, SEGMENT).polygons, TILE)
    write_patches(grid, out, TILE, [slide])
    return out


def _with_damaged_level0_tile(source: Path, target: Path, tile_index: int) -> Path:
    with tifffile.TiffFile(source) as tif:
        offset, length = tif.pages[0].dataoffsets[tile_index], tif.pages[0].databytecounts[tile_index]
    data = bytearray(source.read_bytes())
    data[offset:offset + length] = b"\xff" * length
    target.write_bytes(bytes(data))
    return target


def test_a_file_that_is_not_a_slide(tmp_path: Path) -> None:
    path = tmp_path / "notes.svs"
    path.write_text("patient notes, not an image\n")
    with pytest.raises(SlideError, match=r"notes\.svs: .*read this file.*Fix: "):
        open_slide(path)


def test_a_truncated_slide(good_svs: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.svs"
    path.write_bytes(good_svs.read_bytes()[: good_svs.stat().st_size * 4 // 10])
    with pytest.raises(SlideError, match=r"truncated\.svs: .*re-copy or re-download"):
        segment_slide(path, SEGMENT)


@without_tiatoolbox
def test_a_format_only_tiatoolbox_reads_says_how_to_install_it(tmp_path: Path) -> None:
    path = tmp_path / "stripped.tif"
    tifffile.imwrite(path, np.full((300, 400, 3), 200, np.uint8), photometric="rgb")
    with pytest.raises(SlideError, match=r"stripped\.tif: .*pip install 'memamba\[tiatoolbox\]'"):
        open_slide(path)


@pytest.mark.parametrize("name,image,options", [
    ("fluorescence16.tif", np.zeros((512, 512), np.uint16), {"photometric": "minisblack"}),
    ("multiplex.tif", np.zeros((5, 512, 512), np.uint8), {"photometric": "minisblack", "planarconfig": "separate"}),
])
def test_non_rgb_slides_are_refused_before_openslide_invents_colours(tmp_path: Path, name: str, image: np.ndarray,
                                                                     options: dict) -> None:
    path = tmp_path / name
    tifffile.imwrite(path, image, tile=(256, 256), resolution=(20000, 20000), resolutionunit="CENTIMETER", **options)
    with pytest.raises(SlideError, match=rf"{name}: not a brightfield RGB slide: .*photometric MINISBLACK.*Fix: remove its row"):
        segment_slide(path, SEGMENT)


@needs_shared
def test_a_fluorescence_ndpi_stored_as_rgb_is_refused_from_its_vendor_metadata() -> None:
    path = SHARED_DATA / "slides" / "fluorescence-DAPI-40x.ndpi"
    with pytest.raises(SlideError, match=r"fluorescence-DAPI-40x\.ndpi: not a brightfield slide: its hamamatsu metadata "
                                         r"describe a fluorescence scan \(excitation wavelength 387 nm, channel 'DAPI 2 "
                                         r"\(387\)'.*Fix: remove its row"):
        segment_slide(path, SEGMENT)


def test_fluorescence_evidence_reads_the_vendors_illumination_and_ignores_brightfield() -> None:
    assert fluorescence_evidence({"leica.illumination-source": "fluorescence"}) == \
        "leica.illumination-source = fluorescence"
    assert fluorescence_evidence({"leica.illumination-source": "brightfield", "aperio.AppMag": "20"}) is None
    assert fluorescence_evidence({"hamamatsu.;NDP Shading Data\r;Version": "0004\r;ExcitationWaveLength=0\r"}) is None


def test_a_tile_that_fails_to_decode_stops_the_slide_with_its_position(good_svs: Path, tmp_path: Path) -> None:
    damaged = _with_damaged_level0_tile(good_svs, tmp_path / "damaged.svs", tile_index=6)
    patches = _patches(damaged, tmp_path / "damaged.h5")
    with pytest.raises(SlideError, match=r"damaged\.svs: the region at level-0 \(512, 256\), level 0.*cannot be decoded"):
        extract_features(damaged, patches, ExtractParams(), device="cpu", progress=False)


def test_skip_policy_drops_exactly_the_patches_on_the_damaged_tile(good_svs: Path, tmp_path: Path) -> None:
    damaged = _with_damaged_level0_tile(good_svs, tmp_path / "damaged.svs", tile_index=6)
    patches = _patches(damaged, tmp_path / "damaged.h5")
    with h5py.File(patches) as h5:
        coords = h5["coords"][:]
    on_tile = (coords[:, 0] + 128 > 512) & (coords[:, 0] < 768) & (coords[:, 1] + 128 > 256) & (coords[:, 1] < 512)
    assert on_tile.sum() >= 1
    params = ExtractParams(on_unreadable_patch="skip", num_workers=2, batch_size=4)
    result = extract_features(damaged, patches, params, device="cpu", progress=False)
    assert sorted(map(tuple, result.skipped_coords)) == sorted(map(tuple, coords[on_tile]))
    assert len(result.features) == len(result.coords) == (~on_tile).sum()
    reference = extract_features(good_svs, patches, ExtractParams(), device="cpu", progress=False)
    np.testing.assert_allclose(result.features, reference.features[~on_tile], rtol=1e-5)


def test_command_line_error_is_one_line_and_writes_nothing(good_svs: Path, tmp_path: Path) -> None:
    damaged = _with_damaged_level0_tile(good_svs, tmp_path / "damaged.svs", tile_index=6)
    patches = _patches(damaged, tmp_path / "damaged.h5")
    out = tmp_path / "features" / "damaged.h5"
    run = subprocess.run([sys.executable, "-m", "memamba.cli", "extract", str(damaged), "--patches", str(patches),
                          "-o", str(out), "--quiet", "--encoder", "demo-stats"], capture_output=True, text=True, check=False)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("memamba extract: error: ") and "damaged.svs" in run.stderr
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@needs_tiatoolbox
def test_tiatoolbox_reads_what_openslide_cannot(tmp_path: Path) -> None:
    path = tmp_path / "stripped.tif"
    image = np.full((1200, 1600, 3), 240, np.uint8)
    image[300:900, 400:1200] = (170, 70, 150)
    tifffile.imwrite(path, image, photometric="rgb")
    with open_slide(path) as slide:
        assert slide.properties["openslide.vendor"] == "tiatoolbox" and slide.dimensions == (1600, 1200)
        region = np.asarray(slide.read_region((1500, 1100), 0, (200, 200)))
        assert region.shape == (200, 200, 4) and (region[:100, :100, 3] == 255).all() and (region[150:, 150:, 3] == 0).all()
    with pytest.raises(SlideError, match="'mpp' column"):
        segment_slide(path, SEGMENT)
    result = segment_slide(path, SEGMENT, mpp_override=0.5)
    assert result.mpp.source == "override (sample sheet or --mpp)" and len(result.polygons) == 1
    grid = tile_slide(path, result.polygons, TILE, mpp_override=0.5)
    assert len(grid.coords) and (grid.coords[:, 0] >= 300).all() and (grid.coords[:, 0] + 128 <= 1300).all()


@needs_tiatoolbox
@pytest.mark.parametrize("method", ["tiatoolbox-otsu", "tiatoolbox-morphological"])
def test_tiatoolbox_maskers_find_the_same_tissue(good_svs: Path, method: str) -> None:
    clam = segment_slide(good_svs, SEGMENT)
    other = segment_slide(good_svs, SegmentParams(**{**SEGMENT.__dict__, "method": method}))
    clam_area = sum(abs(np.ptp(r[0][:, 0]) * np.ptp(r[0][:, 1])) for r in clam.polygons)
    other_area = sum(abs(np.ptp(r[0][:, 0]) * np.ptp(r[0][:, 1])) for r in other.polygons)
    assert other.polygons and 0.5 < other_area / clam_area < 2.0


@without_tiatoolbox
def test_tiatoolbox_masker_without_the_extra_says_how_to_get_it(good_svs: Path) -> None:
    with pytest.raises(SlideError, match=r"needs tiatoolbox.*pip install 'memamba\[tiatoolbox\]'.*segment.method: clam"):
        segment_slide(good_svs, SegmentParams(method="tiatoolbox-otsu"))
