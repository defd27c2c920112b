"""memamba slide-stage: the whole slide stage for a shard of slides in one process, each slide its own unit."""

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from memamba.cli import main
from memamba.publish import UnitError, publish_unit
from memamba.slides.extract import ExtractParams, extract_features
from memamba.slides.segment import SegmentParams, read_polygons, segment_slide, write_segmentation
from memamba.slides.shard_layout import staged_slide_files
from memamba.slides.tile import TileParams, tile_slide, write_patches

SEGMENT = {"seg_mpp": 4.0, "min_tissue_area_mm2": 0.005}
TILE = {"target_mpp": 1.0, "patch_size": 32}


def _command(demo_slide: Path, tmp_path: Path, extract: dict) -> list[str]:
    broken = tmp_path / "broken.svs"
    broken.write_text("not a slide")
    shard = [{"slide_id": "a", "slide": str(demo_slide), "mpp": None}, {"slide_id": "b", "slide": str(broken), "mpp": None},
             {"slide_id": "c", "slide": str(demo_slide), "mpp": 0.5}]
    return ["slide-stage", "--shard", json.dumps(shard), "--staged", str(tmp_path / "staged"), "--manifest",
            str(tmp_path / "shard_0.tsv"), "--segment-params", json.dumps(SEGMENT), "--tile-params", json.dumps(TILE),
            "--extract-params", json.dumps(extract), "--quiet"]


def test_each_slide_is_staged_as_its_own_commands_write_it_and_a_broken_one_fails_alone(demo_slide: Path, tmp_path: Path) -> None:
    extract = {"encoder": "demo-stats", "batch_size": 4}
    assert main(_command(demo_slide, tmp_path, extract)) == 0
    manifest = pd.read_csv(tmp_path / "shard_0.tsv", sep="\t", keep_default_na=False)
    assert manifest["status"].tolist() == ["done", "failed", "done"] and "broken.svs" in manifest.loc[1, "message"]
    alone = tmp_path / "alone"
    segment, tile = SegmentParams(**SEGMENT), TileParams(**TILE)
    write_segmentation(segment_slide(demo_slide, segment), demo_slide, segment, alone / "a.geojson", alone / "a.png")
    write_patches(tile_slide(demo_slide, read_polygons(alone / "a.geojson"), tile), alone / "a.h5", tile, [demo_slide])
    want = extract_features(demo_slide, alone / "a.h5", ExtractParams(**extract), "cpu", progress=False)
    staged = staged_slide_files(tmp_path / "staged", "a", "demo-stats")
    with h5py.File(staged["patches"]) as patches, h5py.File(staged["features"]) as features:
        np.testing.assert_array_equal(patches["coords"][:], want.coords)
        np.testing.assert_array_equal(features["features"][:], want.features)
    assert staged["geojson"].read_text() != "" and staged["png"].stat().st_size > 0
    with h5py.File(staged_slide_files(tmp_path / "staged", "c", "demo-stats")["patches"]) as other_mpp:
        assert other_mpp["coords"].attrs["slide_mpp"] == 0.5
    with pytest.raises(UnitError, match=r"slide b: failed in its batch job \(SlideError: .*broken\.svs.*\)\. Fix: repair"):
        publish_unit(str(tmp_path / "shard_0.tsv"), "b", [(str(staged["features"]), str(tmp_path / "b.h5"))], "slide b",
                     "repair or replace the slide (or drop its row from the slide sheet) and rerun")
    assert not (tmp_path / "b.h5").exists()


def test_a_rerun_skips_each_step_whose_inputs_and_settings_are_unchanged(demo_slide: Path, tmp_path: Path) -> None:
    extract = {"encoder": "demo-stats", "batch_size": 4}
    assert main(_command(demo_slide, tmp_path, extract)) == 0
    staged = staged_slide_files(tmp_path / "staged", "a", "demo-stats")
    times = {key: path.stat().st_mtime_ns for key, path in staged.items()}
    assert main(_command(demo_slide, tmp_path, extract)) == 0
    assert pd.read_csv(tmp_path / "shard_0.tsv", sep="\t")["status"].tolist() == ["up to date", "failed", "up to date"]
    assert {key: path.stat().st_mtime_ns for key, path in staged.items()} == times
    assert main(_command(demo_slide, tmp_path, {**extract, "dtype": "float16"})) == 0        # only the encoding changes
    assert pd.read_csv(tmp_path / "shard_0.tsv", sep="\t")["status"].tolist() == ["done", "failed", "done"]
    again = {key: path.stat().st_mtime_ns for key, path in staged.items()}
    assert again["geojson"] == times["geojson"] and again["patches"] == times["patches"] and again["features"] != times["features"]
    staged["patches"].unlink()                                                                  # a step's file lost: redone
    assert main(_command(demo_slide, tmp_path, {**extract, "dtype": "float16"})) == 0
    assert staged["patches"].exists() and staged["features"].stat().st_mtime_ns != again["features"]


def test_a_shard_that_is_not_a_list_of_slides_is_refused_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["slide-stage", "--shard", '[{"slide": "x.svs"}]', "--staged", str(tmp_path), "--manifest", str(tmp_path / "m.tsv")]) == 2
    assert "--shard is not a JSON list of {slide_id, slide, mpp} objects" in capsys.readouterr().err
