"""Choosing the compute device."""

from __future__ import annotations

import torch


def pick_device(requested: str = "auto") -> torch.device:
    """``auto`` means CUDA when available, else CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)
