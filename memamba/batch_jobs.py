"""One job, several units (slides of a shard, folds of a model): start-up paid once, each unit still on its own.

A batch job writes each unit's files atomically under a staging folder and records each unit's outcome in a
manifest (``done``, ``up to date`` when a rerun found its staged files current, or ``failed`` with the unit's error)
instead of stopping at the first failure. The workflow's per-unit publishing job then hard-links the unit's staged
files to their final paths (memamba/publish.py), or fails with that unit's own error: one bad slide or fold fails
only itself, a killed job loses at most the unit it was on, and every other unit is published exactly as a job of
its own would write it.
Staged files are only ever replaced by rename, never rewritten in place, so a published link keeps its content.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pandas as pd

from memamba.atomic import atomic_path, write_text_atomic
from memamba.errors import MemambaError

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["unit", "status", "message"]


def run_units(units: Iterable[tuple[str, Callable[[], bool]]]) -> pd.DataFrame:
    """Run each ``(unit id, work)``; ``work()`` returns False when the unit's staged files were already current.
    Returns the manifest (``MANIFEST_COLUMNS``)."""
    rows = []
    for unit, work in units:
        try:
            rows.append([unit, "done" if work() else "up to date", ""])
        except Exception as exc:  # noqa: BLE001 - any error fails this unit only (an interrupt still stops the job)
            log.error("%s: %s", unit, exc, exc_info=not isinstance(exc, MemambaError))
            rows.append([unit, "failed", f"{type(exc).__name__}: {exc}"])
    return pd.DataFrame(rows, columns=MANIFEST_COLUMNS)


def write_manifest(manifest: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a batch job's manifest atomically (tab-separated)."""
    with atomic_path(path) as tmp:
        manifest.to_csv(tmp, sep="\t", index=False)


def manifest_counts(manifest: pd.DataFrame) -> str:
    """``"3 done, 1 failed"``: the manifest's outcomes, for a job's last line."""
    return ", ".join(f"{count} {status}" for status, count in manifest["status"].value_counts().items())


def stamp(settings: object) -> str:
    """A canonical JSON text of everything a staged unit was made from (compared before its work is skipped)."""
    return json.dumps(settings, sort_keys=True, default=str)


def is_current(stamp_file: str | os.PathLike, expected: str, files: Sequence[str | os.PathLike]) -> bool:
    """Whether ``files`` all exist and ``stamp_file`` (written after them) holds ``expected``."""
    try:
        return Path(stamp_file).read_text() == expected and all(Path(f).is_file() for f in files)
    except OSError:
        return False


def write_stamp(stamp_file: str | os.PathLike, text: str) -> None:
    """Record what a unit's staged files were made from (after they are all written)."""
    write_text_atomic(stamp_file, text)
