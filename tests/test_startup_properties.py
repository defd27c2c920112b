"""Property: whatever sheet or configuration a user writes, start-up validation either accepts it or stops with error
lines that each name the file; it never ends in a traceback (issue 15), nor runs out of memory or time on YAML
aliases, nor lets a name with control characters through (issue 27)."""

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memamba.config import ConfigError, load_config
from memamba.models.settings import check_models_section
from memamba.sheets import read_sheet
from memamba.train.search_space import check_tuning

CHECKED = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
COLUMNS = {"slides": ["patient_id", "slide_id", "path", "mpp"], "clinical": ["patient_id", "survival_months", "event"],
           "genomics": ["modality", "kind", "path", "orientation"]}
HOSTILE_CELLS = ["", "nan", "NA", "null", "inf", "-inf", "1e400", "-1", "0", "2", "1.5", "TCGA-AA-0001", "-rf", "../x",
                 ".A.h5.x", "a b", "x`touch PWNED`", '"', "'", "é", "\x00", "rna", "counts", "cnv", "gistic", "demo.svs",
                 '"P1\n"', '"S\r\n"', "\x1b[31m", "1e308", "1201", "S" * 101]
cells = st.one_of(st.sampled_from(HOSTILE_CELLS), st.text(st.characters(exclude_characters="\t\n\r"), max_size=12),
                  st.floats(allow_nan=True, allow_infinity=True).map(str), st.integers(-10, 10).map(str))


@st.composite
def sheets(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(COLUMNS)))
    if draw(st.integers(0, 9)) == 0:
        return kind, draw(st.binary(max_size=200))
    header = draw(st.lists(st.sampled_from([*COLUMNS[kind], "extra", " patient_id ", ""]), min_size=0, max_size=6))
    rows = draw(st.lists(st.lists(cells, min_size=len(header), max_size=len(header) + 1), max_size=5))
    text = "\n".join("\t".join(row) for row in [header, *rows])
    return kind, text.encode(draw(st.sampled_from(["utf-8", "latin-1"])), errors="replace")


CONTROL_NAMES = ["c1\n", "snn\n", "a\tb", "x\x00", "\x7f", "m" * 65, "S" * 101]
BOUNDARY_NUMBERS = [0, 1, -1, 2**32 - 1, 2**32, 16384, 16385, 0.99, 1.0, 1e-4, 1e308, -1e308, 1e-320]
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False), st.sampled_from(HOSTILE_CELLS),
              st.sampled_from(BOUNDARY_NUMBERS), st.sampled_from(CONTROL_NAMES)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(HOSTILE_CELLS[:14]), inner, max_size=3)),
    max_leaves=8,
)
MODEL_SETTINGS = ["base", "hidden", "hiden", "hidden\n", "dim", "d_model", "dropout", "depth", "scan_orders", "use_ot", "readout",
                  "experts"]
SECTIONS = {"cohorts": ["demo", "x`touch PWNED`", "../up", "NA", *CONTROL_NAMES[:2]],
            "train": ["models", "epochs", "lr", "batch_size", "amp", "seed", "n_bins", "tune"],
            "extract": ["encoder", "weights", "weights_sha256", "slides_per_job", "dtype"], "splits": ["folds", "seed"],
            "tile": ["target_mpp", "patch_size", "overlap"], "genomics": ["zscore_clip"], "segment": ["seg_mpp", "median_kernel"]}
MODEL_NAMES = ["snn", "snnn", "memamba", "abmil", "coxnet", "variant", "../../escaped", "x`id`", *CONTROL_NAMES[:2]]
model_entries = st.dictionaries(st.sampled_from(MODEL_SETTINGS),
                                st.one_of(json_values, st.sampled_from(["snn", "memamba", "dual", "concat", "pathology"])), max_size=3)


@st.composite
def configs(draw: st.DrawFn) -> bytes:
    """YAML text of a configuration: random bytes, or sections of hostile and boundary values (models included), some
    parts shared so that the YAML holds anchors and aliases, sometimes an alias bomb."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    config = {section: draw(st.dictionaries(st.sampled_from(keys), json_values, max_size=3))
              for section in draw(st.lists(st.sampled_from(sorted(SECTIONS)), max_size=4, unique=True))
              for keys in [SECTIONS[section]]}
    if draw(st.booleans()):
        config["cohorts"] = config.get("cohorts") or {"demo": {"generate": {}}}
        config["models"] = draw(st.dictionaries(st.sampled_from(MODEL_NAMES), model_entries, max_size=3))
    if config.get("models") and draw(st.booleans()):
        shared = next(iter(config["models"].values()))           # one object twice: safe_dump writes &id001 and *id001
        config["models"]["variant"] = shared
    text = yaml.safe_dump(config, allow_unicode=True)
    if draw(st.integers(0, 9)) == 0:
        levels = draw(st.integers(2, 8))
        text += "bomb0: &b0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
            f"bomb{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 10)}]\n" for i in range(1, levels))
    return text.encode()


def startup(path: Path) -> dict:
    """What the workflow checks of a configuration before any job: the schema, the models section, the tuning."""
    config = load_config(path)
    check_models_section(config["models"], str(path), config["train"]["n_bins"])
    check_tuning(config["train"], config["models"], str(path))
    return config


def _names_the_file_on_every_line(error: ConfigError, path: Path) -> None:
    lines = str(error).splitlines()
    assert lines and all(str(path) in line for line in lines), str(error)


@CHECKED
@given(sheet=sheets())
def test_any_sheet_is_accepted_or_refused_in_lines_naming_it(sheet: tuple[str, bytes], tmp_path: Path) -> None:
    kind, content = sheet
    path = tmp_path / f"{kind}.tsv"
    path.write_bytes(content)
    try:
        frame = read_sheet(path, kind, check_paths=False)
    except ConfigError as error:
        _names_the_file_on_every_line(error, path)
    else:
        assert len(frame) > 0 and set(COLUMNS[kind]) - {"path", "mpp", "orientation"} <= set(frame.columns)
        ids = [str(value) for column in ("patient_id", "slide_id") if column in frame for value in frame[column]]
        assert all(len(value.splitlines()) == 1 for value in ids), ids         # an id never breaks a line of a message


@CHECKED
@given(content=configs())
def test_any_configuration_is_accepted_or_refused_in_lines_naming_it(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    try:
        config = startup(path)
    except ConfigError as error:
        _names_the_file_on_every_line(error, path)
    else:
        assert {"cohorts", "train", "extract"} <= set(config)
        names = [*config["cohorts"], *config["models"], *config["train"]["models"], config["extract"]["encoder"]]
        assert all(name.isprintable() and len(name) <= 64 for name in names), names
