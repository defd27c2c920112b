"""Feature extraction: read patches in DataLoader workers, encode in batches, write HDF5 with provenance."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import h5py
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from memamba.atomic import atomic_path
from memamba.errors import MemambaError, require_file
from memamba.identifiers import slide_stem
from memamba.provenance import provenance_json
from memamba.slides.encoders import Encoder, build_encoder
from memamba.slides.reader import SlideError, open_slide, read_region_rgb
from memamba.slides.tile import peer_attributes
from memamba.slides.weights import weights_digest
from memamba.train.device import pick_device

log = logging.getLogger(__name__)

UNREADABLE_PATCH_POLICIES = ("error", "skip")
WORKER_CHUNK = 32  # patches a DataLoader worker reads per item; the encoder's batches are gathered from several


@dataclass(frozen=True)
class ExtractParams:
    """Extraction parameters."""

    encoder: str = "demo-stats"
    weights: str | None = None
    weights_sha256: str | None = None
    batch_size: int = 64
    num_workers: int = 0
    on_unreadable_patch: str = "error"
    dtype: str = "float32"


class PatchDataset(Dataset):
    """Patches of one slide, read at the tiling's read level and resized to the encoder's input size.

    ``output_size`` None keeps the read size (the encoder's device resizes). Each item is ``(image, problem)``:
    ``image`` is uint8 RGB, channels first (a quarter of float32's bytes
    between processes; :func:`normalise` runs on the encoder's device); ``problem`` is "" or the message of a
    patch that could not be decoded (the image is then zeros), so that the main process decides what to do
    with it. Each worker opens its
    own slide handle on first use (handles must not cross processes) and reopens it after a decode error
    (OpenSlide's errors are sticky).
    """

    def __init__(self, slide_path: str | os.PathLike, coords: np.ndarray, read_level: int, read_size: int,
                 output_size: int | None) -> None:
        self.slide_path = str(slide_path)
        self.coords = coords
        self.read_level = read_level
        self.read_size = read_size
        self.output_size = output_size
        self._slide = None

    def __len__(self) -> int:
        return len(self.coords)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        if self._slide is None:
            self._slide = open_slide(self.slide_path)
        x, y = (int(v) for v in self.coords[index])
        try:
            rgb = read_region_rgb(self._slide, self.slide_path, (x, y), self.read_level, (self.read_size, self.read_size))
        except SlideError as exc:
            self._slide.close()
            self._slide = None
            side = self.output_size or self.read_size
            return torch.zeros(3, side, side, dtype=torch.uint8), str(exc)
        if self.output_size and rgb.shape[:2] != (self.output_size, self.output_size):
            much_smaller = 2 * self.output_size <= rgb.shape[0]
            rgb = cv2.resize(rgb, (self.output_size, self.output_size),
                             interpolation=cv2.INTER_AREA if much_smaller else cv2.INTER_LINEAR)
        return torch.from_numpy(rgb).permute(2, 0, 1), ""


def resize_on_device(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a uint8 batch to ``size`` x ``size`` where it lies (bilinear, antialiased), keeping uint8."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    resized = nn.functional.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return resized.round_().clamp_(0, 255).to(torch.uint8)


def normaliser(encoder: Encoder, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function taking uint8 RGB batches on ``device`` to the encoder's float input: [0, 1], then its mean and std.

    Mean and std are put on the device once: building them per batch would copy from pageable host memory,
    which waits for the device's queued work and so stops reading and encoding from overlapping.
    """
    mean = torch.tensor(encoder.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(encoder.std, device=device).view(1, 3, 1, 1)
    return lambda images: (images.float().div_(255.0) - mean) / std


@dataclass
class SlideFeatures:
    """One slide's patch features, their coordinates, the tiling attributes and the input normalisation."""

    features: np.ndarray
    coords: np.ndarray
    tiling: dict
    normalisation: dict
    skipped_coords: np.ndarray
    weights_sha256: str


@torch.inference_mode()
def extract_features(slide_path: str | os.PathLike, patches_h5: str | os.PathLike, params: ExtractParams,
                     device: str = "auto", progress: bool = True, encoder: Encoder | None = None) -> SlideFeatures:
    """Encode every patch listed in ``patches_h5`` in batches (bf16 autocast and channels-last on CUDA).

    A patch that cannot be decoded stops the slide with a SlideError, or is dropped and recorded when
    ``params.on_unreadable_patch`` is ``skip``. ``encoder`` replaces the one ``params`` names (benchmarks
    pass random-weight encoders this way).
    """
    if params.on_unreadable_patch not in UNREADABLE_PATCH_POLICIES:
        raise MemambaError(f"extract.on_unreadable_patch is {params.on_unreadable_patch!r}. "
                           f"Fix: use one of {list(UNREADABLE_PATCH_POLICIES)}.")
    encoder = encoder or build_encoder(params.encoder, params.weights, params.weights_sha256)
    coords, tiling = read_patch_grid(patches_h5)
    torch_device = pick_device(device)
    on_cuda = torch_device.type == "cuda"
    model = encoder.model.to(torch_device, memory_format=torch.channels_last if on_cuda else torch.preserve_format)
    size = encoder.input_size or int(tiling["patch_size"])
    normalise = normaliser(encoder, torch_device)
    dataset = PatchDataset(slide_path, coords, int(tiling["read_level"]), int(tiling["read_size"]),
                           None if on_cuda else size)
    loader = DataLoader(dataset, batch_size=min(WORKER_CHUNK, params.batch_size), num_workers=params.num_workers,
                        pin_memory=on_cuda, persistent_workers=False,
                        prefetch_factor=4 * max(1, params.batch_size // WORKER_CHUNK) if params.num_workers else None)

    def encode(pending: list[torch.Tensor]) -> torch.Tensor:
        images = torch.cat(pending) if len(pending) > 1 else pending[0]
        if on_cuda:
            images = resize_on_device(images, size).contiguous(memory_format=torch.channels_last)
        with torch.autocast(torch_device.type, dtype=torch.bfloat16, enabled=on_cuda):
            return model(normalise(images)).float()

    chunks, problems, pending = [], [], []
    with tqdm(total=len(dataset), desc=f"extract {Path(slide_path).name}", disable=not progress, unit="patch") as bar:
        for images, chunk_problems in loader:
            problems.extend(chunk_problems)
            if params.on_unreadable_patch == "error" and any(chunk_problems):
                raise SlideError(next(p for p in chunk_problems if p))
            pending.append(images.to(torch_device, non_blocking=True))
            if sum(len(p) for p in pending) >= params.batch_size:
                chunks.append(encode(pending))
                pending = []
            bar.update(len(images))
        if pending:
            chunks.append(encode(pending))
    features = torch.cat(chunks).cpu().numpy() if chunks else np.zeros((0, encoder.dim), np.float32)
    readable = np.array([not p for p in problems], bool) if problems else np.ones(0, bool)
    if not readable.all():
        log.warning("%s: %d of %d patches could not be decoded and were dropped (extract.on_unreadable_patch: skip)",
                    slide_path, int((~readable).sum()), len(readable))
    normalisation = {"mean": list(encoder.mean), "std": list(encoder.std)}
    return SlideFeatures(features[readable].astype(np.float32), coords[readable], tiling, normalisation, coords[~readable],
                         encoder.weights_sha256)


def read_patch_grid(patches_h5: str | os.PathLike) -> tuple[np.ndarray, dict]:
    """The ``coords`` (N x 2) of a patch file written by ``memamba tile`` and its tiling attributes.

    A file that is not HDF5, or lacks the coords or the tiling attributes, is a MemambaError naming it.
    """
    path = require_file(patches_h5, "patch file", "run 'memamba tile' for this slide first")
    fix = "delete it and rerun 'memamba tile' for this slide (the workflow does so when the file is removed)"
    try:
        with h5py.File(path, "r") as h5:
            coords = h5["coords"][:]
            tiling = dict(h5["coords"].attrs)
    except (OSError, KeyError) as exc:
        raise MemambaError(f"{path}: not a patch file written by 'memamba tile' ({exc}). Fix: {fix}.") from exc
    missing = [key for key in ("patch_size", "read_level", "read_size") if key not in tiling]
    if coords.ndim != 2 or coords.shape[1] != 2 or missing:
        raise MemambaError(f"{path}: coords of shape {coords.shape}, attributes {missing} missing. Fix: {fix}.")
    return coords, tiling


def features_up_to_date(out: str | os.PathLike, params: ExtractParams, sources: list[str | os.PathLike]) -> bool:
    """Whether ``out`` holds features made with these parameters from these very inputs (same size and mtime) and
    with weights of the same content (SHA-256). A configured ``weights_sha256`` the weights file does not match is a
    MemambaError, not a reason to skip."""
    digest = weights_digest(params.encoder, params.weights, params.weights_sha256)
    try:
        with h5py.File(out, "r") as h5:
            recorded = json.loads(h5["features"].attrs["provenance"])
            recorded_digest = str(h5["features"].attrs["weights_sha256"])
    except (OSError, KeyError, ValueError):
        return False
    current = json.loads(provenance_json(_provenance_params(params), sources))
    return (recorded["params"] == current["params"] and recorded["sources"] == current["sources"]
            and recorded_digest == digest)


def _provenance_params(params: ExtractParams) -> dict:
    return {"encoder": params.encoder, "weights": params.weights, "on_unreadable_patch": params.on_unreadable_patch,
            "dtype": params.dtype}


def write_features(out: str | os.PathLike, result: SlideFeatures, params: ExtractParams,
                   sources: list[str | os.PathLike]) -> None:
    """Write ``features/{encoder}/{slide}.h5`` atomically with the encoder's provenance; ``coords`` carries the
    tiling's attributes, CLAM's and TRIDENT's included (TRIDENT's feature-file layout). Features are stored in
    ``params.dtype``."""
    out = Path(out)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("features", data=result.features.astype(params.dtype))
        h5.create_dataset("coords", data=result.coords.reshape(-1, 2).astype(np.int64))
        tiling = {key: value for key, value in result.tiling.items() if key != "provenance"}
        h5["coords"].attrs.update({**tiling, **peer_attributes(tiling, slide_stem(out.stem))})
        attrs = h5["features"].attrs
        attrs["encoder"] = params.encoder
        attrs["weights_sha256"] = result.weights_sha256
        attrs["dtype"] = params.dtype
        attrs["mpp"] = float(result.tiling["target_mpp"])
        attrs["patch_size"] = int(result.tiling["patch_size"])
        attrs["normalisation"] = json.dumps(result.normalisation)
        attrs["skipped_patches"] = len(result.skipped_coords)
        if len(result.skipped_coords):
            h5.create_dataset("skipped_coords", data=result.skipped_coords.reshape(-1, 2).astype(np.int64))
        attrs["provenance"] = provenance_json(_provenance_params(params), sources)
