"""One extraction job for several slides (``extract.slides_per_job``): the encoder is built and its weights loaded
once, each slide is still its own unit.

Each slide's features go atomically to their own staging file, so a killed job loses at most the slide it was
encoding, and a rerun skips every slide whose staged file is up to date with the same inputs and settings. A slide
that fails (unreadable file, a patch that cannot be decoded, out of memory) is recorded with its error in the
shard's manifest and the job goes on with the next one; the workflow's per-slide ``take_features`` job then
publishes a good slide's file, or fails with that slide's own error, so one bad slide fails only itself.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from memamba.atomic import atomic_path
from memamba.errors import MemambaError
from memamba.slides.encoders import build_encoder
from memamba.slides.extract import ExtractParams, extract_features, features_up_to_date, write_features

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["slide_id", "features", "status", "message"]


@dataclass(frozen=True)
class SlideJob:
    """One slide of a shard: its id, slide file, patch file (from ``memamba tile``) and staged feature file."""

    slide_id: str
    slide: Path
    patches: Path
    out: Path


def extract_shard(jobs: list[SlideJob], params: ExtractParams, device: str = "auto", progress: bool = False) -> pd.DataFrame:
    """Encode every slide of ``jobs`` with one encoder; the manifest rows (``MANIFEST_COLUMNS``): status ``done``,
    ``up to date`` (skipped) or ``failed`` with the slide's error message."""
    rows, encoder = [], None
    for job in jobs:
        sources = [job.slide, job.patches]
        if features_up_to_date(job.out, params, sources):
            rows.append([job.slide_id, str(job.out), "up to date", ""])
            continue
        encoder = encoder or build_encoder(params.encoder, params.weights, params.weights_sha256)
        try:
            result = extract_features(job.slide, job.patches, params, device, progress=progress, encoder=encoder)
            write_features(job.out, result, params, sources)
        except (MemambaError, OSError, RuntimeError, ValueError, KeyError) as exc:
            log.error("%s: %s", job.slide, exc)
            rows.append([job.slide_id, str(job.out), "failed", f"{type(exc).__name__}: {exc}"])
            continue
        rows.append([job.slide_id, str(job.out), "done", ""])
    return pd.DataFrame(rows, columns=MANIFEST_COLUMNS)


def write_manifest(manifest: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a shard's manifest atomically (tab-separated)."""
    with atomic_path(path) as tmp:
        manifest.to_csv(tmp, sep="\t", index=False)


def take_features(manifest_path: str | os.PathLike, slide_id: str, out: str | os.PathLike) -> Path:
    """Publish ``slide_id``'s staged features at ``out`` (a hard link, a copy across file systems); a MemambaError
    with the slide's own error when its extraction failed."""
    manifest = pd.read_csv(manifest_path, sep="\t", dtype=str, keep_default_na=False).set_index("slide_id")
    if slide_id not in manifest.index:
        raise MemambaError(f"{manifest_path}: slide {slide_id!r} is not in this shard. Fix: rerun its extract_shard job "
                           "(delete the manifest).")
    row = manifest.loc[slide_id]
    if row["status"] == "failed":
        raise MemambaError(f"slide {slide_id}: feature extraction failed ({row['message']}). Fix: repair or replace the "
                           "slide (or drop its row from the slide sheet) and rerun; the shard's other slides are kept.")
    staged, out = Path(row["features"]), Path(out)
    if not staged.is_file():
        raise MemambaError(f"{staged}: the staged features of slide {slide_id} are gone. Fix: delete {manifest_path} "
                           "and rerun, which re-encodes that shard's missing slides.")
    with atomic_path(out) as tmp:
        tmp.unlink()
        try:
            os.link(staged, tmp)
        except OSError:
            shutil.copyfile(staged, tmp)
    return out
