"""The fixed cost of one ``memamba extract`` job against its per-slide work, for a UNI-sized encoder.

The job the workflow runs once per slide is timed end to end as a subprocess (interpreter, imports, building
the ViT-L/16 and loading its 1.2 GB weights from a local file, CUDA start, reading and encoding) on the same
synthetic slide with two patch counts; a straight line through the two wall times gives the fixed cost (its
intercept) and the cost per patch (its slope). The job also logs its own start-up phases, printed as a
breakdown. Then the share of the fixed cost in one job at ``--slide-patches`` patches (10,000 by default, a
typical TCGA diagnostic slide at 20x) decides whether several slides per job would pay.
Run: python benchmarks/extract_fixed_cost.py [--device cuda] [--patches 8 40]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from synthetic_slide import write_large_slide

from memamba.slides.encoders import build_encoder
from memamba.slides.segment import SegmentParams, segment_slide
from memamba.slides.tile import TileParams, tile_slide, write_patches

STARTUP = """
import time, sys
start = float(sys.argv[1]); phases = {"interpreter": time.time() - start}
import torch
from memamba.slides.encoders import build_encoder
phases["imports"] = time.time() - start - sum(phases.values())
encoder = build_encoder(sys.argv[4], weights=sys.argv[2] or None)
phases["build + load weights"] = time.time() - start - sum(phases.values())
if sys.argv[3] == "cuda":
    model = encoder.model.to("cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        model(torch.zeros(1, 3, 224, 224, device="cuda"))
    torch.cuda.synchronize()
    phases["CUDA start + first batch"] = time.time() - start - sum(phases.values())
print(__import__("json").dumps(phases))
"""


def timed_job(command: list[str]) -> float:
    """Wall seconds of ``command``; raises with its output when it fails."""
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{run.stdout}{run.stderr}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--patches", type=int, nargs=2, default=None, help="the two patch counts (default: 8 40 on the CPU, "
                        "500 4000 on a GPU)")
    parser.add_argument("--slide-patches", type=int, default=10_000, help="patches of the typical slide the share is for")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "memamba-bench")
    parser.add_argument("--slide-size", type=int, default=24_000, help="synthetic slide width/height at 0.5 um/px")
    parser.add_argument("--encoder", default="uni", help="a registered encoder (random weights saved to a file; none for demo-stats)")
    args = parser.parse_args()
    counts = args.patches or ([500, 4000] if args.device == "cuda" else [8, 40])
    args.workdir.mkdir(parents=True, exist_ok=True)
    weights = args.workdir / f"{args.encoder}-random.pt" if args.encoder != "demo-stats" else None
    if weights is not None and not weights.exists():
        torch.save(build_encoder(args.encoder, random_weights=True).model.state_dict(), weights)
    slide = write_large_slide(args.workdir / f"synthetic-{args.slide_size}-0.5mpp.svs", args.slide_size, mpp=0.5)
    tile = TileParams(target_mpp=0.5, patch_size=256)
    grid = tile_slide(slide, segment_slide(slide, SegmentParams()).polygons, tile)
    if len(grid.coords) < max(counts):
        raise SystemExit(f"{slide}: {len(grid.coords)} patches, fewer than {max(counts)}")
    all_coords = grid.coords
    params = json.dumps({"encoder": args.encoder, "weights": weights and str(weights), "batch_size": 64, "num_workers": args.workers})
    seconds = []
    for count in counts:
        grid.coords = all_coords[:count]
        patches = args.workdir / f"patches-{count}.h5"
        write_patches(grid, patches, tile, [slide])
        seconds.append(timed_job([sys.executable, "-m", "memamba.cli", "extract", str(slide), "--patches", str(patches),
                                  "-o", str(args.workdir / f"features-{count}.h5"), "--params", params,
                                  "--device", args.device, "--quiet", "--force"]))
    per_patch = (seconds[1] - seconds[0]) / (counts[1] - counts[0])
    fixed = seconds[0] - per_patch * counts[0]
    phases = json.loads(subprocess.run([sys.executable, "-c", STARTUP, repr(time.time()), str(weights or ""), args.device,
                                        args.encoder], capture_output=True, text=True, check=True).stdout)
    device = torch.cuda.get_device_name(0) if args.device == "cuda" else f"CPU ({os.cpu_count()} cores)"
    size = f"{weights.stat().st_size / 1e9:.2f} GB of weights" if weights is not None else "no weights"
    print(f"memamba extract, {args.encoder} ({size}) on {device}, {args.workers} reading workers")
    for count, wall in zip(counts, seconds):
        print(f"  job with {count:>6} patches: {wall:8.1f} s")
    print(f"  fixed cost per job (intercept): {fixed:8.1f} s; per patch {per_patch * 1000:.1f} ms")
    print("  start-up phases: " + ", ".join(f"{name} {value:.1f} s" for name, value in phases.items()))
    work = per_patch * args.slide_patches
    print(f"  one slide of {args.slide_patches} patches: {work:.0f} s of work + {fixed:.1f} s fixed "
          f"= fixed share {fixed / (fixed + work):.1%}")


if __name__ == "__main__":
    main()
