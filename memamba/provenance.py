"""Provenance records attached to every stage output (HDF5 attributes or JSON side-cars)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from memamba import __version__
from memamba.atomic import write_text_atomic


def source_record(path: str | os.PathLike) -> dict[str, Any]:
    """Describe an input file by path, size and modification time."""
    p = Path(path)
    stat = p.stat()
    return {"path": str(p.resolve()), "size": stat.st_size, "mtime": stat.st_mtime}


def provenance(params: dict[str, Any], sources: list[str | os.PathLike] = ()) -> dict[str, Any]:
    """Build the provenance record: package version, parameters and input files."""
    return {
        "memamba_version": __version__,
        "params": params,
        "sources": [source_record(s) for s in sources],
    }


def provenance_json(params: dict[str, Any], sources: list[str | os.PathLike] = ()) -> str:
    """Provenance as a JSON string, for an HDF5 attribute."""
    return json.dumps(provenance(params, sources), sort_keys=True, default=str)


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_sha256(path: str | os.PathLike, cache: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, remembered in the JSON file ``cache`` under the file's path, size, inode, modification
    and status-change times: hashed again after any write, copy or move (the status-change time moves with every
    write and cannot be set back), read from ``cache`` otherwise (a multi-gigabyte weights file is hashed once)."""
    status = os.stat(path)
    key = f"{Path(path).resolve()}|{status.st_size}|{status.st_ino}|{status.st_mtime_ns}|{status.st_ctime_ns}"
    cache = Path(cache)
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict) or not isinstance(known.get(key), str):
        known = {key: sha256_of(path)}
        try:
            write_text_atomic(cache, json.dumps(known))
        except OSError:
            pass                                        # a read-only results folder: hashed again next time
    return known[key]


def run_fingerprint(params: dict[str, Any], sources: list[str | os.PathLike] = ()) -> str:
    """A digest of the parameters and the input files (path, size, modification time): equal digests
    mean a saved partial run may be continued."""
    return hashlib.sha256(provenance_json(params, sources).encode()).hexdigest()
