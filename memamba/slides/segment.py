"""Tissue segmentation (CLAM-style): saturation, median blur, Otsu, closing, contours filtered by mm^2."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import openslide

from memamba.atomic import atomic_paths
from memamba.errors import MemambaError, require_file
from memamba.provenance import provenance
from memamba.readers import read_json
from memamba.slides.reader import ResolvedMpp, SlideError, best_level_for_mpp, open_slide, read_region_rgb, resolve_mpp
from memamba.slides.tiatoolbox_reader import tiatoolbox_available

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentParams:
    """Segmentation parameters; physical sizes so that results do not depend on the scanner."""

    method: str = "clam"
    seg_mpp: float = 8.0
    median_kernel: int = 7
    saturation_threshold: int | None = None
    close_kernel: int = 5
    min_tissue_area_mm2: float = 0.05
    min_hole_area_mm2: float = 0.01


@dataclass
class TissueResult:
    """Tissue polygons (level-0 pixels; exterior ring then holes) and the QC image they are drawn on."""

    polygons: list[list[np.ndarray]]
    qc_image: np.ndarray
    qc_scale: float
    mpp: ResolvedMpp
    threshold: float


def read_low_resolution(slide: openslide.AbstractSlide, path: str | os.PathLike, level0_mpp: float,
                        seg_mpp: float) -> tuple[np.ndarray, float]:
    """RGB image of the whole slide at about ``seg_mpp``, and its level-0-pixels-per-pixel scale."""
    level = best_level_for_mpp(slide, level0_mpp, seg_mpp)
    width, height = slide.level_dimensions[level]
    rgb = read_region_rgb(slide, path, (0, 0), level, (width, height))
    downsample = slide.level_downsamples[level]
    factor = (seg_mpp / level0_mpp) / downsample
    if factor > 1.0:
        size = (max(1, round(width / factor)), max(1, round(height / factor)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    scale = slide.dimensions[0] / rgb.shape[1]
    return rgb, scale


QC_DETAIL = 4
QC_MAX_SIDE = 2048
SEGMENT_METHODS = ("clam", "tiatoolbox-otsu", "tiatoolbox-morphological")


def tissue_mask(rgb: np.ndarray, params: SegmentParams, image_mpp: float) -> tuple[np.ndarray, float]:
    """Binary tissue mask of ``rgb`` (``image_mpp`` microns per pixel) and the threshold used (NaN if none)."""
    if params.method == "clam":
        return clam_mask(rgb, params)
    if params.method in SEGMENT_METHODS:
        return tiatoolbox_mask(rgb, params, image_mpp), float("nan")
    raise SlideError(f"unknown segmentation method {params.method!r}. Fix: set segment.method to one of {list(SEGMENT_METHODS)}.")


def tiatoolbox_mask(rgb: np.ndarray, params: SegmentParams, image_mpp: float) -> np.ndarray:
    """tiatoolbox's Otsu or morphological tissue masker on the low-resolution image, then the same closing as CLAM's."""
    if not tiatoolbox_available():
        raise SlideError(f"segment.method {params.method!r} needs tiatoolbox, which is not installed. "
                         "Fix: pip install 'memamba[tiatoolbox]' (or use the slides conda env), or set segment.method: clam.")
    from tiatoolbox.tools.tissuemask import MorphologicalMasker, OtsuTissueMasker

    masker = OtsuTissueMasker() if params.method == "tiatoolbox-otsu" else MorphologicalMasker(mpp=image_mpp)
    mask = np.asarray(masker.fit_transform(rgb[None])[0]).astype(np.uint8)
    return close_mask(mask, params)


def close_mask(mask: np.ndarray, params: SegmentParams) -> np.ndarray:
    """Morphological closing with an elliptical kernel of ``params.close_kernel`` pixels (0 disables)."""
    if params.close_kernel <= 0:
        return mask
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (params.close_kernel, params.close_kernel))
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, element)


def clam_mask(rgb: np.ndarray, params: SegmentParams) -> tuple[np.ndarray, float]:
    """CLAM's mask: HSV saturation, median blur, Otsu (or a fixed threshold), closing."""
    saturation = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1]
    kernel = params.median_kernel if params.median_kernel % 2 else params.median_kernel + 1
    saturation = cv2.medianBlur(saturation, kernel)
    if params.saturation_threshold is not None:
        threshold = float(params.saturation_threshold)
        mask = (saturation > threshold).astype(np.uint8)
    elif int(saturation.max()) - int(saturation.min()) < 8:
        threshold, mask = float("nan"), np.zeros_like(saturation, np.uint8)
    else:
        threshold, mask = cv2.threshold(saturation, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return close_mask(mask, params), float(threshold)


def mask_to_polygons(mask: np.ndarray, pixel_area_mm2: float, params: SegmentParams) -> list[list[np.ndarray]]:
    """Contours of the mask with holes, dropping regions and holes below their physical minimum area."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    polygons: list[list[np.ndarray]] = []
    if hierarchy is None:
        return polygons
    hierarchy = hierarchy[0]
    for index, contour in enumerate(contours):
        if hierarchy[index][3] != -1 or len(contour) < 3:
            continue
        if cv2.contourArea(contour) * pixel_area_mm2 < params.min_tissue_area_mm2:
            continue
        rings = [contour[:, 0, :].astype(np.float64)]
        child = hierarchy[index][2]
        while child != -1:
            hole = contours[child]
            if len(hole) >= 3 and cv2.contourArea(hole) * pixel_area_mm2 >= params.min_hole_area_mm2:
                rings.append(hole[:, 0, :].astype(np.float64))
            child = hierarchy[child][0]
        polygons.append(rings)
    return polygons


def segment_slide(path: str | os.PathLike, params: SegmentParams, mpp_override: float | None = None) -> TissueResult:
    """Segment the tissue of one slide; polygons are returned in level-0 pixel coordinates.

    The QC image is read QC_DETAIL times finer than ``seg_mpp`` (at most QC_MAX_SIDE pixels a side), so that
    the overlay is legible even where the mask is coarse.
    """
    with open_slide(path) as slide:
        mpp = resolve_mpp(slide, path, mpp_override)
        rgb, scale = read_low_resolution(slide, path, mpp.mpp, params.seg_mpp)
        qc_image, qc_scale = rgb, scale
        qc_mpp = max(params.seg_mpp / QC_DETAIL, max(slide.dimensions) * mpp.mpp / QC_MAX_SIDE)
        if qc_mpp < params.seg_mpp:
            try:
                qc_image, qc_scale = read_low_resolution(slide, path, mpp.mpp, qc_mpp)
            except SlideError as exc:
                log.warning("%s; the QC overlay is drawn on the segmentation image instead", exc)
    mask, threshold = tissue_mask(rgb, params, scale * mpp.mpp)
    pixel_area_mm2 = (scale * mpp.mpp / 1000.0) ** 2
    polygons = [[ring * scale for ring in rings] for rings in mask_to_polygons(mask, pixel_area_mm2, params)]
    if not polygons:
        log.warning("%s: no tissue found (blank slide, or tissue below min_tissue_area_mm2); it yields zero patches", path)
    return TissueResult(polygons, qc_image, qc_scale, mpp, threshold)


def _ring_to_list(ring: np.ndarray) -> list[list[float]]:
    points = [[round(float(x), 2), round(float(y), 2)] for x, y in ring]
    return points + [points[0]]


def to_geojson(result: TissueResult, source: str | os.PathLike, params: SegmentParams) -> dict:
    """A GeoJSON FeatureCollection of tissue polygons (level-0 pixels) with provenance."""
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [_ring_to_list(r) for r in rings]},
            "properties": {"objectType": "annotation", "classification": {"name": "tissue"}},
        }
        for rings in result.polygons
    ]
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "level0_mpp": result.mpp.mpp,
            "mpp_source": result.mpp.source,
            "otsu_threshold": float(result.threshold) if np.isfinite(result.threshold) else None,
            "provenance": provenance(asdict(params), [source]),
        },
    }


def overlay_png(result: TissueResult) -> np.ndarray:
    """The QC image with tissue outlines (green) and holes (blue), as RGB."""
    canvas = result.qc_image.copy()
    for rings in result.polygons:
        scaled = [np.round(r / result.qc_scale).astype(np.int32).reshape(-1, 1, 2) for r in rings]
        cv2.polylines(canvas, scaled[:1], True, (0, 160, 0), 2)
        if len(scaled) > 1:
            cv2.polylines(canvas, scaled[1:], True, (0, 0, 220), 2)
    return canvas


def write_segmentation(result: TissueResult, source: str | os.PathLike, params: SegmentParams, geojson_path: Path, png_path: Path) -> None:
    """Write the GeoJSON and the QC overlay PNG atomically."""
    with atomic_paths([png_path, geojson_path]) as (png_tmp, geojson_tmp):
        if not cv2.imwrite(str(png_tmp), cv2.cvtColor(overlay_png(result), cv2.COLOR_RGB2BGR)):
            raise MemambaError(f"{png_path}: the QC image could not be written. Fix: check that its folder is writable "
                               "and has free space.")
        geojson_tmp.write_text(json.dumps(to_geojson(result, source, params), allow_nan=False))


def read_polygons(geojson_path: str | os.PathLike) -> list[list[np.ndarray]]:
    """Tissue polygons from a GeoJSON written by :func:`write_segmentation`."""
    path = require_file(geojson_path, "tissue GeoJSON", "run 'memamba segment' for this slide first")
    fix = "delete it and rerun 'memamba segment' for this slide, or export polygons as a GeoJSON FeatureCollection"
    data = read_json(path, "tissue GeoJSON", fix)
    try:
        polygons = [[np.asarray(ring, np.float64) for ring in f["geometry"]["coordinates"]] for f in data["features"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise MemambaError(f"{path}: not a FeatureCollection of polygons ({type(exc).__name__}: {exc}). Fix: {fix}.") from exc
    for rings in polygons:
        if any(ring.ndim != 2 or ring.shape[1] != 2 or len(ring) < 3 or not np.isfinite(ring).all() for ring in rings):
            raise MemambaError(f"{path}: a polygon ring is not a list of at least 3 finite [x, y] points. Fix: {fix}.")
    return polygons
