"""The package's shape: small modules, short functions, and imports that only run down the layers."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "memamba"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 450, 60
LAYERS = [
    {"__init__", "errors", "atomic", "identifiers", "cpu_kernels", "gpu_slots", "tensor_files", "config", "registry",
     "readers", "provenance", "sheets", "schemas", "batch_jobs", "publish"},
    {"demo", "genomics", "survival", "models"},
    {"data"},
    {"train"},
    {"slides"},
    {"report"},
    {"cli"},
]
"""From the bottom up: a module may import from its own layer and the layers below it, never from one above."""


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _room(path: Path) -> str:
    """The sub-package (or top-level module) a file belongs to."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _layer(room: str) -> int:
    return next(level for level, rooms in enumerate(LAYERS) if room in rooms)


def test_every_module_is_in_a_layer() -> None:
    assert {_room(path) for path in _modules()} - set().union(*LAYERS) == set()


def test_no_module_is_longer_than_450_lines() -> None:
    long = {str(path.relative_to(PACKAGE)): n for path in _modules() if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_no_function_is_longer_than_60_lines() -> None:
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                long[f"{path.relative_to(PACKAGE)}:{node.name}"] = node.end_lineno - node.lineno + 1
    assert long == {}


def test_imports_only_run_down_the_layers() -> None:
    upward = []
    for path in _modules():
        room = _room(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "memamba":
                parts = node.module.split(".")
                target = parts[1] if len(parts) > 1 else "__init__"
                if _layer(target) > _layer(room):
                    upward.append(f"{path.relative_to(PACKAGE)}:{node.lineno} imports {node.module}")
    assert upward == []
