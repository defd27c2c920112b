"""ME-Mamba training-step time and peak memory against bag size, on CPU or CUDA.

Usage: python benchmarks/memamba_step.py [--device cuda] [--sizes 1000 4000 16000] [--d-model 64]

Prints one row per bag size: forward + backward seconds (median of the repeats) and peak memory
(CUDA: torch.cuda.max_memory_allocated; CPU: peak RSS growth), and checks that the chunked parallel
scan on the device matches the sequential reference on the CPU (float64).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from memamba.models import ModelInputs, build_model
from memamba.models.ssm import selective_scan_reference, selective_scan_torch


def scan_parity(device: torch.device) -> float:
    """Largest absolute difference between the device's chunked scan and the CPU reference (float64)."""
    generator = torch.Generator().manual_seed(0)
    u, delta, z = (torch.randn(2, 32, 700, generator=generator, dtype=torch.float64) for _ in range(3))
    A = -torch.rand(32, 16, generator=generator, dtype=torch.float64)
    B, C = (torch.randn(2, 16, 700, generator=generator, dtype=torch.float64) for _ in range(2))
    reference = selective_scan_reference(u, delta, A, B, C, None, z, delta_softplus=True)
    fast = selective_scan_torch(*(t.to(device) for t in (u, delta, A, B, C)), None, z.to(device), delta_softplus=True)
    return float((fast.cpu() - reference).abs().max())


def step_time(model: torch.nn.Module, patches: torch.Tensor, genomics: torch.Tensor, repeats: int) -> float:
    """Median seconds of one forward + backward pass."""
    times = []
    for _ in range(repeats + 1):
        if patches.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        logits, auxiliary = model(patches, genomics)
        (logits.sum() + auxiliary).backward()
        if patches.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}; torch {torch.__version__}; scan parity vs reference: {scan_parity(device):.2e}")
    torch.manual_seed(0)
    inputs = ModelInputs(patch_dim=1024, token_sizes=[84, 314, 501, 448, 1396, 449], n_bins=4)
    model = build_model("memamba", inputs, {"d_model": args.d_model}).to(device)
    genomics = torch.randn(sum(inputs.token_sizes), device=device)
    print(f"{'patches':>8} {'fwd+bwd s':>10} {'peak MiB':>9}")
    for size in args.sizes:
        patches = torch.randn(size, 1024, device=device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
        else:
            base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        seconds = step_time(model, patches, genomics, args.repeats)
        if device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(device) - base
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
        print(f"{size:>8} {seconds:>10.3f} {peak / 2**20:>9.0f}")


if __name__ == "__main__":
    main()
