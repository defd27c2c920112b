"""A fold's heatmaps for chosen patients (files, pictures, an index), and the gene-family attributions of its
validation patients."""

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


def draw_patients(scorer: FoldScorer, patients: dict[str, str], slide_paths: dict[str, Path] | None,
                  out_dir: str | os.PathLike, settings: RenderSettings) -> pd.DataFrame:
    """For each patient (-> its group), its slides' score files and, with ``slide_paths`` (feature-file stem -> slide
    file), their pictures; returns the index (patient, group, slide, h5, pictures) and writes it to ``index.tsv``."""
    out_dir = Path(out_dir)
    scorer.check(list(patients))
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
