"""Choosing the compute device."""

from __future__ import annotations

import torch

from memamba.gpu_slots import claim_gpu


def pick_device(requested: str = "auto") -> torch.device:
    """``auto`` means CUDA when available, else CPU. On a machine with several cards, a CUDA job first claims
    a free one (:func:`memamba.gpu_slots.claim_gpu`), so that concurrent jobs never share a card."""
    if requested != "cpu":
        claim_gpu()
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)
