"""An MCAT/PORPOISE table turned into a workflow cohort: its slides found on disk (a GDC download tree, a flat
folder, links) or its ready-made features, the sheets, matrices and published folds, and a complete
``config.yaml`` ready for ``snakemake --configfile``.

Only diagnostic slides are kept by default (TCGA slide barcodes ``...-DX<n>``): formalin-fixed, paraffin-embedded
sections, which MCAT, MOTCat and ME-Mamba use; the frozen ``-TS``/``-BS`` sections of the same patients carry
freezing artefacts and a different appearance, and GDC's "Tissue Slide" downloads mix them in.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from memamba.atomic import atomic_path, write_text_atomic
from memamba.config import ConfigError, read_yaml_mapping, validate_config
from memamba.data.bags import feature_file
from memamba.data.slide_files import match_slides
from memamba.data.splits import write_splits
from memamba.genomics.mcat import GENOMIC_SUFFIXES, McatImport
from memamba.identifiers import slide_stem

DIAGNOSTIC_SLIDE = re.compile(r"-DX[0-9A-Z]*(?:\.|$)", re.IGNORECASE)
SLIDE_TYPES = ("diagnostic", "all")


@dataclass
class SlideSelection:
    """The table's slides that the cohort keeps (``slide_id`` without the file extension, ``patient_id`` and, where
    a file was found, ``path``), those absent (with where they were looked for), and what was filtered out."""

    slides: pd.DataFrame
    absent: pd.DataFrame
    not_diagnostic: list[str] = field(default_factory=list)
    duplicates: dict[str, list[Path]] = field(default_factory=dict)


def cohort_name(table: str | os.PathLike) -> str:
    """The cohort name a table's file name gives: ``tcga_blca_all_clean.csv.zip`` -> ``tcga_blca``."""
    name = Path(table).name.lower()
    for suffix in (".zip", ".gz", ".csv", ".tsv", "_all_clean"):
        name = name.removesuffix(suffix)
    name = re.sub(r"[^a-z0-9_-]+", "_", name).strip("_-")
    return name or "cohort"


def select_slides(table_slides: pd.DataFrame, slide_dir: str | os.PathLike | None, features_dir: str | os.PathLike | None,
                  slide_types: str = "diagnostic") -> SlideSelection:
    """Keep the table's slides (columns ``slide_id`` as in the table, ``patient_id``) that are present.

    With ``features_dir``: those with a feature file there (slide files are then optional; their paths are kept
    where ``slide_dir`` has them). Else with ``slide_dir``: those with a slide file anywhere under it. Else every
    slide, at ``slides/{slide_id}`` beside the sheet. ``slide_types`` ``diagnostic`` drops non-diagnostic slides first.
    """
    if slide_types not in SLIDE_TYPES:
        raise ConfigError(f"slide types {slide_types!r}: expected one of {list(SLIDE_TYPES)}.")
    table_slides = table_slides.reset_index(drop=True)
    diagnostic = table_slides["slide_id"].astype(str).str.contains(DIAGNOSTIC_SLIDE)
    not_diagnostic = table_slides.loc[~diagnostic, "slide_id"].tolist() if slide_types == "diagnostic" else []
    wanted = table_slides[~table_slides["slide_id"].isin(not_diagnostic)]
    names = wanted["slide_id"].astype(str).tolist()
    match = match_slides(names, slide_dir) if slide_dir is not None else None
    if features_dir is not None:
        present = [feature_file(features_dir, name) is not None for name in names]
        where = f"no feature file in {features_dir}"
    elif match is not None:
        present = [name in match.found for name in names]
        where = f"no slide file of that name under {slide_dir}"
    else:
        present = [True] * len(names)
        where = ""
    slides = pd.DataFrame({"slide_id": [slide_stem(n) for n in names], "patient_id": wanted["patient_id"].to_numpy()})
    if match is not None:
        slides["path"] = [str(match.found[n].absolute()) if n in match.found else "" for n in names]
    elif features_dir is None:
        slides["path"] = [f"slides/{n}" for n in names]
    keep = pd.Series(present, index=slides.index)
    absent = slides.loc[~keep, ["slide_id", "patient_id"]].assign(file=[n for n, ok in zip(names, present) if not ok], problem=where)
    return SlideSelection(slides[keep].reset_index(drop=True), absent.reset_index(drop=True), not_diagnostic,
                          match.duplicates if match is not None else {})


def write_import(result: McatImport, selection: SlideSelection, out_dir: str | os.PathLike,
                 splits: list[pd.DataFrame] | None, gene_sets: dict[str, str | os.PathLike] | None = None) -> list[Path]:
    """Write clinical.tsv, slides.tsv, absent_slides.tsv, the genes x patients matrices, genomics.tsv, splits/
    (when given) and a copy of each gene-set table of ``gene_sets`` (kind -> file: ``gene_families``, ``pathways``; each
    named after its kind with its own extension) to ``out_dir``, each atomically; return the copies' paths."""
    out = Path(out_dir)
    with atomic_path(out / "clinical.tsv") as tmp:
        result.clinical.to_csv(tmp, sep="\t", index=False)
    with atomic_path(out / "slides.tsv") as tmp:
        selection.slides.to_csv(tmp, sep="\t", index=False)
    with atomic_path(out / "absent_slides.tsv") as tmp:
        selection.absent.to_csv(tmp, sep="\t", index=False)
    sheet = []
    for suffix, matrix in result.matrices.items():
        modality, kind = GENOMIC_SUFFIXES[suffix]
        with atomic_path(out / f"{modality}.parquet") as tmp:
            matrix.to_parquet(tmp)
        sheet.append({"modality": modality, "kind": kind, "path": f"{modality}.parquet"})
    with atomic_path(out / "genomics.tsv") as tmp:
        pd.DataFrame(sheet).to_csv(tmp, sep="\t", index=False)
    if splits is not None:
        write_splits(splits, out / "splits")
    copies = []
    for kind, source in (gene_sets or {}).items():
        copies.append(gene_set_copy_path(out, kind, source))
        with atomic_path(copies[-1]) as tmp:
            shutil.copyfile(source, tmp)
    return copies


def gene_set_copy_path(out_dir: str | os.PathLike, kind: str, source: str | os.PathLike) -> Path:
    """Where the import keeps its copy of a gene-set table: ``kind`` (gene_families, pathways) + the source's extensions."""
    return Path(out_dir) / f"{kind}{''.join(Path(source).suffixes[-2:]) if Path(source).suffix == '.gz' else Path(source).suffix}"


def cohort_config(name: str, out_dir: str | os.PathLike, gene_families: str | os.PathLike, with_splits: bool,
                  features_dir: str | os.PathLike | None, settings: str | os.PathLike | None = None,
                  pathways: str | os.PathLike | None = None) -> dict[str, Any]:
    """A complete, validated workflow configuration with one cohort ``name`` made of the files in ``out_dir``, the
    gene-family table ``gene_families`` and, when given, the pathway table ``pathways``.

    Every section but ``cohorts`` comes from ``settings`` (a memamba config file, e.g. config/tcga.yaml) where
    given, every key left out takes its documented default; paths are absolute."""
    out = Path(out_dir).absolute()
    base: dict[str, Any] = {}
    if settings is not None:
        base = read_yaml_mapping(settings)
        base.pop("cohorts", None)
    cohort = {"slides": str(out / "slides.tsv"), "clinical": str(out / "clinical.tsv"),
              "genomics": str(out / "genomics.tsv"), "gene_families": str(Path(gene_families).absolute())}
    if pathways is not None:
        cohort["pathways"] = str(Path(pathways).absolute())
    if with_splits:
        cohort["splits"] = str(out / "splits")
    if features_dir is not None:
        cohort["features"] = str(Path(features_dir).absolute())
    return validate_config({"cohorts": {name: cohort}, **base}, where=str(settings or "the import's configuration"))


def write_config(config: dict[str, Any], path: str | os.PathLike, source: str) -> None:
    """Write ``config`` as YAML with a header saying where it came from and how to run it."""
    header = (f"# memamba workflow configuration written by 'memamba import-mcat' from {source}.\n"
              "# Every key is shown with its value (the documented default where nothing set it); config/README.md\n"
              f"# describes each. Run from the repository root: snakemake --cores 8 --configfile {path}\n")
    write_text_atomic(path, header + yaml.safe_dump(config, sort_keys=False))
