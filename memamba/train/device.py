"""Choosing the compute device."""

from __future__ import annotations

import torch

from memamba.errors import MemambaError
from memamba.gpu_slots import claim_gpu


def pick_device(requested: str = "auto") -> torch.device:
    """``auto`` means CUDA when available, else CPU. On a machine with several cards, a CUDA job first claims
    a free one (:func:`memamba.gpu_slots.claim_gpu`), so that concurrent jobs never share a card. ``cuda`` where torch
    sees no card is a MemambaError saying so."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise MemambaError(f"device 'cuda' was asked for, but torch {torch.__version__} sees no CUDA device here "
                           f"(built for CUDA {torch.version.cuda or 'none: a CPU-only build'}). Fix: run this job where a "
                           "card is visible, or set the device (train.device, extract.device, --device) to auto (CUDA "
                           "where present, else the CPU) or cpu.")
    if requested != "cpu":
        claim_gpu()
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)
