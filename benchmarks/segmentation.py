"""Segmentation time per slide on one core: CMU-1-Small-Region.svs and a synthetic 40,000 x 40,000 slide.

Goal (issue 3): at most 2 s per slide, end to end (open, resolve mpp, read the low-resolution level, mask,
polygons, GeoJSON + QC overlay written). Run: python benchmarks/segmentation.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
from synthetic_slide import write_large_slide

from memamba.slides.segment import SegmentParams, segment_slide, write_segmentation

GOAL_SECONDS = 2.0


def time_segmentation(slide: Path, out: Path, repeats: int = 3) -> tuple[float, int]:
    """Best-of-``repeats`` wall time of segmenting ``slide`` and writing its outputs, and the region count."""
    params = SegmentParams()
    best, regions = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        result = segment_slide(slide, params)
        write_segmentation(result, slide, params, out / f"{slide.stem}.geojson", out / f"{slide.stem}.png")
        best = min(best, time.perf_counter() - start)
        regions = len(result.polygons)
    return best, regions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "memamba-bench")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    args.workdir.mkdir(parents=True, exist_ok=True)
    slides = []
    cmu = args.shared / "slides" / "CMU-1-Small-Region.svs"
    if cmu.exists():
        slides.append(cmu)
    else:
        print(f"skipping CMU-1-Small-Region.svs: not found under {args.shared}")
    start = time.perf_counter()
    slides.append(write_large_slide(args.workdir / "synthetic-40000.svs", 40_000))
    print(f"synthetic slide ready in {time.perf_counter() - start:.1f} s")
    print(f"{'slide':<28} {'seconds':>8} {'regions':>8} {'goal':>6}")
    for slide in slides:
        seconds, regions = time_segmentation(slide, args.workdir)
        print(f"{slide.name:<28} {seconds:8.3f} {regions:8d} {'ok' if seconds <= GOAL_SECONDS else 'MISSED':>6}")


if __name__ == "__main__":
    main()
