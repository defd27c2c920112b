"""Opening whole-slide images and resolving their level-0 microns per pixel (mpp)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openslide

from memamba.errors import MemambaError, not_a_file
from memamba.slides.tiatoolbox_reader import TIATOOLBOX_VENDOR, TiatoolboxSlide, tiatoolbox_available

log = logging.getLogger(__name__)


class SlideError(MemambaError, RuntimeError):
    """A slide that cannot be used, with a message naming the file, the problem and the fix."""


@dataclass(frozen=True)
class ResolvedMpp:
    """Level-0 microns per pixel and where the value came from."""

    mpp: float
    source: str


def open_slide(path: str | os.PathLike) -> openslide.AbstractSlide:
    """Open a brightfield RGB slide: OpenSlide first, tiatoolbox's readers where OpenSlide cannot (if installed).

    Every failure is a SlideError naming the file and what to do.
    """
    path = Path(path)
    problem = not_a_file(path)
    if problem:
        what = "slide file not found" if problem == "does not exist" else f"this slide path {problem}"
        raise SlideError(f"{path}: {what}. Fix: correct the path in the slide sheet.")
    require_brightfield_rgb(path)
    try:
        slide = openslide.OpenSlide(str(path))
    except (openslide.OpenSlideError, openslide.OpenSlideUnsupportedFormatError) as exc:
        openslide_failure = exc
    else:
        evidence = fluorescence_evidence(slide.properties)
        if evidence:
            vendor = slide.properties.get(openslide.PROPERTY_NAME_VENDOR)
            slide.close()
            raise SlideError(
                f"{path}: not a brightfield slide: its {vendor} metadata "
                f"describe a fluorescence scan ({evidence}). memamba's patch encoders need RGB brightfield (H&E) images. "
                "Fix: remove its row from the slide sheet, or supply the brightfield scan of that tissue."
            )
        return slide
    if tiatoolbox_available():
        try:
            return TiatoolboxSlide(path)
        except Exception as exc:  # noqa: BLE001 - tiatoolbox raises many types; the message carries it
            raise SlideError(
                f"{path}: neither OpenSlide ({openslide_failure}) nor tiatoolbox ({exc}) can read this file. "
                "Fix: check that it is a complete slide file (re-copy or re-download it), or remove its row "
                "from the slide sheet."
            ) from exc
    raise SlideError(
        f"{path}: OpenSlide cannot read this file ({openslide_failure}). Fix: check that it is a complete slide "
        "(re-copy or re-download it); for formats OpenSlide does not support (OME-TIFF, stripped TIFF, JPEG 2000, "
        "plain images) install tiatoolbox's readers with pip install 'memamba[tiatoolbox]'; or remove its row "
        "from the slide sheet."
    ) from openslide_failure


_EXCITATION = re.compile(r"ExcitationWaveLength=(\d+)")
_CHANNEL_NAME = re.compile(r";Name=([^\r;]*)")


def fluorescence_evidence(properties: Mapping[str, str]) -> str | None:
    """What in a slide's vendor metadata says it is a fluorescence scan, or None.

    Hamamatsu NDPI: an excitation filter with a wavelength (``ExcitationWaveLength=387``; brightfield scans have
    none); Leica SCN and others: an illumination-source property naming fluorescence. Such files are often stored as
    8-bit RGB/YCbCr like brightfield ones, so the TIFF header alone does not tell.
    """
    for key, value in properties.items():
        text = f"{key}={value}"
        wavelength = _EXCITATION.search(text)
        if wavelength and int(wavelength.group(1)) > 0:
            channel = _CHANNEL_NAME.search(text)
            named = f", channel {channel.group(1).strip()!r}" if channel else ""
            return f"excitation wavelength {wavelength.group(1)} nm{named} in property {' '.join(key.replace(';', ' ').split())!r}"
        if "illumination" in key.lower() and "fluoresc" in value.lower():
            return f"{key} = {value}"
    return None


TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
RGB_PHOTOMETRICS = ("RGB", "YCBCR")


def require_brightfield_rgb(path: Path) -> None:
    """Refuse TIFF-based slides whose full-resolution image is not 8-bit RGB (fluorescence, multiplex, grey).

    OpenSlide opens such files and returns meaningless colours, so the check reads the TIFF header itself.
    Damaged headers are left for the slide reader to report.
    """
    with path.open("rb") as handle:
        if handle.read(4) not in TIFF_MAGIC:
            return
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            photometric, samples, bits = page.photometric.name, page.samplesperpixel, page.bitspersample
    except Exception:  # noqa: BLE001 - a damaged header is reported by the reader with its own message
        return
    if photometric not in RGB_PHOTOMETRICS or samples < 3 or bits != 8:
        raise SlideError(
            f"{path}: not a brightfield RGB slide: its full-resolution image has {samples} channel(s) of {bits} bits "
            f"(photometric {photometric}), as in fluorescence or multiplex scans. memamba's patch encoders need 8-bit "
            "RGB brightfield (H&E) images. Fix: remove its row from the slide sheet, or supply an RGB rendering of it."
        )


def read_region_rgb(slide: openslide.AbstractSlide, path: str | os.PathLike, location: tuple[int, int],
                    level: int, size: tuple[int, int]) -> np.ndarray:
    """An RGB uint8 region, transparent pixels (outside the scanned area) white; decode failures as SlideError."""
    try:
        region = slide.read_region(location, level, size)
    except openslide.OpenSlideError as exc:
        raise SlideError(
            f"{path}: the region at level-0 ({location[0]}, {location[1]}), level {level}, size {size[0]}x{size[1]} "
            f"cannot be decoded ({exc}): the file is damaged there. Fix: re-copy or re-download the slide, or remove "
            "its row from the slide sheet (or set extract.on_unreadable_patch: skip to drop such patches)."
        ) from exc
    if region.getextrema()[3][0] == 255:
        return np.array(region.convert("RGB"))
    rgba = np.asarray(region)
    rgb = rgba[..., :3].copy()
    rgb[rgba[..., 3] == 0] = 255
    return rgb


PLAUSIBLE_MPP = (0.1, 2.0)
MICRONS_AT_1X = 10.0


def resolve_mpp(slide: openslide.AbstractSlide, path: str | os.PathLike, override: float | None = None) -> ResolvedMpp:
    """Level-0 microns per pixel, from the first source that gives a trustworthy value.

    1. the sample sheet's ``mpp`` column (``override``);
    2. the vendor's metadata as OpenSlide (or the tiatoolbox fallback) reports it (``openslide.mpp-x``/``-y``);
    3. for generic TIFFs, OpenSlide's value from the TIFF resolution tags, only when it is plausible
       (PLAUSIBLE_MPP: default 72/96-dpi tags give hundreds of um/px and are refused);
    4. the objective power, as 10 / power um/px, with a warning (scanners differ by up to ~20 %);
    5. otherwise a SlideError that says how to supply it.
    """
    if override is not None:
        if not 0.05 < float(override) <= 20:
            raise SlideError(f"{path}: mpp override {override} is not a microns-per-pixel value. "
                             "Fix: give a number above 0.05 and at most 20 (0.25 at 40x, 0.5 at 20x), or none to trust the file.")
        return ResolvedMpp(float(override), "override (sample sheet or --mpp)")
    props = slide.properties
    mpp_x, mpp_y = props.get(openslide.PROPERTY_NAME_MPP_X), props.get(openslide.PROPERTY_NAME_MPP_Y)
    vendor = props.get(openslide.PROPERTY_NAME_VENDOR)
    from_tiff_tags = vendor == "generic-tiff"
    refused = ""
    if mpp_x and mpp_y:
        mpp = (float(mpp_x) + float(mpp_y)) / 2
        if PLAUSIBLE_MPP[0] <= mpp <= PLAUSIBLE_MPP[1]:
            source = {"generic-tiff": "TIFF resolution tags", TIATOOLBOX_VENDOR: "tiatoolbox metadata"}.get(vendor, "vendor metadata")
            return ResolvedMpp(mpp, source)
        tags = (f" (TIFF resolution {props.get('tiff.XResolution')} per {props.get('tiff.ResolutionUnit')})"
                if from_tiff_tags else "")
        refused = (f"the file says {mpp:.4g} microns per pixel{tags}, which is not a plausible scan resolution "
                   f"({PLAUSIBLE_MPP[0]}-{PLAUSIBLE_MPP[1]} um/px), so it cannot be trusted")
    power = props.get(openslide.PROPERTY_NAME_OBJECTIVE_POWER)
    if power and float(power) > 0:
        mpp = MICRONS_AT_1X / float(power)
        log.warning("%s: %s; assuming %.3g um/px from objective power %sx. Set the slide sheet's 'mpp' column "
                    "if the scanner's resolution is known.", path, refused or "no microns per pixel in the file", mpp, power)
        return ResolvedMpp(mpp, "objective power")
    raise SlideError(
        f"{path}: {refused or 'the slide does not say its microns per pixel'}, and it gives no objective power. "
        "Fix: add an 'mpp' column to the slide sheet with the level-0 resolution (e.g. 0.25 for 40x, 0.5 for 20x), "
        "or pass --mpp."
    )


def best_level_for_mpp(slide: openslide.AbstractSlide, level0_mpp: float, target_mpp: float) -> int:
    """The coarsest pyramid level whose resolution is still at least as fine as ``target_mpp``."""
    return slide.get_best_level_for_downsample(max(target_mpp / level0_mpp, 1.0) + 1e-6)
