"""One Mamba layer (d_model 256, expand 2, d_state 16), forward + backward, at L = 1k, 4k, 16k.

Ours (the `torch` backend: two-level chunked scan with an analytic backward) against mambapy's Mamba block
(its parallel pscan; `pip install mambapy`) and against the sequential selective_scan_ref algorithm of
mamba-ssm (our `selective_scan_reference`, autograd through a loop over positions; only at L <= --ref-max).
Each measurement runs in a fresh process; peak memory is that process's peak RSS growth over the steps
(on CUDA: the peak allocated memory).
Goal (issue 5): at least 2x faster than mambapy at 16k, with no more peak memory.
Run: python benchmarks/scan_backends.py [--lengths 1024 4096 16384] [--device cuda]
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import resource
import time
from queue import Empty


def _measure(backend: str, length: int, device: str, queue) -> None:  # noqa: ANN001 - a multiprocessing queue
    import torch

    torch.manual_seed(0)
    d_model = 256
    if backend == "mambapy":
        from mambapy.mamba import MambaBlock as PyBlock
        from mambapy.mamba import MambaConfig

        block = PyBlock(MambaConfig(d_model=d_model, n_layers=1, d_state=16, expand_factor=2))
    else:
        import memamba.models.mamba as ours

        if backend == "reference":
            from memamba.models.ssm import selective_scan_reference

            ours.selective_scan_torch = lambda *args, chunk=None, **kwargs: selective_scan_reference(*args, **kwargs)
        block = ours.MambaBlock(d_model=d_model, d_state=16, expand=2)
    block = block.to(device)
    x = torch.randn(1, length, d_model, device=device, requires_grad=True)
    timings = []
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(2 if backend != "reference" else 1):
        start = time.perf_counter()
        block(x).square().mean().backward()
        if device == "cuda":
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - start)
    peak_mib = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
                else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
    queue.put((min(timings), peak_mib))


def measure(backend: str, length: int, device: str) -> tuple[float, float]:
    """(seconds, peak MiB) of one forward + backward in a fresh process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(backend, length, device, queue))
    process.start()
    while process.is_alive() or not queue.empty():
        try:
            result = queue.get(timeout=1)
        except Empty:
            continue
        process.join()
        return result
    raise SystemExit(f"the {backend} measurement at L={length} died (exit code {process.exitcode})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ref-max", type=int, default=1024, help="longest L for the sequential reference")
    args = parser.parse_args()
    print(f"{'L':>6} {'backend':<22} {'seconds':>8} {'peak MiB':>9} {'time vs ours':>13} {'memory vs ours':>15}")
    for length in args.lengths:
        ours = measure("torch", length, args.device)
        rows = [("memamba torch", ours)]
        if importlib.util.find_spec("mambapy") is not None:
            rows.append(("mambapy pscan", measure("mambapy", length, args.device)))
        elif length == args.lengths[0]:
            print("(mambapy is not installed: its row is left out; pip install mambapy adds it)")
        if length <= args.ref_max:
            rows.append(("selective_scan_ref", measure("reference", length, args.device)))
        for name, (seconds, mib) in rows:
            print(f"{length:>6} {name:<22} {seconds:8.3f} {mib:9.0f} {seconds / ours[0]:13.2f} {mib / max(ours[1], 1):15.2f}")


if __name__ == "__main__":
    main()
