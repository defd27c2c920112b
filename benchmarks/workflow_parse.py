"""How long Snakemake takes to parse the workflow and plan the default run (``snakemake -n``), against the cost
of starting Python with snakemake imported, both measured here, in the same run.

Every Snakemake invocation pays the parse, and so does every job under a cluster executor (it re-reads the
Snakefile); the ratio says how much of it is ours. The script also reports which heavy libraries the parse
imported (torch, scikit-learn), read from ``python -X importtime``.
Run from a checkout's root: python benchmarks/workflow_parse.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sklearn")


def _env(cwd: Path) -> dict[str, str]:
    """The environment of the timed commands: the copied checkout's package first on the path."""
    return {**os.environ, "PYTHONPATH": str(cwd)}


def _seconds(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, env=_env(cwd))
    return time.perf_counter() - start


def _imported_heavy(cwd: Path) -> list[str]:
    """The heavy top-level modules a dry run imports (``-X importtime`` of the snakemake process)."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "snakemake", "-n", "--cores", "1", "--quiet"], cwd=cwd,
                         capture_output=True, text=True, check=True, env=_env(cwd))
    modules = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if line.startswith("import time:")}
    return [name for name in HEAVY if name in modules]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each command (the median is printed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder) / "checkout"
        shutil.copytree(REPO, work, ignore=shutil.ignore_patterns(".git", ".venv", "results", ".snakemake", "__pycache__"))
        baseline = [sys.executable, "-c", "import snakemake.api"]
        dry_run = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--quiet"]
        _seconds(dry_run, work)                                   # warm the file cache and write .snakemake/
        import_s = statistics.median(_seconds(baseline, work) for _ in range(args.repeats))
        parse_s = statistics.median(_seconds(dry_run, work) for _ in range(args.repeats))
        heavy = _imported_heavy(work)
    rows = [("command", "median s"), ('python -c "import snakemake.api"', f"{import_s:.2f}"),
            ("snakemake -n (default config)", f"{parse_s:.2f}")]
    print("\n".join(f"{name:<40} {value:>9}" for name, value in rows))
    print(f"ratio snakemake -n / import snakemake: {parse_s / import_s:.2f}")
    print(f"heavy libraries imported by the parse: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
