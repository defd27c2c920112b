"""Model registry: one small factory per model name, timm style."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from memamba.errors import UnknownNameError


@dataclass(frozen=True)
class ModelInputs:
    """What a model is built for: patch feature width, genomic token sizes, number of time bins."""

    patch_dim: int
    token_sizes: list[int] = field(default_factory=list)
    n_bins: int = 4


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its factory and the modalities it consumes."""

    factory: Callable[..., nn.Module]
    modalities: tuple[str, ...]


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, modalities: tuple[str, ...]) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering ``factory(inputs: ModelInputs, **params) -> nn.Module`` under ``name``.

    The module's ``forward(batch: Batch)`` returns ``(hazard logits (b, n_bins), auxiliary loss (scalar))``."""

    def add(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _MODELS[name] = ModelEntry(factory, modalities)
        return factory

    return add


def list_models() -> list[str]:
    """Names of every registered model."""
    return sorted(_MODELS)


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``, or a KeyError listing the known names."""
    if name not in _MODELS:
        raise UnknownNameError(f"unknown model {name!r}. Fix: use one of {list_models()} (config key train.models).")
    return _MODELS[name]


def build_model(name: str, inputs: ModelInputs, params: dict[str, Any] | None = None) -> nn.Module:
    """Build model ``name`` for ``inputs`` with hyper-parameters ``params``."""
    try:
        return model_entry(name).factory(inputs, **(params or {}))
    except TypeError as exc:
        raise TypeError(f"model {name!r}: bad hyper-parameters {params} ({exc}). Fix: edit models.{name} in the config.") from exc
