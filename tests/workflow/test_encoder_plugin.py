"""An encoder from another package, installed as a plug-in, extracts the features of the workflow."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import TINY, snakemake, write_encoder_plugin

pytestmark = [pytest.mark.workflow, pytest.mark.timeout(900)]


def test_a_plugin_encoder_extracts_the_features_through_the_workflow(tmp_path: Path) -> None:
    plugin = write_encoder_plugin(tmp_path / "site")
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(plugin), os.environ.get("PYTHONPATH")]))}
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({**TINY, "extract": {"encoder": "toy-means"}}))
    result = snakemake(run, "features", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    slides = pd.read_csv(run / "results" / "tiny" / "input" / "slides.tsv", sep="\t")
    folder = run / "results" / "tiny" / "features" / "toy-means"
    assert sorted(p.stem for p in folder.glob("*.h5")) == sorted(slides["slide_id"])
    for path in folder.glob("*.h5"):
        with h5py.File(path) as h5:
            features = h5["features"][:]
            assert features.shape == (len(h5["coords"]), 3) and h5["features"].attrs["encoder"] == "toy-means"
            assert np.all((features > 0.3) & (features < 1.0))             # RGB means in [0, 1] of H&E-like tissue
    without = snakemake(run, "-n", "features")                                   # the plug-in is not installed
    assert without.returncode != 0
    assert "extract.encoder: unknown encoder 'toy-means'" in without.stdout + without.stderr
    again = snakemake(run, "-n", "features", env=env)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
