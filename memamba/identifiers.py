"""Identifiers shared by every stage: the patient of a TCGA barcode, a slide id without its file extension."""

from __future__ import annotations

SLIDE_EXTENSIONS = (".svs", ".ndpi", ".tif", ".tiff", ".mrxs", ".scn", ".bif", ".vms", ".vmu", ".svslide", ".dcm", ".czi")
"""File extensions of the slide formats OpenSlide and tiatoolbox open (lower case)."""


def patient_of(identifier: str) -> str:
    """The patient of a TCGA case, sample or slide barcode (its first 12 characters, ``TCGA-XX-XXXX``); any other
    identifier is returned unchanged."""
    identifier = str(identifier).strip()
    return identifier[:12] if identifier.upper().startswith("TCGA-") else identifier


def slide_stem(slide_id: str) -> str:
    """``slide_id`` without a trailing slide-file extension (``TCGA-...-DX1.UUID.svs`` -> ``TCGA-...-DX1.UUID``)."""
    lower = slide_id.lower()
    for extension in SLIDE_EXTENSIONS:
        if lower.endswith(extension) and len(slide_id) > len(extension):
            return slide_id[: -len(extension)]
    return slide_id
