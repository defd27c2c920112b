"""Provenance records attached to every stage output (HDF5 attributes or JSON side-cars)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from memamba import __version__


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


def run_fingerprint(params: dict[str, Any], sources: list[str | os.PathLike] = ()) -> str:
    """A digest of the parameters and the input files (path, size, modification time): equal digests
    mean a saved partial run may be continued."""
    return hashlib.sha256(provenance_json(params, sources).encode()).hexdigest()
