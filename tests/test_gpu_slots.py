"""One card per job: concurrent jobs claim different cards, and a job never claims a card another holds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memamba.gpu_slots import claim_gpu

CLAIM = """
import os, sys, time
from pathlib import Path
from memamba.gpu_slots import claim_gpu
index = claim_gpu(n_gpus=3, lock_dir=Path(sys.argv[1]), wait_s=float(sys.argv[2]))
print(index, os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
time.sleep(float(sys.argv[3]))
"""


def _claim(lock_dir: Path, wait_s: float, hold_s: float) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    return subprocess.Popen([sys.executable, "-c", CLAIM, str(lock_dir), str(wait_s), str(hold_s)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_jobs_get_different_cards_and_a_fourth_waits_for_one(tmp_path: Path) -> None:
    holders = [_claim(tmp_path, 10, 4) for _ in range(3)]
    lines = [p.stdout.readline().split() for p in holders]
    assert sorted(index for index, _ in lines) == ["0", "1", "2"]
    assert all(index == visible for index, visible in lines)
    waiting = _claim(tmp_path, 30, 0)
    started = time.monotonic()
    index, visible = waiting.stdout.readline().split()
    assert time.monotonic() - started > 1.0 and index == visible
    for process in holders + [waiting]:
        assert process.wait() == 0, process.stderr.read()


def test_all_cards_held_too_long_is_an_error_that_says_how_to_fix_it(tmp_path: Path) -> None:
    holders = [_claim(tmp_path, 10, 6) for _ in range(3)]
    for process in holders:
        process.stdout.readline()
    late = _claim(tmp_path, 0.5, 0)
    assert late.wait() != 0
    assert "all 3 GPUs stayed locked" in late.stderr.read()
    for process in holders:
        process.kill()


def test_the_schedulers_choice_and_single_card_machines_are_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5")
    assert claim_gpu(n_gpus=8, lock_dir=tmp_path) is None and os.environ["CUDA_VISIBLE_DEVICES"] == "5"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert claim_gpu(n_gpus=1, lock_dir=tmp_path) is None and "CUDA_VISIBLE_DEVICES" not in os.environ
