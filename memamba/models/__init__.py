"""Survival models and their registry (``build_model(name, ...)``).

The registry (:mod:`memamba.models.registry`) imports no torch; the names below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {"Batch": "batch", "collate": "batch", "single": "batch",
         "ModelInputs": "registry", "build_model": "registry", "list_models": "registry"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'memamba.models' has no attribute {name!r}")
    return getattr(importlib.import_module(f"memamba.models.{_LAZY[name]}"), name)
