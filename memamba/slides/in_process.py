"""The slide stage (segment, tile, extract) for every slide of a sheet in one process, with a config's settings:
for small cohorts and known-answer checks, where a job per slide would cost more in start-up than in work."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from memamba.identifiers import slide_stem
from memamba.sheets import read_sheet
from memamba.slides.extract import ExtractParams, extract_features, write_features
from memamba.slides.segment import SegmentParams, segment_slide
from memamba.slides.tile import TileParams, tile_slide, write_patches


def _params(cls: type, section: dict[str, Any]) -> Any:
    return cls(**{key: value for key, value in section.items() if key in cls.__dataclass_fields__})


def extract_sheet(slides_sheet: str | os.PathLike, out_dir: str | os.PathLike, config: dict[str, Any],
                  device: str = "cpu") -> Path:
    """``out_dir/{slide}.h5`` (the slide id as a file name) for every slide of ``slides_sheet``, with the ``segment``, ``tile`` and ``extract``
    sections of a validated ``config``; returns ``out_dir``."""
    segment, tile = _params(SegmentParams, config["segment"]), _params(TileParams, config["tile"])
    extract = _params(ExtractParams, config["extract"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for row in read_sheet(slides_sheet, "slides").itertuples():
        mpp = None if pd.isna(row.mpp) else float(row.mpp)
        stem = slide_stem(row.slide_id)
        grid = tile_slide(row.path, segment_slide(row.path, segment, mpp).polygons, tile, mpp)
        patches = out_dir / f"{stem}.patches.h5"
        write_patches(grid, patches, tile, [row.path])
        write_features(out_dir / f"{stem}.h5", extract_features(row.path, patches, extract, device, progress=False),
                       extract, [row.path])
        patches.unlink()
    return out_dir
