"""tiatoolbox's readers behind OpenSlide's interface: the fallback for files OpenSlide cannot open.

tiatoolbox (the ``tiatoolbox`` extra) reads OME-TIFF, stripped TIFF, JPEG 2000, DICOM, Zarr and plain images.
Wrapping its ``WSIReader`` as an ``openslide.AbstractSlide`` lets every stage use one slide interface.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import openslide
from PIL import Image

TIATOOLBOX_VENDOR = "tiatoolbox"


def tiatoolbox_available() -> bool:
    """Whether the optional tiatoolbox extra is installed."""
    try:
        import tiatoolbox.wsicore.wsireader  # noqa: F401
    except ImportError:
        return False
    return True


class TiatoolboxSlide(openslide.AbstractSlide):
    """A slide read by tiatoolbox, with OpenSlide's properties, levels and ``read_region``.

    Properties follow OpenSlide's names: ``openslide.vendor`` is ``tiatoolbox``, ``openslide.mpp-x/-y`` and
    ``openslide.objective-power`` are set when tiatoolbox found them, ``tiatoolbox.reader`` names its reader class.
    Regions outside the image come back transparent, as OpenSlide's do.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        from tiatoolbox.wsicore.wsireader import WSIReader

        self._reader: Any = WSIReader.open(Path(path))
        info = self._reader.info
        self._dimensions = tuple((int(w), int(h)) for w, h in info.level_dimensions)
        self._downsamples = tuple(float(d) for d in info.level_downsamples)
        props = {openslide.PROPERTY_NAME_VENDOR: TIATOOLBOX_VENDOR, "tiatoolbox.reader": type(self._reader).__name__}
        if info.mpp is not None and all(value is not None for value in info.mpp):
            props[openslide.PROPERTY_NAME_MPP_X], props[openslide.PROPERTY_NAME_MPP_Y] = (str(float(v)) for v in info.mpp)
        if info.objective_power:
            props[openslide.PROPERTY_NAME_OBJECTIVE_POWER] = str(float(info.objective_power))
        self._properties = props

    @classmethod
    def detect_format(cls, filename: str | os.PathLike) -> str | None:
        """tiatoolbox decides by opening the file, so no cheap detection is offered."""
        return None

    def close(self) -> None:
        """Release the reader."""
        self._reader = None

    @property
    def level_count(self) -> int:
        return len(self._dimensions)

    @property
    def level_dimensions(self) -> tuple[tuple[int, int], ...]:
        return self._dimensions

    @property
    def level_downsamples(self) -> tuple[float, ...]:
        return self._downsamples

    @property
    def properties(self) -> Mapping[str, str]:
        return self._properties

    @property
    def associated_images(self) -> Mapping[str, Image.Image]:
        return {}

    def get_best_level_for_downsample(self, downsample: float) -> int:
        """The coarsest level whose downsample does not exceed ``downsample`` (OpenSlide's rule)."""
        return max((i for i, d in enumerate(self._downsamples) if d <= downsample), default=0)

    def read_region(self, location: tuple[int, int], level: int, size: tuple[int, int]) -> Image.Image:
        """RGBA region of ``size`` at ``level``, its top-left corner at level-0 ``location``."""
        rgb = self._reader.read_rect(location, size, resolution=level, units="level", pad_mode="constant",
                                     pad_constant_values=0, coord_space="baseline")
        rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        x0, y0 = location
        scale = self._downsamples[level]
        width, height = self._dimensions[0]
        xs = x0 + np.arange(size[0]) * scale
        ys = y0 + np.arange(size[1]) * scale
        inside = (ys[:, None] >= 0) & (ys[:, None] < height) & (xs[None, :] >= 0) & (xs[None, :] < width)
        alpha = np.where(inside, 255, 0).astype(np.uint8)
        return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")

    def set_cache(self, _cache: Any) -> None:
        """tiatoolbox keeps no OpenSlide cache."""
