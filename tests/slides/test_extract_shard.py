import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from memamba.cli import main
from memamba.errors import MemambaError
from memamba.slides.extract_shard import take_features
from memamba.slides.segment import SegmentParams, segment_slide
from memamba.slides.tile import TileParams, tile_slide, write_patches


def _shard(demo_slide: Path, tmp_path: Path) -> list[dict]:
    """Three slides: the demo slide, a broken copy (not a slide at all) and the demo slide again."""
    tile = TileParams(target_mpp=1.0, patch_size=32)
    polygons = segment_slide(demo_slide, SegmentParams(seg_mpp=4.0, min_tissue_area_mm2=0.005)).polygons
    write_patches(tile_slide(demo_slide, polygons, tile), tmp_path / "p.h5", tile, [demo_slide])
    broken = tmp_path / "broken.svs"
    broken.write_text("not a slide")
    staged = tmp_path / "staged"
    return [{"slide_id": name, "slide": str(path), "patches": str(tmp_path / "p.h5"), "out": str(staged / f"{name}.h5")}
            for name, path in (("a", demo_slide), ("b", broken), ("c", demo_slide))]


def test_a_shard_encodes_each_slide_alone_resumes_and_isolates_a_broken_one(demo_slide: Path, tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture) -> None:
    jobs = _shard(demo_slide, tmp_path)
    manifest = tmp_path / "shard_0.tsv"
    command = ["extract", "--shard", json.dumps(jobs), "--manifest", str(manifest), "--quiet",
               "--params", '{"batch_size": 4, "encoder": "demo-stats"}']
    assert main(command) == 0
    first = pd.read_csv(manifest, sep="\t", keep_default_na=False)
    assert first["status"].tolist() == ["done", "failed", "done"]
    assert "broken.svs" in first.loc[1, "message"] and "1 failed" in capsys.readouterr().out
    assert main(command) == 0
    assert pd.read_csv(manifest, sep="\t")["status"].tolist() == ["up to date", "failed", "up to date"]
    published = take_features(manifest, "a", tmp_path / "features" / "a.h5")
    with h5py.File(published) as ours, h5py.File(jobs[2]["out"]) as again:
        assert ours["features"].shape[1] == 16 and np.array_equal(ours["features"][:], again["features"][:])
    with pytest.raises(MemambaError, match=r"slide b: feature extraction failed \(SlideError: .*broken\.svs.*\)\. Fix: repair"):
        take_features(manifest, "b", tmp_path / "features" / "b.h5")
    assert not (tmp_path / "features" / "b.h5").exists()
    Path(jobs[2]["out"]).unlink()
    with pytest.raises(MemambaError, match=r"staged features of slide c are gone\. Fix: delete .*shard_0\.tsv"):
        take_features(manifest, "c", tmp_path / "features" / "c.h5")
