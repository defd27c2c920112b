"""End-to-end feature extraction against its two limits: the encoder alone, and patch reading alone.

On a synthetic slide: (1) the encoder on random patches already on the device (the compute limit);
(2) the DataLoader reading and resizing patches, copied to the device, no encoder (the reading limit);
(3) ``extract_features`` end to end. Goal (issue 3): (3) at least 0.8x of (1) with ``uni`` on a GPU;
the table says which side bounds the pipeline. Run: python benchmarks/extract_throughput.py --encoder uni --device cuda
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from synthetic_slide import write_large_slide
from torch.utils.data import DataLoader

from memamba.slides.encoders import build_encoder
from memamba.slides.extract import WORKER_CHUNK, ExtractParams, PatchDataset, extract_features, normaliser, resize_on_device
from memamba.slides.segment import SegmentParams, segment_slide
from memamba.slides.tile import TileParams, tile_slide, write_patches


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.inference_mode()
def encoder_alone(encoder, device: torch.device, batch_size: int, batches: int) -> float:
    """Patches per second of normalise + forward on random uint8 patches already on ``device``."""
    model = encoder.model.to(device, memory_format=torch.channels_last if device.type == "cuda" else torch.preserve_format)
    normalise = normaliser(encoder, device)
    images = torch.randint(0, 256, (batch_size, 3, encoder.input_size, encoder.input_size), dtype=torch.uint8, device=device)
    for step in range(batches + 2):
        if step == 2:
            synchronise(device)
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            model(normalise(images).contiguous(memory_format=torch.channels_last)).float()
    synchronise(device)
    return batch_size * batches / (time.perf_counter() - start)


def reading_alone(slide: Path, grid, output_size: int, device: torch.device, batch_size: int, workers: int) -> float:
    """Patches per second of the DataLoader (read, pin, copy to ``device``, resize as extraction does), no encoder."""
    on_cuda = device.type == "cuda"
    dataset = PatchDataset(slide, grid.coords, grid.read_level, grid.read_size, None if on_cuda else output_size)
    loader = DataLoader(dataset, batch_size=WORKER_CHUNK, num_workers=workers, pin_memory=on_cuda,
                        prefetch_factor=4 * max(1, batch_size // WORKER_CHUNK) if workers else None)
    start = time.perf_counter()
    for images, _ in loader:
        images = images.to(device, non_blocking=True)
        if on_cuda:
            resize_on_device(images, output_size)
    synchronise(device)
    return len(dataset) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--encoder", default="uni")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--slide-size", type=int, default=40_000, help="synthetic slide width/height at 0.5 um/px")
    parser.add_argument("--max-patches", type=int, default=None)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "memamba-bench")
    parser.add_argument("--architecture", default="", help="e.g. depth=2 for a smaller encoder (key=int,...)")
    args = parser.parse_args()
    device = torch.device(args.device)
    architecture = {k: int(v) for k, v in (item.split("=") for item in args.architecture.split(",") if item)}
    encoder = build_encoder(args.encoder, random_weights=True, **architecture)
    slide = write_large_slide(args.workdir / f"synthetic-{args.slide_size}-0.5mpp.svs", args.slide_size, mpp=0.5)
    tile = TileParams(target_mpp=0.5, patch_size=256)
    grid = tile_slide(slide, segment_slide(slide, SegmentParams()).polygons, tile)
    grid.coords = grid.coords[: args.max_patches]
    patches = args.workdir / "patches.h5"
    write_patches(grid, patches, tile, [slide])
    size = encoder.input_size or tile.patch_size
    print(f"{slide.name}: {len(grid.coords)} patches of {grid.read_size} px -> {size} px; encoder {args.encoder} "
          f"({sum(p.numel() for p in encoder.model.parameters()) / 1e6:.0f} M parameters) on {device} "
          f"{torch.cuda.get_device_name(device) if device.type == 'cuda' else ''}; batch {args.batch_size}, "
          f"{args.workers} workers")
    compute = encoder_alone(encoder, device, args.batch_size, batches=max(4, len(grid.coords) // args.batch_size))
    reading = reading_alone(slide, grid, size, device, args.batch_size, args.workers)
    params = ExtractParams(encoder=args.encoder, batch_size=args.batch_size, num_workers=args.workers)
    extract_features(slide, patches, params, str(device), progress=False, encoder=encoder)
    start = time.perf_counter()
    result = extract_features(slide, patches, params, str(device), progress=False, encoder=encoder)
    synchronise(device)
    end_to_end = len(result.features) / (time.perf_counter() - start)
    print(f"{'measurement':<40} {'patches/s':>10} {'vs compute':>11}")
    for name, rate in [("encoder alone (compute limit)", compute), ("reading alone (CPU limit)", reading),
                       ("extract_features end to end", end_to_end)]:
        print(f"{name:<40} {rate:10.1f} {rate / compute:11.2f}")
    print(f"bound by: {'patch reading (CPU workers)' if reading < compute else 'the encoder'}")


if __name__ == "__main__":
    main()
