"""Property: whatever sheet or configuration a user writes, start-up validation either accepts it or stops with error
lines that each name the file; it never ends in a traceback (issue 15)."""

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memamba.config import ConfigError, load_config
from memamba.sheets import read_sheet

CHECKED = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
COLUMNS = {"slides": ["patient_id", "slide_id", "path", "mpp"], "clinical": ["patient_id", "survival_months", "event"],
           "genomics": ["modality", "kind", "path", "orientation"]}
HOSTILE_CELLS = ["", "nan", "NA", "null", "inf", "-inf", "1e400", "-1", "0", "2", "1.5", "TCGA-AA-0001", "-rf", "../x",
                 ".A.h5.x", "a b", "x`touch PWNED`", '"', "'", "é", "\x00", "rna", "counts", "cnv", "gistic", "demo.svs"]
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


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False), st.sampled_from(HOSTILE_CELLS)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(HOSTILE_CELLS[:14]), inner, max_size=3)),
    max_leaves=8,
)
SECTIONS = {"cohorts": ["demo", "x`touch PWNED`", "../up", "NA"], "train": ["models", "epochs", "lr", "batch_size", "amp"],
            "extract": ["encoder", "weights", "weights_sha256", "slides_per_job", "dtype"], "splits": ["folds", "seed"],
            "models": ["abmil", "../../escaped", "x`id`"], "tile": ["target_mpp", "patch_size"], "genomics": ["zscore_clip"]}


@st.composite
def configs(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    config = {section: draw(st.dictionaries(st.sampled_from(keys), json_values, max_size=3))
              for section in draw(st.lists(st.sampled_from(sorted(SECTIONS)), max_size=4, unique=True))
              for keys in [SECTIONS[section]]}
    return yaml.safe_dump(config, allow_unicode=True).encode()


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


@CHECKED
@given(content=configs())
def test_any_configuration_is_accepted_or_refused_in_lines_naming_it(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    try:
        config = load_config(path)
    except ConfigError as error:
        _names_the_file_on_every_line(error, path)
    else:
        assert {"cohorts", "train", "extract"} <= set(config)
