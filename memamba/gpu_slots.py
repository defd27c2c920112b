"""One GPU per job on a multi-GPU machine: a job claims a free card and sees only that one.

Snakemake's ``gpu`` resource keeps the number of concurrent GPU jobs at or below the number of cards; which
card each job takes is settled here, by an exclusive lock per card that the job's process holds until it
exits (the kernel drops it even after a kill). Under Slurm, or wherever ``CUDA_VISIBLE_DEVICES`` is already
set, the scheduler's choice stands.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

LOCK_DIR = Path(tempfile.gettempdir()) / "memamba-gpu-locks"
_held: list[int] = []


def visible_gpu_count() -> int:
    """Number of NVIDIA GPUs ``nvidia-smi -L`` lists (0 without the tool or a driver)."""
    if not shutil.which("nvidia-smi"):
        return 0
    listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return sum(line.startswith("GPU ") for line in listing.stdout.splitlines()) if listing.returncode == 0 else 0


def claim_gpu(n_gpus: int | None = None, lock_dir: Path = LOCK_DIR, wait_s: float = 600.0) -> str | None:
    """Lock a free card for this process and set ``CUDA_VISIBLE_DEVICES`` to it; return its index.

    Returns None (changing nothing) when ``CUDA_VISIBLE_DEVICES`` is already set or the machine has fewer than
    two cards. Call it before anything initialises CUDA.
    """
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return None
    n_gpus = visible_gpu_count() if n_gpus is None else n_gpus
    if n_gpus < 2:
        return None
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    while True:
        for index in range(n_gpus):
            fd = os.open(lock_dir / f"gpu{index}.lock", os.O_CREAT | os.O_RDWR, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            _held.append(fd)
            os.environ["CUDA_VISIBLE_DEVICES"] = str(index)
            return str(index)
        if time.monotonic() > deadline:
            raise RuntimeError(f"all {n_gpus} GPUs stayed locked for {wait_s:.0f} s (lock files in {lock_dir}). "
                               "Fix: give snakemake '--resources gpu=N' with N the number of cards, so that no more "
                               "GPU jobs start than there are cards.")
        time.sleep(1.0)
