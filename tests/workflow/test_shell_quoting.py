"""Every value that reaches a rule's shell command is quoted (issue 27): paths and names with spaces, quotes or shell
syntax arrive as one argument each, and no option string is pasted in unquoted."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "workflow" / "rules"
PLACEHOLDER = re.compile(r"(?<!\{)\{([^{}]+)\}(?!\})")


def shell_commands(path: Path) -> dict[str, str]:
    """Rule name -> its shell command, read from a .smk file (the string literals under ``shell:``)."""
    commands, rule, lines = {}, None, path.read_text().splitlines()
    for index, line in enumerate(lines):
        declared = re.match(r"\s*(?:rule|checkpoint) (\w+):", line)
        rule = declared.group(1) if declared else rule
        if line.strip() == "shell:":
            literals = []
            for following in lines[index + 1:]:
                if not following.strip().startswith(('"', "f\"", "'")):
                    break
                literals.append(following.strip())
            commands[rule] = "".join(ast.literal_eval(literal) for literal in literals)
    return commands


COMMANDS = {f"{path.stem}:{rule}": command for path in sorted(RULES.glob("*.smk")) for rule, command in shell_commands(path).items()}


def test_every_rule_with_a_shell_command_is_found() -> None:
    shells = sum(len(re.findall(r"^\s+shell:$", path.read_text(), re.M)) for path in RULES.glob("*.smk"))
    assert len(COMMANDS) == shells >= 15
    assert all(command.startswith(("memamba ", "OMP_NUM_THREADS=", "python -S {params.script:q} ")) for command in COMMANDS.values())


@pytest.mark.parametrize("rule", sorted(COMMANDS))
def test_every_placeholder_of_a_shell_command_is_quoted(rule: str) -> None:
    unquoted = [field for field in PLACEHOLDER.findall(COMMANDS[rule]) if not field.endswith(":q")]
    assert not unquoted, f"{rule}: {unquoted} reach the shell unquoted; write {{NAME:q}} (lists are quoted item by item)"


def test_the_check_finds_an_unquoted_path() -> None:
    planted = "memamba summarise --cohort {wildcards.cohort:q} {params.oracle} -o {output:q}"
    assert [field for field in PLACEHOLDER.findall(planted) if not field.endswith(":q")] == ["params.oracle"]
