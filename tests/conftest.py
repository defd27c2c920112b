"""Shared fixtures: a tiny generated demo cohort, the real data in ../shared/data (when present), and a finished
run of the workflow on a tiny cohort (with the helpers that run Snakemake in a subprocess)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from memamba.cpu_kernels import pin_cpu_kernels
from memamba.demo import generate_cohort

pin_cpu_kernels()                    # before any test imports torch: the same kernels as memamba's commands use
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CMU_SLIDE = SHARED_DATA / "slides" / "CMU-1-Small-Region.svs"
GENERIC_TIFF = SHARED_DATA / "slides" / "CropBreastSlide.tiff"

needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"real test data not found at {SHARED_DATA} (the project's ../shared/data)"
)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated demo cohort of 8 patients with 512-pixel slides."""
    return generate_cohort(tmp_path_factory.mktemp("demo"), patients=8, seed=3, slide_size=512)


@pytest.fixture(scope="session")
def demo_slide(demo_dir: Path) -> Path:
    """The first slide of the demo cohort."""
    return sorted((demo_dir / "slides").glob("*.svs"))[0]


def train_command(demo_dir: Path, work: Path, model_params: str, epochs: int) -> list[str]:
    """``memamba train`` arguments for snn on the demo cohort, without --split and -o (its genomics and two folds are
    made in ``work``)."""
    from memamba.cli import main

    assert main(["genomics", "--sheet", str(demo_dir / "genomics.tsv"), "--families", str(demo_dir / "gene_families.csv"),
                 "-o", str(work)]) == 0
    assert main(["splits", "--clinical", str(demo_dir / "clinical.tsv"), "--slides", str(demo_dir / "slides.tsv"),
                 "--genomics", str(work / "features.parquet"), "-o", str(work), "--params", '{"folds": 2}']) == 0
    return ["train", "--slides", str(demo_dir / "slides.tsv"), "--clinical", str(demo_dir / "clinical.tsv"), "--genomics",
            str(work / "features.parquet"), "--tokens", str(work / "tokens.json"), "--model", "snn",
            "--model-params", model_params, "--params", json.dumps({"epochs": epochs}), "--quiet"]


# The workflow on a tiny generated cohort: 8 patients, 2 folds, 2 epochs, four small models.
TINY = {
    "cohorts": {"tiny": {"generate": {"patients": 8, "seed": 1, "slide_size": 512, "slide_signal": "tumour"}}},
    "segment": {"seg_mpp": 4.0, "median_kernel": 5, "close_kernel": 3, "min_tissue_area_mm2": 0.005,
                "min_hole_area_mm2": 0.001},
    "tile": {"target_mpp": 1.0, "patch_size": 32},
    "extract": {"encoder": "demo-stats"},
    "splits": {"folds": 2},
    "train": {"models": ["snn", "abmil", "coxnet", "snn-wide"], "epochs": 2},
    "models": {"snn": {"hidden": 8, "depth": 1}, "abmil": {"hidden": 8}, "snn-wide": {"base": "snn", "hidden": 16}},
}


def clean_checkout(destination: Path) -> Path:
    """The repository's tracked files, as they are in the working tree, copied to ``destination``: what a fresh
    clone holds (no results/, no .snakemake/), with the changes under test. Without git, the tree minus outputs."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True)
    if listed.returncode == 0:
        for name in filter(None, listed.stdout.decode().split("\0")):
            source, target = REPO / name, destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                os.symlink(os.readlink(source), target)
            elif source.is_file():
                shutil.copy2(source, target)
    else:
        shutil.copytree(REPO, destination, symlinks=True, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".git", ".venv", ".snakemake", "results", "__pycache__", "*.egg-info"))
        (destination / "results").mkdir(exist_ok=True)
    return destination


def snakemake_at_root(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``snakemake ARGS`` from the root of a checkout, as the README tells users to (no --snakefile, no
    --directory)."""
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], capture_output=True, text=True,
                          env=snakemake_env(), cwd=root)


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The command line that runs the project's Snakefile in ``workdir`` with ``workdir/config.yaml``."""
    return [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(workdir / "config.yaml"), "--cores", "2", *args]


def snakemake_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment with the tests' Python environment first on PATH (the rules call ``memamba``)."""
    return {**os.environ, **(extra or {}), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def snakemake(workdir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the project's Snakefile in ``workdir`` and wait for it."""
    return subprocess.run(snakemake_command(workdir, *args), capture_output=True, text=True, env=snakemake_env(env), cwd=workdir)


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run."""
    table = result.stdout.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.MULTILINE)}


def completed_run(workdir: Path, config: dict) -> Path:
    """Write ``config`` into ``workdir`` and run the workflow there to the end; return ``workdir``."""
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where the workflow ran to the end on the TINY config, locally."""
    return completed_run(tmp_path_factory.mktemp("workflow"), TINY)


def copied_inputs(finished_run: Path, tmp_path: Path) -> pd.DataFrame:
    """Copy the tiny cohort's sheets into ``tmp_path``; return its slide sheet with absolute paths, to edit."""
    inputs = finished_run / "results" / "tiny" / "input"
    for name in ("clinical.tsv", "genomics.tsv", "gene_families.csv", "rna_counts.tsv", "cnv.tsv", "mut.tsv"):
        shutil.copy(inputs / name, tmp_path / name)
    sheet = pd.read_csv(inputs / "slides.tsv", sep="\t")
    sheet["path"] = [str(inputs / p) for p in sheet["path"]]
    return sheet


def run_folder_for(sheet: pd.DataFrame, tmp_path: Path) -> Path:
    """Write ``sheet`` as cohort 'mine' beside the copied sheets; return a run folder whose config names it."""
    sheet.to_csv(tmp_path / "slides.tsv", sep="\t", index=False)
    config = {**TINY, "cohorts": {"mine": {"slides": str(tmp_path / "slides.tsv"), "clinical": str(tmp_path / "clinical.tsv"),
                                           "genomics": str(tmp_path / "genomics.tsv"),
                                           "gene_families": str(tmp_path / "gene_families.csv")}}}
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


# Files whose content depends only on the inputs and the config (not on when, where or how fast a job ran).
RESULT_TABLES = ["*/splits/*.tsv", "*/genomics/*.tsv", "*/models/*/*/predictions.tsv", "*/models/*/*/history.tsv",
                 "*/eval/*/metrics.tsv", "*/summary.tsv", "summary.tsv"]
RESULT_ARRAYS = ["*/patches/*.h5", "*/features/*/*.h5"]


def _for_models(names: list[Path], models: list[str] | None) -> list[Path]:
    """Drop logs, benchmarks and the files of models outside ``models`` (None keeps every model)."""
    names = [n for n in names if n.parts[0] not in ("logs", "benchmarks")]
    return [n for n in names if models is None or not {"models", "eval"} & set(n.parts[1:2]) or n.parts[2] in models]


def assert_same_results(expected: Path, actual: Path, models: list[str] | None = None) -> None:
    """The same result files under two ``results/`` folders, with the same tables and arrays (float tolerance
    1e-6). ``models``: ``actual`` trained only these, so ``expected``'s other models are left out."""
    import h5py
    import numpy as np

    for pattern in RESULT_TABLES + RESULT_ARRAYS + ["*/models/*/*/checkpoint.pt", "*/eval/*/km.png"]:
        names = _for_models(sorted(p.relative_to(expected) for p in expected.glob(pattern)), models)
        assert names, f"no {pattern} under {expected}"
        assert names == _for_models(sorted(p.relative_to(actual) for p in actual.glob(pattern)), models), pattern
        for name in names if pattern in RESULT_TABLES else []:
            want, got = pd.read_csv(expected / name, sep="\t"), pd.read_csv(actual / name, sep="\t")
            if "model" in want.columns and models is not None:
                want = want[want["model"].isin(got["model"])].reset_index(drop=True)
            pd.testing.assert_frame_equal(want, got, check_exact=False, rtol=1e-6, atol=1e-9, obj=str(name))
        for name in names if pattern in RESULT_ARRAYS else []:
            with h5py.File(expected / name) as a, h5py.File(actual / name) as b:
                assert set(a) == set(b), name
                for key in a:
                    np.testing.assert_allclose(a[key][()], b[key][()], rtol=1e-6, err_msg=f"{name}:{key}")


TOY_ENCODER = '''
from torch import nn

from memamba.slides.encoders import Encoder, register_encoder


class ChannelMeans(nn.Module):
    def forward(self, images):
        return images.float().mean((2, 3))


@register_encoder("toy-means", dim=3, weights_from=None)
def toy_means(weights=None, sha256=None, random_weights=False):
    return Encoder("toy-means", ChannelMeans().eval(), 3, None, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
'''


def write_encoder_plugin(folder: Path, module: str = "toy_encoder", source: str = TOY_ENCODER,
                         entry: str = "toy-means = toy_encoder:toy_means") -> Path:
    """An installed-looking package under ``folder`` (module + dist-info with a ``memamba.encoders`` entry point), as
    pip would leave it; put ``folder`` on sys.path / PYTHONPATH to install it. Returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(source)
    info = folder / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[memamba.encoders]\n{entry}\n")
    return folder
