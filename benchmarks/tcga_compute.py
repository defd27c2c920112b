"""Hours and disk to expect for the paper's TCGA setting (config/tcga.yaml), from rates measured in this run.

Measured here, on --device: (1) segmenting and tiling a synthetic 40,000 x 40,000 px 40x slide (0.25 um/px) into
256-px patches at 0.5 um/px, per slide; (2) reading and resizing its patches in one DataLoader worker (patches per
second per CPU core); (3) UNI (ViT-L/16 at 224 px; random weights cost the same) on patches already on the device,
bf16 autocast on CUDA (patches per second); (4) one training step (forward + backward, batch 1) of every torch model
of config/tcga.yaml at --patches patches, with its config/tcga.yaml sizes and MCAT's BLCA token sizes (SurvPath: its
331 pathways). Then, per
cohort (slides and patients counted from its table under --data; other cohorts per 1,000 slides): CPU-hours of the
slide stage, device-hours of extraction and of training every model on five folds (MCAT's protocol: 20 epochs, one
step per training patient, 80 % of the patients train in each fold), and the disk the features take. Patches per
slide are an assumption (--patches, 10,000 by default: the mission's TCGA size), stated in the output.
Run: python benchmarks/tcga_compute.py --data ../shared/data/tcga [--device cuda]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import yaml
from extract_throughput import encoder_alone, reading_alone
from memamba_step import token_sizes
from synthetic_slide import write_large_slide

from memamba.models import ModelInputs, build_model, single
from memamba.models.registry import variant_entry
from memamba.slides.encoders import build_encoder
from memamba.slides.segment import SegmentParams, segment_slide
from memamba.slides.tile import TileParams, tile_slide

REPO = Path(__file__).resolve().parents[1]
FOLDS, TRAIN_SHARE = 5, 0.8


def slide_stage_seconds(workdir: Path) -> tuple[float, object, Path]:
    """Seconds to segment and tile one 40x slide at the TCGA setting, its patch grid and its path."""
    slide = write_large_slide(workdir / "slide-40k-0.25mpp.svs")
    start = time.perf_counter()
    polygons = segment_slide(slide, SegmentParams()).polygons
    grid = tile_slide(slide, polygons, TileParams(target_mpp=0.5, patch_size=256))
    return time.perf_counter() - start, grid, slide


def training_step_seconds(models: dict[str, dict], patches: int, device: torch.device, repeats: int = 2) -> dict[str, float]:
    """Median seconds of one forward + backward per torch model, one patient of ``patches`` 1024-d patches."""
    seconds = {}
    for name, params in models.items():
        if variant_entry(name, params).trainer != "torch":
            continue
        torch.manual_seed(0)
        sizes = token_sizes(name, params)
        batch = single(torch.randn(patches, 1024), torch.randn(sum(sizes))).to(device)
        model = build_model(name, ModelInputs(1024, sizes, 4), params).to(device).train()
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits, auxiliary = model(batch)
            (logits.float().sum() + auxiliary.float()).backward()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        seconds[name] = sorted(times[1:])[len(times[1:]) // 2]
    return seconds


def cohorts(data: Path | None) -> list[tuple[str, int, int]]:
    """(cohort, slides, patients) of every MCAT table under ``data`` (the mcat_sig one where both exist)."""
    found: dict[str, tuple[int, int]] = {}
    for table in sorted(data.rglob("tcga_*_all_clean.csv.zip")) if data else []:
        frame = pd.read_csv(table, usecols=["case_id", "slide_id"])
        name = re.match(r"(tcga_[a-z]+)_", table.name).group(1)
        if name not in found or table.parent.name == "mcat_sig":
            found[name] = (frame["slide_id"].nunique(), frame["case_id"].nunique())
    return [(name, *counts) for name, counts in found.items()] + [("per 1,000 slides (1,000 patients)", 1000, 1000)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="folder with MCAT tables (tcga_*_all_clean.csv.zip)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--patches", type=int, default=10_000, help="patches per slide assumed (and per training patient)")
    parser.add_argument("--uni-batch", type=int, default=8, help="patches per UNI forward pass when measuring it")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "memamba-bench")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    settings = yaml.safe_load((REPO / "config" / "tcga.yaml").read_text())
    models = {name: settings["models"].get(name, {}) for name in settings["train"]["models"]}
    epochs = settings["train"]["epochs"]

    slide_seconds, grid, slide = slide_stage_seconds(args.workdir)
    grid.coords = grid.coords[:600]
    read_rate = reading_alone(slide, grid, 224, torch.device("cpu"), 64, workers=0)
    uni_rate = encoder_alone(build_encoder("uni", random_weights=True), device, args.uni_batch, batches=2)
    steps = training_step_seconds(models, args.patches, device)
    print(f"measured on {args.device} ({torch.get_num_threads()} CPU threads): segment + tile one 40,000 px 40x slide "
          f"{slide_seconds:.1f} s; reading {read_rate:.0f} patches/s per worker; UNI {uni_rate:.1f} patches/s; one training "
          f"step at {args.patches:,} patches: " + ", ".join(f"{m} {s:.2f} s" for m, s in steps.items()))
    print(f"assumed: {args.patches:,} patches per slide and per patient; {epochs} epochs x {FOLDS} folds, "
          f"{TRAIN_SHARE:.0%} of the patients train per fold; features float32, 1024-d\n")
    device_name = "GPU" if device.type == "cuda" else "CPU"
    rows = []
    for name, slides, patients in cohorts(args.data):
        patches = slides * args.patches
        train_steps = epochs * FOLDS * TRAIN_SHARE * patients
        rows.append({"cohort": name, "slides": slides, "patients": patients,
                     "segment+tile CPU-h": slides * slide_seconds / 3600,
                     "patch reading CPU-h": patches / read_rate / 3600,
                     f"UNI {device_name}-h": patches / uni_rate / 3600,
                     f"training {device_name}-h (all models)": train_steps * sum(steps.values()) / 3600,
                     "of which ME-Mamba": train_steps * steps.get("memamba", 0.0) / 3600,
                     "features GB": patches * (1024 * 4 + 16) / 1e9})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:,.1f}"))


if __name__ == "__main__":
    main()
