"""Conda environments: conda channels are unreachable on the development machines, so these tests check
the env files statically (they parse, each rule names one, and each installs the memamba extras that
cover what its rules import) instead of creating them."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ENVS = sorted((REPO / "envs").glob("*.yaml"))
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
# Import name -> distribution name, where they differ.
DISTRIBUTION = {"cv2": "opencv-python-headless", "sklearn": "scikit-learn", "sksurv": "scikit-survival", "ot": "POT",
                "yaml": "pyyaml", "PIL": "pillow", "openslide": "openslide-python",
                "huggingface_hub": "huggingface-hub", "mamba_ssm": "mamba-ssm"}
# Imported only when present, each from its own extra: mamba-ssm compiles only where CUDA is installed.
OPTIONAL_IMPORTS = {"mamba_ssm": "cuda"}
# The memamba modules behind the sub-commands each env's rules run (cli.py imports them lazily).
STAGE_MODULES = {
    "slides": ["demo", "slides/segment.py", "slides/tile.py", "slides/reader.py"],
    "features": ["slides/extract.py", "slides/encoders.py", "slides/clam.py", "slides/reader.py", "train/device.py"],
    "genomics": ["genomics"],
    "train": ["data", "models", "train", "survival", "report"],
}


def _installed_extras(env: dict) -> list[str]:
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    match = re.fullmatch(r"-e \.\.\[(.+)\]", pip[0])
    assert match, f"expected '-e ..[extras]', got {pip[0]!r}"
    return match.group(1).split(",")


def _requirements(extras: list[str]) -> set[str]:
    names = set()
    for spec in PYPROJECT["project"]["dependencies"] + [s for e in extras for s in EXTRAS[e]]:
        name = re.split(r"[<>=\[ ]", spec)[0].lower()
        if name == "memamba":
            inner = re.search(r"\[(.+)\]", spec).group(1).split(",")
            names |= _requirements(inner)
        else:
            names.add(name)
    return names


def _third_party_imports(paths: list[Path]) -> set[str]:
    """Third-party top-level modules imported by ``paths`` (cli.py: only its module-level imports)."""
    modules = set()
    for path in paths:
        tree = ast.parse(path.read_text())
        for node in (tree.body if path.name == "cli.py" else ast.walk(tree)):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m not in ("memamba", "__future__")}


def test_every_rule_names_an_existing_env() -> None:
    rules = "\n".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    n_rules = len(re.findall(r"^(?:rule|checkpoint) \w+:", rules, re.MULTILINE))
    conda = re.findall(r'conda:\n\s+"\.\./\.\./envs/(\w+)\.yaml"', rules)
    assert len(conda) == n_rules
    assert {f"{name}.yaml" for name in conda} <= {p.name for p in ENVS}


@pytest.mark.parametrize("env_path", ENVS, ids=[p.stem for p in ENVS])
def test_env_parses_and_installs_existing_extras(env_path: Path) -> None:
    env = yaml.safe_load(env_path.read_text())
    assert env["name"] == f"memamba-{env_path.stem}"
    assert "python=3.11" in env["dependencies"]
    assert set(_installed_extras(env)) <= set(EXTRAS)


@pytest.mark.parametrize("stage", sorted(STAGE_MODULES))
def test_env_covers_every_import_of_its_rules(stage: str) -> None:
    env = yaml.safe_load((REPO / "envs" / f"{stage}.yaml").read_text())
    provided = _requirements(_installed_extras(env))
    paths = []
    for module in STAGE_MODULES[stage]:
        target = REPO / "memamba" / module
        paths += sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py") if module == "cli" else target]
    paths += [REPO / "memamba" / name for name in ("config.py", "sheets.py", "atomic.py", "provenance.py", "errors.py")]
    missing = {m for m in _third_party_imports(paths) if DISTRIBUTION.get(m, m).lower() not in provided}
    assert not missing - set(OPTIONAL_IMPORTS), f"envs/{stage}.yaml lacks {missing}"


def test_optional_imports_come_from_an_extra() -> None:
    for module, extra in OPTIONAL_IMPORTS.items():
        assert DISTRIBUTION.get(module, module).lower() in _requirements([extra])


def test_tiatoolbox_stays_out_of_the_training_env() -> None:
    assert "tiatoolbox" not in _requirements(_installed_extras(yaml.safe_load((REPO / "envs" / "train.yaml").read_text())))
