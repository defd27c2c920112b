import json
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from memamba.data.bags import read_features
from memamba.errors import MemambaError
from memamba.provenance import sha256_of
from memamba.slides.encoder_registry import list_encoders
from memamba.slides.encoders import build_encoder
from memamba.slides.extract import ExtractParams, extract_features, features_up_to_date, write_features
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
    half = ExtractParams(batch_size=4, dtype="float16")
    write_features(tmp_path / "half.h5", result, half, [demo_slide, tmp_path / "p.h5"])
    assert not features_up_to_date(tmp_path / "half.h5", params, [demo_slide, tmp_path / "p.h5"])
    with h5py.File(tmp_path / "half.h5") as h5:
        assert h5["features"].dtype == np.float16 and h5["features"].attrs["dtype"] == "float16"
    widened = read_features(tmp_path / "half.h5")
    assert widened.dtype == np.float32
    np.testing.assert_allclose(widened, result.features, rtol=1e-3, atol=1e-4)
    assert (tmp_path / "half.h5").stat().st_size < (tmp_path / "f.h5").stat().st_size


def test_slide_without_patches_gives_an_empty_feature_matrix(demo_slide: Path, tmp_path: Path) -> None:
    tile = TileParams(target_mpp=1.0, patch_size=32)
    write_patches(tile_slide(demo_slide, [], tile), tmp_path / "p.h5", tile, [demo_slide])
    result = extract_features(demo_slide, tmp_path / "p.h5", ExtractParams(), device="cpu", progress=False)
    assert result.features.shape == (0, 16) and result.coords.shape == (0, 2)


@pytest.mark.parametrize("name,dim,small", [
    ("uni", 1024, {"depth": 1}),
    ("uni2-h", 1536, {"depth": 1}),
    ("resnet50-trunc", 1024, {}),
    ("virchow2", 2560, {"depth": 1}),
    ("h-optimus-0", 1536, {"depth": 1}),
    ("gigapath", 1536, {"depth": 1}),
])
def test_weighted_encoders_load_their_published_keys_strictly(name: str, dim: int, small: dict, tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = build_encoder(name, random_weights=True, **small)
    full_state = _published_state(source) if name != "resnet50-trunc" else _full_resnet_state()
    torch.save(full_state, tmp_path / "weights.bin")
    loaded = build_encoder(name, tmp_path / "weights.bin", **small)
    assert loaded.weights_sha256 == sha256_of(tmp_path / "weights.bin") and source.weights_sha256 == "none"
    images = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        features = loaded.model((images - torch.tensor(loaded.mean).view(3, 1, 1)) / torch.tensor(loaded.std).view(3, 1, 1))
    assert features.shape == (2, dim) == (2, loaded.dim) and loaded.input_size == 224
    if name != "resnet50-trunc":
        with torch.no_grad():
            torch.testing.assert_close(features, source.model((images - torch.tensor(source.mean).view(3, 1, 1))
                                                              / torch.tensor(source.std).view(3, 1, 1)))


def _published_state(encoder) -> dict:
    """The checkpoint as published: the timm model's own keys (Virchow2's wrapper adds none)."""
    return (encoder.model.vit if encoder.name == "virchow2" else encoder.model).state_dict()


@pytest.mark.parametrize("name,shapes", [
    ("virchow2", {"cls_token": (1, 1, 1280), "reg_token": (1, 4, 1280), "pos_embed": (1, 261, 1280),
                  "patch_embed.proj.weight": (1280, 3, 14, 14), "blocks.0.mlp.fc1.weight": (6832, 1280),
                  "blocks.0.mlp.fc2.weight": (1280, 3416)}),
    ("h-optimus-0", {"cls_token": (1, 1, 1536), "reg_token": (1, 4, 1536), "pos_embed": (1, 256, 1536),
                     "patch_embed.proj.weight": (1536, 3, 14, 14), "blocks.0.mlp.fc1.weight": (8192, 1536)}),
    ("gigapath", {"cls_token": (1, 1, 1536), "pos_embed": (1, 197, 1536), "patch_embed.proj.weight": (1536, 3, 16, 16),
                  "blocks.0.mlp.fc1.weight": (8192, 1536), "blocks.0.mlp.fc2.weight": (1536, 4096)}),
])
def test_new_encoders_have_the_published_key_shapes_and_refuse_a_missing_or_extra_key(name: str, shapes: dict,
                                                                                      tmp_path: Path) -> None:
    source = build_encoder(name, random_weights=True, depth=1)
    state = _published_state(source)
    assert {key: tuple(state[key].shape) for key in shapes} == shapes
    assert not any(key.startswith("head.") and state[key].numel() for key in state)          # num_classes 0
    missing = dict(state)
    del missing["blocks.0.mlp.fc1.weight"]
    torch.save(missing, tmp_path / "missing.bin")
    with pytest.raises(MemambaError, match="blocks.0.mlp.fc1.weight"):
        build_encoder(name, tmp_path / "missing.bin", depth=1)
    torch.save({**state, "head.weight": torch.zeros(2, 8)}, tmp_path / "extra.bin")
    with pytest.raises(MemambaError, match="head.weight"):
        build_encoder(name, tmp_path / "extra.bin", depth=1)


def _full_resnet_state() -> dict:
    import timm

    return timm.create_model("resnet50", pretrained=False).state_dict()


def test_uni2_h_architecture_matches_the_published_one() -> None:
    model = build_encoder("uni2-h", random_weights=True, depth=1).model
    keys = model.state_dict()
    assert model.num_prefix_tokens == 1 + 8 and keys["reg_token"].shape == (1, 8, 1536)
    assert keys["cls_token"].shape == (1, 1, 1536)
    assert keys["blocks.0.mlp.fc1.weight"].shape == (2 * 4096, 1536)
    assert keys["pos_embed"].shape == (1, 256, 1536)


def _as_timm_054_checkpoint(state: dict) -> dict:
    """Rename today's timm Swin keys to the ones ctranspath.pth was saved with (timm 0.5.4)."""
    old = {}
    for key, value in state.items():
        match = re.match(r"layers\.(\d+)\.downsample\.(.*)", key)
        old[f"layers.{int(match[1]) - 1}.downsample.{match[2]}" if match else key] = value
        if key.endswith("attn.relative_position_bias_table"):
            old[key.replace("relative_position_bias_table", "relative_position_index")] = torch.zeros(49, 49, dtype=torch.long)
    old["layers.0.blocks.1.attn_mask"] = torch.zeros(64, 49, 49)
    return {"model": old}


def test_ctranspath_loads_the_released_timm_0_5_4_key_names_strictly(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = build_encoder("ctranspath", random_weights=True)
    published = _as_timm_054_checkpoint(source.model.state_dict())["model"]
    assert published["patch_embed.proj.0.weight"].shape == (12, 3, 3, 3)
    assert published["patch_embed.proj.3.weight"].shape == (24, 12, 3, 3)
    assert published["patch_embed.proj.6.weight"].shape == (96, 24, 1, 1)
    assert published["layers.0.downsample.reduction.weight"].shape == (192, 384)
    assert "layers.3.downsample.reduction.weight" not in published and published["norm.weight"].shape == (768,)
    torch.save(_as_timm_054_checkpoint(source.model.state_dict()), tmp_path / "ctranspath.pth")
    loaded = build_encoder("ctranspath", tmp_path / "ctranspath.pth")
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        features = loaded.model(images)
        torch.testing.assert_close(features, source.model(images))
    assert features.shape == (2, 768) and loaded.dim == 768 and loaded.input_size == 224
    truncated = {"model": {k: v for k, v in published.items() if not k.startswith("norm.")}}
    torch.save(truncated, tmp_path / "partial.pth")
    with pytest.raises(MemambaError, match=r"2 missing key\(s\) \['norm.weight', 'norm.bias'\]"):
        build_encoder("ctranspath", tmp_path / "partial.pth")


def test_weights_problems_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(MemambaError, match="MahmoodLab/UNI model page"):
        build_encoder("uni", depth=1)
    torch.save({"model": {"not.a.key": torch.zeros(1)}}, tmp_path / "bad.bin")
    with pytest.raises(MemambaError, match=r"not a checkpoint of encoder 'uni'.*unexpected key\(s\) \['not.a.key'\]"):
        build_encoder("uni", tmp_path / "bad.bin", depth=1)
    wrong_width = build_encoder("uni", random_weights=True, depth=1, embed_dim=512, num_heads=8).model.state_dict()
    torch.save(wrong_width, tmp_path / "other.bin")
    with pytest.raises(MemambaError, match=r"0 missing key\(s\) \[\], 0 unexpected key\(s\) \[\], \d+ key\(s\) of another shape"):
        build_encoder("uni", tmp_path / "other.bin", depth=1)
    with pytest.raises(MemambaError, match="SHA-256"):
        build_encoder("uni", tmp_path / "bad.bin", sha256="0" * 64, depth=1)


def test_patches_are_resized_and_normalised_for_the_encoder(demo_slide: Path) -> None:
    from memamba.slides.extract import PatchDataset, normaliser

    encoder = build_encoder("resnet50-trunc", random_weights=True)
    dataset = PatchDataset(demo_slide, np.array([[0, 0]]), read_level=0, read_size=64, output_size=encoder.input_size)
    image, problem = dataset[0]
    assert problem == "" and image.dtype == torch.uint8 and image.shape == (3, 224, 224)
    tensor = normaliser(encoder, torch.device("cpu"))(image[None])[0]
    background = (242 / 255 - encoder.mean[0]) / encoder.std[0]
    assert abs(float(tensor[0].median()) - background) < 0.1


def test_command_line_skips_a_finished_slide_and_redoes_a_changed_one(demo_slide: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    result = segment_slide(demo_slide, SegmentParams(seg_mpp=4.0, median_kernel=5, close_kernel=3, min_tissue_area_mm2=0.005))
    params = TileParams(target_mpp=1.0, patch_size=64)
    write_patches(tile_slide(demo_slide, result.polygons, params), tmp_path / "p.h5", params, [demo_slide])
    command = [sys.executable, "-m", "memamba.cli", "extract", str(demo_slide), "--patches", str(tmp_path / "p.h5"),
               "-o", str(tmp_path / "f.h5"), "--quiet", "--encoder", "demo-stats"]
    first = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    second = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert "features (" in first and "is up to date with encoder demo-stats; skipped" in second
    os.utime(tmp_path / "p.h5", (1, 1))
    third = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    forced = subprocess.run([*command, "--force"], capture_output=True, text=True, check=True).stdout
    assert "features (" in third and "features (" in forced


def test_device_resize_matches_the_workers_resize() -> None:
    import cv2

    from memamba.slides.extract import resize_on_device

    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8), (0, 0), 3)
    on_device = resize_on_device(torch.from_numpy(smooth).permute(2, 0, 1)[None], 224)[0].permute(1, 2, 0).numpy()
    in_worker = cv2.resize(smooth, (224, 224), interpolation=cv2.INTER_LINEAR)
    assert on_device.dtype == np.uint8 and on_device.shape == (224, 224, 3)
    assert np.abs(on_device.astype(int) - in_worker.astype(int)).mean() < 1.0


def test_hub_references_download_once_and_explain_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    source = build_encoder("uni", random_weights=True, depth=1)
    torch.save(source.model.state_dict(), tmp_path / "pytorch_model.bin")
    asked = []

    def fake_download(repo_id: str, filename: str) -> str:
        asked.append((repo_id, filename))
        if repo_id != "MahmoodLab/UNI":
            raise OSError("401 Client Error: gated repository")
        return str(tmp_path / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    loaded = build_encoder("uni", "hf-hub:MahmoodLab/UNI", depth=1)
    torch.testing.assert_close(loaded.model.state_dict()["cls_token"], source.model.state_dict()["cls_token"])
    assert asked == [("MahmoodLab/UNI", "pytorch_model.bin")]
    with pytest.raises(MemambaError, match=r"cannot fetch pytorch_model.bin .* MahmoodLab/UNI2-h \(OSError: 401.*huggingface-cli login"):
        build_encoder("uni", "hf-hub:MahmoodLab/UNI2-h", depth=1)
    with pytest.raises(MemambaError, match="hf-hub:ORG/REPO"):
        build_encoder("uni", "hf-hub:UNI", depth=1)


def test_features_are_redone_when_the_weights_content_changes_and_a_wrong_sha256_fails(demo_slide: Path, tmp_path: Path) -> None:
    import dataclasses
    import os

    from memamba.provenance import sha256_of

    weights = tmp_path / "resnet50.pth"
    weights.write_bytes(b"A" * 4096)
    params = ExtractParams(encoder="resnet50-trunc", weights=str(weights))
    polygons = segment_slide(demo_slide, SegmentParams(seg_mpp=4.0, min_tissue_area_mm2=0.005)).polygons
    tile = TileParams(target_mpp=1.0, patch_size=32)
    write_patches(tile_slide(demo_slide, polygons, tile), tmp_path / "p.h5", tile, [demo_slide])
    sources = [demo_slide, tmp_path / "p.h5"]
    result = extract_features(demo_slide, tmp_path / "p.h5", ExtractParams(batch_size=4), device="cpu", progress=False)
    write_features(tmp_path / "f.h5", dataclasses.replace(result, weights_sha256=sha256_of(weights)), params, sources)
    assert features_up_to_date(tmp_path / "f.h5", params, sources)
    stat = weights.stat()
    weights.write_bytes(b"B" * 4096)                                # another release, same size, same mtime (cp -p)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert not features_up_to_date(tmp_path / "f.h5", params, sources)
    wrong = dataclasses.replace(params, weights_sha256=sha256_of(tmp_path / "p.h5"))
    with pytest.raises(MemambaError, match=r"resnet50.pth: SHA-256 [0-9a-f]{64} differs from the expected .*weights_sha256"):
        features_up_to_date(tmp_path / "f.h5", wrong, sources)
