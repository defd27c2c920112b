"""Finding slide files anywhere under a folder: a GDC download (``<file-uuid>/<file name>.svs``), a flat folder,
or a tree of symbolic links."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from memamba.errors import MemambaError
from memamba.identifiers import SLIDE_EXTENSIONS, slide_stem

log = logging.getLogger(__name__)


@dataclass
class SlideMatch:
    """Where each wanted slide was found: ``found`` (slide id -> file), ``absent`` (slide ids), and the slides found
    more than once (slide id -> every file; the first in sorted order is used)."""

    found: dict[str, Path]
    absent: list[str]
    duplicates: dict[str, list[Path]]


def slide_files_under(root: str | os.PathLike) -> dict[str, list[Path]]:
    """Every slide file under ``root`` (by extension, case-insensitive), keyed by file name, each with every path
    it has (sorted). Symbolic links to files and folders are followed, each real folder visited once (so a
    link loop ends); partial downloads and logs (other extensions) are not slides."""
    root = Path(root)
    files: dict[str, list[Path]] = {}
    seen: set[str] = set()
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders[:] = []
            continue
        seen.add(real)
        subfolders.sort()
        for name in names:
            if name.lower().endswith(SLIDE_EXTENSIONS) and not name.startswith("."):
                path = Path(folder) / name
                if path.is_file():
                    files.setdefault(name, []).append(path)
    return {name: sorted(paths) for name, paths in files.items()}


def match_slides(wanted: list[str], root: str | os.PathLike) -> SlideMatch:
    """Find each slide of ``wanted`` (file names such as MCAT's ``slide_id``, with or without the extension)
    under ``root``: a file of that exact name, else one whose name without its extension is the slide's."""
    root = Path(root)
    if not root.is_dir():
        raise MemambaError(f"{root}: slide folder not found. Fix: give the folder the slides were downloaded to.")
    by_name = slide_files_under(root)
    by_stem: dict[str, list[Path]] = {}
    for name, paths in by_name.items():
        by_stem.setdefault(slide_stem(name), []).extend(paths)
    found, absent, duplicates = {}, [], {}
    for slide in wanted:
        paths = by_name.get(slide) or by_stem.get(slide_stem(slide))
        if not paths:
            absent.append(slide)
            continue
        found[slide] = paths[0]
        if len(paths) > 1:
            duplicates[slide] = paths
            log.warning("slide %s is under %s %d times; using %s", slide, root, len(paths), paths[0])
    return SlideMatch(found, absent, duplicates)
