import os
from pathlib import Path

import pytest

from memamba import provenance
from memamba.provenance import cached_sha256, sha256_of


def test_a_files_hash_is_remembered_until_its_content_changes_even_behind_an_older_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights, cache = tmp_path / "weights.bin", tmp_path / "results" / ".weights_sha256.json"
    weights.write_bytes(b"first release")
    hashed = []
    monkeypatch.setattr(provenance, "sha256_of", lambda path: hashed.append(path) or sha256_of(path))
    first = cached_sha256(weights, cache)
    assert first == sha256_of(weights) and cached_sha256(weights, cache) == first and len(hashed) == 1
    when = weights.stat().st_mtime
    weights.write_bytes(b"other release")                   # same size, the old modification time put back
    os.utime(weights, (when, when))
    assert cached_sha256(weights, cache) == sha256_of(weights) != first and len(hashed) == 2
    cache.write_text("not json")
    assert cached_sha256(weights, cache) == sha256_of(weights) and len(hashed) == 3
