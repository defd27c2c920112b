import os
import subprocess
import sys
from pathlib import Path

import pytest

from memamba.atomic import _temp_prefix, atomic_path, atomic_paths, write_text_atomic


def test_success_renames_into_place_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.tsv"
    write_text_atomic(target, "a\tb\n")
    assert target.read_text() == "a\tb\n"
    assert [p.name for p in target.parent.iterdir()] == ["out.tsv"]


def test_failure_leaves_neither_target_nor_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half written")
            assert tmp.suffix == ".h5"
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_previous_complete_file(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("new but incomplete")
            raise KeyboardInterrupt
    assert target.read_text() == "old"


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_temporaries_of_a_killed_run_are_removed_by_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "out.h5"
    killed = _temp_prefix(target).replace(f"-{os.getpid()}-", f"-{_dead_pid()}-")
    (tmp_path / f"{killed}k1ll3d.h5").write_text("left by SIGKILL")
    (tmp_path / ".other.h5.tmp-host-1-abc.h5").write_text("another output's temporary")
    write_text_atomic(target, "complete")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.h5.tmp-host-1-abc.h5", "out.h5"]


def test_a_second_writer_of_the_same_output_leaves_the_first_writers_temporary_alone(tmp_path: Path) -> None:
    target = tmp_path / "out.tsv"
    with atomic_path(target) as first:
        first.write_text("first writer, still writing")
        write_text_atomic(target, "second writer")
        assert first.read_text() == "first writer, still writing"
    assert target.read_text() == "first writer, still writing"
    assert [p.name for p in tmp_path.iterdir()] == ["out.tsv"]


def test_a_set_of_outputs_appears_all_together_or_not_at_all(tmp_path: Path) -> None:
    finals = [tmp_path / "a.tsv", tmp_path / "sub" / "b.json"]
    with pytest.raises(OSError):
        with atomic_paths(finals) as temps:
            temps[0].write_text("a")
            raise OSError(28, "No space left on device", str(temps[1]))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    with atomic_paths(finals) as temps:
        for tmp in temps:
            tmp.write_text(tmp.suffix)
    assert [final.read_text() for final in finals] == [".tsv", ".json"]
