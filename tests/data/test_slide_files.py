"""Finding slides in a GDC download tree, a flat folder or a tree of links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memamba.data.slide_files import match_slides, slide_files_under
from memamba.errors import MemambaError

IDS = ["TCGA-AA-0001-01Z-00-DX1.AAAA.svs", "TCGA-AA-0002-01Z-00-DX1.BBBB.svs", "TCGA-AA-0003-01Z-00-DX1.CCCC.svs"]


def test_gdc_tree_links_and_partial_downloads(tmp_path: Path) -> None:
    real = tmp_path / "real.svs"
    real.write_bytes(b"slide")
    gdc = tmp_path / "gdc"
    for number, name in enumerate(IDS[:2]):
        folder = gdc / f"0000{number}-uuid"
        (folder / "logs").mkdir(parents=True)
        os.symlink(real, folder / name)
        (folder / "logs" / f"{name}.parcel").write_text("partial")
    (gdc / "0000-broken").mkdir()
    os.symlink(tmp_path / "gone.svs", gdc / "0000-broken" / IDS[2])
    os.symlink(gdc, gdc / "0000-loop")
    match = match_slides(IDS, gdc)
    assert match.found == {IDS[0]: gdc / "00000-uuid" / IDS[0], IDS[1]: gdc / "00001-uuid" / IDS[1]}
    assert match.absent == [IDS[2]] and match.duplicates == {}


def test_flat_folder_by_stem_and_duplicates_reported(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / IDS[0]).write_bytes(b"x")
    (tmp_path / "TCGA-AA-0002-01Z-00-DX1.BBBB.SVS").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a slide")
    assert sorted(slide_files_under(tmp_path)) == [IDS[0], "TCGA-AA-0002-01Z-00-DX1.BBBB.SVS"]
    match = match_slides(["TCGA-AA-0001-01Z-00-DX1.AAAA", IDS[1]], tmp_path)
    assert match.found["TCGA-AA-0001-01Z-00-DX1.AAAA"] == tmp_path / "a" / IDS[0]
    assert match.duplicates["TCGA-AA-0001-01Z-00-DX1.AAAA"] == [tmp_path / "a" / IDS[0], tmp_path / "b" / IDS[0]]
    assert match.found[IDS[1]].name == "TCGA-AA-0002-01Z-00-DX1.BBBB.SVS"


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(MemambaError, match="nowhere: slide folder not found. Fix:"):
        match_slides(IDS, tmp_path / "nowhere")
