"""The demo cohort: a slide part and a genomic part of the risk -> slides, RNA-seq counts, CNV, mutations; their sum -> survival."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from memamba.atomic import atomic_path
from memamba.demo.svs import SLIDE_SIGNALS, TUMOUR_COLUMNS, render_patch_grid, render_slide, write_svs

FAMILIES = (
    "Tumor Suppressor Genes",
    "Oncogenes",
    "Protein Kinases",
    "Cell Differentiation Markers",
    "Transcription Factors",
    "Cytokines and Growth Factors",
)
SIGNAL_FAMILIES = ("Tumor Suppressor Genes", "Oncogenes", "Protein Kinases")
GENES_PER_FAMILY = 16
DEMO_MPP = 0.5
HAZARD_PER_MONTH = 0.02
RISK_EFFECT = 1.2


def _write_tsv(frame: pd.DataFrame, path: Path, index: bool = False) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=index)


def _gene_table() -> dict[str, list[str]]:
    return {family: [f"{''.join(w[0] for w in family.split())}{i:03d}" for i in range(1, GENES_PER_FAMILY + 1)]
            for family in FAMILIES}


def pathway_table(families: dict[str, list[str]], size: int = 8) -> pd.DataFrame:
    """Demo pathways in SurvPath's layout (a gene x pathway 0/1 table): each family's genes cut into pathways of ``size``
    genes, each of which also takes the first ``size // 2`` genes of the next family, so that pathways cross the
    families as Reactome's do."""
    names = list(families)
    genes = list(dict.fromkeys(g for members in families.values() for g in members))
    table = pd.DataFrame(0, index=pd.Index(genes, name="gene"), columns=pd.Index([], dtype=str))
    for k, family in enumerate(names):
        for start in range(0, len(families[family]), size):
            members = families[family][start: start + size] + families[names[(k + 1) % len(names)]][: size // 2]
            table[f"{''.join(w[0] for w in family.split())}_PATHWAY_{start // size + 1}"] = table.index.isin(members).astype(int)
    return table.reset_index()


def survival_times(rng: np.random.Generator, risk: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exponential event times with hazard h0 * exp(b * risk), uniform censoring over ten years."""
    event_time = rng.exponential(1.0 / (HAZARD_PER_MONTH * np.exp(RISK_EFFECT * risk)))
    censor_time = rng.uniform(6, 120, risk.shape)
    time = np.minimum(event_time, censor_time)
    return np.round(np.maximum(time, 0.1), 2), (event_time <= censor_time).astype(int)


def _genomics(rng: np.random.Generator, risk: np.ndarray, patients: list[str]) -> dict[str, pd.DataFrame]:
    """Genes x patients matrices: NB counts, GISTIC-like CNV and 0/1 mutations; signal families follow risk."""
    genes = _gene_table()
    n = len(patients)
    library = rng.lognormal(0, 0.25, n)
    counts, cnv, mut = {}, {}, {}
    for family, symbols in genes.items():
        signal = family in SIGNAL_FAMILIES
        for gene in symbols:
            base = rng.lognormal(np.log(300), 1.0)
            loading = rng.normal(0, 0.6) + (np.sign(rng.normal()) * 0.6 if signal else 0.0)
            mean = library * base * np.exp((loading if signal else 0.0) * risk + rng.normal(0, 0.3, n))
            dispersion = 0.1
            counts[gene] = rng.negative_binomial(1 / dispersion, 1 / (1 + dispersion * mean))
            latent_cnv = (0.9 * np.sign(loading) * risk if signal else 0.0) + rng.normal(0, 0.8, n)
            cnv[gene] = np.clip(np.round(latent_cnv), -2, 2).astype(int)
            if family == "Tumor Suppressor Genes":
                mut[gene] = (rng.uniform(size=n) < 1 / (1 + np.exp(-(risk - 2.0)))).astype(int)
    frames = {
        "rna": pd.DataFrame(counts, index=patients).T,
        "cnv": pd.DataFrame(cnv, index=patients).T,
        "mut": pd.DataFrame(mut, index=patients).T,
    }
    for frame in frames.values():
        frame.index.name = "gene"
    return frames


def generate_cohort(out: str | os.PathLike, patients: int = 60, seed: int = 0, slide_size: int = 1024,
                    slide_signal: str = "tissue", slide_share: float = 0.5, mechanism: str | None = None) -> Path:
    """Write a complete synthetic cohort to ``out`` and return the folder.

    Contents: ``slides/*.svs`` (one or two per patient), the sample sheets ``slides.tsv``,
    ``clinical.tsv`` and ``genomics.tsv``, the matrices ``rna_counts.tsv``, ``cnv.tsv`` and
    ``mut.tsv`` (genes x patients), ``gene_families.csv`` (MCAT layout), ``pathways.csv`` (SurvPath's gene x pathway
    layout, :func:`pathway_table`) and ``truth.tsv`` (the
    latent risk, from which the oracle c-index is computed, and its two parts) and ``tumour_regions.tsv``: with
    ``slide_signal`` "tumour", per slide the ellipse (level-0 pixels) of the one region whose look carries the slide
    part, i.e. the patches that carry the signal, against which heatmaps are checked (the header alone with "tissue",
    where all the tissue carries it).

    The risk that sets survival is the sum of two independent standard normal parts,
    ``sqrt(slide_share) * slide_risk + sqrt(1 - slide_share) * genomic_risk``: the slides show only ``slide_risk``
    (in all their tissue, or with ``slide_signal`` "tumour" in one tumour region per slide) and the genomic tables
    carry only ``genomic_risk``, so a model needs both modalities to reach the oracle, and each unimodal model is
    capped by its part's c-index.

    With a ``mechanism`` (:mod:`memamba.demo.mechanisms`) the cohort is that mechanism's instead: one slide per patient
    drawn as a grid of its patches (:func:`~memamba.demo.svs.render_patch_grid`, one block per demo patch), the six
    families' genes as continuous copy numbers (``cnv.tsv``, kind ``log2ratio``), ``truth.tsv`` with the slide and
    genomic parts; ``slide_size`` and ``slide_signal`` do not apply.
    """
    if slide_signal not in SLIDE_SIGNALS:
        raise ValueError(f"slide_signal {slide_signal!r}: expected one of {', '.join(SLIDE_SIGNALS)}")
    if not 0.0 <= slide_share <= 1.0:
        raise ValueError(f"slide_share {slide_share}: expected a fraction between 0 and 1")
    out = Path(out)
    (out / "slides").mkdir(parents=True, exist_ok=True)
    if mechanism is not None:
        return _mechanism_cohort(out, mechanism, patients, seed, slide_share)
    rng = np.random.default_rng(seed)
    patient_ids = [f"DEMO-{i:04d}" for i in range(1, patients + 1)]
    slide_risk, genomic_risk = rng.normal(0, 1, (2, patients))
    risk = np.sqrt(slide_share) * slide_risk + np.sqrt(1.0 - slide_share) * genomic_risk
    time, event = survival_times(rng, risk)

    slide_rows, tumours = _write_slides(out, rng, patient_ids, slide_risk, slide_size, slide_signal)
    for modality, frame in _genomics(rng, genomic_risk, patient_ids).items():
        _write_tsv(frame, out / f"{modality if modality != 'rna' else 'rna_counts'}.tsv", index=True)
    families = _gene_table()
    with atomic_path(out / "gene_families.csv") as tmp:
        pd.DataFrame(families).to_csv(tmp, index=False)
    with atomic_path(out / "pathways.csv") as tmp:
        pathway_table(families).to_csv(tmp, index=False)

    _write_tsv(pd.DataFrame(slide_rows), out / "slides.tsv")
    _write_tsv(pd.DataFrame({"patient_id": patient_ids, "survival_months": time, "event": event}), out / "clinical.tsv")
    _write_tsv(pd.DataFrame({
        "modality": ["rna", "cnv", "mut"],
        "kind": ["counts", "gistic", "binary"],
        "path": ["rna_counts.tsv", "cnv.tsv", "mut.tsv"],
    }), out / "genomics.tsv")
    _write_tsv(pd.DataFrame({"patient_id": patient_ids, "risk": np.round(risk, 6), "slide_risk": np.round(slide_risk, 6),
                             "genomic_risk": np.round(genomic_risk, 6)}), out / "truth.tsv")
    _write_tsv(pd.DataFrame(tumours, columns=list(TUMOUR_COLUMNS)), out / "tumour_regions.tsv")
    return out


def _write_slides(out: Path, rng: np.random.Generator, patient_ids: list[str], slide_risk: np.ndarray, slide_size: int,
                  slide_signal: str) -> tuple[list[dict], list[dict]]:
    """Draw one or two slides per patient into ``out/slides``: (the slide sheet's rows, the tumour regions' rows)."""
    slide_rows, tumours = [], []
    for patient, patient_risk in zip(patient_ids, slide_risk):
        for k in range(1 if rng.uniform() < 0.7 else 2):
            slide_id = f"{patient}-{k + 1:02d}"
            image, tumour = render_slide(rng, float(patient_risk), slide_size, slide_signal)
            write_svs(out / "slides" / f"{slide_id}.svs", image, mpp=DEMO_MPP)
            slide_rows.append({"patient_id": patient, "slide_id": slide_id, "path": f"slides/{slide_id}.svs", "mpp": ""})
            if tumour is not None:
                tumours.append({"slide_id": slide_id, **tumour.record()})
    return slide_rows, tumours


def _mechanism_cohort(out: Path, mechanism: str, patients: int, seed: int, slide_share: float) -> Path:
    """The files of :func:`generate_cohort` for a planted mechanism's patients."""
    from memamba.demo.mechanisms import family_genes, planted_patients

    planted = planted_patients(mechanism, patients, seed, slide_share)
    rng = np.random.default_rng(seed + 1)
    slide_rows = []
    for patient, kinds, shades in zip(planted.patient_ids, planted.patch_types, planted.shades):
        write_svs(out / "slides" / f"{patient}-01.svs", render_patch_grid(rng, kinds, shades), mpp=DEMO_MPP)
        slide_rows.append({"patient_id": patient, "slide_id": f"{patient}-01", "path": f"slides/{patient}-01.svs", "mpp": ""})
    cnv = planted.genomics.rename(columns=lambda column: column.removesuffix("_cnv")).T.round(4)
    cnv.index.name = "gene"
    _write_tsv(cnv, out / "cnv.tsv", index=True)
    with atomic_path(out / "gene_families.csv") as tmp:
        pd.DataFrame(family_genes()).to_csv(tmp, index=False)
    with atomic_path(out / "pathways.csv") as tmp:
        pathway_table(family_genes()).to_csv(tmp, index=False)
    _write_tsv(pd.DataFrame(slide_rows), out / "slides.tsv")
    _write_tsv(pd.DataFrame({"patient_id": planted.patient_ids, "survival_months": planted.time, "event": planted.event}),
               out / "clinical.tsv")
    _write_tsv(pd.DataFrame({"modality": ["cnv"], "kind": ["log2ratio"], "path": ["cnv.tsv"]}), out / "genomics.tsv")
    _write_tsv(pd.DataFrame({"patient_id": planted.patient_ids, "risk": np.round(planted.risk, 6),
                             "slide_risk": np.round(planted.slide_part, 6), "genomic_risk": np.round(planted.genomic_part, 6)}),
               out / "truth.tsv")
    _write_tsv(pd.DataFrame(columns=list(TUMOUR_COLUMNS)), out / "tumour_regions.tsv")
    return out
