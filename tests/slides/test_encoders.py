"""The encoder settings checked before any job runs: the key at fault and the fix, in one message."""

from __future__ import annotations

from pathlib import Path

import pytest

from memamba.config import ConfigError
from memamba.provenance import sha256_of
from memamba.slides.encoder_registry import check_weights_setting


def _extract(**values: object) -> dict:
    return {"encoder": "uni", "weights": None, "weights_sha256": None, **values}


def test_weights_that_exist_with_the_expected_checksum_pass(tmp_path: Path) -> None:
    weights = tmp_path / "uni.bin"
    weights.write_bytes(b"weights")
    check_weights_setting(_extract(weights=str(weights), weights_sha256=sha256_of(weights).upper()))
    check_weights_setting(_extract(weights="hf-hub:MahmoodLab/UNI"))
    check_weights_setting(_extract(encoder="demo-stats"))
    check_weights_setting(_extract(weights=str(weights), weights_sha256="0" * 64), verify_sha256=False)


@pytest.mark.parametrize("values, message", [
    ({"weights": "/nowhere/uni.bin"}, r"^extract\.weights: /nowhere/uni\.bin does not exist .*Fix: download pytorch_model\.bin"),
    ({}, r"^extract\.weights is null, but encoder 'uni' needs its published weights\. Fix: download"),
    ({"encoder": "demo-stats", "weights": "x.bin"}, r"^extract\.weights is 'x\.bin', but encoder 'demo-stats' has no weights"),
    ({"encoder": "vit-nothing"}, r"^extract\.encoder: unknown encoder 'vit-nothing'\. Fix: use one of \["),
])
def test_bad_settings_name_the_key(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_weights_setting(_extract(**values))


def test_a_different_file_fails_on_its_checksum(tmp_path: Path) -> None:
    weights = tmp_path / "uni.bin"
    weights.write_bytes(b"truncated")
    with pytest.raises(ConfigError, match=rf"^extract\.weights_sha256: {weights} has SHA-256 {sha256_of(weights)}, not 0{{64}}\. Fix:"):
        check_weights_setting(_extract(weights=str(weights), weights_sha256="0" * 64))
