"""Model registry: one small factory per model name, timm style."""

from __future__ import annotations

import inspect
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
    """A registered model: its factory, the modalities it consumes, and how it is fitted
    (``torch``: gradient descent in :mod:`memamba.train.loop`; ``sksurv``: a scikit-survival estimator)."""

    factory: Callable[..., Any]
    modalities: tuple[str, ...]
    trainer: str = "torch"
    settings: Callable[..., Any] | None = None


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, modalities: tuple[str, ...], trainer: str = "torch",
                   settings: Callable[..., Any] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering ``factory(inputs: ModelInputs, **params)`` under ``name``; ``settings`` is the callable
    whose signature lists the hyper-parameters and their defaults when the factory passes ``**params`` on to it.

    A ``torch`` model's ``forward(batch: Batch)`` returns ``(hazard logits (b, n_bins), auxiliary loss (scalar))``."""

    def add(factory: Callable[..., Any]) -> Callable[..., Any]:
        _MODELS[name] = ModelEntry(factory, modalities, trainer, settings)
        return factory

    return add


def list_models() -> list[str]:
    """Names of every registered model."""
    return sorted(_MODELS)


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``, or a KeyError listing the known names (variants: pass their ``base``)."""
    if name not in _MODELS:
        raise UnknownNameError(f"unknown model {name!r}. Fix: use one of {list_models()} (config key train.models).")
    return _MODELS[name]


def variant_entry(name: str, params: dict[str, Any] | None) -> ModelEntry:
    """The entry behind ``name``: its ``base`` when ``params`` (the config's ``models.NAME``) names one."""
    return model_entry((params or {}).get("base", name))


def model_defaults(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every hyper-parameter of model ``name`` (a variant's: its base's) with its default, the variant's own values
    (``params``, the config's ``models.NAME``) in place."""
    entry = variant_entry(name, params)
    source = entry.settings or entry.factory
    defaults = {key: value.default for key, value in inspect.signature(source).parameters.items()
                if value.default is not inspect.Parameter.empty}
    return {**defaults, **{key: value for key, value in (params or {}).items() if key != "base"}}


def build_model(name: str, inputs: ModelInputs, params: dict[str, Any] | None = None) -> nn.Module:
    """Build model ``name`` for ``inputs`` with hyper-parameters ``params``.

    A ``base`` key in ``params`` makes ``name`` a variant of that registered model (an ablation in the
    config, e.g. ``memamba-no-ot: {base: memamba, use_ot: false}``)."""
    settings = dict(params or {})
    base = settings.pop("base", name)
    try:
        return model_entry(base).factory(inputs, **settings)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"model {name!r}: bad hyper-parameters {params} ({exc}). Fix: edit models.{name} in the config.") from exc
