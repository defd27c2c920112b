"""Opening whole-slide images and resolving their level-0 microns per pixel (mpp)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import openslide

from memamba.errors import MemambaError


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


def resolve_mpp(slide: openslide.OpenSlide, path: str | os.PathLike, override: float | None = None) -> ResolvedMpp:
    """Level-0 mpp: the sample sheet's override, else OpenSlide's ``mpp-x``/``mpp-y``, else an error.

    A value outside PLAUSIBLE_MPP (about 0.1-2 um/px for a scan) is refused: generic TIFFs often carry a
    default 72 or 96 dpi in their resolution tags, which OpenSlide turns into a meaningless mpp.
    """
    if override is not None:
        return ResolvedMpp(float(override), "sample sheet")
    props = slide.properties
    mpp_x, mpp_y = props.get(openslide.PROPERTY_NAME_MPP_X), props.get(openslide.PROPERTY_NAME_MPP_Y)
    fix = ("Fix: add an 'mpp' column to the slide sheet with the level-0 resolution "
           "(e.g. 0.25 for 40x, 0.5 for 20x), or pass --mpp.")
    if not (mpp_x and mpp_y):
        raise SlideError(f"{path}: the slide does not say its microns per pixel. {fix}")
    mpp = (float(mpp_x) + float(mpp_y)) / 2
    from_tiff_tags = props.get(openslide.PROPERTY_NAME_VENDOR) == "generic-tiff"
    if not PLAUSIBLE_MPP[0] <= mpp <= PLAUSIBLE_MPP[1]:
        tags = (f" (TIFF resolution {props.get('tiff.XResolution')} per {props.get('tiff.ResolutionUnit')})"
                if from_tiff_tags else "")
        raise SlideError(
            f"{path}: the file says {mpp:.4g} microns per pixel{tags}, which is not a plausible scan resolution "
            f"({PLAUSIBLE_MPP[0]}-{PLAUSIBLE_MPP[1]} um/px), so it cannot be trusted. {fix}"
        )
    return ResolvedMpp(mpp, "TIFF resolution tags" if from_tiff_tags else "openslide mpp properties")


def best_level_for_mpp(slide: openslide.OpenSlide, level0_mpp: float, target_mpp: float) -> int:
    """The coarsest pyramid level whose resolution is still at least as fine as ``target_mpp``."""
    return slide.get_best_level_for_downsample(max(target_mpp / level0_mpp, 1.0) + 1e-6)
