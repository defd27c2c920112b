import pytest

from memamba.errors import MemambaError
from memamba.train.search_space import DEFAULT_SPACES, applied, candidate_settings
from memamba.train.tuning import TuneSettings

TRAIN = {"epochs": 4, "lr": 1e-3, "weight_decay": 1e-4, "alpha": 0.15, "batch_size": 16, "accumulate": 1, "optimizer": "adam",
         "weighted_sampling": False, "inner_val_fraction": 0.0, "early_stopping_patience": 0}
DEFAULT_CANDIDATES = TuneSettings().candidates


def test_candidates_start_with_the_configured_setting_and_are_distinct() -> None:
    space = {"lr": [1e-4, 1e-3, 1e-2], "hidden": ["x0.5", "x1", "x2"], "dropout": [0.25, 0.5]}
    configured = {"lr": 1e-3, "hidden": 32, "dropout": 0.25}
    settings = candidate_settings(space, configured, 6, seed=0)
    assert settings[0] == configured and len(settings) == 6
    assert len({tuple(sorted(s.items())) for s in settings}) == 6
    assert {s["hidden"] for s in settings} <= {16, 32, 64}
    assert settings == candidate_settings(space, configured, 6, seed=0) != candidate_settings(space, configured, 6, seed=1)
    with pytest.raises(MemambaError, match="3 distinct settings .* fewer than train.tune.candidates = 4"):
        candidate_settings({"lr": [1e-4, 1e-3, 1e-2]}, configured, 4, seed=0)
    with pytest.raises(MemambaError, match="scales the configured value"):
        candidate_settings({"optimizer": ["x2"]}, {"optimizer": "adam"}, 1, seed=0)
    model, train = applied({"lr": 0.01, "hidden": 64}, {"hidden": 32, "depth": 2}, {"lr": 1e-3, "epochs": 4})
    assert model == {"hidden": 64, "depth": 2} and train == {"lr": 0.01, "epochs": 4}


def test_every_registered_model_has_a_search_space_that_fills_the_default_budget() -> None:
    from memamba.models import list_models

    configured = {**TRAIN, "hidden": 32, "dim": 32, "d_model": 32, "dropout": 0.25, "l1_ratio": 0.9, "alpha_min_ratio": 0.01}
    for name in list_models():
        space = DEFAULT_SPACES[name]
        assert len(candidate_settings(space, configured, DEFAULT_CANDIDATES, seed=0)) == DEFAULT_CANDIDATES


def _train(**tune: object) -> dict:
    from memamba.config import validate_config

    config = validate_config({"cohorts": {"demo": {"generate": {}}}, "train": {"models": ["snn", "coxnet"], "tune": tune}})
    return config["train"]


@pytest.mark.parametrize("tune, message", [
    ({"models": ["snn"], "spaces": {"snnn": {"lr": [1e-3]}}},
     r"train\.tune\.spaces\.snnn: no model is called 'snnn'\. Fix: did you mean 'snn'\?"),
    ({"models": ["snn"], "spaces": {"snn": {"hiden": [8, 16]}}}, r"\['hiden'\] are neither training settings"),
    ({"models": ["snn"], "candidates": 3, "spaces": {"snn": {"dropout": [0.1, 2.0, 0.3]}}},
     r"a candidate of snn sets dropout to 2\.0, but it must be from 0 to 0\.99\. Fix: correct train\.tune\.spaces\.snn\.dropout"),
    ({"models": ["snn"], "candidates": 2, "spaces": {"snn": {"lr": [1e-3, -1.0]}}},
     r"a candidate of snn sets lr to -1\.0, which the training section refuses \(.*\)\. Fix: correct train\.tune\.spaces\.snn\.lr"),
    ({"models": ["snn"], "candidates": 9, "spaces": {"snn": {"lr": [1e-3, 1e-2]}}}, r"fewer than train\.tune\.candidates = 9"),
])
def test_a_search_space_that_would_stop_a_training_job_is_refused_at_start_up(tune: dict, message: str) -> None:
    from memamba.config import ConfigError
    from memamba.train.search_space import check_tuning

    with pytest.raises(ConfigError, match=message):
        check_tuning(_train(**tune), {}, "my.yaml")
    check_tuning(_train(models=["snn", "coxnet"]), {"snn": {"hidden": 32}}, "my.yaml")
