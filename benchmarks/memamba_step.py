"""ME-Mamba training-step time and peak memory against bag size, beside a full-attention transformer MIL.

Usage: python benchmarks/memamba_step.py [--device cuda] [--sizes 1000 4000 16000] [--d-model 64] [--amp]
       [--backends torch mamba_ssm] [--models transmil mcat survpath cmta porpoise ...]

Both models see N patches of 1024-d features (UNI's width) and MCAT's BLCA token sizes; the attention MIL
has ME-Mamba's width, two layers of explicit softmax(QK^T)V attention over [CLS] + patches, as TransMIL-style
baselines without a Nystrom approximation. Each (model, N) runs in its own process: peak memory is that
process's peak RSS growth (CUDA: torch.cuda.max_memory_allocated), and a process the system kills for
memory is reported as "out of memory". Goal (issue 5): ME-Mamba's time and memory ratio N=16k / N=4k <= 4.5.
The first line checks the chunked scan against the sequential reference on the device (float64), and where
mamba-ssm imports on a CUDA device, its fused kernel against our scan (float32, outputs and every gradient).
``--amp`` runs the steps under bf16 autocast, as training on a GPU does; ``--backends`` adds ME-Mamba rows per
selective-scan backend (``mamba_ssm`` needs mamba-ssm and CUDA). ``--models`` adds registered baselines beside them, each
at its config/tcga.yaml settings (published sizes); a model reading pathway tokens gets SurvPath's 331 pathways of 15
features each (its combine_comps.csv: 4,999 genes).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import time
from pathlib import Path

import torch
import yaml
from torch import nn

from memamba.models import Batch, ModelInputs, build_model, list_models, single
from memamba.models.registry import token_set
from memamba.models.ssm import mamba_ssm_scan, selective_scan, selective_scan_reference, selective_scan_torch

TOKEN_SIZES = [94, 334, 521, 468, 1496, 479]
PATHWAY_SIZES = [15] * 331
TCGA_MODELS = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "tcga.yaml").read_text())["models"]


def token_sizes(model_name: str, settings: dict) -> list[int]:
    """The genomic token sizes a model is measured with: SurvPath's 331 pathways for a model reading pathway tokens,
    MCAT's BLCA families otherwise."""
    return PATHWAY_SIZES if token_set(model_name, settings) == "pathways" else TOKEN_SIZES


class AttentionMIL(nn.Module):
    """Full-attention transformer MIL: projection, [CLS] + patches through explicit multi-head attention."""

    def __init__(self, patch_dim: int, d_model: int, heads: int = 4, layers: int = 2, n_bins: int = 4) -> None:
        super().__init__()
        self.project = nn.Linear(patch_dim, d_model)
        self.cls = nn.Parameter(torch.zeros(1, d_model))
        self.heads = heads
        self.qkv = nn.ModuleList(nn.Linear(d_model, 3 * d_model) for _ in range(layers))
        self.out = nn.ModuleList(nn.Linear(d_model, d_model) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(layers))
        self.head = nn.Linear(d_model, n_bins)

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([self.cls, self.project(batch.patches[0])])
        for qkv, out, norm in zip(self.qkv, self.out, self.norms):
            q, k, v = qkv(norm(x)).view(len(x), 3, self.heads, -1).permute(1, 2, 0, 3)
            weights = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
            x = x + out((weights @ v).transpose(0, 1).reshape(len(x), -1))
        return self.head(x[0]), x.new_zeros(())


def scan_parity(device: torch.device) -> float:
    """Largest absolute difference between the device's chunked scan and the CPU reference (float64)."""
    generator = torch.Generator().manual_seed(0)
    u, delta, z = (torch.randn(2, 32, 700, generator=generator, dtype=torch.float64) for _ in range(3))
    A = -torch.rand(32, 16, generator=generator, dtype=torch.float64)
    B, C = (torch.randn(2, 16, 700, generator=generator, dtype=torch.float64) for _ in range(2))
    reference = selective_scan_reference(u, delta, A, B, C, None, z, delta_softplus=True)
    fast = selective_scan_torch(*(t.to(device) for t in (u, delta, A, B, C)), None, z.to(device), delta_softplus=True)
    return float((fast.cpu() - reference).abs().max())


def backend_parity(device: torch.device) -> float:
    """Largest absolute difference (output and gradients) between mamba-ssm's kernel and our scan, float32 on ``device``."""
    generator = torch.Generator().manual_seed(0)
    u, delta, z = (torch.randn(2, 64, 4096, generator=generator) for _ in range(3))
    A = -torch.rand(64, 16, generator=generator) - 0.1
    B, C = (torch.randn(2, 16, 4096, generator=generator) for _ in range(2))
    D, bias = torch.randn(64, generator=generator), torch.randn(64, generator=generator)
    results = []
    for backend in ("mamba_ssm", "torch"):
        inputs = [t.to(device).requires_grad_() for t in (u, delta, A, B, C, D, z, bias)]
        out = selective_scan(*inputs, delta_softplus=True, backend=backend)
        out.sum().backward()
        results.append([out.detach()] + [t.grad for t in inputs])
    return max(float((a - b).abs().max()) for a, b in zip(*results))


def _measure(model_name: str, size: int, d_model: int, device_name: str, repeats: int, amp: bool, queue) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    device = torch.device(device_name)
    sizes = TOKEN_SIZES
    if model_name.startswith("memamba["):
        backend = model_name.partition("[")[2].rstrip("]") or "auto"
        model = build_model("memamba", ModelInputs(1024, TOKEN_SIZES, 4), {"d_model": d_model, "ssm_backend": backend})
    elif model_name == "attention-mil":
        model = AttentionMIL(1024, d_model)
    else:
        settings = TCGA_MODELS.get(model_name, {})
        sizes = token_sizes(model_name, settings)
        model = build_model(model_name, ModelInputs(1024, sizes, 4), settings)
    model = model.to(device)
    batch = single(torch.randn(size, 1024), torch.randn(sum(sizes))).to(device)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    times = []
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits, auxiliary = model(batch)
        (logits.float().sum() + auxiliary).backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) - base
    queue.put((statistics.median(times[1:]), peak / 2**20))


def measure(model_name: str, size: int, d_model: int, device: str, repeats: int, amp: bool) -> tuple[float, float] | None:
    """(median seconds, peak MiB) of forward + backward in a fresh process; None if it ran out of memory."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(model_name, size, d_model, device, repeats, amp, queue))
    process.start()
    process.join()
    return queue.get() if process.exitcode == 0 and not queue.empty() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000])
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--amp", action="store_true", help="bf16 autocast, as training on a GPU")
    parser.add_argument("--backends", nargs="+", default=["torch"], choices=["torch", "mamba_ssm"])
    parser.add_argument("--models", nargs="+", default=[], choices=list_models(modalities="slides", trainer="torch"),
                        help="registered models measured beside them, at their config/tcga.yaml settings")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}; torch {torch.__version__}; {'bf16 autocast' if args.amp else 'float32'}; "
          f"scan parity vs reference: {scan_parity(device):.2e}")
    if device.type == "cuda" and mamba_ssm_scan() is not None:
        print(f"mamba-ssm kernel vs our scan (float32, outputs and gradients): max |difference| {backend_parity(device):.2e}")
    print(f"{'patches':>8} {'model':<20} {'fwd+bwd s':>10} {'peak MiB':>9}")
    models = [f"memamba[{backend}]" for backend in args.backends] + ["attention-mil"] + args.models
    results: dict[tuple[str, int], tuple[float, float] | None] = {}
    for size in args.sizes:
        for model_name in models:
            results[model_name, size] = result = measure(model_name, size, args.d_model, args.device, args.repeats, args.amp)
            row = f"{result[0]:>10.3f} {result[1]:>9.0f}" if result else f"{'out of memory':>20}"
            print(f"{size:>8} {model_name:<20} {row}")
    if len(args.sizes) >= 2 and all(results[models[0], s] for s in args.sizes[-2:]):
        (t_small, m_small), (t_large, m_large) = (results[models[0], s] for s in args.sizes[-2:])
        print(f"ME-Mamba N={args.sizes[-1]} / N={args.sizes[-2]}: time x{t_large / t_small:.2f}, "
              f"memory x{m_large / max(m_small, 1):.2f} (goal <= 4.5 for a 4x larger bag)")


if __name__ == "__main__":
    main()
