"""A fold's heatmaps for chosen patients (files, pictures, an index), and on the demo the planted-patch AUC of every
head over all the fold's validation patients."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from memamba.atomic import atomic_path
from memamba.models.memamba_model import MEMamba
from memamba.report.attributions import attribution_table, integrated_gradients, per_family, summary_norms
from memamba.report.heatmap_render import RenderSettings, render_heatmaps
from memamba.report.heatmaps import FoldScorer, write_slide_scores
from memamba.report.planted import in_tumour, planted_auc, read_tumours


def draw_patients(scorer: FoldScorer, patients: dict[str, str], slide_paths: dict[str, Path] | None,
                  out_dir: str | os.PathLike, settings: RenderSettings) -> pd.DataFrame:
    """For each patient (-> its group), its slides' score files and, with ``slide_paths`` (feature-file stem -> slide
    file), their pictures; returns the index (patient, group, slide, h5, pictures) and writes it to ``index.tsv``."""
    out_dir = Path(out_dir)
    rows = []
    for patient, group in patients.items():
        for slide in scorer.slides(patient):
            h5 = write_slide_scores(slide, scorer.checkpoint.model, patient, out_dir)
            pictures = [] if slide_paths is None else render_heatmaps(h5, slide_paths[slide.feature_file.stem], out_dir, settings)
            rows.append({"patient_id": patient, "group": group, "slide": slide.feature_file.stem, "h5": h5.name,
                         "pictures": ";".join(p.name for p in pictures)})
    index = pd.DataFrame(rows, columns=["patient_id", "group", "slide", "h5", "pictures"])
    with atomic_path(out_dir / "index.tsv") as tmp:
        index.to_csv(tmp, sep="\t", index=False)
    return index


def planted_table(scorer: FoldScorer, patients: list[str], tumours_tsv: str | os.PathLike) -> pd.DataFrame:
    """Per head: the ROC AUC of its patch scores for the demo's tumour patches against the others, pooled over the
    slides of ``patients`` (each slide's scores ranked first), with the counts it rests on."""
    tumours = read_tumours(tumours_tsv)
    labels: list[np.ndarray] = []
    scores: dict[str, list[np.ndarray]] = {}
    for patient in patients:
        for slide in scorer.slides(patient):
            size = float(slide.coords_attrs["patch_size_level0"])
            labels.append(in_tumour(tumours[slide.feature_file.stem], slide.coords, size))
            for head, score in slide.scores.items():
                scores.setdefault(head, []).append(score)
    tumour_patches = int(sum(label.sum() for label in labels)) if labels else 0
    return pd.DataFrame([{"head": head, "planted_auc": planted_auc(labels, values), "patients": len(patients),
                          "patches": int(sum(len(v) for v in values)), "tumour_patches": tumour_patches}
                         for head, values in scores.items()])


def fold_attributions(scorer: FoldScorer, patients: list[str], steps: int = 32) -> pd.DataFrame:
    """Per patient and gene family, the integrated-gradients contribution to the fold model's risk (and ME-Mamba's
    transport-summary norms)."""
    tokens = scorer.checkpoint.tokens
    with_summaries = isinstance(scorer.model, MEMamba) and scorer.model.synergy is not None
    values, risks, norms = [], [], []
    for patient in patients:
        batch = scorer.data.batch(np.array([scorer.cohort.patients.index(patient)])).to(scorer.device)
        attributions, at_patient, at_baseline = integrated_gradients(scorer.model, batch, steps)
        values.append(per_family(attributions, tokens))
        risks.append((at_patient, at_baseline))
        if with_summaries:
            norms.append(summary_norms(scorer.model, batch, len(tokens)))
    return attribution_table(patients, [token["name"] for token in tokens], np.array(values), np.array(risks),
                             np.array(norms) if with_summaries else None)
