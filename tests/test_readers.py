import os
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


def test_a_column_written_twice_is_named_instead_of_read_once(tmp_path: Path) -> None:
    path = tmp_path / "clinical.tsv"
    path.write_text("patient_id\tsurvival_months\tevent\tsurvival_months\nP1\t10\t1\t99\n")
    with pytest.raises(ConfigError, match=r"clinical\.tsv: column\(s\) \['survival_months'\] appear more than once in the header "
                                          r"of this clinical sheet; .* Fix: save it as UTF-8 text, with every column named once\.$"):
        read_table(path, "clinical sheet", FIX, sep="\t")
    path.write_text("patient_id\t\t\nP1\t1\t2\n")                      # blank names are not repeated names
    assert read_table(path, "clinical sheet", FIX, sep="\t").shape == (1, 3)
    matrix = tmp_path / "samples_x_genes.csv"
    matrix.write_text("id,A,B,A\nr,1,2,3\n")
    assert list(read_table(matrix, "genomic matrix", FIX, "keep", index_col=0).columns) == ["A", "B", "A"]


@pytest.mark.parametrize("make", ["fifo", "device"])
def test_a_fifo_or_a_device_is_refused_by_kind_without_reading_it(tmp_path: Path, make: str) -> None:
    if make == "fifo":
        path = tmp_path / "sheet.tsv"
        os.mkfifo(path)                      # reading it would wait for a writer forever
        kind = "is a FIFO (named pipe), not a regular file"
    else:
        path, kind = Path("/dev/zero"), "is a character device, not a regular file"   # reading it would never end
    for read in (lambda: read_table(path, "clinical sheet", FIX, sep="\t"), lambda: read_text(path, "clinical sheet", FIX)):
        with pytest.raises(ConfigError) as error:
            read()
        _one_line_naming(error, path, kind)
