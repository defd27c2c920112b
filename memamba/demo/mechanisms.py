"""Planted mechanisms: synthetic patients whose risk comes from a known mechanism, each built so that one part of
ME-Mamba should be needed to read it (a known answer for its ablations and for the baselines).

A patient has one slide, a sequence of patches in slide order (what a tile grid read row by row gives), each of a
patch *type* (a tissue kind: its own look) with a *shade* (how that patch looks within its kind, one number), and
six gene families of eight genes. The risk that sets survival is ``sqrt(slide_share) * slide part + sqrt(1 -
slide_share) * genomic part`` (both standardised); the genomic part is one family's mean in every mechanism, and the
slide part is what changes:

- ``additive`` (the control, today's demo): the slide part is the share of tumour patches; a mean over the patches
  reads it.
- ``correspondence``: the slide part is the product of a gene family's value and the shade of the tumour patches
  (an interaction: neither modality alone carries it; the other tissue's shade varies as much and hides it from a
  mean over the slide); transport from that family's token to the tumour patches can read it.
- ``localisation``: the slide part is the shade of a small tumour region (a run of about 6 % of the patches) among
  tissue whose shade varies more (attention, or the attention-ordered scan, can find it; a mean dilutes it).
- ``arrangement``: every slide holds the same share of two tissue kinds, tumour and stroma; the slide part is how
  often they touch along the slide (interleaved or in blocks): an order-invariant pool sees nothing, a scan over the
  slide's order can.

:func:`planted_patients` draws the patients; :func:`patch_features` gives each patch a feature vector (a prototype
per kind, its shade along one shared direction, noise), which the benchmark trains on directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from memamba.demo.cohort import FAMILIES, survival_times

MECHANISMS = ("additive", "correspondence", "localisation", "arrangement")
GENOMIC_FAMILY = "Oncogenes"
"""The family whose mean is the genomic part of the risk."""
COUPLED_FAMILY = "Tumor Suppressor Genes"
"""The family whose value the tumour patches' shade multiplies in ``correspondence``."""
GENES_PER_FAMILY = 8
PATCH_TYPES = ("background tissue", "tumour", "stroma", "immune")
TUMOUR, STROMA = 1, 2
FEATURE_DIM = 16


@dataclass
class PlantedPatients:
    """Per patient its patches (types and shades in slide order), genomic values, and the parts of its risk."""

    patient_ids: list[str]
    patch_types: list[np.ndarray]
    shades: list[np.ndarray]
    genomics: pd.DataFrame
    slide_part: np.ndarray
    genomic_part: np.ndarray
    risk: np.ndarray
    time: np.ndarray
    event: np.ndarray


def _standardised(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / max(float(values.std()), 1e-12)


def _genomics(rng: np.random.Generator, patients: list[str]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Genes x families as ``GENE_cnv`` columns (continuous log2 ratios): each family's genes share its latent value
    (loading 0.8, noise 0.6); returns the table and each family's latent value per patient."""
    latent = {family: rng.normal(0, 1, len(patients)) for family in FAMILIES}
    columns = {f"{gene}_cnv": 0.8 * latent[family] + rng.normal(0, 0.6, len(patients))
               for family, genes in family_genes().items() for gene in genes}
    return pd.DataFrame(columns, index=patients), latent


def family_genes() -> dict[str, list[str]]:
    """Each family's gene symbols (the table's columns without their ``_cnv`` suffix)."""
    return {family: [f"{''.join(w[0] for w in family.split())}{gene:03d}" for gene in range(1, GENES_PER_FAMILY + 1)]
            for family in FAMILIES}


def _background(rng: np.random.Generator, length: int) -> np.ndarray:
    """Patch types of ordinary tissue: background with some stroma and immune patches, in small runs."""
    runs = []
    while sum(len(r) for r in runs) < length:
        kind = rng.choice([0, STROMA, 3], p=[0.6, 0.25, 0.15])
        runs.append(np.full(int(rng.integers(2, 7)), kind))
    return np.concatenate(runs)[:length]


def _arranged(rng: np.random.Generator, length: int, mixing: float) -> np.ndarray:
    """Half tumour, half stroma, in runs whose mean length falls as ``mixing`` (0..1) rises: 1 alternates patch by
    patch, 0 lays them in long blocks. Every slide has the same composition."""
    half = length // 2
    mean_run = 1.0 + (1.0 - mixing) * 15.0
    order, left = [], {TUMOUR: half, STROMA: length - half}
    kind = int(rng.choice([TUMOUR, STROMA]))
    while left[TUMOUR] + left[STROMA]:
        if not left[kind]:
            kind = TUMOUR + STROMA - kind
        run = min(left[kind], max(1, int(rng.geometric(1.0 / mean_run))))
        order += [kind] * run
        left[kind] -= run
        kind = TUMOUR + STROMA - kind
    return np.array(order)


def touching_share(types: np.ndarray) -> float:
    """The share of neighbouring patch pairs (in slide order) that are one tumour and one stroma patch."""
    pairs = np.stack([types[:-1], types[1:]])
    return float(np.mean(((pairs[0] == TUMOUR) & (pairs[1] == STROMA)) | ((pairs[0] == STROMA) & (pairs[1] == TUMOUR))))


def planted_patients(mechanism: str, patients: int, seed: int = 0, slide_share: float = 0.5,
                     patches: tuple[int, int] = (48, 96)) -> PlantedPatients:
    """Draw ``patients`` patients of ``mechanism`` (see the module docstring), each with ``patches`` (low, high)
    patches; reproducible from ``seed``."""
    if mechanism not in MECHANISMS:
        raise ValueError(f"mechanism {mechanism!r}: expected one of {', '.join(MECHANISMS)}")
    rng = np.random.default_rng(seed)
    patient_ids = [f"P{i:04d}" for i in range(patients)]
    genomics, latent = _genomics(rng, patient_ids)
    types, shades, slide_values = [], [], []
    for index in range(patients):
        length = int(rng.integers(patches[0], patches[1] + 1))
        if mechanism == "arrangement":
            kinds = _arranged(rng, length, float(rng.uniform()))
            shade = rng.normal(0, 1.0, length)
            value = touching_share(kinds)
        else:
            kinds = _background(rng, length)
            shade = rng.normal(0, 1.0, length)
            if mechanism == "localisation":
                start, size = int(rng.integers(0, length - 4)), max(3, round(0.06 * length))
                kinds[start:start + size] = TUMOUR
                value = rng.normal()
                shade[start:start + size] = value + rng.normal(0, 0.2, len(kinds[start:start + size]))
                shade[kinds != TUMOUR] *= 2.0                                     # confounding tissue varies more
            else:
                tumour = rng.random(length) < rng.uniform(0.1, 0.4)
                kinds[tumour] = TUMOUR
                if mechanism == "additive":
                    value = float(tumour.mean())
                else:
                    look = rng.normal()
                    shade[tumour] = look + rng.normal(0, 0.2, int(tumour.sum()))
                    shade[~tumour] += rng.normal(0, 1.0)                          # a slide-wide shift hides it from a mean
                    value = look * latent[COUPLED_FAMILY][index]
        types.append(kinds)
        shades.append(shade)
        slide_values.append(value)
    slide_part, genomic_part = _standardised(np.array(slide_values)), _standardised(latent[GENOMIC_FAMILY])
    risk = np.sqrt(slide_share) * slide_part + np.sqrt(1.0 - slide_share) * genomic_part
    time, event = survival_times(rng, risk)
    return PlantedPatients(patient_ids, types, shades, genomics, slide_part, genomic_part, risk, time, event)


def patch_features(planted: PlantedPatients, seed: int = 0, noise: float = 0.3) -> list[np.ndarray]:
    """Each patient's patch features (patches x 16, float32): its type's prototype (fixed by ``seed``), plus its
    shade along one direction shared by every type, plus Gaussian noise of sd ``noise``."""
    rng = np.random.default_rng(seed + 7919)
    prototypes = rng.normal(0, 1.0, (len(PATCH_TYPES), FEATURE_DIM))
    direction = rng.normal(0, 1.0, FEATURE_DIM)
    direction /= np.linalg.norm(direction)
    return [(prototypes[kinds] + shade[:, None] * direction + rng.normal(0, noise, (len(kinds), FEATURE_DIM))).astype(np.float32)
            for kinds, shade in zip(planted.patch_types, planted.shades)]
