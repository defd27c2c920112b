"""One job, several units: each unit's outcome in the manifest; a unit's work skipped while its stamp holds."""

from pathlib import Path

import pytest

from memamba.batch_jobs import is_current, manifest_counts, run_units, stamp, write_stamp


def _broken() -> bool:
    raise IndexError("index -1 is out of bounds")


def test_a_failing_unit_is_recorded_and_the_next_one_runs(tmp_path: Path) -> None:
    manifest = run_units([("a", lambda: True), ("b", _broken), ("c", lambda: False)])
    assert manifest["status"].tolist() == ["done", "failed", "up to date"]
    assert manifest.loc[1, "message"] == "IndexError: index -1 is out of bounds"
    assert manifest_counts(manifest) == "1 done, 1 failed, 1 up to date"
    with pytest.raises(KeyboardInterrupt):
        run_units([("a", lambda: (_ for _ in ()).throw(KeyboardInterrupt()))])


def test_a_stamp_holds_only_while_its_files_exist_and_its_text_is_the_same(tmp_path: Path) -> None:
    output, stamp_file = tmp_path / "out.h5", tmp_path / "out.stamp"
    text = stamp({"encoder": "uni", "slide": {"size": 1}})
    assert not is_current(stamp_file, text, [output])
    output.write_text("x")
    write_stamp(stamp_file, text)
    assert is_current(stamp_file, text, [output])
    assert not is_current(stamp_file, stamp({"encoder": "conch", "slide": {"size": 1}}), [output])
    output.unlink()
    assert not is_current(stamp_file, text, [output])
