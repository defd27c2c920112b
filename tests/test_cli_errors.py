"""Every expected failure at the command line is one line on stderr and exit 2, naming the file: issue 15's cases."""

import pickle
import resource
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import train_command
from memamba.cli import main

Case = Callable[[Path, Path, Path], list[str]]


class PlantedCode:
    """Unpickling this object runs code: it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def _genomics_with(work: Path, demo: Path, row: str, families: str = "gene_families.csv") -> list[str]:
    (work / "g.tsv").write_text(f"modality\tkind\tpath\n{row}\n")
    return ["genomics", "--sheet", str(work / "g.tsv"), "--families", str(demo / families), "-o", str(work / "out")]


def _inf_matrix(work: Path, demo: Path, slide: Path) -> list[str]:
    matrix = pd.read_csv(demo / "cnv.tsv", sep="\t", index_col=0).astype(float)
    matrix.iloc[3, 2] = float("inf")
    matrix.to_csv(work / "cnv.tsv", sep="\t")
    return _genomics_with(work, demo, f"cnv\tlog2ratio\t{work / 'cnv.tsv'}")


def _latin1_matrix(work: Path, demo: Path, slide: Path) -> list[str]:
    (work / "rna.tsv").write_bytes((demo / "rna_counts.tsv").read_bytes().replace(b"TSG001", b"TSG\xe9001"))
    return _genomics_with(work, demo, f"rna\tcounts\t{work / 'rna.tsv'}")


def _no_family_gene(work: Path, demo: Path, slide: Path) -> list[str]:
    (work / "families.csv").write_text("A,B\nZZZ1,ZZZ2\n")
    return ["genomics", "--sheet", str(demo / "genomics.tsv"), "--families", str(work / "families.csv"), "-o", str(work / "out")]


def _sheet_bytes(content: bytes | None) -> Case:
    def case(work: Path, demo: Path, slide: Path) -> list[str]:
        sheet = work / "sheet.tsv"
        if content is None:
            sheet.mkdir()
        else:
            sheet.write_bytes(content)
        return ["genomics", "--sheet", str(sheet), "--families", str(demo / "gene_families.csv"), "-o", str(work / "out")]
    return case


def _latin1_families(work: Path, demo: Path, slide: Path) -> list[str]:
    (work / "families.csv").write_bytes("Kinases\nT\xe9ST\n".encode("latin-1"))
    return ["genomics", "--sheet", str(demo / "genomics.tsv"), "--families", str(work / "families.csv"), "-o", str(work / "out")]


def _latin1_clinical(work: Path, demo: Path, slide: Path) -> list[str]:
    (work / "clinical.tsv").write_bytes(b"patient_id\tsurvival_months\tevent\nDEMO-0001\t3\t1\nM\xfcller\t4\t0\n")
    return ["genomics", "--sheet", str(demo / "genomics.tsv"), "--families", str(demo / "gene_families.csv"),
            "--clinical", str(work / "clinical.tsv"), "-o", str(work / "out")]


def _weights(content: Callable[[Path], None]) -> Case:
    def case(work: Path, demo: Path, slide: Path) -> list[str]:
        content(work / "weights.pth")
        return ["extract", str(slide), "--patches", str(work / "none.h5"), "-o", str(work / "f.h5"),
                "--encoder", "resnet50-trunc", "--weights", str(work / "weights.pth")]
    return case


def _pickled_code(path: Path) -> None:
    path.write_bytes(pickle.dumps({"conv1.weight": PlantedCode(path.parent / "PWNED")}))


def _file_as(name: str, content: bytes, argv: Callable[[Path, Path], list[str]]) -> Case:
    def case(work: Path, demo: Path, slide: Path) -> list[str]:
        (work / name).write_bytes(content)
        return argv(work / name, slide)
    return case


def _one_patient(work: Path, demo: Path, slide: Path) -> list[str]:
    (work / "clinical.tsv").write_text("patient_id\tsurvival_months\tevent\nDEMO-0001\t3\t1\n")
    pd.DataFrame({"x": [1.0]}, index=pd.Index(["DEMO-0001"], name="patient_id")).to_parquet(work / "features.parquet")
    return ["splits", "--clinical", str(work / "clinical.tsv"), "--slides", str(demo / "slides.tsv"),
            "--genomics", str(work / "features.parquet"), "-o", str(work / "splits")]


def _mcat_table(censorship: str, members: int = 1, slide_id: str = "TCGA-AA-0001-01Z-00-DX1.svs", months: str = "12.0") -> Case:
    def case(work: Path, demo: Path, slide: Path) -> list[str]:
        text = ("case_id,slide_id,survival_months,censorship,TP53_mut\n"
                f"TCGA-AA-0001,{slide_id},{months},{censorship},1\n"
                "TCGA-AA-0002,TCGA-AA-0002-01Z-00-DX1.svs,30.5,1,0\n")
        table = work / "tcga_x_all_clean.csv.zip"
        with zipfile.ZipFile(table, "w") as zipped:
            for k in range(members):
                zipped.writestr(f"../member{k}.csv", text)
        return ["import-mcat", str(table), "-o", str(work / "imported")]
    return case


def _alias_bomb_config(work: Path, demo: Path, slide: Path) -> list[str]:
    lines = ["cohorts: {demo: {generate: {}}}", "models:", "  l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    (work / "config.yaml").write_text("\n".join(lines) + "\n")
    return ["model-info", str(work / "config.yaml"), "--model", "snn", "--token-sizes", "3", "4"]


def _latin1_config(work: Path, demo: Path, slide: Path) -> list[str]:
    (work / "config.yaml").write_bytes(b"cohorts:\n  d\xe9mo: {}\n")
    return ["model-info", str(work / "config.yaml"), "--model", "abmil", "--token-sizes", "3", "4"]


CASES: dict[str, tuple[Case, str]] = {
    "genomics row pointing at a text file": (
        lambda w, d, s: _genomics_with(w, d, "rna\ttpm\t/etc/passwd"), "/etc/passwd: no sample columns found"),
    "no matrix gene in any family": (_no_family_gene, "rna_counts.tsv: none of its 96 gene ids (first: TSG001"),
    "inf in a genomic matrix": (_inf_matrix, "1 infinite value(s), first 'inf' at gene TSG004, sample DEMO-0003"),
    "non-UTF-8 genomic matrix": (_latin1_matrix, "rna.tsv: this genomic matrix is not UTF-8 text"),
    "non-UTF-8 gene families": (_latin1_families, "families.csv: this gene-family file is not UTF-8 text"),
    "non-UTF-8 clinical sheet": (_latin1_clinical, "clinical.tsv: this clinical sheet is not UTF-8 text"),
    "0-byte sheet": (_sheet_bytes(b""), "sheet.tsv: this genomics sheet is empty"),
    "a sheet that is a directory": (_sheet_bytes(None), "sheet.tsv: this genomics sheet is a directory"),
    "header-only sheet": (_sheet_bytes(b"modality\tkind\tpath\n"), "sheet.tsv: the genomics sheet has a header but no rows"),
    "weights that are a text file": (_weights(lambda p: p.write_text("hello\n")), "not a PyTorch checkpoint of tensors"),
    "weights that are a pickle": (_weights(_pickled_code), "it was not unpickled"),
    "weights holding non-tensors": (_weights(lambda p: torch.save({"conv1.weight": "text"}, p)), "holds a str, not a mapping"),
    "corrupt GeoJSON": (_file_as("tissue.geojson", b'{"type": "Feat', lambda f, s: ["tile", str(s), "--tissue", str(f), "-o",
                                                                                   str(f.parent / "p.h5")]),
                        "tissue.geojson: this tissue GeoJSON is not valid JSON"),
    "GeoJSON with NaN coordinates": (
        _file_as("tissue.geojson", b'{"features": [{"geometry": {"coordinates": [[[0, 0], [NaN, 1], [1, 1]]]}}]}',
                 lambda f, s: ["tile", str(s), "--tissue", str(f), "-o", str(f.parent / "p.h5")]),
        "tissue.geojson: this tissue GeoJSON holds a bare NaN"),
    "corrupt patch file": (_file_as("patches.h5", b"not hdf5", lambda f, s: ["extract", str(s), "--patches", str(f), "-o",
                                                                              str(f.parent / "f.h5"), "--encoder", "demo-stats"]),
                           "patches.h5: not a patch file written by 'memamba tile'"),
    "splits over one patient": (_one_patient, "1 patient(s) have every modality the models need, too few"),
    "import-mcat with NaN censorship": (_mcat_table(""), "column censorship of patient TCGA-AA-0001 is 'nan'"),
    "import-mcat with censorship 2": (_mcat_table("2"), "column censorship of patient TCGA-AA-0001 is '2'"),
    "import-mcat zip with two members": (_mcat_table("0", members=2), "Multiple files found in ZIP file"),
    "import-mcat with a slide id a shell reads as an option": (_mcat_table("0", slide_id="-rf"), "slide_id ['-rf'] (1 in all) cannot"),
    "import-mcat with a slide id that climbs folders": (_mcat_table("0", slide_id="../../x"), "slide_id ['../../x'] (1 in all)"),
    "import-mcat with survival of 1e308 months": (_mcat_table("0", months="1e308"), "survival_months of patient TCGA-AA-0001 is"),
    "non-UTF-8 configuration": (_latin1_config, "config.yaml: not a readable YAML configuration"),
    "a configuration that is an alias bomb": (_alias_bomb_config, "config.yaml: the configuration expands to more than 100,000"),
    "train without its inputs": (lambda w, d, s: ["train", "--model", "abmil"], "missing --slides --clinical"),
    "a slide name too long for a file name": (lambda w, d, s: ["segment", str(s), "-o", str(w / "seg"), "--name", "S" * 300],
                                              f"{'S' * 300}.png: File name too long. Fix: use shorter names"),
    "a slide shard that is not JSON": (
        lambda w, d, s: ["slide-stage", "--shard", "[{slide_id", "--staged", str(w), "--manifest", str(w / "m.tsv")],
        "--shard is not a JSON list"),
    "a group of folds that is not JSON": (
        lambda w, d, s: ["train", "--slides", "s.tsv", "--clinical", "c.tsv", "--genomics", "g.parquet", "--tokens", "t.json",
                         "--model", "snn", "--folds", "[{split", "--manifest", str(w / "m.tsv")], "--folds is not a JSON list"),
    "evaluations that are not JSON": (
        lambda w, d, s: ["evaluate", "--models", "[{predictions"], "--models is not a JSON list"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_an_expected_failure_is_one_line_naming_the_file_and_exit_2(
        name: str, demo_dir: Path, demo_slide: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    case, expected = CASES[name]
    argv = case(tmp_path, demo_dir, demo_slide)
    assert main(argv) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith(f"memamba {argv[0]}: error: ")]
    assert len(errors) == 1 and expected in errors[0] and "Fix: " in errors[0], capsys.readouterr().err
    assert not (tmp_path / "PWNED").exists(), "a pickled object in the weights file was run"
    assert not (tmp_path / "out").exists() and not (tmp_path / "imported").exists(), "a failed stage left outputs"


@pytest.mark.parametrize("value", ["0", "-1", "inf", "nan", "abc"])
def test_an_mpp_that_is_not_a_microns_per_pixel_value_is_refused_before_anything_runs(
        value: str, demo_slide: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["segment", str(demo_slide), "-o", str(tmp_path / "seg"), f"--mpp={value}"])
    assert exit_info.value.code == 2
    assert f"argument --mpp: '{value}' is not a microns-per-pixel value" in capsys.readouterr().err
    assert not (tmp_path / "seg").exists()


def test_a_full_disk_is_one_line_and_leaves_no_partial_genomics_output(
        demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    def write_to_a_full_disk(frame: pd.DataFrame, path: Path, *args: object, **kwargs: object) -> None:
        with open("/dev/full", "wb") as full:
            full.write(bytes(1 << 16))
            full.flush()

    if not Path("/dev/full").exists():
        pytest.skip("/dev/full (a device that answers every write with ENOSPC) is not available here")
    monkeypatch.setattr(pd.DataFrame, "to_parquet", write_to_a_full_disk)
    out = tmp_path / "out"
    argv = ["genomics", "--sheet", str(demo_dir / "genomics.tsv"), "--families", str(demo_dir / "gene_families.csv"),
            "-o", str(out)]
    assert main(argv) == 2
    assert f"memamba genomics: error: {out}: No space left on device. Fix: free space" in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == [], "patients.tsv or another output was written before the failure"
    shutil.rmtree(out, ignore_errors=True)


def _train_inputs(demo_dir: Path, work: Path) -> list[str]:
    """``memamba train`` arguments for snn on fold 0 of the demo cohort (its genomics and splits made in ``work``)."""
    return [*train_command(demo_dir, work, '{"hidden": 64, "depth": 2}', 1), "--split", str(work / "fold_0.tsv")]


def test_a_full_disk_while_train_saves_is_one_line_naming_the_checkpoint(
        demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full (a device that answers every write with ENOSPC) is not available here")
    from memamba import tensor_files

    arguments, out = _train_inputs(demo_dir, tmp_path / "work"), tmp_path / "snn"
    monkeypatch.setattr(tensor_files, "open", lambda path, mode: open("/dev/full", mode), raising=False)
    assert main([*arguments, "-o", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"memamba train: error: {out / 'checkpoint.pt'}: No space left on device. Fix: free space on that file system (or "
        "point the output elsewhere) and rerun; no partial output was kept.")
    assert not out.exists() or list(out.iterdir()) == []


def _limited_file_size(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_checkpoint_over_the_file_size_limit_is_one_line_naming_it(demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "snn"
    command = [sys.executable, "-m", "memamba.cli", *_train_inputs(demo_dir, tmp_path / "work"), "-o", str(out)]
    run = subprocess.run(command, capture_output=True, text=True, preexec_fn=lambda: _limited_file_size(16_000))
    assert run.returncode == 2, run.stderr[-2000:]
    assert run.stderr.strip().splitlines()[-1] == (f"memamba train: error: {out / 'checkpoint.pt'}: File too large. Fix: raise the "
                                                   "file-size limit (ulimit -f) or write the output elsewhere; no partial output was kept.")
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []
