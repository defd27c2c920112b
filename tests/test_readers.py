import zipfile
from pathlib import Path

import pytest

from memamba.config import ConfigError
from memamba.readers import read_json, read_table, read_text

FIX = "save it as UTF-8 text"


def _one_line_naming(error: pytest.ExceptionInfo, path: Path, problem: str) -> None:
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and problem in message and f"Fix: {FIX}." in message


@pytest.mark.parametrize(("content", "problem"), [
    (b"a\tb\n\xff\xfe\t1\n", "is not UTF-8 text (byte 0xff at offset 4)"),
    (b"", "is empty"),
    (b'a\tb\n"1\t2\n', "cannot be parsed"),
])
def test_a_table_that_cannot_be_read_is_one_line_naming_the_file(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "sheet.tsv"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as error:
        read_table(path, "clinical sheet", FIX, sep="\t")
    _one_line_naming(error, path, problem)


def test_a_directory_and_a_zip_with_two_members_are_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        read_table(tmp_path, "clinical sheet", FIX, sep="\t")
    _one_line_naming(error, tmp_path, "is a directory, not a file")
    archive = tmp_path / "table.csv.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("a.csv", "x,y\n1,2\n")
        zipped.writestr("../b.csv", "x,y\n1,2\n")
    with pytest.raises(ConfigError) as error:
        read_table(archive, "MCAT table", FIX)
    _one_line_naming(error, archive, "Multiple files found in ZIP file")
    assert not (tmp_path.parent / "b.csv").exists()


def test_text_and_json_readers_refuse_non_utf8_and_bare_nan(tmp_path: Path) -> None:
    latin = tmp_path / "families.gmt"
    latin.write_bytes("TSG\tdesc\tT\xe9P53\n".encode("latin-1"))
    with pytest.raises(ConfigError) as error:
        read_text(latin, "gene-set file", FIX)
    _one_line_naming(error, latin, "is not UTF-8 text")
    nan = tmp_path / "tissue.geojson"
    nan.write_text('{"type": "FeatureCollection", "features": [], "properties": {"otsu_threshold": NaN}}')
    with pytest.raises(ConfigError) as error:
        read_json(nan, "tissue GeoJSON", FIX)
    _one_line_naming(error, nan, "holds a bare NaN, which is not JSON")
    nan.write_text('{"features": [')
    with pytest.raises(ConfigError) as error:
        read_json(nan, "tissue GeoJSON", FIX)
    _one_line_naming(error, nan, "is not valid JSON (Expecting value; line 1, column 15)")
