"""Survival models and their registry (``build_model(name, ...)``)."""

from memamba.models import baselines, memamba_model  # noqa: F401  (registers the models)
from memamba.models.registry import ModelInputs, build_model, list_models

__all__ = ["ModelInputs", "build_model", "list_models"]
