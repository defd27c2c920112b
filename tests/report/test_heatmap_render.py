import json
from pathlib import Path

import h5py
import numpy as np
import openslide
import pytest
from PIL import Image

from memamba.errors import MemambaError
from memamba.report.heatmap_render import RenderSettings, render_heatmaps, safe_head_name, scaled, score_canvas


def test_percentile_scaling_ranks_and_minmax_is_linear() -> None:
    scores = np.array([10.0, -2.0, 3.0, 3.0])
    np.testing.assert_allclose(scaled(scores, "percentile"), [0.875, 0.125, 0.5, 0.5])
    np.testing.assert_allclose(scaled(scores, "minmax"), [1.0, 0.0, 5 / 12, 5 / 12])
    np.testing.assert_allclose(scaled(np.ones(3), "minmax"), [0.5, 0.5, 0.5])


def test_the_canvas_holds_each_patchs_value_where_it_lies_and_nothing_elsewhere() -> None:
    coords = np.array([[0, 0], [64, 0], [64, 64]])                   # level 0, patches of 64, thumbnail at 1/16
    canvas, covered = score_canvas(coords, 64, np.array([0.2, 0.9, 0.5]), (10, 10), downsample=16)
    assert covered.sum() == 3 * 16 and not covered[0:4, 8:].any()
    assert canvas[1, 1] == pytest.approx(0.2) and canvas[1, 5] == pytest.approx(0.9) and canvas[5, 5] == pytest.approx(0.5)
    assert canvas[~covered].max() == 0
    blurred, still = score_canvas(coords, 64, np.array([0.2, 0.9, 0.5]), (10, 10), downsample=16, blur_sigma=1.0)
    assert np.array_equal(still, covered) and 0.2 < blurred[1, 3] < 0.9


def _heatmap_file(folder: Path, slide: Path) -> Path:
    """Scores over a grid of patches on ``slide``: the head 'x' grows from left to right."""
    with openslide.OpenSlide(str(slide)) as handle:
        width, height = handle.dimensions
    xs, ys = np.meshgrid(np.arange(0, width - 128, 128), np.arange(0, height - 128, 128))
    coords = np.stack([xs.ravel(), ys.ravel()], axis=1)
    path = folder / f"{slide.stem}.h5"
    with h5py.File(path, "w") as h5:
        h5["coords"] = coords
        h5["coords"].attrs["patch_size_level0"] = 128
        h5["x"] = coords[:, 0].astype(np.float32)
        h5["transport/cell_cycle"] = np.random.default_rng(0).random(len(coords)).astype(np.float32)
        h5.attrs["heads"] = json.dumps(["x", "transport/cell/cycle"])
    return path


def test_overlay_and_gallery_pictures_show_the_scores(demo_slide: Path, tmp_path: Path) -> None:
    heatmap = _heatmap_file(tmp_path, demo_slide)
    written = render_heatmaps(heatmap, demo_slide, tmp_path / "out", RenderSettings(thumbnail_size=256, gallery_k=4))
    stem = demo_slide.stem
    assert [p.name for p in written] == [f"{stem}.x.png", f"{stem}.x.gallery.png", f"{stem}.transport_cell_cycle.png",
                                         f"{stem}.transport_cell_cycle.gallery.png"]
    overlay = np.asarray(Image.open(written[0]).convert("RGB")).astype(int)
    assert overlay.shape[0] > 200 and overlay.std() > 20
    red_minus_blue = overlay[..., 0] - overlay[..., 2]
    middle = overlay.shape[0] // 2
    strong = np.flatnonzero(np.abs(red_minus_blue[middle]) > 60)             # the covered, coloured pixels of that row
    assert len(strong) > 20 and red_minus_blue[middle, strong[:5]].mean() < 0 < red_minus_blue[middle, strong[-5:]].mean()
    gallery = Image.open(written[1])
    assert gallery.width > 4 * 100 and np.asarray(gallery.convert("L")).std() > 5


def test_bad_render_settings_are_refused() -> None:
    with pytest.raises(MemambaError, match="not one of"):
        RenderSettings(scaling="log")
    with pytest.raises(MemambaError, match="not a matplotlib colour map"):
        RenderSettings(colormap="rainbowish")
    assert safe_head_name("transport/cell cycle (G1/S)") == "transport_cell_cycle_G1_S"
    pathways = [f"transport/REACTOME_{'SIGNALING_BY_RECEPTOR_TYROSINE_KINASES_' * 3}{k}" for k in (1, 2)]
    names = [safe_head_name(head) for head in pathways]
    assert names[0] != names[1] and all(len(name) == 48 and name.startswith("transport_REACTOME_SIGNALING") for name in names)
    slide_file = f"{'S' * 100}.{names[0]}.gallery.png"
    assert len(f".{slide_file}.tmp-{'h' * 40}-4194304-abcdefgh.png".encode()) < 255     # atomic_path's temporary name


def test_clams_patch_size_and_level_give_the_level0_size_and_nothing_is_an_error(demo_slide: Path, tmp_path: Path) -> None:
    from memamba.report.heatmap_render import level0_patch_size

    with openslide.OpenSlide(str(demo_slide)) as slide:
        assert level0_patch_size({"patch_size_level0": 512, "patch_size": 256}, slide, tmp_path) == 512
        assert level0_patch_size({"patch_size": 64, "patch_level": 1}, slide, tmp_path) == 64 * slide.level_downsamples[1]
        with pytest.raises(MemambaError, match="the patches' size is unknown"):
            level0_patch_size({}, slide, tmp_path / "scores.h5")
