"""Opening whole-slide images and resolving their level-0 microns per pixel (mpp)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import openslide

from memamba.errors import MemambaError

log = logging.getLogger(__name__)


class SlideError(MemambaError, RuntimeError):
    """A slide that cannot be used, with a message naming the file, the problem and the fix."""


@dataclass(frozen=True)
class ResolvedMpp:
    """Level-0 microns per pixel and where the value came from."""

    mpp: float
    source: str


def open_slide(path: str | os.PathLike) -> openslide.OpenSlide:
    """Open a slide with OpenSlide, turning its failures into a SlideError that says what to do."""
    path = Path(path)
    if not path.exists():
        raise SlideError(f"{path}: slide file not found. Fix: correct the path in the slide sheet.")
    try:
        return openslide.OpenSlide(str(path))
    except (openslide.OpenSlideError, openslide.OpenSlideUnsupportedFormatError) as exc:
        raise SlideError(
            f"{path}: OpenSlide cannot read this slide ({exc}). Fix: check that the file is complete "
            "(re-copy or re-download it) and in a format OpenSlide supports, or remove its row from the slide sheet."
        ) from exc


PLAUSIBLE_MPP = (0.1, 2.0)
MICRONS_AT_1X = 10.0


def resolve_mpp(slide: openslide.OpenSlide, path: str | os.PathLike, override: float | None = None) -> ResolvedMpp:
    """Level-0 microns per pixel, from the first source that gives a trustworthy value.

    1. the sample sheet's ``mpp`` column (``override``);
    2. the vendor's metadata as OpenSlide reports it (``openslide.mpp-x``/``-y``);
    3. for generic TIFFs, OpenSlide's value from the TIFF resolution tags, only when it is plausible
       (PLAUSIBLE_MPP: default 72/96-dpi tags give hundreds of um/px and are refused);
    4. the objective power, as 10 / power um/px, with a warning (scanners differ by up to ~20 %);
    5. otherwise a SlideError that says how to supply it.
    """
    if override is not None:
        return ResolvedMpp(float(override), "sample sheet")
    props = slide.properties
    mpp_x, mpp_y = props.get(openslide.PROPERTY_NAME_MPP_X), props.get(openslide.PROPERTY_NAME_MPP_Y)
    from_tiff_tags = props.get(openslide.PROPERTY_NAME_VENDOR) == "generic-tiff"
    refused = ""
    if mpp_x and mpp_y:
        mpp = (float(mpp_x) + float(mpp_y)) / 2
        if PLAUSIBLE_MPP[0] <= mpp <= PLAUSIBLE_MPP[1]:
            return ResolvedMpp(mpp, "TIFF resolution tags" if from_tiff_tags else "vendor metadata")
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


def best_level_for_mpp(slide: openslide.OpenSlide, level0_mpp: float, target_mpp: float) -> int:
    """The coarsest pyramid level whose resolution is still at least as fine as ``target_mpp``."""
    return slide.get_best_level_for_downsample(max(target_mpp / level0_mpp, 1.0) + 1e-6)
