"""The ``models:`` section checked before anything runs: every entry names a registered model or a variant of one,
every hyper-parameter is one the model has, of its type and in a plausible range, and the model builds with them.

The ranges are metadata, one table for every model (a name means the same thing wherever it is used); building
happens on the CPU for small settings and on PyTorch's ``meta`` device, which allocates nothing, for large ones, so
that an absurd width cannot exhaust memory here.
"""

from __future__ import annotations

import difflib
from typing import Any

from memamba.config import ConfigError
from memamba.errors import printable
from memamba.models.registry import TOKEN_SETS, ModelInputs, build_model, list_models, model_defaults

HYPER_PARAMETER_RANGES: dict[str, tuple[float, float]] = {
    **dict.fromkeys(("hidden", "attention", "omic_hidden", "dim", "d_model"), (1, 16384)),
    **dict.fromkeys(("depth", "layers", "pathology_layers", "genomics_layers", "backbone_layers"), (0, 64)),
    "heads": (1, 256), "rate": (1, 100000), "d_state": (1, 1024), "d_conv": (1, 64), "expand": (1, 16),
    "dropout": (0.0, 0.99), "ot_epsilon": (1e-4, 100.0), "ot_tau": (1e-4, 100.0), "mmd_weight": (0.0, 1000.0),
    "mmd_max_patches": (2, 10_000_000), "l1_ratio": (1e-4, 1.0), "alpha_min_ratio": (1e-6, 0.999), "n_alphas": (1, 1000),
    "inner_folds": (2, 100), "max_iter": (1, 10_000_000), "dropinput": (0.0, 0.99), "scale": (1, 1024),
    "l1_weight": (0.0, 1000.0), "alignment_weight": (0.0, 1_000_000.0),
}
"""Inclusive bounds of every numeric hyper-parameter of the registered models (tested to cover them all)."""

FUSIONS = ("bilinear", "concat")
HYPER_PARAMETER_CHOICES: dict[str, tuple[str, ...]] = {"tokens": TOKEN_SETS, "fusion": FUSIONS}
"""The values a text hyper-parameter may take, checked at start-up (others are checked when the model is built)."""


def _type_problem(value: Any, default: Any) -> str | None:
    """Why ``value`` cannot stand where ``default`` stands (None: it can); a default of None accepts anything."""
    if default is None:
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(default, int):
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be a whole number"
    if isinstance(default, float):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "must be a number"
    return None if isinstance(value, str) else "must be text"


def entry_problems(name: str, entry: dict[str, Any], where: str) -> list[str]:
    """What is wrong with ``models.NAME`` of a config (one line per problem, each naming ``where`` and the key)."""
    base = entry.get("base")
    registered = list_models()
    if base is None and name not in registered:
        close = difflib.get_close_matches(name, registered, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return [f"{where}: models.{name}: no registered model is called {name!r} and the entry names no base. Fix: {hint}"
                f"name a registered model {registered}, or make it a variant with 'base: MODEL'."]
    if base is not None and base not in registered:
        return [f"{where}: models.{name}.base is {base!r}, not a registered model. Fix: use one of {registered}."]
    known = model_defaults(name, {"base": base} if base else None)
    problems = []
    for key, value in entry.items():
        if key == "base":
            continue
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(f"{where}: models.{name}.{printable(key)}: {base or name} has no setting {key!r}. Fix: {hint}"
                            f"use its settings {sorted(known)}.")
            continue
        problem = value_problem(key, value, known[key])
        if problem:
            problems.append(f"{where}: models.{name}.{key} is {value!r} but {problem}. Fix: correct models.{name}.{key}.")
    return problems


def value_problem(key: str, value: Any, default: Any) -> str | None:
    """Why ``value`` cannot be hyper-parameter ``key`` whose default is ``default`` (its type, its range), or None."""
    problem = _type_problem(value, default)
    low, high = HYPER_PARAMETER_RANGES.get(key, (None, None))
    if problem is None and low is not None and not low <= value <= high:
        problem = f"must be from {low:g} to {high:g}"
    if problem is None and key in HYPER_PARAMETER_CHOICES and value not in HYPER_PARAMETER_CHOICES[key]:
        problem = f"must be one of {list(HYPER_PARAMETER_CHOICES[key])}"
    return problem


def merged_settings(name: str, models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``models.NAME`` as training uses it: a variant starts from its base's entry and overrides it."""
    entry = dict(models.get(name, {}))
    base = entry.get("base")
    return {**models.get(base, {}), **entry} if base else entry


STAND_IN_INPUTS = ModelInputs(patch_dim=1024, token_sizes=[8] * 6)
"""The inputs models are built for when only their settings are checked (the data's sizes are checked later)."""
WIDTHS = ("hidden", "attention", "omic_hidden", "dim", "d_model")
CHEAP_WIDTH, CHEAP_LAYERS = 1024, 8
"""Settings up to these widths and layer counts build in milliseconds on the CPU; larger ones are built on the ``meta``
device, which allocates nothing (its first use costs about a second of imports)."""


def _build_device(settings: dict[str, Any]) -> str:
    """Where to build a model only to check its settings: the CPU when it is small, else the meta device."""
    wide = any(settings.get(key, 0) > CHEAP_WIDTH for key in WIDTHS)
    deep = any(settings.get(key, 0) > CHEAP_LAYERS for key in HYPER_PARAMETER_RANGES if key.endswith(("layers", "depth")))
    return "meta" if wide or deep else "cpu"


def check_models_section(models: dict[str, dict[str, Any]], where: str, n_bins: int = 4, build: bool = True) -> None:
    """Raise a ConfigError listing every problem of the config's ``models:`` section: unknown models or settings,
    values of the wrong type or out of range (from the registry's metadata, without torch), and, with ``build``,
    values the model itself refuses when it is built (e.g. an unknown ``scan_orders``)."""
    problems = [line for name, entry in models.items() for line in entry_problems(name, entry, where)]
    if build and not problems:
        import torch

        inputs = ModelInputs(STAND_IN_INPUTS.patch_dim, STAND_IN_INPUTS.token_sizes, n_bins)
        for name in models:
            settings = merged_settings(name, models)
            try:
                with torch.device(_build_device({**model_defaults(name, settings), **settings})):
                    build_model(name, inputs, settings)
            except (TypeError, ValueError) as exc:
                problems.append(f"{where}: models.{name}: {exc}")
    if problems:
        raise ConfigError("\n".join(problems))
