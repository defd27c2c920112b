import math

import numpy as np
import pytest

from memamba.demo.svs import TumourRegion
from memamba.report.planted import in_tumour, planted_auc


def test_patches_whose_centre_lies_in_the_rotated_ellipse_are_tumour_patches() -> None:
    tumour = TumourRegion(center_x=500, center_y=300, axis_x=200, axis_y=50, angle=90)      # tall, thin
    coords = np.array([[436, 36], [436, 536], [636, 236], [0, 0]])                        # top-left corners, 128 px
    np.testing.assert_array_equal(in_tumour(tumour, coords, 128), [True, False, False, False])
    assert in_tumour(tumour, np.array([[436, 386]]), 128)[0]                             # centre (500, 450): inside


def test_the_auc_ranks_within_each_slide_then_pools() -> None:
    labels = [np.array([True, False, False]), np.array([True, True, False])]
    # each slide ranked first (a scale of 10x in the second slide changes nothing): percentile ranks
    # 1, 1/3, 2/3 and 1, 2/3, 1/3; of the 9 tumour/other pairs, 8 are ordered and one (2/3 vs 2/3) ties
    assert planted_auc(labels, [np.array([3.0, 1.0, 2.0]), np.array([30.0, 20.0, 10.0])]) == pytest.approx(8.5 / 9)
    assert planted_auc(labels, [np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])]) == pytest.approx(0.5 / 9)
    assert math.isnan(planted_auc([np.array([True, True])], [np.array([1.0, 2.0])]))
    tied = planted_auc(labels, [np.ones(3), np.ones(3)])
    assert tied == pytest.approx(0.5)
