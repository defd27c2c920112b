"""A generated cohort's slides and the configured tiling must fit together: checked before any job."""

from __future__ import annotations

import pytest

from memamba.config import ConfigError, validate_config
from memamba.demo.tiling import check_generated_tiling


def _config(tile: dict, generate: dict) -> dict:
    return validate_config({"cohorts": {"x": {"generate": generate}}, "tile": tile})


def test_the_schema_tiling_on_the_generators_default_slides_is_refused_with_the_settings_that_fit() -> None:
    with pytest.raises(ConfigError, match=r"my.yaml: cohorts.x.generate: its slides \(1024 px at 0.5 um/px, 512 um wide\) hold a "
                                          r"grid of 16 patches of tile.patch_size 256 px at tile.target_mpp 0.5 um/px \(128 um\), "
                                          r"fewer than the 64 a model needs. Fix: set tile: \{patch_size: 64, target_mpp: 1.0\} .* "
                                          r"or cohorts.x.generate.slide_size to at least 2048"):
        check_generated_tiling(_config({}, {"patients": 12}), "my.yaml")


@pytest.mark.parametrize("tile,generate", [
    ({"patch_size": 64, "target_mpp": 1.0}, {}),                          # the embedded demo's settings
    ({}, {"slide_size": 2048}),                                           # the schema's tiling on larger slides
    ({}, {"mechanism": "localisation"}),                                  # a mechanism draws its own patch grid
])
def test_settings_that_fit_pass(tile: dict, generate: dict) -> None:
    check_generated_tiling(_config(tile, generate), "my.yaml")
