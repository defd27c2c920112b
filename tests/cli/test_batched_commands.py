"""memamba train --folds and memamba evaluate --models: several folds or models in one process, each written as its
own command would write it, each fold skipped when up to date and failing alone."""

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import train_command
from memamba.cli import main


def _inputs(demo_dir: Path, work: Path) -> list[str]:
    return train_command(demo_dir, work, '{"hidden": 8, "depth": 1}', 2)


def test_folds_in_one_process_match_a_process_per_fold_skip_when_done_and_fail_alone(demo_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    arguments = _inputs(demo_dir, work)
    for k in (0, 1):
        assert main([*arguments, "--split", str(work / f"fold_{k}.tsv"), "-o", str(tmp_path / "alone" / f"fold_{k}")]) == 0
    folds = [{"split": str(work / f"fold_{k}.tsv"), "out": str(tmp_path / "batch" / f"fold_{k}")} for k in (0, 1)]
    manifest = tmp_path / "group_0.tsv"
    command = [*arguments, "--folds", json.dumps(folds), "--manifest", str(manifest)]
    assert main(command) == 0
    assert pd.read_csv(manifest, sep="\t")["status"].tolist() == ["done", "done"]
    for k in (0, 1):
        for name in ("predictions.tsv", "history.tsv", "config.yaml"):
            assert (tmp_path / "batch" / f"fold_{k}" / name).read_bytes() == (tmp_path / "alone" / f"fold_{k}" / name).read_bytes()
    assert main(command) == 0
    assert pd.read_csv(manifest, sep="\t")["status"].tolist() == ["up to date", "up to date"]
    (work / "fold_1.tsv").write_text("not a split\n")
    assert main(command) == 0
    rows = pd.read_csv(manifest, sep="\t", keep_default_na=False)
    assert rows["status"].tolist() == ["up to date", "failed"] and "fold_1.tsv: not a fold file" in rows.loc[1, "message"]


def test_folds_replace_split_and_out(demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    arguments = ["train", "--slides", "s.tsv", "--clinical", "c.tsv", "--genomics", "g.parquet", "--tokens", "t.json",
                 "--model", "snn", "--folds", '[{"split": "fold_0.tsv", "out": "f0"}]']
    assert main([*arguments, "-o", str(tmp_path)]) == 2
    assert "--folds replaces --split and -o, and needs --manifest" in capsys.readouterr().err


def test_models_in_one_evaluate_write_what_one_evaluate_per_model_writes(demo_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    arguments = _inputs(demo_dir, work)
    predictions = []
    for k in (0, 1):
        assert main([*arguments, "--split", str(work / f"fold_{k}.tsv"), "-o", str(tmp_path / f"fold_{k}")]) == 0
        predictions.append(str(tmp_path / f"fold_{k}" / "predictions.tsv"))
    assert main(["evaluate", *predictions, "-o", str(tmp_path / "alone"), "--title", "snn"]) == 0
    plan = [{"predictions": predictions, "out": str(tmp_path / "together" / name), "title": "snn"} for name in ("a", "b")]
    assert main(["evaluate", "--models", json.dumps(plan)]) == 0
    for name in ("a", "b"):
        assert (tmp_path / "together" / name / "metrics.tsv").read_bytes() == (tmp_path / "alone" / "metrics.tsv").read_bytes()
        assert (tmp_path / "together" / name / "km.png").is_file()
