"""Search spaces of nested cross-validation: which settings a tuned model may vary, their candidate values, and the
candidates an outer fold tries. Light (no torch, no scikit-learn), so that the workflow checks them at start-up."""

from __future__ import annotations

import difflib
import itertools
import json
from typing import Any

import numpy as np

from memamba.config import ConfigError, section_params
from memamba.errors import MemambaError, printable
from memamba.models.registry import list_models, model_defaults
from memamba.models.settings import merged_settings, value_problem

TRAIN_KEYS = ("epochs", "lr", "weight_decay", "alpha", "batch_size", "accumulate", "optimizer", "weighted_sampling",
              "inner_val_fraction", "early_stopping_patience")
"""Search-space keys that are training settings (``train:``); every other key is a model setting (``models:``)."""

_COMMON = {"lr": [1e-4, 2e-4, 5e-4, 1e-3], "weight_decay": [1e-5, 1e-4, 1e-3], "epochs": ["x0.5", "x1", "x2"]}
_WIDTH = {"snn": "hidden", "abmil": "hidden", "abmil-snn": "hidden", "mcat": "dim", "motcat": "dim", "transmil": "dim",
          "mambamil": "dim", "survpath": "dim", "cmta": "dim", "porpoise": "hidden",
          "memamba": "d_model", "memamba-genomics": "d_model", "memamba-pathology": "d_model"}
DEFAULT_SPACES: dict[str, dict[str, list[Any]]] = {
    "coxnet": {"l1_ratio": [0.1, 0.3, 0.5, 0.7, 0.9, 1.0], "alpha_min_ratio": [0.001, 0.01, 0.05, 0.1]},
    **{name: {**_COMMON, "dropout": [0.1, 0.25, 0.5], width: ["x0.5", "x1", "x2"]} for name, width in _WIDTH.items()},
}
"""Search spaces of the registered models: each key's candidate values; ``"xF"`` is F times the configured value
(rounded for whole numbers). A model without an entry here needs ``train.tune.spaces.MODEL``."""


def search_space(model_name: str, model_params: dict[str, Any], spaces: dict[str, dict[str, list[Any]]] | None = None
                 ) -> dict[str, list[Any]]:
    """The search space of ``model_name``: ``spaces[model_name]`` (the config's ``train.tune.spaces``) when given, else
    the default space of the model (or of a variant's base); every key must be a training or model setting."""
    base = model_params.get("base", model_name)
    space = (spaces or {}).get(model_name) or DEFAULT_SPACES.get(base)
    if not space:
        raise MemambaError(f"train.tune: model {model_name!r} has no default search space. Fix: give one under "
                           f"train.tune.spaces.{model_name} (setting: [candidate values]).")
    known = set(TRAIN_KEYS) | set(model_defaults(model_name, model_params))
    unknown = sorted(set(space) - known)
    if unknown:
        raise MemambaError(f"train.tune.spaces.{model_name}: {unknown} are neither training settings {list(TRAIN_KEYS)} "
                           f"nor settings of model {base!r} {sorted(known - set(TRAIN_KEYS))}. Fix: correct the names.")
    return space


def _resolved(value: Any, configured: Any, key: str) -> Any:
    if not (isinstance(value, str) and value.startswith("x")):
        return value
    if not isinstance(configured, (int, float)) or isinstance(configured, bool):
        raise MemambaError(f"train.tune: {key}: {value!r} scales the configured value, but {key} is {configured!r}. "
                           "Fix: give absolute candidate values for it.")
    scaled = float(value[1:]) * configured
    return max(1, round(scaled)) if isinstance(configured, int) else scaled


def candidate_settings(space: dict[str, list[Any]], configured: dict[str, Any], count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` settings of ``space``'s keys: the configured values first, then distinct random points of the grid
    (``seed``); a MemambaError when the grid has fewer than ``count`` distinct points."""
    keys = sorted(space)
    grid = []
    for point in itertools.product(*(space[key] for key in keys)):
        setting = {key: _resolved(value, configured.get(key), key) for key, value in zip(keys, point)}
        if setting not in grid:
            grid.append(setting)
    first = {key: configured.get(key) for key in keys}
    others = [setting for setting in grid if setting != first]
    if len(others) + 1 < count:
        raise MemambaError(f"train.tune: the search space {space} has {len(others) + 1} distinct settings (the configured "
                           f"one included), fewer than train.tune.candidates = {count}. Fix: add values to the space, or "
                           "lower candidates (every model gets the same number).")
    order = np.random.default_rng(seed).permutation(len(others))[: count - 1]
    return [first, *[others[k] for k in order]]


def applied(setting: dict[str, Any], model_params: dict[str, Any], train_params: dict[str, Any]) -> tuple[dict, dict]:
    """(model settings, training settings) with ``setting``'s values in place."""
    train_part = {key: value for key, value in setting.items() if key in TRAIN_KEYS}
    model_part = {key: value for key, value in setting.items() if key not in TRAIN_KEYS}
    return {**model_params, **model_part}, {**train_params, **train_part}


def check_tuning(train: dict[str, Any], models: dict[str, dict[str, Any]], where: str) -> None:
    """Raise a ConfigError listing every problem of ``train.tune`` that would otherwise stop a training job: a space
    for a model that is neither trained nor known, a missing or unknown setting, too few distinct candidates, or a
    value of a space that the model or the training section refuses."""
    tune, problems = train["tune"], []
    known = set(train["models"]) | set(models) | set(list_models())
    for name in tune["spaces"]:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            problems.append(f"{where}: train.tune.spaces.{printable(name)}: no model is called {name!r}. Fix: "
                            + (f"did you mean {close[0]!r}?" if close else f"name a model of train.models {train['models']}."))
    for name in tune["models"]:
        params = merged_settings(name, models)
        configured = {**train, **model_defaults(name, params)}
        try:
            space = search_space(name, params, tune["spaces"])
            candidate_settings(space, configured, tune["candidates"], tune["seed"])
        except MemambaError as exc:
            problems.append(f"{where}: {printable(exc)}")
            continue
        for key, values in space.items():
            for value in (_resolved(value, configured.get(key), key) for value in values):
                problems += _candidate_problems(name, key, value, configured, where)
    if problems:
        raise ConfigError("\n".join(problems))


def _candidate_problems(model: str, key: str, value: Any, configured: dict[str, Any], where: str) -> list[str]:
    """Why one value of ``model``'s search space cannot be used for ``key`` (none: it can)."""
    fix = f"Fix: correct train.tune.spaces.{model}.{key}."
    if key not in TRAIN_KEYS:
        problem = value_problem(key, value, configured.get(key))
        return [f"{where}: train.tune: a candidate of {model} sets {key} to {value!r}, but it {problem}. {fix}"] if problem else []
    try:
        section_params("train", json.dumps({**{k: configured[k] for k in TRAIN_KEYS if k in configured}, key: value}), where)
    except ConfigError as exc:
        return [f"{where}: train.tune: a candidate of {model} sets {key} to {value!r}, which the training section refuses "
                f"({str(exc).splitlines()[0].split(': ', 2)[-1]}). {fix}"]
    return []
