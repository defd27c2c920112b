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
