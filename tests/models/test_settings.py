"""The models: section is checked before anything runs (issue 27): unknown models and settings, wrong types, values out
of range and values a model refuses are named, with the fix."""

import pytest

from memamba.config import ConfigError
from memamba.models import list_models
from memamba.models.registry import model_defaults
from memamba.models.settings import HYPER_PARAMETER_RANGES, check_models_section, merged_settings


@pytest.mark.parametrize("models, message", [
    ({"snn": {"hiden": 16}}, r"my\.yaml: models\.snn\.hiden: snn has no setting 'hiden'\. Fix: did you mean 'hidden'\? use its settings "
                             r"\['depth', 'dropout', 'hidden', 'tokens'\]"),
    ({"snnn": {"hidden": 16}}, r"models\.snnn: no registered model is called 'snnn' and the entry names no base\. Fix: did you mean 'snn'\?"),
    ({"x": {"base": "snnn"}}, r"models\.x\.base is 'snnn', not a registered model"),
    ({"snn": {"hidden": 16.5}}, r"models\.snn\.hidden is 16\.5 but must be a whole number"),
    ({"snn": {"hidden": True}}, r"models\.snn\.hidden is True but must be a whole number"),
    ({"snn": {"hidden": 10**9}}, r"models\.snn\.hidden is 1000000000 but must be from 1 to 16384"),
    ({"memamba": {"use_ot": "no"}}, r"models\.memamba\.use_ot is 'no' but must be true or false"),
    ({"memamba": {"dropout": -0.1}}, r"models\.memamba\.dropout is -0\.1 but must be from 0 to 0\.99"),
    ({"memamba": {"scan_orders": "both"}}, r"models\.memamba: .*scan_orders must be one of \('dual', 'conventional', 'attention'\)"),
    ({"memamba": {"d_model": 32}, "memamba-p": {"base": "memamba", "experts": "pathology", "readout": "concat"}},
     r"models\.memamba-p: .*readout 'concat' needs a sequence of fixed length"),
])
def test_a_bad_models_entry_is_named_with_the_key_and_the_fix(models: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_models_section(models, "my.yaml")


def test_every_problem_is_listed_at_once_and_good_entries_pass() -> None:
    with pytest.raises(ConfigError) as error:
        check_models_section({"snn": {"hiden": 16}, "abmil": {"dropout": 2.0}, "mcat": {"dim": 32}}, "my.yaml")
    assert len(str(error.value).splitlines()) == 2
    check_models_section({"memamba": {"d_model": 16384, "expand": 16}, "no-ot": {"base": "memamba", "use_ot": False},
                          "coxnet": {"l1_ratio": 1.0}, "snn": {}}, "my.yaml")     # built on the meta device: no memory


def test_a_variant_starts_from_its_bases_entry() -> None:
    models = {"memamba": {"d_model": 32, "dropout": 0.2}, "no-ot": {"base": "memamba", "use_ot": False, "dropout": 0.1}}
    assert merged_settings("no-ot", models) == {"d_model": 32, "dropout": 0.1, "base": "memamba", "use_ot": False}
    assert merged_settings("snn", models) == {}


def test_every_numeric_hyper_parameter_of_every_registered_model_has_a_range() -> None:
    for name in list_models():
        for key, default in model_defaults(name).items():
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                low, high = HYPER_PARAMETER_RANGES[key]
                assert low <= default <= high, f"{name}.{key}: default {default} outside [{low}, {high}]"
    assert set(HYPER_PARAMETER_RANGES) <= {key for name in list_models() for key in model_defaults(name)}
