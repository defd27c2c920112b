"""The command line as a package: every sub-command's help works, and the light paths import no heavy library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from memamba.cli import build_parser

SUBCOMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)
HEAVY = ("torch", "pandas", "sklearn")
PROBE = """
import sys
from memamba.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print("exit", code)
print("heavy", *[name for name in {heavy!r} if name in sys.modules])
"""


def _heavy_modules_after(argv: list[str]) -> tuple[str, list[str]]:
    """Run ``memamba ARGV`` in a fresh interpreter: (its exit line, the heavy libraries it imported)."""
    run = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv], capture_output=True, text=True, check=True)
    lines = run.stdout.splitlines()
    return lines[-2], lines[-1].split()[1:]


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: memamba {command}")


def test_the_listings_and_every_help_import_neither_torch_nor_pandas() -> None:
    listings = (["--help"], ["train", "--list-models"], ["extract", "--list-encoders"])
    for argv in (*listings, *([command, "--help"] for command in SUBCOMMANDS)):
        assert _heavy_modules_after(argv) == ("exit 0", []), argv


def test_segmenting_and_tiling_a_slide_import_neither_torch_nor_pandas(demo_slide: Path, tmp_path: Path) -> None:
    assert _heavy_modules_after(["segment", str(demo_slide), "-o", str(tmp_path)]) == ("exit 0", [])
    tissue = tmp_path / f"{demo_slide.stem}.geojson"
    assert _heavy_modules_after(["tile", str(demo_slide), "--tissue", str(tissue), "-o", str(tmp_path / "p.h5")]) == ("exit 0", [])
    assert (tmp_path / "p.h5").stat().st_size > 0


def test_python_dash_m_runs_the_console_script() -> None:
    run = subprocess.run([sys.executable, "-m", "memamba.cli", "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.startswith("memamba ")
