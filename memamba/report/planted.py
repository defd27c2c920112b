"""The demo's planted answer for heatmaps: which patches lie in the tumour region whose look carries the slide part
of the risk (``tumour_regions.tsv``), and how well a head's patch scores rank those patches first (ROC AUC per slide,
averaged), for one fold's model or over cross-validation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from memamba.data.cohort import Cohort, load_cohort
from memamba.data.splits import make_splits
from memamba.demo.cohort import generate_cohort
from memamba.demo.svs import TUMOUR_COLUMNS, TumourRegion
from memamba.errors import MemambaError
from memamba.genomics.tokens import write_genomics
from memamba.readers import read_table
from memamba.report.heatmaps import FoldScorer
from memamba.sheets import read_sheet
from memamba.slides.in_process import extract_sheet
from memamba.survival.metrics import harrell_c
from memamba.train.checkpoint import fold_checkpoint
from memamba.train.loop import train_fold
from memamba.train.transforms import GenomicTransform


def read_tumours(path: str | os.PathLike) -> dict[str, TumourRegion]:
    """Each slide's tumour ellipse from the demo's ``tumour_regions.tsv`` (slide id -> region)."""
    table = read_table(path, "the demo's tumour regions", "regenerate the demo cohort with `memamba demo-data "
                       "--slide-signal tumour`", sep="\t", dtype={"slide_id": str})
    missing = [column for column in TUMOUR_COLUMNS if column not in table]
    if missing:
        raise MemambaError(f"{path}: no column {', '.join(missing)}. Fix: regenerate the demo cohort with "
                           "`memamba demo-data --slide-signal tumour`.")
    return {row.slide_id: TumourRegion(float(row.center_x), float(row.center_y), float(row.axis_x), float(row.axis_y),
                                       float(row.angle)) for row in table.itertuples()}


def in_tumour(tumour: TumourRegion, coords: np.ndarray, patch_size: float) -> np.ndarray:
    """Whether each patch's centre (``coords`` = level-0 top-left corners, ``patch_size`` level-0 pixels) lies in the
    tumour."""
    centres = np.asarray(coords, float).reshape(-1, 2) + patch_size / 2
    return tumour.contains(centres[:, 0], centres[:, 1])


def slide_aucs(labels: list[np.ndarray], scores: list[np.ndarray]) -> np.ndarray:
    """Per slide, the ROC AUC of its patch scores for its tumour patches against its other patches (a head's scale
    may differ between slides, so slides are not pooled); slides with only one kind of patch are left out."""
    return np.array([roc_auc_score(label, score) for label, score in zip(labels, scores)
                     if label.any() and not label.all()])


def planted_table(scorer: FoldScorer, patients: list[str], tumours_tsv: str | os.PathLike) -> pd.DataFrame:
    """Per head: the mean over the slides of ``patients`` of the ROC AUC of its patch scores for the demo's tumour
    patches against the slide's other patches, with the counts it rests on."""
    tumours = read_tumours(tumours_tsv)
    labels: list[np.ndarray] = []
    scores: dict[str, list[np.ndarray]] = {}
    for patient in patients:
        for slide in scorer.slides(patient):
            size = float(slide.coords_attrs["patch_size_level0"])
            name = str(slide.coords_attrs.get("name", slide.feature_file.stem))
            if name not in tumours:
                raise MemambaError(f"{tumours_tsv}: no tumour region for slide {name}. Fix: give the tumour_regions.tsv "
                                   "written with this demo cohort.")
            labels.append(in_tumour(tumours[name], slide.coords, size))
            for head, score in slide.scores.items():
                scores.setdefault(head, []).append(score)
    rows = []
    for head, values in scores.items():
        aucs = slide_aucs(labels, values)
        rows.append({"head": head, "planted_auc": float(aucs.mean()) if len(aucs) else float("nan"),
                     "slides": len(aucs), "patients": len(patients), "patches": int(sum(len(v) for v in values)),
                     "tumour_patches": int(sum(label.sum() for label in labels))})
    return pd.DataFrame(rows, columns=["head", "planted_auc", "slides", "patients", "patches", "tumour_patches"])


def planted_cross_validation(cohort: Cohort, splits: list[pd.DataFrame], tumours_tsv: str | os.PathLike, model: str,
                             params: dict[str, Any], config: dict[str, Any]) -> pd.DataFrame:
    """Train ``model`` on each split with a validated ``config``'s train and genomics settings, and score its
    heads against the planted tumours on the split's validation patients: per fold and head, the planted AUC and
    the fold's c-index."""
    frames = []
    for fold, split in enumerate(splits):
        transform = GenomicTransform.of(config["genomics"])
        result = train_fold(cohort, split, model, params, config["train"], transform, progress=False)
        checkpoint = fold_checkpoint(model, params, result.model.state_dict(), result.state, cohort, transform)
        validation = split.loc[split["role"] == "val", "patient_id"].tolist()
        table = planted_table(FoldScorer(checkpoint, cohort, torch.device("cpu")), validation, tumours_tsv)
        val = result.predictions[result.predictions["role"] == "val"]
        frames.append(table.assign(fold=fold, c_index=harrell_c(val["survival_months"], val["event"], val["risk"])))
    return pd.concat(frames, ignore_index=True)


def planted_demo(folder: str | os.PathLike, patients: int, seed: int,
                 config: dict[str, Any]) -> tuple[Cohort, list[pd.DataFrame], Path]:
    """A demo cohort under ``folder`` whose slides carry all the risk, in their tumour region only, through the
    slide and genomics stages with a validated ``config``'s settings, in process; with its splits and its
    ``tumour_regions.tsv``."""
    folder = Path(folder)
    cohort_dir = generate_cohort(folder / "cohort", patients=patients, seed=seed, slide_signal="tumour", slide_share=1.0)
    features = extract_sheet(cohort_dir / "slides.tsv", folder / "features", config)
    write_genomics(cohort_dir / "genomics.tsv", cohort_dir / "gene_families.csv", folder / "genomics")
    cohort = load_cohort(cohort_dir / "slides.tsv", cohort_dir / "clinical.tsv", features,
                         folder / "genomics" / "features.parquet", folder / "genomics" / "tokens.json")
    splits = make_splits(read_sheet(cohort_dir / "clinical.tsv", "clinical"), config["splits"]["folds"],
                         config["splits"]["seed"], config["splits"]["time_bins"])
    return cohort, splits, cohort_dir / "tumour_regions.tsv"
