"""Whether the configured tiling suits the demo generator's slides: checked before any job, so that a generated
cohort in a user's configuration does not run the whole slide stage to end with patch-less patients."""

from __future__ import annotations

import math
from typing import Any

from memamba.config import ConfigError
from memamba.demo.cohort import DEMO_MPP

MIN_GRID_PATCHES = 64
"""Patch positions a generated slide must offer (the tissue covers part of them): config/config.yaml's demo has 64."""


def check_generated_tiling(config: dict[str, Any], where: str) -> None:
    """A ConfigError naming every generated cohort (no planted mechanism) whose slides, at the demo's resolution, hold
    fewer than :data:`MIN_GRID_PATCHES` patches of the configured ``tile`` size, with the settings that fit."""
    tile = config["tile"]
    patch_um = tile["patch_size"] * tile["target_mpp"]
    problems = []
    for name, entry in config["cohorts"].items():
        generate = entry.get("generate")
        if generate is None or generate.get("mechanism"):
            continue
        slide_um = generate["slide_size"] * DEMO_MPP
        grid = int(slide_um // patch_um) ** 2
        if grid < MIN_GRID_PATCHES:
            needed = math.ceil(math.sqrt(MIN_GRID_PATCHES) * patch_um / DEMO_MPP)
            problems.append(
                f"{where}: cohorts.{name}.generate: its slides ({generate['slide_size']} px at {DEMO_MPP} um/px, {slide_um:g} um "
                f"wide) hold a grid of {grid} patches of tile.patch_size {tile['patch_size']} px at tile.target_mpp "
                f"{tile['target_mpp']} um/px ({patch_um:g} um), fewer than the {MIN_GRID_PATCHES} a model needs. Fix: set "
                f"tile: {{patch_size: 64, target_mpp: 1.0}} as config/config.yaml does for the demo, or "
                f"cohorts.{name}.generate.slide_size to at least {needed}.")
    if problems:
        raise ConfigError("\n".join(problems))
