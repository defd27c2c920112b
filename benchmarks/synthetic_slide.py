"""A large synthetic Aperio slide for the slide-stage benchmarks, written tile by tile (never whole in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from memamba.demo.svs import BACKGROUND_RGB, write_svs_from_tiles

TILE = 256


def tissue_map(size: int, seed: int) -> np.ndarray:
    """An RGB map of the slide at ``size`` pixels: a few textured pink/purple tissue pieces on white glass."""
    rng = np.random.default_rng(seed)
    image = np.empty((size, size, 3), np.uint8)
    image[:] = BACKGROUND_RGB
    for _ in range(6):
        centre = tuple(int(v) for v in rng.uniform(0.2, 0.8, 2) * size)
        axes = tuple(int(v) for v in rng.uniform(0.05, 0.18, 2) * size)
        colour = tuple(int(v) for v in (rng.uniform(170, 215), rng.uniform(90, 150), rng.uniform(160, 200)))
        cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    return image


def write_large_slide(path: Path, size: int = 40_000, mpp: float = 0.25, seed: int = 0) -> Path:
    """Write a ``size`` x ``size`` slide (levels 4x apart down to under 4,096 px) unless it already exists."""
    if path.exists():
        return path
    sizes = [size]
    while sizes[-1] >= 4096:
        sizes.append(sizes[-1] // 4)
    base = tissue_map(sizes[-1], seed)
    texture = np.random.default_rng(seed).integers(-18, 18, (TILE, TILE, 3), dtype=np.int16)

    def tiles(level: int) -> Iterator[np.ndarray]:
        factor = sizes[level] / sizes[-1]
        for ty in range(0, sizes[level], TILE):
            for tx in range(0, sizes[level], TILE):
                x0, y0 = int(tx / factor), int(ty / factor)
                span = max(1, int(np.ceil(TILE / factor)))
                patch = base[y0:y0 + span + 1, x0:x0 + span + 1]
                tile = cv2.resize(patch, (int(patch.shape[1] * factor), int(patch.shape[0] * factor)),
                                  interpolation=cv2.INTER_LINEAR)[:TILE, :TILE]
                tile = np.pad(tile, ((0, TILE - tile.shape[0]), (0, TILE - tile.shape[1]), (0, 0)), mode="edge")
                yield np.clip(tile.astype(np.int16) + np.roll(texture, tx + ty, axis=(0, 1)), 0, 255).astype(np.uint8)

    write_svs_from_tiles(path, [(s, s) for s in sizes], tiles, mpp=mpp)
    return path
