"""memamba/publish.py: a unit's staged files linked to their final paths, or the unit's own error, from the
standard library alone (the workflow runs it with python -S)."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import memamba.publish
from memamba.batch_jobs import write_manifest
from memamba.publish import UnitError, publish_unit


def _manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.tsv"
    write_manifest(pd.DataFrame({"unit": ["a", "b"], "status": ["done", "failed"], "message": ["", "SlideError: unreadable"]}), path)
    return path


def test_publishing_links_the_staged_files_or_fails_with_the_units_own_error(tmp_path: Path) -> None:
    staged = tmp_path / "staged.txt"
    staged.write_text("features")
    path, final = _manifest(tmp_path), tmp_path / "out" / "a.txt"
    assert publish_unit(str(path), "a", [(str(staged), str(final))], "slide a", "repair it") == [str(final)]
    assert final.read_text() == "features" and final.stat().st_ino == staged.stat().st_ino
    assert [p.name for p in final.parent.iterdir()] == ["a.txt"]
    with pytest.raises(UnitError, match=r"^slide b: failed in its batch job \(SlideError: unreadable\)\. Fix: repair it;"):
        publish_unit(str(path), "b", [(str(staged), str(tmp_path / "out" / "b.txt"))], "slide b", "repair it")
    with pytest.raises(UnitError, match=r"slide z is not in this batch\. Fix: delete the manifest"):
        publish_unit(str(path), "z", [(str(staged), str(tmp_path / "out" / "z.txt"))], "slide z", "repair it")
    staged.unlink()
    with pytest.raises(UnitError, match=r"staged\.txt: a staged file of slide a is gone\. Fix: delete .*manifest\.tsv"):
        publish_unit(str(path), "a", [(str(staged), str(final))], "slide a", "repair it")


def test_the_script_runs_without_site_packages_and_exits_1_with_the_message(tmp_path: Path) -> None:
    path, staged = _manifest(tmp_path), tmp_path / "staged.txt"
    staged.write_text("x")
    command = [sys.executable, "-S", memamba.publish.__file__, str(path)]
    done = subprocess.run([*command, "a", "--what", "slide a", "--fix", "f", "--pair", str(staged), str(tmp_path / "a.txt")],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == str(tmp_path / "a.txt") and (tmp_path / "a.txt").read_text() == "x"
    failed = subprocess.run([*command, "b", "--what", "slide b", "--fix", "f", "--pair", str(staged), str(tmp_path / "b.txt")],
                            capture_output=True, text=True)
    assert failed.returncode == 1 and "slide b: failed in its batch job (SlideError: unreadable)" in failed.stderr
    assert not (tmp_path / "b.txt").exists()
