import subprocess
import sys

import pytest

from memamba.cli import build_parser

COMMANDS = ["demo-data", "segment", "tile", "extract", "export-clam", "import-mcat", "genomics", "splits", "published-split", "train",
            "predict", "heatmap", "evaluate", "evaluate-external", "summarise", "report"]


def test_every_stage_has_a_subcommand() -> None:
    choices = build_parser()._subparsers._group_actions[0].choices
    assert set(COMMANDS) <= set(choices)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_describes_the_command(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert f"memamba {command}" in text and len(text.splitlines()) > 4


def test_console_script_reports_bad_input_without_traceback(tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "memamba.cli", "segment", str(tmp_path / "none.svs"), "-o", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "none.svs: slide file not found" in result.stderr and "Traceback" not in result.stderr


def test_list_encoders_and_models() -> None:
    encoders = subprocess.run([sys.executable, "-m", "memamba.cli", "extract", "--list-encoders"], capture_output=True, text=True)
    models = subprocess.run([sys.executable, "-m", "memamba.cli", "train", "--list-models"], capture_output=True, text=True)
    assert "demo-stats" in encoders.stdout.split()
    assert {"snn", "abmil", "abmil-snn"} <= set(models.stdout.split())


@pytest.mark.parametrize("argv,message", [
    (["predict", "--checkpoint", "c.pt", "--slides", "s", "--genomics", "g", "--tokens", "t", "-o", "o", "--batch-size", "0"],
     "argument --batch-size: 0 is less than 1"),
    (["heatmap", "--checkpoint", "c.pt", "--slides", "s", "--genomics", "g", "--tokens", "t", "-o", "o", "--count", "two"],
     "argument --count: 'two' is not a whole number"),
    (["demo-data", "--out", "d", "--slide-share", "1.5"], "argument --slide-share: 1.5 is not between 0 and 1"),
    (["demo-data", "--out", "d", "--slide-signal", "stroma"], "argument --slide-signal: invalid choice: 'stroma'"),
])
def test_out_of_range_counts_and_fractions_are_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_the_cli_offers_the_generators_slide_signals() -> None:
    from memamba.demo.svs import SLIDE_SIGNALS

    action = next(a for a in build_parser()._subparsers._group_actions[0].choices["demo-data"]._actions
                  if a.dest == "slide_signal")
    assert tuple(action.choices) == SLIDE_SIGNALS


def test_demo_data_writes_a_planted_mechanism_cohort_and_refuses_an_unknown_one(tmp_path, capsys: pytest.CaptureFixture) -> None:
    from memamba.cli import main
    from memamba.sheets import read_sheet

    assert main(["demo-data", "--out", str(tmp_path / "demo"), "--patients", "6", "--mechanism", "localisation"]) == 0
    assert "(planted mechanism: localisation)" in capsys.readouterr().out
    assert len(read_sheet(tmp_path / "demo" / "slides.tsv", "slides")) == 6
    assert main(["demo-data", "--out", str(tmp_path / "other"), "--mechanism", "adjacency"]) == 2
    assert "--mechanism 'adjacency' is not a planted mechanism. Fix: use one of additive, correspondence" in capsys.readouterr().err
    assert not (tmp_path / "other" / "slides.tsv").exists()
