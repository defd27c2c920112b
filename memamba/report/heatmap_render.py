"""Pictures of a heatmap file (:mod:`memamba.report.heatmaps`): each head's scores over the slide's thumbnail, on the
tissue the patches cover only, with a colour bar; and a gallery of the top- and bottom-scoring patches read at full
resolution."""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import h5py
import matplotlib
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from scipy.stats import rankdata

from memamba.atomic import atomic_path
from memamba.errors import MemambaError
from memamba.report.heatmaps import dataset_name
from memamba.slides.reader import open_slide, read_region_rgb

SCALINGS = ("percentile", "minmax")


@dataclass(frozen=True)
class RenderSettings:
    """How heatmaps are drawn: thumbnail size (longest side, pixels), score scaling (``percentile``: each patch's rank
    among the slide's patches, as CLAM draws them; ``minmax``: linear between the slide's lowest and highest score),
    Gaussian blur (sigma in patch widths, 0 = none), overlay opacity, colour map, and patches per gallery row."""

    thumbnail_size: int = 2048
    scaling: str = "percentile"
    blur: float = 0.0
    alpha: float = 0.5
    colormap: str = "coolwarm"
    gallery_k: int = 8

    def __post_init__(self) -> None:
        if self.scaling not in SCALINGS:
            raise MemambaError(f"heatmap scaling {self.scaling!r} is not one of {SCALINGS}. Fix: choose one of them.")
        if self.colormap not in matplotlib.colormaps:
            raise MemambaError(f"heatmap colour map {self.colormap!r} is not a matplotlib colour map. Fix: use e.g. "
                               "coolwarm, viridis or jet.")
        if self.thumbnail_size < 64 or not 0 <= self.alpha <= 1 or self.blur < 0 or self.gallery_k < 1:
            raise MemambaError("heatmap settings out of range: thumbnail_size >= 64, 0 <= alpha <= 1, blur >= 0, "
                               "gallery_k >= 1. Fix: correct them.")


def scaled(scores: np.ndarray, scaling: str) -> np.ndarray:
    """Scores mapped to [0, 1]: percentile ranks (ties share their mean rank) or min-max (all 0.5 when constant)."""
    if scaling == "percentile":
        return (rankdata(scores) - 0.5) / len(scores)
    span = float(scores.max() - scores.min())
    return (scores - scores.min()) / span if span > 0 else np.full(len(scores), 0.5)


def score_canvas(coords: np.ndarray, patch_size: float, values: np.ndarray, shape: tuple[int, int],
                 downsample: float, blur_sigma: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The mean value per thumbnail pixel of the patches covering it (H, W) and which pixels any patch covers;
    ``coords`` are level-0 top-left corners, ``downsample`` level-0 pixels per thumbnail pixel."""
    total, weight = np.zeros(shape, np.float64), np.zeros(shape, np.float64)
    side = max(1, int(round(patch_size / downsample)))
    for (x, y), value in zip(np.asarray(coords) / downsample, values):
        left, top = int(x), int(y)
        total[top:top + side, left:left + side] += value
        weight[top:top + side, left:left + side] += 1
    covered = weight > 0
    if blur_sigma > 0:
        sigma = blur_sigma * side
        total, weight = cv2.GaussianBlur(total, (0, 0), sigma), cv2.GaussianBlur(weight, (0, 0), sigma)
    return np.where(covered, total / np.maximum(weight, 1e-12), 0.0), covered


HEAD_NAME_LENGTH = 48
"""The longest a head's name may be in a file name: with a slide id of at most 100 characters, the picture's name and
its writer's temporary name stay under the 255-byte limit (a family may be a long pathway name)."""


def safe_head_name(head: str) -> str:
    """A head's name as part of a file name: letters, digits, '.', '-' and '_' kept, every other run of characters '_';
    a name longer than :data:`HEAD_NAME_LENGTH` is cut and ends in a digest of the whole, so that names stay distinct."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", head).strip("_") or "head"
    if len(name) <= HEAD_NAME_LENGTH:
        return name
    return f"{name[:HEAD_NAME_LENGTH - 9]}-{hashlib.sha256(head.encode()).hexdigest()[:8]}"


def _read_heatmap(path: Path) -> tuple[np.ndarray, dict, dict[str, np.ndarray]]:
    with h5py.File(path, "r") as h5:
        heads = json.loads(h5.attrs["heads"])
        return h5["coords"][:], dict(h5["coords"].attrs), {head: h5[dataset_name(head)][:] for head in heads}


def level0_patch_size(attrs: dict, slide: object, path: Path) -> float:
    """A patch's side in level-0 pixels from the coords' attributes: ours and TRIDENT's ``patch_size_level0``, else
    CLAM's ``patch_size`` read at ``patch_level`` (times that level's downsample); a MemambaError without either."""
    if "patch_size_level0" in attrs:
        return float(attrs["patch_size_level0"])
    if "patch_size" in attrs and "patch_level" in attrs and int(attrs["patch_level"]) < slide.level_count:
        return float(attrs["patch_size"]) * float(slide.level_downsamples[int(attrs["patch_level"])])
    raise MemambaError(f"{path}: `coords` says neither patch_size_level0 (ours, TRIDENT's) nor CLAM's patch_size and "
                       "patch_level for this slide, so the patches' size is unknown. Fix: use feature files that record "
                       "the tiling (memamba's, TRIDENT's or CLAM's .h5).")


def _overlay(thumbnail: np.ndarray, canvas: np.ndarray, covered: np.ndarray, settings: RenderSettings) -> np.ndarray:
    colours = (matplotlib.colormaps[settings.colormap](canvas)[..., :3] * 255).astype(np.float64)
    blended = thumbnail.astype(np.float64)
    blended[covered] = (1 - settings.alpha) * blended[covered] + settings.alpha * colours[covered]
    return blended.astype(np.uint8)


def render_overlay(slide: object, slide_id: str, coords: np.ndarray, patch_size: float, scores: np.ndarray, head: str,
                   out: Path, settings: RenderSettings) -> None:
    """One head's scores over the slide's thumbnail, with a colour bar and the slide's id, written to ``out`` (PNG)."""
    thumbnail = np.asarray(slide.get_thumbnail((settings.thumbnail_size, settings.thumbnail_size)).convert("RGB"))
    downsample = slide.dimensions[0] / thumbnail.shape[1]
    canvas, covered = score_canvas(coords, patch_size, scaled(scores, settings.scaling), thumbnail.shape[:2], downsample,
                                   settings.blur)
    figure = Figure(figsize=(8, 8 * thumbnail.shape[0] / thumbnail.shape[1] + 0.6), dpi=100)
    axis = figure.subplots()
    axis.imshow(_overlay(thumbnail, canvas, covered, settings))
    axis.set_axis_off()
    axis.set_title(f"{slide_id}: {head}", fontsize=9)
    bar = figure.colorbar(ScalarMappable(cmap=settings.colormap), ax=axis, fraction=0.035, pad=0.02)
    bar.set_label("percentile of the slide's scores" if settings.scaling == "percentile" else "score, min to max")
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", bbox_inches="tight")


def render_gallery(slide: object, slide_path: Path, slide_id: str, coords: np.ndarray, patch_size: float, scores: np.ndarray,
                   head: str, out: Path, k: int) -> None:
    """The ``k`` highest- and ``k`` lowest-scoring patches, read at level 0, in two labelled rows (PNG)."""
    k = min(k, len(scores))
    order = np.argsort(-scores, kind="stable")
    rows = {"highest": order[:k], "lowest": order[::-1][:k]}
    figure = Figure(figsize=(1.6 * k, 3.8), dpi=100)
    axes = figure.subplots(2, k, squeeze=False)
    for r, (label, picks) in enumerate(rows.items()):
        for c, index in enumerate(picks):
            x, y = (int(v) for v in coords[index])
            size = int(round(patch_size))
            axes[r, c].imshow(read_region_rgb(slide, slide_path, (x, y), 0, (size, size)))
            axes[r, c].set_title(f"{scores[index]:.3g}", fontsize=7)
            axes[r, c].set_axis_off()
        axes[r, 0].text(-0.1, 0.5, label, transform=axes[r, 0].transAxes, rotation=90, va="center", ha="right", fontsize=8)
    figure.suptitle(f"{slide_id}: {head}", fontsize=9)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", bbox_inches="tight")


def render_heatmaps(heatmap_h5: str | os.PathLike, slide_path: str | os.PathLike, out_dir: str | os.PathLike,
                    settings: RenderSettings) -> list[Path]:
    """For every head of ``heatmap_h5``: ``{slide}.{head}.png`` (overlay) and ``{slide}.{head}.gallery.png`` in
    ``out_dir``; returns them."""
    heatmap_h5, slide_path, out_dir = Path(heatmap_h5), Path(slide_path), Path(out_dir)
    coords, attrs, heads = _read_heatmap(heatmap_h5)
    slide = open_slide(slide_path)
    written = []
    try:
        patch_size = level0_patch_size(attrs, slide, heatmap_h5)
        for head, scores in heads.items():
            stem = f"{heatmap_h5.stem}.{safe_head_name(head)}"
            render_overlay(slide, heatmap_h5.stem, coords, patch_size, scores, head, out_dir / f"{stem}.png", settings)
            render_gallery(slide, slide_path, heatmap_h5.stem, coords, patch_size, scores, head, out_dir / f"{stem}.gallery.png",
                           settings.gallery_k)
            written += [out_dir / f"{stem}.png", out_dir / f"{stem}.gallery.png"]
    finally:
        slide.close()
    return written
