import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from memamba.slides.encoders import build_encoder, list_encoders
from memamba.slides.extract import ExtractParams, extract_features, write_features
from memamba.slides.segment import SegmentParams, segment_slide
from memamba.slides.tile import TileParams, tile_slide, write_patches


def test_registry_lists_and_rejects_unknown_names() -> None:
    assert "demo-stats" in list_encoders()
    with pytest.raises(KeyError, match="demo-stats"):
        build_encoder("no-such-encoder")


def test_demo_encoder_separates_dark_from_light_patches() -> None:
    encoder = build_encoder("demo-stats")
    light = torch.full((1, 3, 32, 32), 0.9)
    dark = torch.full((1, 3, 32, 32), 0.2)
    features = encoder.model(torch.cat([light, dark]))
    assert features.shape == (2, encoder.dim)
    assert features[1, 11] == 1.0 and features[0, 11] == 0.0


def test_extract_writes_features_with_provenance(demo_slide: Path, tmp_path: Path) -> None:
    polygons = segment_slide(demo_slide, SegmentParams(seg_mpp=4.0, min_tissue_area_mm2=0.005)).polygons
    tile = TileParams(target_mpp=1.0, patch_size=32)
    write_patches(tile_slide(demo_slide, polygons, tile), tmp_path / "p.h5", tile, [demo_slide])
    params = ExtractParams(batch_size=4)
    result = extract_features(demo_slide, tmp_path / "p.h5", params, device="cpu", progress=False)
    write_features(tmp_path / "f.h5", result, params, [demo_slide, tmp_path / "p.h5"])
    with h5py.File(tmp_path / "f.h5") as h5, h5py.File(tmp_path / "p.h5") as patches:
        assert h5["features"].shape == (len(patches["coords"]), 16)
        assert np.array_equal(h5["coords"][:], patches["coords"][:])
        assert np.isfinite(h5["features"][:]).all()
        attrs = h5["features"].attrs
        assert attrs["encoder"] == "demo-stats" and attrs["weights_sha256"] == "none" and attrs["mpp"] == 1.0
        provenance = json.loads(attrs["provenance"])
        assert provenance["sources"][0]["path"] == str(demo_slide.resolve())


def test_slide_without_patches_gives_an_empty_feature_matrix(demo_slide: Path, tmp_path: Path) -> None:
    tile = TileParams(target_mpp=1.0, patch_size=32)
    write_patches(tile_slide(demo_slide, [], tile), tmp_path / "p.h5", tile, [demo_slide])
    result = extract_features(demo_slide, tmp_path / "p.h5", ExtractParams(), device="cpu", progress=False)
    assert result.features.shape == (0, 16) and result.coords.shape == (0, 2)
