"""Synthetic H&E-like slides written as Aperio-style SVS (tiled JPEG pyramid) with tifffile."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import tifffile

from memamba.atomic import atomic_path

BACKGROUND_RGB = (242, 240, 244)


def render_slide(rng: np.random.Generator, risk: float, size: int) -> np.ndarray:
    """Render a size x size RGB image: a few tissue regions on white glass.

    The latent ``risk`` sets the look of the tissue: higher risk means denser, larger and
    darker nuclei and a more purple stroma, the kind of signal a patch encoder can pick up.
    """
    image = np.empty((size, size, 3), np.uint8)
    image[:] = BACKGROUND_RGB
    image = np.clip(image.astype(np.int16) + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)

    coarse = cv2.resize(rng.normal(0, 1, (16, 16)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(2, 4))):
        center = tuple(int(c) for c in rng.uniform(0.25, 0.75, 2) * size)
        axes = tuple(int(a) for a in rng.uniform(0.12, 0.22, 2) * size)
        cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    blurred = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), size / 40)
    tissue = (blurred + 0.15 * coarse) > 0.5

    purple = float(1 / (1 + np.exp(-risk)))
    stroma = np.array([232 - 40 * purple, 160 - 30 * purple, 200 + 10 * purple], np.float32)
    texture = cv2.GaussianBlur(rng.normal(0, 12, (size, size, 3)).astype(np.float32), (0, 0), 2)
    tissue_rgb = np.clip(stroma + texture, 0, 255).astype(np.uint8)
    image[tissue] = tissue_rgb[tissue]

    ys, xs = np.nonzero(tissue)
    n_nuclei = int(len(ys) * 0.004 * np.exp(0.6 * risk))
    picks = rng.integers(0, len(ys), n_nuclei) if len(ys) else np.empty(0, int)
    radius = max(2, int(round(size / 512 * (2.5 + 1.0 * purple))))
    nucleus = (int(110 - 60 * purple), int(60 - 30 * purple), int(150 - 20 * purple))
    for y, x in zip(ys[picks], xs[picks]):
        cv2.circle(image, (int(x), int(y)), radius + int(rng.integers(0, 2)), nucleus, -1, lineType=cv2.LINE_AA)
    return cv2.GaussianBlur(image, (3, 3), 0.6)


def aperio_description(level0: tuple[int, int], level: tuple[int, int], mpp: float | None, app_mag: int) -> str:
    """The ImageDescription by which OpenSlide recognises an Aperio level (``MPP`` omitted when ``mpp`` is None)."""
    (width, height), (w, h) = level0, level
    return (f"Aperio Image Library v12.0.0 memamba-demo\r\n{width}x{height} [0,0 {w}x{h}] (256x256) "
            f"JPEG/RGB Q=90|AppMag = {app_mag}" + (f"|MPP = {mpp * width / w:.4f}" if mpp is not None else ""))


def write_svs(path: str | os.PathLike, image: np.ndarray, mpp: float | None, app_mag: int = 20, levels: int = 2) -> None:
    """Write ``image`` as an Aperio SVS: tiled JPEG levels, each 4x smaller, Aperio ImageDescription.

    OpenSlide recognises the file as vendor ``aperio`` and reads ``MPP`` (omitted when ``mpp`` is
    None, as some scanners do) and ``AppMag`` from it.
    """
    height, width = image.shape[:2]
    with atomic_path(Path(path)) as tmp, tifffile.TiffWriter(tmp) as tif:
        level_image = image
        for level in range(levels):
            h, w = level_image.shape[:2]
            tif.write(level_image, tile=(256, 256), compression="jpeg", compressionargs={"level": 90}, photometric="rgb",
                      description=aperio_description((width, height), (w, h), mpp, app_mag),
                      subfiletype=0 if level == 0 else 1, metadata=None)
            level_image = cv2.resize(level_image, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)


def write_svs_from_tiles(path: str | os.PathLike, level_sizes: list[tuple[int, int]],
                         tiles: Callable[[int], Iterator[np.ndarray]], mpp: float | None, app_mag: int = 20) -> None:
    """Write an Aperio SVS whose levels (``level_sizes``, width x height) come tile by tile from ``tiles(level)``.

    ``tiles(level)`` yields 256 x 256 x 3 uint8 tiles row by row, so slides far larger than memory can be written.
    """
    with atomic_path(Path(path)) as tmp, tifffile.TiffWriter(tmp, bigtiff=True) as tif:
        for level, (w, h) in enumerate(level_sizes):
            tif.write(tiles(level), shape=(h, w, 3), dtype=np.uint8, tile=(256, 256), compression="jpeg",
                      compressionargs={"level": 90}, photometric="rgb",
                      description=aperio_description(level_sizes[0], (w, h), mpp, app_mag),
                      subfiletype=0 if level == 0 else 1, metadata=None)
