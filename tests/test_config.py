import re
from pathlib import Path

import pytest
import yaml

from memamba.config import ConfigError, load_config, nulls_from_overrides, section_params, validate_config
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
    assert tuned == {"models": ["snn"], "candidates": 8, "inner_folds": 3, "seed": 0, "folds_per_job": 1, "spaces": {}}
    with pytest.raises(ConfigError, match=r"train.tune.models lists \['abmil'\], which train.models does not train"):
        validate_config({**base, "train": {"models": ["snn"], "tune": {"models": ["abmil"]}}})
    with pytest.raises(ConfigError, match=r"train.models names \['snn-tuned'\], the names tuning gives"):
        validate_config({**base, "train": {"models": ["snn", "snn-tuned"], "tune": {"models": ["snn"]}}})
    with pytest.raises(ConfigError, match="inner_folds"):
        validate_config({**base, "train": {"models": ["snn"], "tune": {"models": ["snn"], "inner_folds": 1}}})


def _alias_bomb(levels: int) -> str:
    """A configuration whose models section nests ``levels`` aliases of ten aliases each ("billion laughs")."""
    lines = ["cohorts: {demo: {generate: {}}}", "models:", "  l0: &l0 {hidden: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]}"]
    lines += [f"  l{i}: &l{i} {{hidden: [{', '.join([f'*l{i - 1}'] * 10)}]}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_before_anything_copies_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "bomb.yaml", _alias_bomb(9))      # 10^9 values once expanded, 9 lines of text
    with pytest.raises(ConfigError, match=r"bomb\.yaml: the configuration expands to more than 100,000 values .*Fix: write "):
        load_config(path)
    shared = _write(tmp_path / "shared.yaml", "cohorts: {demo: {generate: &g {patients: 8}}, other: {generate: *g}}\n")
    assert load_config(shared)["cohorts"]["other"]["generate"]["patients"] == 8
    looped = _write(tmp_path / "looped.yaml", "cohorts: {demo: {generate: {}}}\nmodels: &m {snn: {hidden: *m}}\n")
    with pytest.raises(ConfigError, match=r"looped\.yaml: a YAML alias makes a value contain itself"):
        load_config(looped)


@pytest.mark.parametrize("config, field", [
    ({"cohorts": {"c1\n": {"generate": {}}}}, "cohorts"),
    ({"train": {"models": ["snn\n"]}}, "train.models.0"),
    ({"extract": {"encoder": "uni\n"}}, "extract.encoder"),
    ({"extract": {"weights_sha256": "ab" * 32 + "\n"}}, "extract.weights_sha256"),
    ({"cohorts": {"c" * 65: {"generate": {}}}}, "cohorts"),
    ({"train": {"models": ["m" * 65]}}, "train.models.0"),
])
def test_names_with_a_trailing_newline_or_too_long_for_derived_file_names_are_refused(config: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=rf"field '{re.escape(field)}': "):
        validate_config({"cohorts": {"demo": {"generate": {}}}, **config})


@pytest.mark.parametrize("section, key, low, high", [
    ("tile", "target_mpp", 0.1, 20), ("tile", "patch_size", 16, 4096), ("tile", "overlap", 0, 0.75),
    ("segment", "seg_mpp", 0.25, 100), ("train", "epochs", 1, 100000), ("train", "lr", 1e-9, 10),
    ("train", "seed", 0, 2**32 - 1), ("splits", "folds", 2, 100), ("extract", "batch_size", 1, 65536),
    ("heatmaps", "thumbnail_size", 64, 16384),
])
def test_numbers_are_accepted_at_their_bounds_and_refused_beyond(section: str, key: str, low: float, high: float) -> None:
    base = {"cohorts": {"demo": {"generate": {}}}}
    for value in (low, high):
        assert validate_config({**base, section: {key: value}})[section][key] == value
    for value in (high * 10 + 1, low - 1 if low >= 1 else -0.001):
        with pytest.raises(ConfigError, match=rf"field '{section}\.{key}': "):
            validate_config({**base, section: {key: value}})


def test_a_demo_cohort_of_implausible_size_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"cohorts\.demo\.generate\.slide_size"):
        validate_config({"cohorts": {"demo": {"generate": {"slide_size": 10**6}}}})


@pytest.mark.parametrize("line, column", [
    ("P1\t1e308\t1", "survival_months"),         # finite, but not a follow-up in months
    ("P1\t3000\t1", "survival_months"),          # days given as months
    ("'P1\n'\t12\t1", "patient_id"),
])
def test_implausible_clinical_values_are_named_with_their_row(tmp_path: Path, line: str, column: str) -> None:
    sheet = _write(tmp_path / "clinical.tsv", "patient_id\tsurvival_months\tevent\n" + line.replace("'", '"') + "\n")
    with pytest.raises(ConfigError, match=rf"row 2 .*column '{column}'"):
        read_sheet(sheet, "clinical")


def test_a_slide_id_with_a_trailing_newline_or_over_100_characters_is_refused(tmp_path: Path) -> None:
    for slide_id in ('"S1\n"', "S" * 101):
        sheet = _write(tmp_path / "slides.tsv", f"patient_id\tslide_id\tpath\nP1\t{slide_id}\tx.svs\n")
        with pytest.raises(ConfigError, match="column 'slide_id'"):
            read_sheet(sheet, "slides", check_paths=False)
    sheet = _write(tmp_path / "slides.tsv", f"patient_id\tslide_id\tpath\nP1\t{'S' * 100}\tx.svs\n")
    assert read_sheet(sheet, "slides", check_paths=False)["slide_id"][0] == "S" * 100


def test_a_clinical_sheet_with_a_column_twice_is_refused_not_read_once(tmp_path: Path) -> None:
    sheet = _write(tmp_path / "clinical.tsv", "patient_id\tsurvival_months\tevent\tsurvival_months\nP1\t10\t1\t99\n")
    with pytest.raises(ConfigError, match=r"clinical\.tsv: column\(s\) \['survival_months'\] appear more than once"):
        read_sheet(sheet, "clinical")


def test_a_slide_path_that_is_a_fifo_or_a_device_is_named_by_its_kind(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.svs")
    sheet = _write(tmp_path / "slides.tsv", "patient_id\tslide_id\tpath\nP1\tS1\tpipe.svs\nP2\tS2\t/dev/zero\n")
    with pytest.raises(ConfigError) as error:
        read_sheet(sheet, "slides")
    lines = str(error.value).splitlines()
    assert "row 2 (slide_id=S1): path 'pipe.svs' is a FIFO (named pipe), not a regular file" in lines[0]
    assert "row 3 (slide_id=S2): path '/dev/zero' is a character device, not a regular file" in lines[1]


def test_null_written_on_the_command_line_becomes_null_where_the_overrides_put_it() -> None:
    config = {"extract": {"weights": "null", "weights_sha256": "~", "encoder": "uni"}, "note": "null"}
    nulls_from_overrides(config, {"extract": {"weights": "null", "weights_sha256": "~"}})
    assert config == {"extract": {"weights": None, "weights_sha256": None, "encoder": "uni"}, "note": "null"}
