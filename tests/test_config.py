import re
from pathlib import Path

import pytest
import yaml

from memamba.config import ConfigError, load_config, section_params, validate_config
from memamba.sheets import read_sheet

REPO = Path(__file__).resolve().parents[1]


def test_embedded_default_config_is_valid_and_complete() -> None:
    config = load_config(REPO / "config" / "config.yaml")
    assert config["cohorts"]["demo"]["generate"]["patients"] == 60
    assert config["splits"]["folds"] == 5
    assert config["extract"]["encoder"] == "demo-stats"


def test_defaults_are_filled() -> None:
    config = validate_config({"cohorts": {"x": {"generate": {}}}})
    assert config["tile"] == {"target_mpp": 0.5, "patch_size": 256, "overlap": 0, "min_tissue_fraction": 0.5}
    assert config["cohorts"]["x"]["generate"]["seed"] == 0


def test_bad_value_names_the_field_and_what_is_expected() -> None:
    with pytest.raises(ConfigError) as error:
        validate_config({"cohorts": {"x": {"generate": {}}}, "train": {"epochs": 0}}, where="my.yaml")
    message = str(error.value)
    assert "my.yaml" in message and "train.epochs" in message
    assert "training epochs" in message


def test_typo_in_a_key_is_reported() -> None:
    with pytest.raises(ConfigError, match="pach_size"):
        validate_config({"cohorts": {"x": {"generate": {}}}, "tile": {"pach_size": 128}})


def test_cohort_needs_generate_or_all_sheets() -> None:
    with pytest.raises(ConfigError, match="cohorts.x"):
        validate_config({"cohorts": {"x": {"slides": "s.tsv"}}})


def test_section_params_fill_defaults_and_reject_bad_values() -> None:
    assert section_params("splits", '{"folds": 3}') == {"folds": 3, "seed": 0, "time_bins": 4, "missing_modality": "exclude"}
    with pytest.raises(ConfigError, match="folds"):
        section_params("splits", '{"folds": 1}')


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_slide_sheet_missing_file_names_sheet_row_and_path(tmp_path: Path) -> None:
    (tmp_path / "a.svs").write_bytes(b"x")
    sheet = _write(tmp_path / "slides.tsv", "patient_id\tslide_id\tpath\nP1\tS1\ta.svs\nP2\tS2\tmissing.svs\n")
    with pytest.raises(ConfigError) as error:
        read_sheet(sheet, "slides")
    message = str(error.value)
    assert str(sheet) in message and "row 3" in message and "S2" in message
    assert "missing.svs" in message and "Fix:" in message


def test_slide_sheet_resolves_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "a.svs").write_bytes(b"x")
    sheet = _write(tmp_path / "slides.tsv", "patient_id\tslide_id\tpath\tmpp\nP1\tS1\ta.svs\t0.25\n")
    frame = read_sheet(sheet, "slides")
    assert frame.loc[0, "path"] == str(tmp_path / "a.svs")
    assert frame.loc[0, "mpp"] == 0.25


def test_clinical_sheet_bad_event_and_duplicate(tmp_path: Path) -> None:
    sheet = _write(tmp_path / "clinical.tsv", "patient_id\tsurvival_months\tevent\nP1\t10\tyes\nP1\t5\t1\n")
    with pytest.raises(ConfigError) as error:
        read_sheet(sheet, "clinical")
    message = str(error.value)
    assert "row 2" in message and "'event'" in message and "1 if the patient died" in message
    assert "duplicate patient_id 'P1'" in message


def test_sheet_missing_column_lists_the_expected_columns(tmp_path: Path) -> None:
    sheet = _write(tmp_path / "genomics.tsv", "modality\tpath\nrna\tx.tsv\n")
    with pytest.raises(ConfigError, match=r"missing column\(s\) \['kind'\]"):
        read_sheet(sheet, "genomics")


def test_config_schema_documents_every_key() -> None:
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    for name, section in schema["properties"].items():
        for key, spec in section.get("properties", {}).items():
            assert spec.get("description"), f"{name}.{key} has no description"


def test_text_values_from_snakemakes_nested_config_take_their_schema_types() -> None:
    config = validate_config({"cohorts": {"x": {"generate": {"patients": "12"}}}, "tile": {"patch_size": "128", "overlap": "0.25"},
                              "segment": {"saturation_threshold": "null"}, "train": {"amp": "False", "models": ["snn"]},
                              "models": {"snn": {"hidden": "64", "dropout": "1e-1", "activation": "elu"}}})
    assert config["tile"] == {"patch_size": 128, "overlap": 0.25, "target_mpp": 0.5, "min_tissue_fraction": 0.5}
    assert config["segment"]["saturation_threshold"] is None and config["train"]["amp"] is False
    assert config["cohorts"]["x"]["generate"]["patients"] == 12
    assert config["models"]["snn"] == {"hidden": 64, "dropout": 0.1, "activation": "elu"}
    with pytest.raises(ConfigError, match="tile.patch_size': 'big' is not of type 'integer'"):
        validate_config({"cohorts": {"x": {"generate": {}}}, "tile": {"patch_size": "big"}})


@pytest.mark.parametrize("config, field", [
    ({"train": {"models": ["x`touch PWNED`"]}, "models": {"x`touch PWNED`": {"base": "snn"}}}, "train.models.0"),
    ({"train": {"models": ["snn"]}, "models": {"../../../escaped": {"base": "snn"}}}, "models"),
    ({"extract": {"encoder": "-rf"}}, "extract.encoder"),
    ({"cohorts": {"-x": {"generate": {}}}}, "cohorts"),
])
def test_names_that_would_reach_a_shell_or_leave_results_are_refused(config: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=rf"field '{re.escape(field)}': .* does not match .*Expected: .*starting with a letter or digit"):
        validate_config({"cohorts": {"demo": {"generate": {}}}, **config})


def test_slide_ids_start_with_a_letter_or_digit(tmp_path: Path) -> None:
    for slide_id in ("-rf", ".A.h5.x"):
        (tmp_path / "slides.tsv").write_text(f"patient_id\tslide_id\tpath\nP1\t{slide_id}\tx.svs\n")
        with pytest.raises(ConfigError, match="slide_id"):
            read_sheet(tmp_path / "slides.tsv", "slides", check_paths=False)


@pytest.mark.parametrize("value", ["inf", "1e400", "-inf"])
def test_a_survival_time_that_is_not_finite_is_named_with_its_row(tmp_path: Path, value: str) -> None:
    (tmp_path / "clinical.tsv").write_text(f"patient_id\tsurvival_months\tevent\nP1\t12\t1\nP2\t{value}\t0\n")
    with pytest.raises(ConfigError, match=rf"clinical\.tsv: row 3 \(patient_id=P2\): column 'survival_months': '{re.escape(value)}' "
                                          r"is not of type 'number'\. Fix: expected follow-up time"):
        read_sheet(tmp_path / "clinical.tsv", "clinical")


def test_tuning_names_models_that_are_trained_and_leaves_their_tuned_names_free() -> None:
    base = {"cohorts": {"demo": {"generate": {"patients": 8}}}}
    tuned = validate_config({**base, "train": {"models": ["snn", "coxnet"], "tune": {"models": ["snn"]}}})["train"]["tune"]
    assert tuned == {"models": ["snn"], "candidates": 8, "inner_folds": 3, "seed": 0, "spaces": {}}
    with pytest.raises(ConfigError, match=r"train.tune.models lists \['abmil'\], which train.models does not train"):
        validate_config({**base, "train": {"models": ["snn"], "tune": {"models": ["abmil"]}}})
    with pytest.raises(ConfigError, match=r"train.models names \['snn-tuned'\], the names tuning gives"):
        validate_config({**base, "train": {"models": ["snn", "snn-tuned"], "tune": {"models": ["snn"]}}})
    with pytest.raises(ConfigError, match="inner_folds"):
        validate_config({**base, "train": {"models": ["snn"], "tune": {"models": ["snn"], "inner_folds": 1}}})
