"""The one validated place for configuration: load YAML, check it against the schema, fill defaults."""

from __future__ import annotations

import copy
import json
import os
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from memamba.errors import MemambaError, not_a_file, printable


class ConfigError(MemambaError, ValueError):
    """A configuration or sample sheet that cannot be used, with a message saying how to fix it."""


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load one of the bundled JSON schemas (``config``, ``slides``, ``clinical``, ``genomics``, ``truth``); read once
    per process and shared, so callers must not change it."""
    text = resources.files("memamba.schemas").joinpath(f"{name}.schema.yaml").read_text()
    return yaml.safe_load(text)


def _with_defaults(validator_class: type) -> type:
    """Extend a jsonschema validator so that it fills ``default`` values while validating."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _with_defaults(jsonschema.Draft202012Validator)


def _hint(error: jsonschema.ValidationError) -> str:
    """The schema's description of the offending field, offered as the fix."""
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if description is None and isinstance(error.parent, jsonschema.ValidationError):
        return _hint(error.parent)
    return f" Expected: {description}." if description else ""


_SCALAR_PARSERS = {
    "integer": lambda text: int(text) if re.fullmatch(r"[-+]?\d+", text) else None,
    "number": lambda text: float(text) if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text) else None,
    "boolean": lambda text: {"true": True, "false": False}.get(text.lower()),
}


def coerce_strings(instance: Any, schema: dict[str, Any]) -> Any:
    """``instance`` with text scalars turned into the number, boolean or null its schema expects where the text
    reads as one. Snakemake's ``--config key='{nested: 5}'`` gives every nested value as text."""
    if isinstance(instance, dict):
        properties, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, value in instance.items():
            sub = properties.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                instance[key] = coerce_strings(value, sub)
            elif not properties and extra is None:
                instance[key] = _free_form(value)
        return instance
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        return [coerce_strings(item, schema["items"]) for item in instance]
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if not isinstance(instance, str) or "string" in types:
        return instance
    if "null" in types and instance.strip().lower() in ("null", "~", "none"):
        return None
    for kind in types:
        value = _SCALAR_PARSERS.get(kind, lambda text: None)(instance.strip())
        if value is not None:
            return value
    return instance


def _free_form(value: Any) -> Any:
    """Text scalars of a section without a schema (a model's hyper-parameters) read as YAML scalars."""
    if isinstance(value, dict):
        return {key: _free_form(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_free_form(item) for item in value]
    if isinstance(value, str):
        text = value.strip()
        for kind in ("integer", "number", "boolean"):
            parsed = _SCALAR_PARSERS[kind](text)
            if parsed is not None:
                return parsed
        return None if text.lower() in ("null", "~", "none") else value
    return value


MAX_CONFIG_VALUES = 100_000
"""The most values a configuration may hold once YAML aliases are expanded (a real one holds a few hundred)."""


def check_size(instance: Any, where: str, limit: int = MAX_CONFIG_VALUES) -> int:
    """The number of values in ``instance`` with every shared (YAML-aliased) part counted each time it is used, or a
    ConfigError when that exceeds ``limit`` (an alias bomb, "billion laughs") or a part contains itself. Each
    container is visited once, so the check costs as little as the text it was read from."""
    sizes: dict[int, int] = {}
    open_containers: set[int] = set()
    fix = "write the values out, or use each YAML alias (*name) only for a value without aliases inside"

    def size(value: Any) -> int:
        if not isinstance(value, (dict, list)):
            return 1
        key = id(value)
        if key in open_containers:
            raise ConfigError(f"{where}: a YAML alias makes a value contain itself. Fix: {fix}.")
        if key not in sizes:
            open_containers.add(key)
            children = value.values() if isinstance(value, dict) else value
            sizes[key] = 1 + sum(size(child) for child in children)
            open_containers.discard(key)
        if sizes[key] > limit:
            raise ConfigError(f"{where}: the configuration expands to more than {limit:,} values (YAML aliases nested in "
                              f"aliases repeat a part over and over). Fix: {fix}.")
        return sizes[key]

    return size(instance)


def validate(instance: dict[str, Any], schema: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate ``instance`` (filling defaults in place, after :func:`coerce_strings`) or raise ConfigError naming
    ``where`` and the field. An instance too large once its YAML aliases are expanded is refused first."""
    check_size(instance, where)
    coerce_strings(instance, schema)
    errors = sorted(_DefaultFillingValidator(schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for error in errors:
            field = printable(".".join(str(p) for p in error.absolute_path)) or "(top level)"
            lines.append(f"{where}: field '{field}': {printable(error.message)}.{_hint(error)}")
        raise ConfigError("\n".join(lines))
    return instance


def check_train_section(train: dict[str, Any], where: str) -> dict[str, Any]:
    """The rule JSON Schema cannot state: early stopping needs an inner validation part to stop on."""
    if train.get("early_stopping_patience", 0) > 0 and train.get("inner_val_fraction", 0.0) <= 0:
        raise ConfigError(f"{where}: train.early_stopping_patience is {train['early_stopping_patience']} but "
                          "train.inner_val_fraction is 0, so there is nothing to stop on (the reported fold is never used). "
                          "Fix: set train.inner_val_fraction to e.g. 0.2, or early_stopping_patience to 0.")
    tune = train.get("tune", {})
    untrained = [model for model in tune.get("models", []) if model not in train.get("models", [])]
    if untrained:
        raise ConfigError(f"{where}: train.tune.models lists {untrained}, which train.models does not train. Fix: add them "
                          "to train.models (the tuned version is trained beside the configured one), or remove them.")
    clashing = [f"{model}{TUNED_SUFFIX}" for model in tune.get("models", []) if f"{model}{TUNED_SUFFIX}" in train.get("models", [])]
    if clashing:
        raise ConfigError(f"{where}: train.models names {clashing}, the names tuning gives to the tuned models. "
                          "Fix: rename those models.")
    return train


TUNED_SUFFIX = "-tuned"
"""A model tuned by nested cross-validation (train.tune.models) is trained as NAME-tuned beside NAME."""


NULL_WORDS = ("null", "Null", "NULL", "~")
"""How YAML writes null: Snakemake reads ``--config`` values as text, so these arrive as strings."""


def nulls_from_overrides(config: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Set to None every value of ``config`` that the ``--config`` ``overrides`` wrote as null (``null`` or ``~``); the
    schema then decides whether the key may be null."""
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            nulls_from_overrides(config[key], value)
        elif isinstance(value, str) and value.strip() in NULL_WORDS:
            config[key] = None


def validate_config(config: dict[str, Any], where: str = "config") -> dict[str, Any]:
    """Validate a workflow configuration mapping and fill in every default."""
    validate(config, load_schema("config"), where)
    check_train_section(config["train"], where)
    return config


def read_yaml_mapping(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML file's top-level mapping (empty for an empty file); a ConfigError naming the file otherwise."""
    path = Path(path)
    problem = not_a_file(path)
    if problem == "does not exist":
        raise ConfigError(f"{path}: configuration file not found. Fix: pass an existing file with --configfile.")
    fix = "write it as UTF-8 YAML mapping config keys to values (see config/config.yaml)"
    if problem:
        raise ConfigError(f"{path}: this configuration {problem}. Fix: {fix}.")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: not a readable YAML configuration ({detail}). Fix: {fix}.") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: holds a {type(config).__name__}, not a mapping of config keys. Fix: {fix}.")
    return config


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a YAML configuration file."""
    return validate_config(read_yaml_mapping(path), where=str(path))


def json_object(text: str | None, where: str) -> dict[str, Any]:
    """``text`` parsed as a JSON object (empty for None or ""), or a ConfigError naming ``where``."""
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError as error:
        raise ConfigError(f"{where}: not valid JSON ({error}): {text!r}. Fix: pass an object such as '{{\"key\": value}}'.") from error
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {text!r} is not a JSON object. Fix: pass an object such as '{{\"key\": value}}'.")
    return value


def section_params(section: str, params_json: str | None, where: str = "--params",
                   overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate one config section given as JSON (as rules pass it), with command-line ``overrides`` (None
    values ignored) applied on top, and fill its defaults."""
    value = json_object(params_json, f"{where} ({section})")
    value = {**value, **{key: v for key, v in (overrides or {}).items() if v is not None}}
    schema = load_schema("config")["properties"][section]
    validated = validate(value, schema, f"{where} ({section})")
    return check_train_section(validated, where) if section == "train" else validated
