"""Patch reading throughput: our DataLoader reader against a plain OpenSlide read_region loop, same coordinates.

Both produce each patch as 224 x 224 RGB (read at the tiling's level, converted, resized). The plain loop is
what CLAM-style code does; ours reads in DataLoader workers. Goal (issue 3): at least 0.8x with one worker,
growing with workers. Run: python benchmarks/patch_reading.py [--slide PATH --mpp X] [--workers 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import openslide
from PIL import Image
from synthetic_slide import write_large_slide
from torch.utils.data import DataLoader

from memamba.slides.extract import PatchDataset
from memamba.slides.segment import SegmentParams, segment_slide
from memamba.slides.tile import TileParams, tile_slide

OUTPUT_SIZE = 224


def plain_openslide_loop(slide_path: Path, coords: np.ndarray, level: int, size: int) -> float:
    """Patches per second of read_region -> RGB -> resize in one process."""
    start = time.perf_counter()
    with openslide.OpenSlide(str(slide_path)) as slide:
        for x, y in coords:
            region = slide.read_region((int(x), int(y)), level, (size, size)).convert("RGB")
            np.asarray(region.resize((OUTPUT_SIZE, OUTPUT_SIZE), Image.Resampling.BILINEAR))
    return len(coords) / (time.perf_counter() - start)


def our_reader(slide_path: Path, coords: np.ndarray, level: int, size: int, workers: int, batch_size: int = 64) -> float:
    """Patches per second of memamba's PatchDataset through a DataLoader with ``workers`` workers."""
    dataset = PatchDataset(slide_path, coords, level, size, OUTPUT_SIZE)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, prefetch_factor=4 if workers else None)
    start = time.perf_counter()
    count = sum(len(images) for images, _ in loader)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slide", type=Path, help="slide to read (default: a synthetic 20,000 px slide at 0.5 um/px)")
    parser.add_argument("--mpp", type=float, default=None, help="level-0 mpp override for --slide")
    parser.add_argument("--target-mpp", type=float, default=0.5)
    parser.add_argument("--patch-size", type=int, default=256)
    parser.add_argument("--max-patches", type=int, default=1500)
    parser.add_argument("--workers", type=int, nargs="+", default=sorted({0, 1, 2, os.cpu_count() or 1}))
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "memamba-bench")
    args = parser.parse_args()
    slide = args.slide or write_large_slide(args.workdir / "synthetic-20000-0.5mpp.svs", 20_000, mpp=0.5)
    start = time.perf_counter()
    polygons = segment_slide(slide, SegmentParams(), args.mpp).polygons
    grid = tile_slide(slide, polygons, TileParams(target_mpp=args.target_mpp, patch_size=args.patch_size), args.mpp)
    print(f"{slide.name}: {len(grid.coords)} patches tiled in {time.perf_counter() - start:.2f} s "
          f"(segmentation included); reading {min(len(grid.coords), args.max_patches)} of them, "
          f"{grid.read_size} px at level {grid.read_level} -> {OUTPUT_SIZE} px")
    coords = grid.coords[: args.max_patches]
    plain_openslide_loop(slide, coords[:50], grid.read_level, grid.read_size)
    baseline = plain_openslide_loop(slide, coords, grid.read_level, grid.read_size)
    print(f"{'reader':<34} {'patches/s':>10} {'ratio':>7}")
    print(f"{'plain OpenSlide read_region loop':<34} {baseline:10.1f} {1.0:7.2f}")
    for workers in args.workers:
        rate = our_reader(slide, coords, grid.read_level, grid.read_size, workers)
        print(f"{f'memamba PatchDataset, {workers} worker(s)':<34} {rate:10.1f} {rate / baseline:7.2f}")


if __name__ == "__main__":
    main()
