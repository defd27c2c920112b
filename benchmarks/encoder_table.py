"""The encoder table of docs/pages/encoders.md, measured: every registered encoder's parameters, GFLOPs per patch at its input size,
and throughput of the encoder alone (random weights, full depth; bf16 autocast and channels-last on CUDA, as
extraction runs it) against ResNet-50-trunc's measured in the same run.

Run on a GPU: python benchmarks/encoder_table.py --device cuda   (on a CPU: --batch-size 4 --batches 1)
"""

from __future__ import annotations

import argparse
import gc

import torch
from extract_throughput import encoder_alone
from torch.utils.flop_counter import FlopCounterMode

from memamba.slides.encoder_registry import list_encoders
from memamba.slides.encoders import build_encoder


@torch.no_grad()
def gflops_per_patch(encoder) -> float:
    """Floating-point operations of one forward pass on one patch of the encoder's input size, in G."""
    side = encoder.input_size or 224
    with FlopCounterMode(display=False) as counter:
        encoder.model(torch.zeros(1, 3, side, side))
    return counter.get_total_flops() / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--encoders", nargs="*", default=[name for name in list_encoders() if name != "demo-stats"])
    args = parser.parse_args()
    device = torch.device(args.device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{card}; batch {args.batch_size}, {args.batches} timed batches per encoder")
    print("| encoder | parameters (M) | input | GFLOPs / patch | patches / s | vs resnet50-trunc |")
    print("|---|---|---|---|---|---|")
    baseline = None
    for name in ["resnet50-trunc", *[n for n in args.encoders if n != "resnet50-trunc"]]:
        torch.manual_seed(0)
        encoder = build_encoder(name, random_weights=True)
        parameters = sum(p.numel() for p in encoder.model.parameters()) / 1e6
        flops = gflops_per_patch(encoder)
        rate = encoder_alone(encoder, device, args.batch_size, args.batches)
        baseline = baseline or rate
        print(f"| `{name}` | {parameters:.0f} | {encoder.input_size} px | {flops:.1f} | {rate:.1f} | {rate / baseline:.2f} |",
              flush=True)
        del encoder
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
