"""The demo's planted answer: tumour patches from the recorded ellipse, the per-slide AUC, and ABMIL's attention
finding the tumour on a demo cohort whose slides show the risk in the tumour only (the slow known-answer test)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from memamba.config import load_config
from memamba.demo import generate_cohort
from memamba.demo.svs import TumourRegion
from memamba.errors import MemambaError
from memamba.report.planted import in_tumour, planted_cross_validation, planted_demo, read_tumours, slide_aucs
from memamba.sheets import read_sheet

REPO = Path(__file__).resolve().parents[2]


def test_the_ellipse_is_the_one_opencv_draws() -> None:
    tumour = TumourRegion(center_x=500, center_y=300, axis_x=200, axis_y=50, angle=65)
    drawn = np.zeros((1024, 1024), np.uint8)
    cv2.ellipse(drawn, (500, 300), (200, 50), 65, 0, 360, 1, -1)
    ys, xs = np.mgrid[0:1024, 0:1024]
    assert (tumour.contains(xs, ys) != (drawn > 0)).mean() < 0.001          # the outline's pixels at most


def test_patches_whose_centre_lies_in_the_rotated_ellipse_are_tumour_patches() -> None:
    tumour = TumourRegion(center_x=500, center_y=300, axis_x=200, axis_y=50, angle=90)      # tall, thin
    coords = np.array([[436, 36], [436, 536], [636, 236], [0, 0]])                        # top-left corners, 128 px
    np.testing.assert_array_equal(in_tumour(tumour, coords, 128), [True, False, False, False])
    assert in_tumour(tumour, np.array([[436, 386]]), 128)[0]                             # centre (500, 450): inside


def test_the_auc_is_taken_per_slide_and_slides_of_one_kind_are_left_out() -> None:
    labels = [np.array([True, False, False]), np.array([True, True, False]), np.array([True, True])]
    # the second slide's scores are 10x the first's: each slide is ranked on its own
    aucs = slide_aucs(labels, [np.array([3.0, 1.0, 2.0]), np.array([30.0, 10.0, 20.0]), np.array([1.0, 2.0])])
    np.testing.assert_allclose(aucs, [1.0, 0.5])
    assert slide_aucs(labels[:1], [np.ones(3)])[0] == 0.5


def test_a_tumour_table_without_its_columns_is_an_error_naming_it(tmp_path: Path) -> None:
    table = tmp_path / "tumour_regions.tsv"
    table.write_text("slide_id\tcenter_x\nS1\t3\n")
    with pytest.raises(MemambaError, match=r"tumour_regions.tsv: no column center_y, axis_x, axis_y, angle\. Fix: regenerate"):
        read_tumours(table)


def test_the_tumour_slides_record_their_tumour_and_the_tissue_slides_record_none(tmp_path: Path) -> None:
    tumour_run = generate_cohort(tmp_path / "tumour", patients=6, seed=2, slide_size=512, slide_signal="tumour", slide_share=1.0)
    slides = read_sheet(tumour_run / "slides.tsv", "slides")
    regions = read_tumours(tumour_run / "tumour_regions.tsv")
    assert sorted(regions) == sorted(slides["slide_id"])
    truth = pd.read_csv(tumour_run / "truth.tsv", sep="\t")
    np.testing.assert_allclose(truth["risk"], truth["slide_risk"], atol=2e-6)             # slide_share 1: slides only
    tissue_run = generate_cohort(tmp_path / "tissue", patients=6, seed=2, slide_size=512)
    assert read_tumours(tissue_run / "tumour_regions.tsv") == {}
    with pytest.raises(ValueError, match="slide_share 1.5"):
        generate_cohort(tmp_path / "bad", patients=6, slide_share=1.5)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_abmil_attention_ranks_the_planted_tumour_patches_first(tmp_path: Path) -> None:
    """The demo's training settings on a demo cohort of 200 patients whose slides carry all the risk, in their tumour
    region only: over the five folds, ABMIL (at its published widths) ranks a validation slide's tumour patches
    above its other patches (mean per-slide AUC > 0.7). The 60-patient demo is too small for this: see docs/pages/demo.md."""
    config = load_config(REPO / "config" / "config.yaml")
    cohort, splits, tumours = planted_demo(tmp_path, 200, 0, config)
    table = planted_cross_validation(cohort, splits, tumours, "abmil", {}, config)
    aucs = table.loc[table["head"] == "attention_scores", "planted_auc"].to_numpy()
    print(f"ABMIL planted-patch AUC per fold {np.round(aucs, 3)}, mean {aucs.mean():.3f}; "
          f"c-index per fold {np.round(table['c_index'].to_numpy(), 3)}")
    assert len(aucs) == 5 and aucs.mean() > 0.7 and aucs.min() > 0.55, aucs
