"""Every GPU figure the README and docs name, from one prepared command that fits a lent GPU's time.

Runs the project's benchmark scripts one after another as parts of one plan, each under its own time limit (the
limits add up to 9 minutes, PLAN_SECONDS), and writes one JSON (device, torch and CUDA versions, each part's command,
status, seconds and printed table) and one Markdown table. Each script measures its figure beside a baseline from
the same run: the ME-Mamba bf16 step at 16k and 64k patches beside a full-attention MIL (and fp32 eager), our
selective scan beside the sequential reference and mamba-ssm's kernel (with their parity), extraction end to end
beside the encoder alone and the reading alone, and a job's fixed cost beside its work per patch. Nothing is
installed at run time: a part whose package is absent (mamba-ssm) is left out with the reason, and a part that fails
or runs past its limit is recorded as such while the others go on.

``--dry-run`` runs the same plan at toy sizes on the CPU (random weights, a few patches, encoders cut to one block):
the test-suite runs it, so the plan is known to work before a GPU is lent.
Run: python benchmarks/gpu_acceptance.py [--dry-run] [--out results/gpu_acceptance]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ENCODERS = ["uni", "conch", "virchow2", "h-optimus-0", "gigapath"]
PLAN_SECONDS = 530
STEP_MODELS = ["abmil-snn", "transmil", "mambamil", "mcat", "motcat", "survpath", "cmta", "porpoise"]


@dataclass
class Part:
    """One measurement of the plan: its script arguments on the GPU and at toy size, and its time limit."""

    name: str
    figure: str
    baseline: str
    gpu_args: list[str]
    dry_args: list[str]
    seconds: int
    needs: str | None = None


def plan(workdir: Path) -> list[Part]:
    """The parts, in order; their limits add up to PLAN_SECONDS."""
    work = ["--workdir", str(workdir)]
    parts = [
        Part("memamba step bf16", "ME-Mamba training step (bf16 autocast) at 16k and 64k patches: time, peak memory",
             "full-attention MIL at the same N; mamba-ssm kernel vs our scan, parity",
             ["memamba_step.py", "--device", "cuda", "--amp", "--sizes", "16000", "64000", "--repeats", "2", "--backends", "torch"],
             ["memamba_step.py", "--device", "cpu", "--amp", "--sizes", "64", "128", "--repeats", "1", "--d-model", "16"], 110),
        Part("memamba step fp32", "ME-Mamba training step in float32 (eager) at 16k patches", "the bf16 part above",
             ["memamba_step.py", "--device", "cuda", "--sizes", "16000", "--repeats", "2"],
             ["memamba_step.py", "--device", "cpu", "--sizes", "64", "--repeats", "1", "--d-model", "16"], 40),
        Part("every model's step bf16", "one training step (bf16 autocast) of every patch model at 10k patches, published "
             "sizes: time, peak memory", "ME-Mamba and the full-attention MIL in the same run",
             ["memamba_step.py", "--device", "cuda", "--amp", "--sizes", "10000", "--repeats", "2", "--models", *STEP_MODELS],
             ["memamba_step.py", "--device", "cpu", "--amp", "--sizes", "64", "--repeats", "1", "--d-model", "16", "--models",
              "survpath", "cmta", "porpoise"], 50),
        Part("selective scan", "one Mamba layer forward + backward at L = 16k and 64k", "sequential reference (parity, L <= 1k)",
             ["scan_backends.py", "--device", "cuda", "--lengths", "16384", "65536"],
             ["scan_backends.py", "--device", "cpu", "--lengths", "64", "--ref-max", "64"], 50),
        *(Part(f"extract {name}", f"{name} extraction end to end on a synthetic slide (patches/s)",
               "the encoder alone on patches already on the GPU; the reading alone",
               ["extract_throughput.py", "--encoder", name, "--device", "cuda", "--slide-size", "16000", "--max-patches", "2048", *work],
               ["extract_throughput.py", "--encoder", name, "--device", "cpu", "--slide-size", "2048", "--max-patches", "8",
                "--batch-size", "4", "--workers", "0", "--architecture", "depth=1", *work], 40) for name in ENCODERS),
        Part("extract fixed cost", "fixed cost of one UNI extraction job (interpreter, imports, 1.2 GB weights, CUDA start)",
             "its work per patch (the slope through two patch counts)",
             ["extract_fixed_cost.py", "--device", "cuda", "--patches", "500", "2000", *work],
             ["extract_fixed_cost.py", "--device", "cpu", "--patches", "4", "8", "--encoder", "demo-stats", "--slide-size", "2048", *work],
             80),
    ]
    if importlib.util.find_spec("mamba_ssm") is not None:
        parts[0].gpu_args[-1:] = ["torch", "mamba_ssm"]
    else:
        parts.insert(1, Part("mamba-ssm kernel", "mamba-ssm's fused scan in the ME-Mamba step", "our torch scan", [], [], 0,
                             needs="mamba_ssm"))
    return parts


def run_part(part: Part, dry_run: bool) -> dict:
    """Run one part; its record (status: done, failed, timed out or skipped, with the printed output)."""
    record = {**asdict(part), "command": [], "status": "skipped", "wall_s": 0.0, "output": ""}
    if part.needs is not None:
        record["output"] = f"{part.needs} is not installed here (pip install {part.needs.replace('_', '-')} needs CUDA)"
        return record
    args = part.dry_args if dry_run else part.gpu_args
    record["command"] = [sys.executable, str(HERE / args[0]), *args[1:]]
    start = time.perf_counter()
    try:
        run = subprocess.run(record["command"], capture_output=True, text=True, timeout=None if dry_run else part.seconds)
        record["status"] = "done" if run.returncode == 0 else f"failed (exit {run.returncode})"
        record["output"] = (run.stdout + (run.stderr[-2000:] if run.returncode else "")).strip()
    except subprocess.TimeoutExpired as exc:
        record["status"] = f"timed out after {part.seconds} s"
        record["output"] = (exc.stdout or b"").decode(errors="replace").strip() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
    record["wall_s"] = round(time.perf_counter() - start, 1)
    print(f"{part.name}: {record['status']} ({record['wall_s']} s)", flush=True)
    return record


def environment() -> dict:
    """Device name, torch and CUDA versions, host."""
    cuda = torch.cuda.is_available()
    return {"device": torch.cuda.get_device_name(0) if cuda else f"CPU ({platform.processor() or platform.machine()})",
            "torch": torch.__version__, "cuda": torch.version.cuda if cuda else None, "python": platform.python_version(),
            "host": platform.node()}


def markdown(report: dict) -> str:
    """The report as a Markdown table, each part's printed figures below it."""
    env = report["environment"]
    lines = [f"GPU acceptance ({'dry run at toy sizes, ' if report['dry_run'] else ''}{env['device']}; torch {env['torch']}, "
             f"CUDA {env['cuda']}; {report['wall_s']:.0f} s in all)", "",
             "| part | figure | baseline in the same run | status | seconds |", "|---|---|---|---|---|"]
    lines += [f"| {p['name']} | {p['figure']} | {p['baseline']} | {p['status']} | {p['wall_s']} |" for p in report["parts"]]
    for part in report["parts"]:
        lines += ["", f"**{part['name']}**", "", "```", part["output"] or "(no output)", "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="the whole plan at toy sizes on the CPU")
    parser.add_argument("--out", type=Path, default=Path("results/gpu_acceptance"), help="folder for report.json and report.md")
    args = parser.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on a GPU machine, or with --dry-run to check the plan on the CPU")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="memamba-gpu-acceptance-") as workdir:
        parts = [run_part(part, args.dry_run) for part in plan(Path(workdir))]
    report = {"dry_run": args.dry_run, "environment": environment(), "plan_seconds": PLAN_SECONDS,
              "wall_s": round(time.perf_counter() - start, 1), "parts": parts}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    (args.out / "report.md").write_text(markdown(report))
    print(f"{len(parts)} parts in {report['wall_s']:.0f} s: {args.out / 'report.json'}, {args.out / 'report.md'}")
    if any(p["status"].startswith("failed") for p in parts):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
