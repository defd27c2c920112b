"""Feature extraction: read patches in DataLoader workers, encode in batches, write HDF5 with provenance."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from memamba.atomic import atomic_path
from memamba.errors import require_file
from memamba.provenance import provenance_json, sha256_of
from memamba.slides.encoders import Encoder, build_encoder
from memamba.slides.reader import open_slide
from memamba.train.device import pick_device


@dataclass(frozen=True)
class ExtractParams:
    """Extraction parameters."""

    encoder: str = "demo-stats"
    weights: str | None = None
    weights_sha256: str | None = None
    batch_size: int = 64
    num_workers: int = 0


class PatchDataset(Dataset):
    """Patches of one slide, read at the tiling's read level and resized to the patch size.

    Each worker opens its own OpenSlide handle on first use (handles must not cross processes).
    """

    def __init__(self, slide_path: str | os.PathLike, coords: np.ndarray, read_level: int, read_size: int,
                 patch_size: int, encoder: Encoder) -> None:
        self.slide_path = str(slide_path)
        self.coords = coords
        self.read_level = read_level
        self.read_size = read_size
        self.output_size = encoder.input_size or patch_size
        self.mean = torch.tensor(encoder.mean).view(3, 1, 1)
        self.std = torch.tensor(encoder.std).view(3, 1, 1)
        self._slide = None

    def __len__(self) -> int:
        return len(self.coords)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self._slide is None:
            self._slide = open_slide(self.slide_path)
        x, y = (int(v) for v in self.coords[index])
        region = self._slide.read_region((x, y), self.read_level, (self.read_size, self.read_size))
        background = Image.new("RGB", region.size, (255, 255, 255))
        background.paste(region, mask=region.split()[3])
        if background.size != (self.output_size, self.output_size):
            background = background.resize((self.output_size, self.output_size), Image.Resampling.BILINEAR)
        tensor = torch.from_numpy(np.asarray(background, np.float32) / 255.0).permute(2, 0, 1)
        return (tensor - self.mean) / self.std


@dataclass
class SlideFeatures:
    """One slide's patch features, their coordinates, the tiling attributes and the input normalisation."""

    features: np.ndarray
    coords: np.ndarray
    tiling: dict
    normalisation: dict


@torch.inference_mode()
def extract_features(slide_path: str | os.PathLike, patches_h5: str | os.PathLike, params: ExtractParams,
                     device: str = "auto", progress: bool = True) -> SlideFeatures:
    """Encode every patch listed in ``patches_h5`` in batches."""
    encoder = build_encoder(params.encoder, params.weights, params.weights_sha256)
    with h5py.File(require_file(patches_h5, "patch file", "run 'memamba tile' for this slide first"), "r") as h5:
        coords = h5["coords"][:]
        tiling = dict(h5["coords"].attrs)
    torch_device = pick_device(device)
    model = encoder.model.to(torch_device)
    if torch_device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    dataset = PatchDataset(slide_path, coords, int(tiling["read_level"]), int(tiling["read_size"]),
                           int(tiling["patch_size"]), encoder)
    loader = DataLoader(dataset, batch_size=params.batch_size, num_workers=params.num_workers,
                        pin_memory=torch_device.type == "cuda", persistent_workers=False)
    chunks = []
    for batch in tqdm(loader, desc=f"extract {Path(slide_path).name}", disable=not progress, unit="batch"):
        batch = batch.to(torch_device, non_blocking=True)
        with torch.autocast(torch_device.type, dtype=torch.bfloat16, enabled=torch_device.type == "cuda"):
            chunks.append(model(batch).float().cpu().numpy())
    features = np.concatenate(chunks) if chunks else np.zeros((0, encoder.dim), np.float32)
    normalisation = {"mean": list(encoder.mean), "std": list(encoder.std)}
    return SlideFeatures(features.astype(np.float32), coords, tiling, normalisation)


def write_features(out: str | os.PathLike, result: SlideFeatures, params: ExtractParams,
                   sources: list[str | os.PathLike]) -> None:
    """Write ``features/{encoder}/{slide}.h5`` atomically with the encoder's provenance."""
    with atomic_path(Path(out)) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("features", data=result.features)
        h5.create_dataset("coords", data=result.coords.reshape(-1, 2).astype(np.int64))
        attrs = h5["features"].attrs
        attrs["encoder"] = params.encoder
        attrs["weights_sha256"] = sha256_of(params.weights) if params.weights else "none"
        attrs["dtype"] = str(result.features.dtype)
        attrs["mpp"] = float(result.tiling["target_mpp"])
        attrs["patch_size"] = int(result.tiling["patch_size"])
        attrs["normalisation"] = json.dumps(result.normalisation)
        attrs["provenance"] = provenance_json({"encoder": params.encoder, "weights": params.weights}, sources)
