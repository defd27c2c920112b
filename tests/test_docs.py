"""The documentation: the README is a front page, the MkDocs site builds without a broken link, every command shown
in a code block is one the parsers accept, and config/README.md lists every configuration key."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.cli import get_argument_parser

from memamba.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted((REPO / "docs" / "pages").glob("*.md"))
DOCUMENTS = [REPO / "README.md", REPO / "config" / "README.md", *(p for p in PAGES if not p.is_symlink())]


def _shell_commands(path: Path) -> list[str]:
    """Every command line of the document's bash code blocks (continuations joined, comments dropped, ``&&``
    chains split)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            commands += [part.strip() for part in line.split("&&") if part.strip()]
    return commands


def _documented(program: str) -> list[tuple[str, list[str]]]:
    return [(f"{path.relative_to(REPO)}: {command}", shlex.split(command)[1:]) for path in DOCUMENTS
            for command in _shell_commands(path) if command.startswith(f"{program} ")]


def test_the_readme_is_a_front_page_of_at_most_300_lines_starting_with_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    first_two = _shell_commands(REPO / "README.md")[:10]
    assert first_two.count("snakemake --cores 2") == 1 and first_two.count("pytest") == 1
    assert (REPO / ".ci" / "run").read_text().rstrip().endswith(readme.split("```bash\n")[2].split("\n```")[0])


def test_every_local_link_and_picture_of_the_readme_exists() -> None:
    targets = re.findall(r"\]\(([^)#]+)\)", (REPO / "README.md").read_text())
    assert targets and [t for t in targets if not t.startswith("http") and not (REPO / t).exists()] == []


@pytest.mark.parametrize("where,argv", _documented("memamba"), ids=lambda v: v if isinstance(v, str) else "")
def test_every_documented_memamba_command_parses(where: str, argv: list[str]) -> None:
    build_parser().parse_args(argv)


@pytest.mark.parametrize("where,argv", _documented("snakemake"), ids=lambda v: v if isinstance(v, str) else "")
def test_every_documented_snakemake_command_parses(where: str, argv: list[str]) -> None:
    get_argument_parser().parse_args(argv)


def test_every_configuration_key_is_listed_in_config_readme() -> None:
    schema = yaml.safe_load((REPO / "memamba" / "schemas" / "config.schema.yaml").read_text())
    listed = [line.split("|")[1] for line in (REPO / "config" / "README.md").read_text().splitlines() if line.startswith("| `")]

    def keys(node: dict, prefix: str) -> list[tuple[str, str]]:
        found = []
        for name, sub in node.get("properties", {}).items():
            inner = sub.get("properties") and sub or (sub.get("additionalProperties") or {})
            if inner.get("properties"):
                found += keys(inner, f"{prefix}{name}{'.NAME' if inner is not sub else ''}.")
            else:
                found.append((prefix.rstrip("."), name))
        return found

    missing = [f"{section}.{key}" if section else key for section, key in keys(schema, "")
               if not any(f"`{section}." in cell and key in cell or not section and f"`{key}." in cell for cell in listed)]
    assert missing == []


def _mkdocs(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
                          capture_output=True, text=True)


def test_the_site_builds_strictly_and_a_broken_link_fails_it(tmp_path: Path) -> None:
    build = _mkdocs(REPO / "docs" / "mkdocs.yml", tmp_path / "site")
    assert build.returncode == 0, build.stderr[-3000:]
    assert {p.stem for p in PAGES} <= {p.parent.name for p in (tmp_path / "site").glob("*/index.html")} | {"index"}
    copy = tmp_path / "docs"
    shutil.copytree(REPO / "docs", copy, symlinks=False)
    (copy / "pages" / "scale.md").write_text((copy / "pages" / "scale.md").read_text() + "\nSee [nowhere](missing.md).\n")
    broken = _mkdocs(copy / "mkdocs.yml", tmp_path / "broken")
    assert broken.returncode != 0 and "missing.md" in broken.stderr
