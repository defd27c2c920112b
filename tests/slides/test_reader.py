import logging
from pathlib import Path

import numpy as np
import pytest
import tifffile

from conftest import GENERIC_TIFF, needs_shared
from memamba.demo.svs import write_svs
from memamba.slides.reader import SlideError, open_slide, resolve_mpp


def _mpp(path: Path, override: float | None = None):
    with open_slide(path) as slide:
        return resolve_mpp(slide, path, override)


def _generic_tiff(path: Path, resolution=None, unit=None) -> Path:
    image = np.full((512, 512, 3), 200, np.uint8)
    with tifffile.TiffWriter(path) as tif:
        tif.write(image, tile=(256, 256), photometric="rgb", resolution=resolution, resolutionunit=unit)
    return path


def test_sheet_override_wins(demo_slide: Path) -> None:
    assert _mpp(demo_slide, 0.25).mpp == 0.25 and _mpp(demo_slide, 0.25).source == "override (sample sheet or --mpp)"


def test_vendor_metadata(demo_slide: Path) -> None:
    resolved = _mpp(demo_slide)
    assert resolved.mpp == 0.5 and resolved.source == "vendor metadata"


def test_plausible_tiff_resolution_tags_are_used(tmp_path: Path) -> None:
    path = _generic_tiff(tmp_path / "a.tif", resolution=(20000, 20000), unit="CENTIMETER")
    resolved = _mpp(path)
    assert resolved.source == "TIFF resolution tags" and abs(resolved.mpp - 0.5) < 1e-9


def test_objective_power_is_the_last_resort_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "no_mpp.svs"
    write_svs(path, np.full((512, 512, 3), 240, np.uint8), mpp=None, app_mag=40)
    with caplog.at_level(logging.WARNING):
        resolved = _mpp(path)
    assert resolved.source == "objective power" and resolved.mpp == 0.25
    assert "no_mpp.svs" in caplog.text and "objective power 40x" in caplog.text


def test_no_source_at_all_is_an_error_with_the_fix(tmp_path: Path) -> None:
    path = _generic_tiff(tmp_path / "bare.tif")
    with pytest.raises(SlideError, match=r"bare.tif: the slide does not say its microns per pixel, and it gives no "
                                         r"objective power. Fix: add an 'mpp' column"):
        _mpp(path)


@needs_shared
def test_real_generic_tiff_with_96_dpi_is_refused() -> None:
    with pytest.raises(SlideError, match=r"264.6 microns per pixel \(TIFF resolution 96 per inch\)"):
        _mpp(GENERIC_TIFF)


def test_a_slide_path_that_is_a_fifo_is_named_by_its_kind_not_as_missing(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "slide.svs")
    with pytest.raises(SlideError, match=r"slide\.svs: this slide path is a FIFO \(named pipe\), not a regular file\. Fix:"):
        open_slide(tmp_path / "slide.svs")
    with pytest.raises(SlideError, match=r"/dev/zero: this slide path is a character device, not a regular file"):
        open_slide("/dev/zero")
