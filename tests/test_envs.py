"""Conda environments. conda's channels cannot be reached from the development and CI machines, so no test
creates an env ('snakemake --use-conda' stops at 'conda info'); instead these tests check the env files
statically: they parse, every rule names one, each pins every package its memamba extras require at a version
pyproject.toml allows, the envs built from the tested versions agree with each other, and the extras cover
every module the rules' code imports."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
ENVS = sorted((REPO / "envs").glob("*.yaml"))
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
# Import name -> distribution name, where they differ.
DISTRIBUTION = {"cv2": "opencv-python-headless", "sklearn": "scikit-learn", "sksurv": "scikit-survival", "ot": "POT",
                "yaml": "pyyaml", "PIL": "pillow", "openslide": "openslide-python",
                "huggingface_hub": "huggingface-hub", "mamba_ssm": "mamba-ssm"}
# Imported only when present, each from its own extra: mamba-ssm compiles only where CUDA is installed; tiatoolbox's
# maskers run only in the slides env (a slide shard with segment.method tiatoolbox-* runs there, not in features).
OPTIONAL_IMPORTS = {"mamba_ssm": "cuda", "tiatoolbox": "tiatoolbox"}
# The memamba modules behind the sub-commands each env's rules run (memamba/cli/ imports them inside its handlers).
STAGE_MODULES = {
    "slides": ["demo", "slides/segment.py", "slides/tile.py", "slides/reader.py", "data/bags.py", "slides/stage_shard.py",
               "slides/extract.py", "slides/encoders.py", "slides/encoder_registry.py", "slides/weights.py", "batch_jobs.py"],
    "features": ["slides/extract.py", "slides/stage_shard.py", "slides/shard_layout.py", "slides/segment.py", "batch_jobs.py",
                 "slides/encoders.py", "slides/encoder_registry.py",
                 "slides/weights.py", "slides/clam.py", "slides/reader.py", "slides/tile.py", "train/device.py",
                 "data/bags.py"],
    "genomics": ["genomics"],
    "train": ["data", "models", "train", "survival", "report/compute.py", "report/plots.py", "report/summary.py"],
    "train-cuda": ["data", "models", "train", "survival", "report/compute.py", "report/plots.py", "report/summary.py"],
    "heatmaps": ["data", "models", "train", "survival", "report", "demo", "slides/reader.py"],
}


# The slides env pins tiatoolbox's resolution (torch < 2.13 and its own versions of the rest); the other
# envs pin the versions the test-suite runs with, and so agree with each other.
TESTED_ENVS = ["features", "genomics", "train", "train-cuda", "heatmaps"]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_lines(env: dict) -> list[str]:
    return next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))


def _installed_extras(env: dict) -> list[str]:
    editable = [line for line in _pip_lines(env) if line.startswith("-e ")]
    match = re.fullmatch(r"-e \$\{MEMAMBA_WORKFLOW\}\[(.+)\]", editable[0]) if len(editable) == 1 else None
    assert match, f"expected one '-e ${{MEMAMBA_WORKFLOW}}[extras]' line, got {editable!r}"
    return match.group(1).split(",")


def _pins(env: dict) -> dict[str, str]:
    """Package -> pinned version of every 'name==version' line."""
    pins = {}
    for line in _pip_lines(env):
        if not line.startswith("-e "):
            requirement = Requirement(line)
            specifiers = list(requirement.specifier)
            assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{line!r} is not pinned with =="
            pins[_canonical(requirement.name)] = specifiers[0].version
    return pins


def _specifiers(extras: list[str]) -> dict[str, list[Requirement]]:
    """Package -> pyproject's requirements on it, for the base dependencies and ``extras`` (nested extras followed)."""
    found: dict[str, list[Requirement]] = {}
    for spec in PYPROJECT["project"]["dependencies"] + [s for e in extras for s in EXTRAS[e]]:
        requirement = Requirement(spec)
        if requirement.name == "memamba":
            for name, inner in _specifiers(sorted(requirement.extras)).items():
                found.setdefault(name, []).extend(inner)
        else:
            found.setdefault(_canonical(requirement.name), []).append(requirement)
    return found


def _requirements(extras: list[str]) -> set[str]:
    return set(_specifiers(extras))


def _third_party_imports(paths: list[Path]) -> set[str]:
    """Third-party top-level modules imported by ``paths``."""
    modules = set()
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m not in ("memamba", "__future__")}


def test_every_rule_names_an_existing_env() -> None:
    rules = "\n".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    n_rules = len(re.findall(r"^\s*(?:rule|checkpoint) \w+:", rules, re.MULTILINE))
    conda = re.findall(r'conda:\n\s+"\.\./\.\./envs/([\w-]+)\.yaml"', rules)
    chosen = re.findall(r'conda:\n\s+(TRAIN_ENV|SLIDE_STAGE_ENV)\n', rules)
    assert len(conda) + len(chosen) == n_rules and sorted(chosen) == ["SLIDE_STAGE_ENV", "SLIDE_STAGE_ENV", "TRAIN_ENV"]
    choices = {name: re.search(rf'^{name} = "\.\./\.\./envs/([\w-]+)\.yaml" if .+ else "\.\./\.\./envs/([\w-]+)\.yaml"$',
                               rules, re.M).groups() for name in ("TRAIN_ENV", "SLIDE_STAGE_ENV")}
    assert choices == {"TRAIN_ENV": ("train-cuda", "train"), "SLIDE_STAGE_ENV": ("slides", "features")}
    assert {f"{name}.yaml" for name in conda + [env for pair in choices.values() for env in pair]} <= {p.name for p in ENVS}


@pytest.mark.parametrize("env_path", ENVS, ids=[p.stem for p in ENVS])
def test_env_parses_and_installs_existing_extras(env_path: Path) -> None:
    env = yaml.safe_load(env_path.read_text())
    assert env["name"] == f"memamba-{env_path.stem}"
    assert "python=3.11" in env["dependencies"]
    assert set(_installed_extras(env)) <= set(EXTRAS)


@pytest.mark.parametrize("env_path", ENVS, ids=[p.stem for p in ENVS])
def test_env_pins_every_requirement_at_a_version_pyproject_allows(env_path: Path) -> None:
    env = yaml.safe_load(env_path.read_text())
    pins = _pins(env)
    required = _specifiers(_installed_extras(env))
    assert set(pins) == set(required), f"{env_path.name}: unpinned {set(required) - set(pins)}, extra {set(pins) - set(required)}"
    for name, requirements in required.items():
        for requirement in requirements:
            assert requirement.specifier.contains(pins[name], prereleases=True), \
                f"{env_path.name} pins {name}=={pins[name]}, but pyproject.toml asks for {requirement}"


def test_tested_envs_pin_the_same_versions() -> None:
    versions: dict[str, set[str]] = {}
    for stage in TESTED_ENVS:
        for name, version in _pins(yaml.safe_load((REPO / "envs" / f"{stage}.yaml").read_text())).items():
            versions.setdefault(name, set()).add(version)
    assert {name: v for name, v in versions.items() if len(v) > 1} == {}


@pytest.mark.parametrize("stage", sorted(STAGE_MODULES))
def test_env_covers_every_import_of_its_rules(stage: str) -> None:
    env = yaml.safe_load((REPO / "envs" / f"{stage}.yaml").read_text())
    provided = _requirements(_installed_extras(env))
    paths = []
    for module in STAGE_MODULES[stage]:
        target = REPO / "memamba" / module
        paths += sorted(target.rglob("*.py")) if target.is_dir() else [target]
    paths += [REPO / "memamba" / name for name in ("config.py", "sheets.py", "atomic.py", "provenance.py", "errors.py",
                                                    "readers.py", "registry.py", "identifiers.py")]
    missing = {m for m in _third_party_imports(paths) if DISTRIBUTION.get(m, m).lower() not in provided}
    assert not missing - set(OPTIONAL_IMPORTS), f"envs/{stage}.yaml lacks {missing}"


def test_optional_imports_come_from_an_extra() -> None:
    for module, extra in OPTIONAL_IMPORTS.items():
        assert DISTRIBUTION.get(module, module).lower() in _requirements([extra])


def test_tiatoolbox_stays_out_of_the_training_env() -> None:
    assert "tiatoolbox" not in _requirements(_installed_extras(yaml.safe_load((REPO / "envs" / "train.yaml").read_text())))


@pytest.mark.parametrize("env_path", ENVS, ids=[p.stem for p in ENVS])
def test_conda_solves_the_env(env_path: Path) -> None:
    conda = shutil.which("conda") or shutil.which("mamba")
    if conda is None:
        pytest.skip("conda is not installed, and its channels (conda-forge) cannot be reached from these machines: "
                    "the envs are checked statically by the tests above")
    probe = subprocess.run([conda, "search", "--override-channels", "-c", "conda-forge", "python=3.11", "--json"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip(f"conda-forge cannot be reached from this machine ({conda} search failed): "
                    "the envs are checked statically by the tests above")
    solve = subprocess.run([conda, "env", "create", "--dry-run", "--file", str(env_path)], capture_output=True, text=True)
    assert solve.returncode == 0, solve.stderr[-3000:]


def test_the_gpu_env_adds_mamba_ssm_at_versions_the_cuda_extra_allows() -> None:
    train, cuda = (yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text()) for name in ("train", "train-cuda"))
    assert _pins(cuda) == _pins(train) and _installed_extras(cuda) == _installed_extras(train)
    script = (REPO / "envs" / "train-cuda.post-deploy.sh").read_text()
    installed = dict(re.findall(r'"([\w-]+)==([\w.]+)"', script))
    assert set(installed) == {_canonical(Requirement(spec).name) for spec in EXTRAS["cuda"]}
    for spec in EXTRAS["cuda"]:
        requirement = Requirement(spec)
        assert requirement.specifier.contains(installed[_canonical(requirement.name)])
    assert "--no-build-isolation" in script and (REPO / "envs" / "train-cuda.post-deploy.sh").stat().st_mode & 0o111


def _install_from_snakemakes_copy(root: Path, env_path: Path, editable: str) -> subprocess.CompletedProcess:
    """Do what ``snakemake --use-conda`` does with an env file, up to pip's resolution of memamba itself: copy the file
    to ``.snakemake/conda/<hash>.yaml``, write its pip section beside it as conda does (``condaenv.*.requirements.txt``)
    and run pip from there, with the environment the Snakefile sets (``MEMAMBA_WORKFLOW``). ``editable`` replaces the
    env's ``-e`` line; only that line depends on where the file is (the pinned names are checked above)."""
    folder = root / ".snakemake" / "conda"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(env_path, folder / "3f2a9c.yaml")
    requirements = folder / "condaenv.k2j8x1.requirements.txt"
    requirements.write_text(f"{editable}\n")
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-build-isolation", "--quiet",
               "--report", "-", "-r", requirements.name]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "MEMAMBA_WORKFLOW": str(REPO)})


@pytest.mark.parametrize("env_path", ENVS, ids=[p.stem for p in ENVS])
def test_pip_installs_memamba_from_where_snakemake_copies_the_env(env_path: Path, tmp_path: Path) -> None:
    env = yaml.safe_load(env_path.read_text())
    editable = next(line for line in _pip_lines(env) if line.startswith("-e "))
    run = _install_from_snakemakes_copy(tmp_path, env_path, editable)
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert [item["metadata"]["name"] for item in report["install"]] == ["memamba"]
    assert sorted(report["install"][0]["requested_extras"]) == sorted(_installed_extras(env))


def test_a_relative_path_would_resolve_inside_snakemakes_folder_and_fail(tmp_path: Path) -> None:
    run = _install_from_snakemakes_copy(tmp_path, REPO / "envs" / "train.yaml", "-e ..[train]")
    assert run.returncode != 0 and "does not appear to be a Python project" in run.stderr


def test_the_snakefile_tells_pip_where_the_workflow_is() -> None:
    assert re.search(r'^os\.environ\.update\(MEMAMBA_WORKFLOW=workflow\.basedir\)$', (REPO / "Snakefile").read_text(), re.M)


def test_the_post_deploy_script_is_valid_bash_and_uses_no_path_of_the_checkout() -> None:
    script = REPO / "envs" / "train-cuda.post-deploy.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    assert ".." not in script.read_text().replace("...", "")
