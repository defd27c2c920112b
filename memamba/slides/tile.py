"""Tiling: a grid of patches at a target physical resolution, kept where they cover enough tissue."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import h5py
import numpy as np

from memamba.atomic import atomic_path
from memamba.errors import MemambaError
from memamba.identifiers import slide_stem
from memamba.provenance import provenance_json
from memamba.slides.reader import best_level_for_mpp, open_slide, resolve_mpp

MASK_SAMPLES_PER_PATCH = 16


@dataclass(frozen=True)
class TileParams:
    """Tiling parameters: patch size in pixels at ``target_mpp`` microns per pixel."""

    target_mpp: float = 0.5
    patch_size: int = 256
    overlap: float = 0.0
    min_tissue_fraction: float = 0.5


@dataclass
class PatchGrid:
    """Top-left level-0 coordinates of the kept patches and how to read them."""

    coords: np.ndarray
    patch_size_level0: int
    read_level: int
    read_size: int
    slide_mpp: float
    mpp_source: str
    dimensions: tuple[int, int]


def rasterise(polygons: list[list[np.ndarray]], dimensions: tuple[int, int], scale: float) -> np.ndarray:
    """A binary mask of the polygons at ``1/scale`` of level 0 (exteriors filled, holes cleared)."""
    width, height = dimensions
    mask = np.zeros((max(1, int(np.ceil(height / scale))), max(1, int(np.ceil(width / scale)))), np.uint8)
    for rings in polygons:
        scaled = [np.round(r / scale).astype(np.int32).reshape(-1, 1, 2) for r in rings]
        cv2.fillPoly(mask, scaled[:1], 1)
        if len(scaled) > 1:
            cv2.fillPoly(mask, scaled[1:], 0)
    return mask


def tissue_fractions(mask: np.ndarray, scale: float, coords: np.ndarray, size_level0: int) -> np.ndarray:
    """Fraction of tissue pixels inside each patch, from an integral image of the mask."""
    integral = cv2.integral(mask)
    x0 = np.clip(np.floor(coords[:, 0] / scale).astype(int), 0, mask.shape[1])
    y0 = np.clip(np.floor(coords[:, 1] / scale).astype(int), 0, mask.shape[0])
    x1 = np.clip(np.ceil((coords[:, 0] + size_level0) / scale).astype(int), 0, mask.shape[1])
    y1 = np.clip(np.ceil((coords[:, 1] + size_level0) / scale).astype(int), 0, mask.shape[0])
    total = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    area = np.maximum((x1 - x0) * (y1 - y0), 1)
    return total / area


MAX_GRID_PATCHES = 10_000_000
"""The most grid positions one slide may have (a 20x TCGA slide has about 10^5 patches of 256 px)."""
POLYGON_MARGIN = 0.05
"""How far outside the slide (a share of its width or height) a tissue polygon may reach, e.g. a hand-drawn outline."""


def check_polygons(polygons: list[list[np.ndarray]], dimensions: tuple[int, int], source: str | os.PathLike) -> None:
    """A MemambaError naming ``source`` when a polygon point lies outside the slide's level-0 pixels (beyond the
    margin): polygons of another slide, of another level, or in other units."""
    limits = np.asarray(dimensions, np.float64)
    for rings in polygons:
        for ring in rings:
            outside = np.any((ring < -POLYGON_MARGIN * limits) | (ring > (1 + POLYGON_MARGIN) * limits), axis=1)
            if outside.any():
                x, y = ring[np.argmax(outside)]
                raise MemambaError(f"{source}: a tissue polygon has the point ({x:.6g}, {y:.6g}), outside the slide's "
                                   f"{dimensions[0]} x {dimensions[1]} level-0 pixels. Fix: give polygons of this slide in "
                                   "level-0 pixels, or delete the file and rerun 'memamba segment'.")


def tile_slide(path: str | os.PathLike, polygons: list[list[np.ndarray]], params: TileParams, mpp_override: float | None = None,
               polygons_from: str | os.PathLike = "the tissue polygons") -> PatchGrid:
    """Lay the patch grid over the slide and keep patches with enough tissue; a MemambaError when the polygons
    (read from ``polygons_from``) do not fit the slide or the grid would be implausibly fine."""
    with open_slide(path) as slide:
        mpp = resolve_mpp(slide, path, mpp_override)
        level = best_level_for_mpp(slide, mpp.mpp, params.target_mpp)
        downsample = slide.level_downsamples[level]
        dimensions = slide.dimensions
    check_polygons(polygons, dimensions, polygons_from)
    size0 = int(round(params.patch_size * params.target_mpp / mpp.mpp))
    step = max(1, int(round(size0 * (1.0 - params.overlap))))
    positions = (max(dimensions[0] - size0, 0) // step + 1) * (max(dimensions[1] - size0, 0) // step + 1)
    if size0 < 1 or positions > MAX_GRID_PATCHES:
        detail = ("less than one level-0 pixel" if size0 < 1
                  else f"{size0} level-0 pixels, {positions:,} grid positions (at most {MAX_GRID_PATCHES:,})")
        raise MemambaError(f"{path}: patches of {params.patch_size} px at {params.target_mpp} um/px are {detail} on this slide "
                           f"({mpp.mpp:.4g} um/px, from {mpp.source}). Fix: check tile.target_mpp, tile.patch_size and "
                           "tile.overlap, and the slide's mpp (the slide sheet's mpp column overrides it).")
    xs = np.arange(0, dimensions[0] - size0 + 1, step)
    ys = np.arange(0, dimensions[1] - size0 + 1, step)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2).astype(np.int64)
    if polygons and len(grid):
        scale = max(size0 / MASK_SAMPLES_PER_PATCH, 1.0)
        fractions = tissue_fractions(rasterise(polygons, dimensions, scale), scale, grid, size0)
        coords = grid[fractions >= max(params.min_tissue_fraction, 1e-9)]
    else:
        coords = np.empty((0, 2), np.int64)
    return PatchGrid(coords, size0, level, int(round(size0 / downsample)), mpp.mpp, mpp.source, dimensions)


def magnification(mpp: float) -> float | int:
    """The objective magnification that ``mpp`` microns per pixel stands for (10 / mpp: 0.25 -> 40, 0.5 -> 20), as
    an integer where it is within 5 % of one (the scanners' nominal 20x / 40x), else to 3 decimals."""
    value = 10.0 / mpp
    return int(round(value)) if abs(value - round(value)) <= 0.05 * value else round(value, 3)


def peer_attributes(tiling: dict, name: str) -> dict:
    """The ``coords`` attributes CLAM and TRIDENT read, from ours (``target_mpp``, ``patch_size``, ``slide_mpp``,
    ``read_level``, ``read_size``).

    TRIDENT: ``patch_size`` (pixels at the target resolution, as ours), ``patch_size_level0``,
    ``level0_magnification``, ``target_magnification``, ``name``. CLAM's readers read ``patch_size`` pixels at
    ``patch_level``: that is our patch when the slide has a pyramid level at the target resolution (``read_size``
    within 1 % of ``patch_size``), and only then is ``patch_level`` written; otherwise (e.g. a 40x scan without a
    20x level) CLAM's convention needs another ``patch_size``, which ``memamba export-clam`` writes in its own
    ``patches/`` files.
    """
    attrs = {"patch_size": int(tiling["patch_size"]), "patch_size_level0": int(tiling["patch_size_level0"]),
             "level0_magnification": magnification(float(tiling["slide_mpp"])),
             "target_magnification": magnification(float(tiling["target_mpp"])), "name": name}
    if abs(int(tiling["read_size"]) - int(tiling["patch_size"])) <= 0.01 * int(tiling["patch_size"]):
        attrs["patch_level"] = int(tiling["read_level"])
    return attrs


def write_patches(grid: PatchGrid, out: str | os.PathLike, params: TileParams, sources: list[str | os.PathLike]) -> None:
    """Write ``patches/{slide}.h5``: ``coords`` plus the attributes needed to read them back (ours, and those CLAM and
    TRIDENT read: :func:`peer_attributes`; the slide's name is the file's stem)."""
    out = Path(out)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("coords", data=grid.coords.reshape(-1, 2), dtype="int64")
        attrs = h5["coords"].attrs
        attrs["target_mpp"] = params.target_mpp
        attrs["patch_size"] = params.patch_size
        attrs["patch_size_level0"] = grid.patch_size_level0
        attrs["read_level"] = grid.read_level
        attrs["read_size"] = grid.read_size
        attrs["slide_mpp"] = grid.slide_mpp
        attrs["mpp_source"] = grid.mpp_source
        attrs["level0_dimensions"] = grid.dimensions
        attrs.update(peer_attributes(dict(attrs), slide_stem(out.stem)))
        attrs["provenance"] = provenance_json(asdict(params), sources)
