"""Survival models and their registry (``build_model(name, ...)``)."""

from memamba.models import baselines, coattention, coxnet, memamba_model, mil  # noqa: F401  (registers the models)
from memamba.models.batch import Batch, collate, single
from memamba.models.registry import ModelInputs, build_model, list_models

__all__ = ["Batch", "ModelInputs", "build_model", "collate", "list_models", "single"]
