"""Where a slide shard (``memamba slide-stage``) stages each slide's files: light, so that the workflow reads it
at start-up without importing torch."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SlideUnit:
    """One slide of a shard: its id, file, microns-per-pixel override (None: the file's) and staging folder."""

    slide_id: str
    slide: Path
    mpp: float | None
    staged: Path

    def files(self, encoder: str) -> dict[str, Path]:
        """The slide's staged files (:func:`staged_slide_files`)."""
        return staged_slide_files(self.staged, self.slide_id, encoder)

    def stamp_file(self, step: str) -> Path:
        """Where the stamp of one step (segment, tile, extract) of this slide is kept."""
        return self.staged / "stamps" / f"{self.slide_id}.{step}.json"


def staged_slide_files(staged: str | os.PathLike, slide_id: str, encoder: str) -> dict[str, Path]:
    """A slide's staged files under a cohort's staging folder, in the layout of results/{cohort}/ (tissue/,
    patches/, features/{encoder}/): what a shard writes and the workflow publishes."""
    root = Path(staged)
    return {"geojson": root / "tissue" / f"{slide_id}.geojson", "png": root / "tissue" / f"{slide_id}.png",
            "patches": root / "patches" / f"{slide_id}.h5", "features": root / "features" / encoder / f"{slide_id}.h5"}
