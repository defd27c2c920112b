"""Synthetic H&E-like slides written as Aperio-style SVS (tiled JPEG pyramid) with tifffile."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import tifffile

from memamba.atomic import atomic_path

BACKGROUND_RGB = (242, 240, 244)


SLIDE_SIGNALS = ("tissue", "tumour")
"""Where a demo slide shows the slide part of the risk: in all of its tissue, or in one tumour region only."""
TUMOUR_TINT = (-20.0, 0.0, 20.0)
"""What tumour stroma adds to normal stroma's RGB at any risk (bluer, as saturated, so that tissue detection finds
it as well): the mark by which a model can tell tumour patches from the others without knowing the risk."""


@dataclass(frozen=True)
class TumourRegion:
    """The ellipse of a demo slide whose look carries the slide part of the risk, in level-0 pixels (cv2's
    convention: half-axes along x and y before a rotation by ``angle`` degrees)."""

    center_x: float
    center_y: float
    axis_x: float
    axis_y: float
    angle: float

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether the points (level-0 pixels) lie inside the ellipse."""
        theta = np.deg2rad(self.angle)
        dx, dy = np.asarray(x, float) - self.center_x, np.asarray(y, float) - self.center_y
        u = dx * np.cos(theta) + dy * np.sin(theta)
        v = -dx * np.sin(theta) + dy * np.cos(theta)
        return (u / self.axis_x) ** 2 + (v / self.axis_y) ** 2 <= 1.0

    def record(self) -> dict[str, float]:
        """The ellipse as a row of ``tumour_regions.tsv`` (level-0 pixels, degrees)."""
        return {key: round(value, 3) for key, value in asdict(self).items()}


TUMOUR_COLUMNS = ("slide_id", *TumourRegion.__dataclass_fields__)
"""The columns of ``tumour_regions.tsv``: the slide, then its ellipse."""


def _tissue_rgb(rng: np.random.Generator, purple: float, size: int, tint: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    stroma = np.array([232 - 40 * purple, 160 - 30 * purple, 200 + 10 * purple], np.float32) + np.array(tint, np.float32)
    texture = cv2.GaussianBlur(rng.normal(0, 12, (size, size, 3)).astype(np.float32), (0, 0), 2)
    return np.clip(stroma + texture, 0, 255).astype(np.uint8)


def _add_nuclei(rng: np.random.Generator, image: np.ndarray, where: np.ndarray, look: float) -> None:
    """Nuclei over ``where``: the higher the latent ``look``, the more, the larger and the darker."""
    purple = float(1 / (1 + np.exp(-look)))
    ys, xs = np.nonzero(where)
    count = int(len(ys) * 0.004 * np.exp(0.6 * look))
    picks = rng.integers(0, len(ys), count) if len(ys) else np.empty(0, int)
    radius = max(2, int(round(image.shape[0] / 512 * (2.5 + 1.0 * purple))))
    nucleus = (int(110 - 60 * purple), int(60 - 30 * purple), int(150 - 20 * purple))
    for y, x in zip(ys[picks], xs[picks]):
        cv2.circle(image, (int(x), int(y)), radius + int(rng.integers(0, 2)), nucleus, -1, lineType=cv2.LINE_AA)


def _paint(rng: np.random.Generator, image: np.ndarray, where: np.ndarray, look: float,
           tint: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
    """Stroma and nuclei over ``where`` with the latent ``look`` (higher: more purple, denser, darker nuclei)."""
    purple = float(1 / (1 + np.exp(-look)))
    image[where] = _tissue_rgb(rng, purple, image.shape[0], tint)[where]
    _add_nuclei(rng, image, where, look)


def render_slide(rng: np.random.Generator, risk: float, size: int,
                 signal: str = "tissue") -> tuple[np.ndarray, TumourRegion | None]:
    """Render a size x size RGB image: two or three tissue regions on white glass.

    The latent ``risk`` sets the look of the tissue: higher risk means denser, larger and darker nuclei and a more
    purple stroma, the kind of signal a patch encoder can pick up. With ``signal`` "tissue" all the tissue shows it
    (and no region is returned); with "tumour" the first region is a tumour (bluer stroma at any risk) and only it
    shows the risk, while the rest of the tissue has a look of its own, drawn at random per slide and unrelated to the
    risk; its ellipse is returned, so that which patches carry the signal is known.
    """
    if signal not in SLIDE_SIGNALS:
        raise ValueError(f"slide signal {signal!r}: expected one of {', '.join(SLIDE_SIGNALS)}")
    image = np.empty((size, size, 3), np.uint8)
    image[:] = BACKGROUND_RGB
    image = np.clip(image.astype(np.int16) + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)

    coarse = cv2.resize(rng.normal(0, 1, (16, 16)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)
    mask = np.zeros((size, size), np.uint8)
    tumour = None
    for _ in range(int(rng.integers(2, 4))):
        center = tuple(int(c) for c in rng.uniform(0.25, 0.75, 2) * size)
        axes = tuple(int(a) for a in rng.uniform(0.12, 0.22, 2) * size)
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(mask, center, axes, angle, 0, 360, 1, -1)
        if tumour is None:
            tumour = TumourRegion(float(center[0]), float(center[1]), float(axes[0]), float(axes[1]), angle)
    blurred = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), size / 40)
    tissue = (blurred + 0.15 * coarse) > 0.5

    if signal == "tissue":
        _paint(rng, image, tissue, risk)
        return cv2.GaussianBlur(image, (3, 3), 0.6), None
    ys, xs = np.mgrid[0:size, 0:size]
    in_tumour = tissue & tumour.contains(xs, ys)
    _paint(rng, image, tissue & ~in_tumour, float(rng.normal()))
    _paint(rng, image, in_tumour, risk, TUMOUR_TINT)
    return cv2.GaussianBlur(image, (3, 3), 0.6), tumour


PATCH_TYPE_TINTS = ((0.0, 0.0, 0.0), (-60.0, -10.0, 40.0), (25.0, 40.0, -40.0), (-70.0, -60.0, -30.0))
"""What each planted patch type (:data:`memamba.demo.mechanisms.PATCH_TYPES`: background tissue, tumour, stroma,
immune) adds to stroma's RGB: its own look at any shade."""
MECHANISM_PATCH_PX = 128
"""The side of a planted patch in level-0 pixels: one of the demo's patches (64 px at 1 um/px on a 0.5 um/px slide)."""


def render_patch_grid(rng: np.random.Generator, patch_types: np.ndarray, shades: np.ndarray,
                      patch_px: int = MECHANISM_PATCH_PX) -> np.ndarray:
    """An RGB slide whose patches, read row by row, are ``patch_types`` with ``shades`` (the latent look of each, as
    :func:`render_slide`'s risk): square blocks of ``patch_px`` on a grid of ceil(sqrt(n)) columns, glass after the
    last one and a margin of glass of two blocks all round (so that tissue detection sees glass to tell it from)."""
    columns = int(np.ceil(np.sqrt(len(patch_types))))
    rows = int(np.ceil(len(patch_types) / columns))
    image = np.empty(((rows + 4) * patch_px, (columns + 4) * patch_px, 3), np.uint8)
    image[:] = BACKGROUND_RGB
    block = np.ones((patch_px, patch_px), bool)
    for index, (kind, shade) in enumerate(zip(patch_types, shades)):
        tile = np.empty((patch_px, patch_px, 3), np.uint8)
        _paint(rng, tile, block, float(shade), PATCH_TYPE_TINTS[int(kind)])
        row, column = (position + 2 for position in divmod(index, columns))
        image[row * patch_px:(row + 1) * patch_px, column * patch_px:(column + 1) * patch_px] = tile
    return image


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
