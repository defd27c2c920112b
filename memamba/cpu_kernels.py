"""The CPU kernels PyTorch may use, pinned so that a run gives the same bits on every x86-64 machine.

PyTorch picks its vectorised CPU kernels by the processor: AVX-512 where there is one, else AVX2. Reductions such as a
softmax over a long bag sum in another order on each, so the same fold trained on two machines differs in the last
bits, and a sensitive model (MCAT on the demo: 0.659, 0.679, 0.636 on three runs) ends elsewhere. Pinning the kernels
to AVX2, which every x86-64 processor of the last decade has, gives identical predictions on AVX2 and AVX-512
machines (measured: MCAT, ABMIL, TransMIL, MambaMIL and ME-Mamba folds differ between the two kernel sets and agree
once pinned; the demo's training time did not change). Results still depend on the number of threads: the workflow
runs every training job with ``OMP_NUM_THREADS`` set to its ``threads`` (1).
"""

from __future__ import annotations

import os
import platform

PINNED_CAPABILITY = "avx2"
"""``ATEN_CPU_CAPABILITY`` for memamba's commands on x86-64, unless the environment sets one."""


def pin_cpu_kernels() -> None:
    """Set ``ATEN_CPU_CAPABILITY`` to :data:`PINNED_CAPABILITY` on x86-64 when it is unset; call before torch is
    imported (PyTorch reads it once)."""
    if platform.machine().lower() in ("x86_64", "amd64"):
        os.environ.setdefault("ATEN_CPU_CAPABILITY", PINNED_CAPABILITY)
