from pathlib import Path

import pytest

from memamba.atomic import atomic_path, write_text_atomic


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


def test_temporaries_of_a_killed_run_are_removed_by_the_next_write(tmp_path: Path) -> None:
    (tmp_path / ".out.h5.k1ll3d.h5").write_text("left by SIGKILL")
    (tmp_path / ".other.h5.abc.h5").write_text("another output's temporary")
    write_text_atomic(tmp_path / "out.h5", "complete")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.h5.abc.h5", "out.h5"]
