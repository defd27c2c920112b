"""An encoder from another package, installed as a plug-in, extracts the features of the workflow."""

from __future__ import annotations

import hashlib
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


SCALED_ENCODER = '''
import hashlib
from pathlib import Path

from torch import nn

from memamba.slides.encoders import Encoder, register_encoder


class ScaledMeans(nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, images):
        return images.float().mean((2, 3)) * self.scale


@register_encoder("toy-scaled", dim=3, weights_from="write one byte, the scale, to a file")
def toy_scaled(weights=None, sha256=None, random_weights=False):
    content = Path(weights).read_bytes()
    return Encoder("toy-scaled", ScaledMeans(content[0] / 255).eval(), 3, None, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0),
                   hashlib.sha256(content).hexdigest())
'''


def test_weights_swapped_for_other_content_with_an_older_time_redo_the_features(tmp_path: Path) -> None:
    plugin = write_encoder_plugin(tmp_path / "site", "scaled_encoder", SCALED_ENCODER, "toy-scaled = scaled_encoder:toy_scaled")
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(plugin), os.environ.get("PYTHONPATH")]))}
    weights = tmp_path / "weights.bin"
    weights.write_bytes(bytes([255]))
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({**TINY, "extract": {"encoder": "toy-scaled", "weights": str(weights)}}))
    assert snakemake(run, "features", env=env).returncode == 0
    folder = run / "results" / "tiny" / "features" / "toy-scaled"
    first = {path.name: h5py.File(path)["features"][:] for path in folder.glob("*.h5")}
    old = weights.stat().st_mtime - 86400
    weights.write_bytes(bytes([51]))                     # other content, same size, and a time older than the features'
    os.utime(weights, (old, old))
    result = snakemake(run, "features", env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Nothing to be done" not in result.stdout + result.stderr
    for path in folder.glob("*.h5"):
        with h5py.File(path) as h5:
            np.testing.assert_allclose(h5["features"][:], first[path.name] * 51 / 255, rtol=1e-5)
            assert h5["features"].attrs["weights_sha256"] == hashlib.sha256(bytes([51])).hexdigest()
    again = snakemake(run, "-n", "features", env=env)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
