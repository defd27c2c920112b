"""The whole slide stage for a shard of slides in one job (``extract.slides_per_job``): segment, tile and extract
each slide with one interpreter and one encoder, each slide still its own unit (memamba.batch_jobs).

Each step of each slide writes its staged files atomically and then a stamp of what they were made from (the
step's settings, the slide file's size and time, the stamp of the step before; for extraction the weights' digest),
so a rerun skips every step whose stamp still holds: a killed job loses at most the step it was on, a changed
extraction setting re-encodes without segmenting again. Each step runs exactly as its own command does
(``memamba segment``, ``tile``, ``extract``), so the published files are the ones per-slide jobs would write.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from memamba.batch_jobs import is_current, run_units, stamp, write_stamp
from memamba.provenance import source_record
from memamba.slides.encoders import Encoder, build_encoder
from memamba.slides.extract import ExtractParams, extract_features, write_features
from memamba.slides.segment import SegmentParams, read_polygons, segment_slide, write_segmentation
from memamba.slides.shard_layout import SlideUnit
from memamba.slides.tile import TileParams, tile_slide, write_patches
from memamba.slides.weights import weights_digest


@dataclass(frozen=True)
class StageParams:
    """The settings of the three steps."""

    segment: SegmentParams
    tile: TileParams
    extract: ExtractParams


class _LazyEncoder:
    """The shard's encoder, built (and its weights loaded) at the first slide that needs encoding."""

    def __init__(self, params: ExtractParams) -> None:
        self.params, self.encoder = params, None

    def get(self) -> Encoder:
        self.encoder = self.encoder or build_encoder(self.params.encoder, self.params.weights, self.params.weights_sha256)
        return self.encoder


def _slide_stage(unit: SlideUnit, params: StageParams, encoder: _LazyEncoder, device: str, progress: bool) -> bool:
    """Segment, tile and extract one slide, each step skipped while its stamp holds; True when any step ran."""
    files, ran = unit.files(params.extract.encoder), False
    keys = {"segment": stamp({"segment": asdict(params.segment), "mpp": unit.mpp, "slide": source_record(unit.slide)})}
    keys["tile"] = stamp({"tile": asdict(params.tile), "after": keys["segment"]})
    digest = weights_digest(params.extract.encoder, params.extract.weights, params.extract.weights_sha256)
    keys["extract"] = stamp({"extract": asdict(params.extract), "weights_sha256": digest, "after": keys["tile"]})
    if not is_current(unit.stamp_file("segment"), keys["segment"], [files["geojson"], files["png"]]):
        result = segment_slide(unit.slide, params.segment, unit.mpp)
        write_segmentation(result, unit.slide, params.segment, files["geojson"], files["png"])
        write_stamp(unit.stamp_file("segment"), keys["segment"])
        ran = True
    if ran or not is_current(unit.stamp_file("tile"), keys["tile"], [files["patches"]]):
        grid = tile_slide(unit.slide, read_polygons(files["geojson"]), params.tile, unit.mpp, files["geojson"])
        write_patches(grid, files["patches"], params.tile, [unit.slide, files["geojson"]])
        write_stamp(unit.stamp_file("tile"), keys["tile"])
        ran = True
    if ran or not is_current(unit.stamp_file("extract"), keys["extract"], [files["features"]]):
        result = extract_features(unit.slide, files["patches"], params.extract, device, progress=progress, encoder=encoder.get())
        write_features(files["features"], result, params.extract, [unit.slide, files["patches"]])
        write_stamp(unit.stamp_file("extract"), keys["extract"])
        ran = True
    return ran


def slide_stage_shard(units: list[SlideUnit], params: StageParams, device: str = "auto",
                      progress: bool = False) -> pd.DataFrame:
    """The slide stage for every slide of ``units``; the manifest (memamba.batch_jobs.MANIFEST_COLUMNS)."""
    encoder = _LazyEncoder(params.extract)
    return run_units((unit.slide_id, lambda unit=unit: _slide_stage(unit, params, encoder, device, progress)) for unit in units)

