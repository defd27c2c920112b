"""The GPU acceptance plan runs end to end at toy sizes on the CPU (--dry-run), and fits the time a lent GPU has."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_acceptance.py"


@pytest.mark.slow
def test_the_dry_run_runs_every_part_and_writes_the_json_and_markdown_report(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(tmp_path)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["dry_run"] and report["environment"]["torch"] and report["environment"]["device"].startswith("CPU")
    parts = {part["name"]: part for part in report["parts"]}
    ran = [part for part in parts.values() if part["status"] != "skipped"]
    assert all(part["status"] == "done" for part in ran), {p["name"]: p["output"][-500:] for p in ran if p["status"] != "done"}
    assert {"memamba step bf16", "memamba step fp32", "every model's step bf16", "selective scan", "extract fixed cost"} <= set(parts)
    assert all(f"     64 {name}" in parts["every model's step bf16"]["output"] for name in ("survpath", "cmta", "porpoise"))
    assert {f"extract {name}" for name in ("uni", "conch", "virchow2", "h-optimus-0", "gigapath")} <= set(parts)
    assert "scan parity vs reference" in parts["memamba step bf16"]["output"]
    assert "fixed cost per job (intercept)" in parts["extract fixed cost"]["output"]
    assert "extract_features end to end" in parts["extract uni"]["output"]
    skipped = [part for part in parts.values() if part["status"] == "skipped"]
    assert all("is not installed here" in part["output"] for part in skipped)
    assert sum(part["seconds"] for part in parts.values()) <= report["plan_seconds"] == 530
    markdown = (tmp_path / "report.md").read_text()
    assert markdown.count("\n| ") == len(parts) + 1 and "torch 2." in markdown
